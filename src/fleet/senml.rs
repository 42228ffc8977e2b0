//! SenML packs applied to devices: each record's value at its own time, its unit kept
//! with the metric, a sum as `<metric>.sum`. With no configuration a pack's base names
//! are its devices (the SenML convention); on a `format = "senml"` fleet every record
//! belongs to the topic's device.

use super::apply::{note_arrival, note_delivery, record_error, sample_time, store_value};
use super::caps::Cap;
use super::convention::{MAX_UNIT_CHARS, facts, merge_metric};
use super::{FleetState, MetricFacts};
use crate::conventions::{self, Convention};
use crate::decode::{Value, senml};
use crate::vocab::{DeviceId, RawMessage};

/// Devices one pack may speak for; records for more are refused and counted.
const MAX_DEVICES_PER_PACK: usize = 64;

/// Where a pack's records go.
enum Target<'t> {
    /// A configured fleet's device (from the topic).
    Device(DeviceId, u16),
    /// The SenML convention: devices by base name, else the topic's device.
    Convention { topic: &'t str },
}

impl FleetState {
    /// A `format = "senml"` fleet's message, for its device `id`.
    pub(super) fn apply_senml_fleet(&mut self, msg: &RawMessage, id: DeviceId, topic_idx: u16) {
        self.apply_pack(msg, Target::Device(id, topic_idx));
    }

    /// A pack on a topic the SenML convention claimed.
    pub(super) fn apply_senml_convention(&mut self, msg: &RawMessage, topic: &str) {
        self.apply_pack(msg, Target::Convention { topic });
    }

    fn apply_pack(&mut self, msg: &RawMessage, target: Target<'_>) {
        let mut pack = std::mem::take(&mut self.senml_pack);
        let oversize = msg.payload.len() > self.limits.max_payload_bytes;
        let decoded = if oversize {
            Err(format!(
                "payload of {} bytes exceeds the {} byte cap ([limits] max_payload_bytes)",
                msg.payload.len(),
                self.limits.max_payload_bytes
            ))
        } else {
            senml::decode(&msg.payload, msg.at_ms, &mut pack).map_err(|e| e.to_string())
        };
        if oversize {
            self.refuse(Cap::PayloadSize, msg.conn, 1);
        }
        // (device, topic index, newest sample time the pack gave) of each device the pack
        // spoke for.
        let mut seen: Vec<(DeviceId, u16, Option<i64>)> = Vec::new();
        let mut refused_devices = 0u64;
        let mut refused_metrics = 0u64;
        match decoded {
            Err(e) => {
                let id = match target {
                    Target::Device(id, _) => Some(id),
                    Target::Convention { topic } => self.senml_device(msg, topic, None),
                };
                if let Some(id) = id {
                    let d = &mut self.devices[id.index()];
                    note_arrival(d, msg, u16::MAX);
                    record_error(d, &mut self.counters, msg.at_ms, &msg.topic, e);
                    self.touched = Some(id);
                    self.refresh_status(id);
                }
            }
            Ok(()) => {
                let (history, max_metrics) =
                    (self.limits.history, self.limits.max_metrics_per_device);
                let mut sum_name = String::new();
                for r in pack.records() {
                    let (named, metric) = r.device_and_metric();
                    let (id, topic_idx) = match target {
                        Target::Device(id, topic_idx) => (id, topic_idx),
                        Target::Convention { topic } => {
                            let key = named.unwrap_or(conventions::senml::topic_device(topic));
                            match self.pack_device(msg, topic, key, &seen) {
                                Some(found) => found,
                                None => {
                                    refused_devices += 1;
                                    continue;
                                }
                            }
                        }
                    };
                    let full = seen.len() >= MAX_DEVICES_PER_PACK;
                    let stamp = r.timed.then_some(r.time_ms);
                    match seen.iter_mut().find(|s| s.0 == id) {
                        Some(s) => s.2 = s.2.max(stamp),
                        None if !full => {
                            note_arrival(&mut self.devices[id.index()], msg, topic_idx);
                            seen.push((id, topic_idx, stamp));
                        }
                        None => {
                            refused_devices += 1;
                            continue;
                        }
                    }
                    let d = &mut self.devices[id.index()];
                    let at = sample_time(Some(r.time_ms), msg.at_ms);
                    let hint = d.metrics.len();
                    if let Some(value) = r.value {
                        if !store_value(d, hint, metric, value, at, history, max_metrics) {
                            refused_metrics += 1;
                        }
                    }
                    if let Some(sum) = r.sum {
                        sum_name.clear();
                        sum_name.push_str(metric);
                        sum_name.push_str(".sum");
                        let (v, name) = (Value::Number(sum), sum_name.as_str());
                        if !store_value(d, hint, name, v, at, history, max_metrics) {
                            refused_metrics += 1;
                        }
                    }
                    if let Some(unit) = r.unit {
                        let unit = Some(capped(unit));
                        for name in [Some(metric), r.sum.map(|_| sum_name.as_str())] {
                            let Some(name) = name else { continue };
                            let known = d.facts.as_ref().and_then(|f| f.metric(name));
                            if known.is_some_and(|m| m.unit == unit) {
                                continue;
                            }
                            let m = MetricFacts {
                                name: name.into(),
                                unit: unit.clone(),
                                datatype: None,
                                format: None,
                            };
                            merge_metric(facts(d, Convention::Senml), m, max_metrics);
                        }
                    }
                }
            }
        }
        self.senml_pack = pack;
        let (history, max_metrics) = (self.limits.history, self.limits.max_metrics_per_device);
        for &(id, topic_idx, newest) in &seen {
            let d = &mut self.devices[id.index()];
            refused_metrics += note_delivery(d, msg, topic_idx, newest, history, max_metrics);
            match self.touched {
                None => self.touched = Some(id),
                Some(first) if first != id => self.also_touched.push(id),
                Some(_) => {}
            }
            self.refresh_status(id);
        }
        if let Some(&(id, ..)) = seen.first() {
            if refused_metrics > 0 {
                self.refused_metrics(msg, id, refused_metrics);
            }
            if refused_devices > 0 {
                let d = &mut self.devices[id.index()];
                record_error(
                    d,
                    &mut self.counters,
                    msg.at_ms,
                    &msg.topic,
                    format!(
                        "{refused_devices} SenML record(s) refused: a pack speaks for at most \
                         {MAX_DEVICES_PER_PACK} devices, and no more than [limits] max_devices"
                    ),
                );
            }
        }
    }

    /// The SenML device `key` a record of the pack names: one already seen in this pack,
    /// else found or created.
    fn pack_device(
        &mut self,
        msg: &RawMessage,
        topic: &str,
        key: &str,
        seen: &[(DeviceId, u16, Option<i64>)],
    ) -> Option<(DeviceId, u16)> {
        if let Some(&(id, topic_idx, _)) = seen
            .iter()
            .find(|s| *self.devices[s.0.index()].name == *key)
        {
            return Some((id, topic_idx));
        }
        if seen.len() >= MAX_DEVICES_PER_PACK {
            return None;
        }
        let id = self.senml_device(msg, topic, Some(key))?;
        let topic_idx = self.devices[id.index()].topic_index(topic);
        Some((id, topic_idx))
    }

    /// The SenML convention's device `key` (default: the topic's device).
    fn senml_device(
        &mut self,
        msg: &RawMessage,
        topic: &str,
        key: Option<&str>,
    ) -> Option<DeviceId> {
        let key = key.unwrap_or(conventions::senml::topic_device(topic));
        self.convention_device(msg.conn, Convention::Senml, key, &[])
    }
}

fn capped(unit: &str) -> Box<str> {
    match unit.char_indices().nth(MAX_UNIT_CHARS) {
        Some((end, _)) => unit[..end].into(),
        None => unit.into(),
    }
}

#[cfg(test)]
mod tests;
