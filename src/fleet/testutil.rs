//! Devices built by hand for tests of what reads the fleet (alerts, expressions,
//! commands): no broker, no decoder, time injected.

use super::history::{Coarse, Ring};
use super::{Device, Metric, MetricValue, Status};
use std::time::Duration;

/// A live device of fleet 0 on connection 0 with the given numeric metrics at time 0.
pub fn device(name: &str, metrics: &[(&str, f64)]) -> Device {
    let mut d = Device {
        id: crate::vocab::DeviceId(0),
        name: name.into(),
        fleet: 0,
        conn: crate::vocab::ConnId(0),
        labels: Vec::new(),
        status: Status::Online,
        first_seen_ms: 0,
        last_seen_ms: 0,
        last_live_ms: Some(0),
        messages: 0,
        decode_errors: 0,
        last_error: None,
        metrics: Vec::new(),
        available: None,
        group_offline: false,
        topics: Vec::new(),
        last_topic: 0,
        last_payload: Vec::new(),
        expected_interval: Duration::from_secs(60),
        facts: None,
        guessed: false,
        live_messages: 1,
        delivery: Default::default(),
    };
    for &(m, v) in metrics {
        set(&mut d, m, 0, v);
    }
    d
}

/// Records a sample the way the fleet state does: latest value, ring, coarse tier.
pub fn set(d: &mut Device, name: &str, t: i64, v: f64) {
    let idx = match d.metrics.iter().position(|m| &*m.name == name) {
        Some(i) => i,
        None => {
            d.metrics.push(Metric {
                name: name.into(),
                value: MetricValue::Number(v),
                updated_ms: t,
                ring: Ring::new(64),
                coarse: Coarse::default(),
            });
            d.metrics.len() - 1
        }
    };
    let m = &mut d.metrics[idx];
    m.value = MetricValue::Number(v);
    m.updated_ms = m.updated_ms.max(t);
    if let Some((et, ev)) = m.ring.push(t, v) {
        m.coarse.push(et, ev);
    }
    d.last_live_ms = Some(d.last_live_ms.unwrap_or(t).max(t));
    d.last_seen_ms = d.last_seen_ms.max(t);
}

/// A live message on connection 0, as a broker delivers it.
pub fn message(topic: &str, payload: &[u8], at_ms: i64) -> crate::vocab::RawMessage {
    crate::vocab::RawMessage {
        conn: crate::vocab::ConnId(0),
        topic: bytes::Bytes::copy_from_slice(topic.as_bytes()),
        payload: bytes::Bytes::copy_from_slice(payload),
        retain: false,
        at_ms,
    }
}
