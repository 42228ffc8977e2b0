//! Applying a routed message to the devices: telemetry into metrics and history,
//! availability into status (one device or a group), unmapped topics into their list.

use super::caps::Cap;
use super::*;

/// Bytes of the last payload kept per device and per unmapped topic.
pub(super) const LAST_PAYLOAD_CAP: usize = 4096;
/// A payload timestamp further ahead of arrival than this is not believed.
const MAX_CLOCK_AHEAD_MS: i64 = 10 * 60 * 1000;

impl FleetState {
    pub(super) fn apply_telemetry(
        &mut self,
        msg: &RawMessage,
        topic: &[u8],
        id: DeviceId,
        topic_idx: u16,
        metric: Option<u32>,
        shape: u32,
    ) {
        let limits_payload = self.limits.max_payload_bytes;
        let history = self.limits.history;
        let max_metrics = self.limits.max_metrics_per_device;
        let d = &mut self.devices[id.index()];
        note_arrival(d, msg, topic_idx);
        if msg.payload.len() > limits_payload {
            record_error(
                d,
                &mut self.counters,
                msg.at_ms,
                topic,
                format!(
                    "payload of {} bytes exceeds the {} byte cap ([limits] max_payload_bytes)",
                    msg.payload.len(),
                    limits_payload
                ),
            );
            self.refuse(Cap::PayloadSize, msg.conn, 1);
            self.refresh_status(id);
            return;
        }
        if let Some(timestamp) = self.read_shape(&msg.payload, id, shape) {
            self.store_shape_values(msg, id, topic_idx, timestamp);
            return;
        }
        let d = &mut self.devices[id.index()];
        let fleet = &self.mapper.fleets[d.fleet as usize];
        if fleet.format == PayloadFormat::Senml {
            return self.apply_senml_fleet(msg, id, topic_idx);
        }
        let mut shape = self.shapes.get_mut(shape as usize);
        let metric_name = metric
            .and_then(|i| self.metric_names.get(i as usize))
            .map_or("value", |m| &**m);
        let mut refused = 0u64;
        let decoded = match &fleet.proto {
            Some(message) => decode::decode_protobuf(&msg.payload, message, &mut self.scratch),
            None => decode::decode(&msg.payload, fleet.format, metric_name, &mut self.scratch),
        };
        match decoded {
            Err(e) => record_error(d, &mut self.counters, msg.at_ms, topic, e.to_string()),
            Ok(()) => {
                let at = sample_time(self.scratch.timestamp_ms, msg.at_ms);
                self.leaf_metrics.clear();
                for (i, (path, value)) in self.scratch.values().enumerate() {
                    match metric_index(d, i, path, at, history, max_metrics) {
                        Some(m) => {
                            update_metric(&mut d.metrics[m], value, at);
                            self.leaf_metrics.push(m as u32);
                        }
                        None => refused += 1,
                    }
                }
                if let Some(shape) = &mut shape {
                    if refused == 0 {
                        shape.learn(&msg.payload, &self.scratch, &self.leaf_metrics);
                    } else {
                        shape.forget();
                    }
                }
                // After the shape has learned: delivery metrics are none of the payload's.
                let stamp = self.scratch.timestamp_ms;
                refused += note_delivery(d, msg, topic_idx, stamp, history, max_metrics);
                if refused > 0 {
                    d.last_error = Some(LastError {
                        at_ms: msg.at_ms,
                        topic: String::from_utf8_lossy(topic).into_owned(),
                        message: format!(
                            "{refused} metric(s) refused: device already has {max_metrics} ([limits] max_metrics_per_device)"
                        ),
                    });
                }
            }
        }
        self.refuse(Cap::Metrics, msg.conn, refused);
        self.refresh_status(id);
    }

    /// Reads `payload` through the learned `shape` into `shape_values`: its timestamp if
    /// the payload fits the shape and every slot is one of device `id`'s metrics.
    fn read_shape(&mut self, payload: &[u8], id: DeviceId, shape: u32) -> Option<Option<i64>> {
        let shape = self.shapes.get(shape as usize)?;
        let timestamp = shape.read(payload, &mut self.shape_values).ok()?;
        let metrics = self.devices.get(id.index())?.metrics.len();
        self.shape_values
            .iter()
            .all(|&(i, _)| (i as usize) < metrics)
            .then_some(timestamp)
    }

    /// Stores what [`FleetState::read_shape`] read straight into the metric slots.
    fn store_shape_values(
        &mut self,
        msg: &RawMessage,
        id: DeviceId,
        topic_idx: u16,
        timestamp: Option<i64>,
    ) {
        let at = sample_time(timestamp, msg.at_ms);
        let (history, max_metrics) = (self.limits.history, self.limits.max_metrics_per_device);
        let d = &mut self.devices[id.index()];
        for &(i, leaf) in &self.shape_values {
            let value = match leaf {
                Leaf::Number(n) => Value::Number(n),
                Leaf::Bool(b) => Value::Bool(b),
                Leaf::Text(a, b) => match std::str::from_utf8(&msg.payload[a as usize..b as usize])
                {
                    Ok(t) => Value::Text(t),
                    Err(_) => continue,
                },
            };
            update_metric(&mut d.metrics[i as usize], value, at);
        }
        let refused = note_delivery(d, msg, topic_idx, timestamp, history, max_metrics);
        self.refused_metrics(msg, id, refused);
        self.refresh_status(id);
    }

    /// A generic JSON device's message read through its topic's shape, if the payload
    /// fits it; false leaves the message to the convention decoder, which learns the
    /// shape for the next one.
    pub(super) fn apply_generic_shape(
        &mut self,
        msg: &RawMessage,
        id: DeviceId,
        topic_idx: u16,
        shape: u32,
    ) -> bool {
        if msg.payload.len() > self.limits.max_payload_bytes {
            return false;
        }
        let Some(timestamp) = self.read_shape(&msg.payload, id, shape) else {
            return false;
        };
        note_arrival(&mut self.devices[id.index()], msg, topic_idx);
        self.store_shape_values(msg, id, topic_idx, timestamp);
        true
    }

    /// Learns (or forgets) a generic topic's shape from what the convention decoder made
    /// of its payload: `slots` are the metric slots of `values`' leaves, in order.
    pub(super) fn learn_generic_shape(
        &mut self,
        shape: u32,
        payload: &[u8],
        values: &crate::decode::Scratch,
        slots: Option<&[u32]>,
    ) {
        if let Some(s) = self.shapes.get_mut(shape as usize) {
            match slots {
                Some(slots) => s.learn(payload, values, slots),
                None => s.forget(),
            }
        }
    }

    pub(super) fn apply_availability(&mut self, msg: &RawMessage, topic: &[u8]) {
        let Some((
            Route::Availability {
                fleet,
                rule,
                target,
            },
            _,
        )) = self.routes[msg.conn.index()].get(topic)
        else {
            return;
        };
        let (fleet, target) = (*fleet, target.clone());
        let rule = &self.mapper.fleets[fleet as usize].availability[*rule as usize];
        let online = crate::decode::availability::parse(&msg.payload, &rule.online, &rule.offline);
        match target {
            RouteTarget::Device(id) => {
                self.touched = Some(id);
                let d = &mut self.devices[id.index()];
                note_arrival(d, msg, u16::MAX);
                match online {
                    Some(v) => d.available = Some(v),
                    None => record_error(
                        d,
                        &mut self.counters,
                        msg.at_ms,
                        topic,
                        format!(
                            "availability payload `{}` is neither `{}` nor `{}`",
                            crate::sanitize::truncate(&crate::sanitize::bytes(&msg.payload), 40),
                            rule.online,
                            rule.offline
                        ),
                    ),
                }
                self.refresh_status(id);
            }
            RouteTarget::Group(labels) => {
                let Some(online) = online else {
                    self.counters.decode_errors += 1;
                    return;
                };
                self.offline_groups
                    .retain(|(f, g)| !(*f == fleet && *g == labels));
                if !online {
                    self.offline_groups.push((fleet, labels.clone()));
                }
                self.note_group(fleet, msg.conn, &labels, online, msg.at_ms);
                for i in 0..self.devices.len() {
                    let d = &self.devices[i];
                    if d.fleet == fleet && matches_group(&d.labels, &labels) {
                        let was_offline = d.group_offline;
                        let d = &mut self.devices[i];
                        d.group_offline = self
                            .offline_groups
                            .iter()
                            .any(|(f, g)| *f == fleet && matches_group(&d.labels, g));
                        // A gateway back online vouches for its devices: their staleness
                        // counts from its return, not from before the outage.
                        if was_offline && !d.group_offline && !msg.retain {
                            d.last_live_ms = Some(d.last_live_ms.unwrap_or(0).max(msg.at_ms));
                        }
                        self.refresh_status(DeviceId::nth(i));
                    }
                }
            }
        }
    }

    fn note_group(
        &mut self,
        fleet: FleetIdx,
        conn: ConnId,
        labels: &Labels,
        online: bool,
        at: i64,
    ) {
        let known = self
            .groups
            .iter()
            .position(|g| g.fleet == fleet && g.conn == conn && g.labels == *labels);
        let count = self.groups.len();
        match known.and_then(|i| self.groups.get_mut(i)) {
            Some(g) if g.online != online => {
                g.online = online;
                g.since_ms = at;
            }
            Some(_) => {}
            None if count < self.limits.max_devices => self.groups.push(Group {
                fleet,
                conn,
                labels: labels.clone(),
                online,
                since_ms: at,
            }),
            None => self.counters.refused_device_cap += 1,
        }
    }

    pub(super) fn note_unmapped(&mut self, i: usize, msg: &RawMessage) {
        self.counters.unmapped_messages += 1;
        if let Some(u) = self.unmapped.get_mut(i) {
            u.messages += 1;
            u.last_ms = msg.at_ms;
            u.retained = msg.retain;
            copy_capped(&mut u.last_payload, &msg.payload);
        }
    }

    pub(super) fn refresh_status(&mut self, id: DeviceId) {
        let d = &mut self.devices[id.index()];
        let floor = self
            .connections
            .get(d.conn.index())
            .map_or(crate::vocab::Blind::NEVER, Connection::blind);
        let status = d.compute_status(self.now_ms, floor);
        if status != d.status {
            let from = d.status;
            d.status = status;
            self.events.push(FleetEvent::StatusChanged {
                device: id,
                from,
                to: status,
                at_ms: self.now_ms,
            });
        }
    }
}

/// The payload's timestamp when it is sane, else the arrival time.
pub(super) fn sample_time(payload_ms: Option<i64>, arrival_ms: i64) -> i64 {
    payload_ms
        .filter(|&t| t <= arrival_ms + MAX_CLOCK_AHEAD_MS)
        .unwrap_or(arrival_ms)
}

pub(super) fn note_arrival(d: &mut Device, msg: &RawMessage, topic_idx: u16) {
    d.messages += 1;
    d.last_seen_ms = d.last_seen_ms.max(msg.at_ms);
    if !msg.retain {
        d.live_messages += 1;
        d.last_live_ms = Some(d.last_live_ms.map_or(msg.at_ms, |t| t.max(msg.at_ms)));
    }
    if topic_idx != u16::MAX {
        d.last_topic = topic_idx;
        copy_capped(&mut d.last_payload, &msg.payload);
    }
}

/// Measures the delivery of a live message (see [`super::delivery`]) whose newest sample
/// is stamped `sample_ms`, into the device's `delay` and `jitter` metrics; how many of
/// them the metric cap refused.
pub(super) fn note_delivery(
    d: &mut Device,
    msg: &RawMessage,
    topic_idx: u16,
    sample_ms: Option<i64>,
    history: usize,
    max_metrics: usize,
) -> u64 {
    use super::delivery::{DELAY, JITTER};
    if msg.retain || topic_idx == u16::MAX {
        return 0;
    }
    let measured = d.delivery.observe(topic_idx, msg.at_ms, sample_ms);
    let mut refused = 0;
    for (name, value) in [(DELAY, measured.delay_s), (JITTER, measured.jitter_s)] {
        if let Some(v) = value {
            let hint = d.metrics.len();
            if !store_value(
                d,
                hint,
                name,
                Value::Number(v),
                msg.at_ms,
                history,
                max_metrics,
            ) {
                refused += 1;
            }
        }
    }
    refused
}

pub(super) fn record_error(
    d: &mut Device,
    counters: &mut Counters,
    at_ms: i64,
    topic: &[u8],
    message: String,
) {
    d.decode_errors += 1;
    counters.decode_errors += 1;
    d.last_error = Some(LastError {
        at_ms,
        topic: String::from_utf8_lossy(topic).into_owned(),
        message,
    });
}

/// Stores one decoded value; `false` if the metric cap refused a new metric.
pub(super) fn store_value(
    d: &mut Device,
    hint: usize,
    path: &str,
    value: Value<'_>,
    at: i64,
    history: usize,
    max_metrics: usize,
) -> bool {
    store_value_at(d, hint, path, value, at, history, max_metrics).is_some()
}

/// Stores one decoded value: the metric slot it went to, `None` if the metric cap refused
/// a new metric.
pub(super) fn store_value_at(
    d: &mut Device,
    hint: usize,
    path: &str,
    value: Value<'_>,
    at: i64,
    history: usize,
    max_metrics: usize,
) -> Option<usize> {
    let i = metric_index(d, hint, path, at, history, max_metrics)?;
    update_metric(&mut d.metrics[i], value, at);
    Some(i)
}

/// The index of the metric named `path`, created if new; `None` if the metric cap refused it.
fn metric_index(
    d: &mut Device,
    hint: usize,
    path: &str,
    at: i64,
    history: usize,
    max_metrics: usize,
) -> Option<usize> {
    // Payloads usually list their keys in the same order, so the i-th leaf is most often
    // the i-th metric: check there before scanning.
    let idx = match d.metrics.get(hint) {
        Some(m) if &*m.name == path => Some(hint),
        _ => d.metrics.iter().position(|m| &*m.name == path),
    };
    match idx {
        Some(i) => Some(i),
        None if d.metrics.len() >= max_metrics => None,
        None => {
            d.metrics.push(Metric {
                name: path.into(),
                value: MetricValue::Number(0.0),
                updated_ms: at,
                ring: Ring::new(history),
                coarse: Coarse::default(),
            });
            Some(d.metrics.len() - 1)
        }
    }
}

/// Sets a metric's latest value and records a number (or bool) in its history.
fn update_metric(m: &mut Metric, value: Value<'_>, at: i64) {
    let numeric = match value {
        Value::Number(n) => {
            m.value = MetricValue::Number(n);
            Some(n)
        }
        Value::Bool(b) => {
            m.value = MetricValue::Bool(b);
            Some(if b { 1.0 } else { 0.0 })
        }
        Value::Text(t) => {
            if !matches!(&m.value, MetricValue::Text(old) if &**old == t) {
                m.value = MetricValue::Text(t.into());
            }
            None
        }
    };
    m.updated_ms = m.updated_ms.max(at);
    if let Some(n) = numeric
        && let Some((t, v)) = m.ring.push(at, n)
    {
        m.coarse.push(t, v);
    }
}

/// Labels a device did not have yet: a device's labels only ever grow.
pub(super) fn add_labels(d: &mut Device, labels: Vec<(String, String)>) {
    for (k, v) in labels {
        if d.label(&k).is_none() {
            d.labels.push((k.into(), v.into()));
        }
    }
}

fn copy_capped(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    dst.extend_from_slice(&src[..src.len().min(LAST_PAYLOAD_CAP)]);
}

pub(super) fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

pub(super) fn boxed(labels: Vec<(String, String)>) -> Labels {
    labels
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

/// True when a device carries every label of the group.
pub(super) fn matches_group(
    labels: &[(Box<str>, Box<str>)],
    group: &[(Box<str>, Box<str>)],
) -> bool {
    group
        .iter()
        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
}
