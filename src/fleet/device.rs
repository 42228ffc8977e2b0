//! A device and its metrics, as the fleet state keeps them.

use super::history::{Coarse, Ring};
use crate::mapping::FleetIdx;
use crate::vocab::{ConnId, DeviceId};
use std::time::Duration;

/// Whether a device is alive, as far as fleetop can tell.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Online per its availability topic, or sending live data within its expected interval.
    Online,
    /// No message for twice its expected interval.
    Stale,
    /// Its availability topic (LWT) or its gateway's says offline.
    Offline,
    /// Only retained data so far: nothing proves it is alive now.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Stale => "stale",
            Status::Offline => "offline",
            Status::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latest value of a metric.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Number(f64),
    Bool(bool),
    Text(Box<str>),
}

impl std::fmt::Display for MetricValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricValue::Number(n) => write!(f, "{}", format_number(*n)),
            MetricValue::Bool(true) => f.write_str("on"),
            MetricValue::Bool(false) => f.write_str("off"),
            MetricValue::Text(t) => f.write_str(&crate::sanitize::text(t)),
        }
    }
}

/// Short human form: at most three decimals, no trailing zeros.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let s = format!("{n:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One metric of one device.
#[derive(Debug, Clone)]
pub struct Metric {
    pub name: Box<str>,
    pub value: MetricValue,
    /// Sample time of the latest value, epoch ms.
    pub updated_ms: i64,
    /// Numbers and booleans (as 0/1) keep history; text does not.
    pub ring: Ring,
    pub coarse: Coarse,
}

/// The last decode problem of a device, kept for display.
#[derive(Debug, Clone, PartialEq)]
pub struct LastError {
    pub at_ms: i64,
    pub topic: String,
    pub message: String,
}

/// One device.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: DeviceId,
    pub name: Box<str>,
    pub fleet: FleetIdx,
    pub conn: ConnId,
    pub labels: Vec<(Box<str>, Box<str>)>,
    pub status: Status,
    pub first_seen_ms: i64,
    /// Arrival of the latest message, retained or not.
    pub last_seen_ms: i64,
    /// Arrival of the latest live (non-retained) message.
    pub last_live_ms: Option<i64>,
    pub messages: u64,
    pub decode_errors: u64,
    pub last_error: Option<LastError>,
    pub metrics: Vec<Metric>,
    /// What its own availability topic said last.
    pub available: Option<bool>,
    /// Labels of an offline group (gateway) this device belongs to.
    pub group_offline: bool,
    /// Topics this device was seen on.
    pub topics: Vec<Box<str>>,
    pub last_topic: u16,
    /// Bytes of the latest payload (capped copy).
    pub last_payload: Vec<u8>,
    pub expected_interval: Duration,
    /// What a device convention (Sparkplug, Homie...) says about it; `None` for devices
    /// of configured fleets.
    pub facts: Option<Box<crate::conventions::DeviceFacts>>,
    /// Found by the no-config fallback (the generic convention), not named by a fleet or a
    /// convention of its own: how often it reports is a guess until it has reported a few
    /// times (see [`GUESSED_REPORTS_BEFORE_JUDGED`]).
    pub guessed: bool,
    /// Live (non-retained) messages it sent.
    pub live_messages: u64,
    /// Its delivery delay and reporting jitter so far (the `delay` and `jitter` metrics).
    pub delivery: super::delivery::Delivery,
}

/// Live messages a guessed device sends before its silence counts against it: a flood of
/// one-off topics then makes unknown devices, not a storm of stale ones.
pub const GUESSED_REPORTS_BEFORE_JUDGED: u64 = 3;

/// Topics kept per device: enough to show where it publishes, bounded against floods.
const MAX_TOPICS: usize = 256;

impl Device {
    /// The index of `topic` among the device's topics, added if new; `u16::MAX` once it
    /// has as many as are kept.
    pub fn topic_index(&mut self, topic: &str) -> u16 {
        match self.topics.iter().position(|t| **t == *topic) {
            Some(i) => i as u16,
            None if self.topics.len() < MAX_TOPICS => {
                self.topics.push(topic.into());
                (self.topics.len() - 1) as u16
            }
            None => u16::MAX,
        }
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// True when a payload of its failed to decode (or was refused) within
    /// [`super::RECENT_ERRORS`] of `now_ms`.
    pub fn has_recent_error(&self, now_ms: i64) -> bool {
        let since = now_ms.saturating_sub(super::RECENT_ERRORS.as_millis() as i64);
        self.last_error.as_ref().is_some_and(|e| e.at_ms >= since)
    }

    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| &*m.name == name)
    }

    /// The silence after which it is stale: twice its expected interval.
    pub fn stale_after_ms(&self) -> i64 {
        i64::try_from(self.expected_interval.as_millis())
            .unwrap_or(i64::MAX)
            .saturating_mul(2)
    }

    /// Status from the facts alone, at time `now_ms`. Time fleetop could not see (`blind`)
    /// is not the device's fault: staleness counts again from the reconnect, unless the
    /// device was stale already when fleetop went blind.
    pub fn compute_status(&self, now_ms: i64, blind: crate::vocab::Blind) -> Status {
        if self.available == Some(false) || self.group_offline {
            return Status::Offline;
        }
        let stale_after = self.stale_after_ms();
        match self.last_live_ms {
            // Its rhythm is unknown yet: its silence says nothing about it.
            Some(live)
                if self.guessed
                    && self.live_messages < GUESSED_REPORTS_BEFORE_JUDGED
                    && now_ms.saturating_sub(live) > stale_after =>
            {
                Status::Unknown
            }
            Some(live)
                if now_ms.saturating_sub(blind.silence_from(live, stale_after)) > stale_after =>
            {
                Status::Stale
            }
            Some(_) => Status::Online,
            None if self.available == Some(true) => Status::Online,
            None => Status::Unknown,
        }
    }
}

#[cfg(test)]
mod topic_tests {
    use super::MAX_TOPICS;

    #[test]
    fn a_device_keeps_a_bounded_list_of_its_topics() {
        let mut d = crate::fleet::testutil::device("d", &[]);
        assert_eq!(d.topic_index("a/1"), 0);
        assert_eq!(d.topic_index("a/2"), 1);
        assert_eq!(d.topic_index("a/1"), 0, "known topics keep their index");
        for i in 0..2 * MAX_TOPICS {
            d.topic_index(&format!("flood/{i}"));
        }
        assert_eq!(d.topics.len(), MAX_TOPICS);
        assert_eq!(d.topic_index("one/more"), u16::MAX);
    }
}
