//! Home Assistant MQTT discovery applied to the fleet state: a `config` topic binds an
//! entity's state and availability topics to a device, and those topics then update it.

use super::*;
use crate::fleet::caps::Cap;

/// What a Home Assistant state or availability topic means for one entity.
#[derive(Debug, Clone)]
pub(in crate::fleet) struct HaBinding {
    device: DeviceId,
    topic: u16,
    kind: HaKind,
}

#[derive(Debug, Clone)]
enum HaKind {
    State {
        metric: Box<str>,
        template: Template,
    },
    Availability {
        online: Box<str>,
        offline: Box<str>,
    },
}

impl FleetState {
    pub(super) fn apply_homeassistant(&mut self, msg: &RawMessage, topic: &str) {
        if msg.payload.len() > self.limits.max_payload_bytes {
            self.refuse(Cap::PayloadSize, msg.conn, 1);
            return;
        }
        if ha::claims(topic, &self.layouts) {
            return self.homeassistant_config(msg, topic);
        }
        let Some(bindings) = self.ha_bindings.get(topic).cloned() else {
            return;
        };
        let (history, max_metrics) = (self.limits.history, self.limits.max_metrics_per_device);
        for b in bindings {
            self.touched = Some(b.device);
            let d = &mut self.devices[b.device.index()];
            note_arrival(d, msg, b.topic);
            match b.kind {
                HaKind::Availability { online, offline } => {
                    match crate::decode::availability::parse(&msg.payload, &online, &offline) {
                        Some(v) => self.set_online(b.device, v),
                        None => record_error(
                            d,
                            &mut self.counters,
                            msg.at_ms,
                            &msg.topic,
                            format!("availability payload is neither `{online}` nor `{offline}`"),
                        ),
                    }
                }
                HaKind::State { metric, template } => {
                    let stored = match &template {
                        Template::Value => {
                            let out = &mut self.convention_out;
                            crate::decode::decode(
                                &msg.payload,
                                crate::config::PayloadFormat::Auto,
                                &metric,
                                &mut out.values,
                            )
                            .map_err(|e| e.to_string())
                            .map(|()| {
                                out.values.values().all(|(name, v)| {
                                    store_value(d, 0, name, v, msg.at_ms, history, max_metrics)
                                })
                            })
                        }
                        Template::Json(path) => serde_json::from_slice(&msg.payload)
                            .map_err(|e| format!("state is not JSON: {e}"))
                            .and_then(|json: serde_json::Value| {
                                let leaf = ha::extract(path, &json)
                                    .ok_or_else(|| format!("state has no `{}`", path.join(".")))?;
                                let value = match leaf {
                                    serde_json::Value::Number(n) => n.as_f64().map(Value::Number),
                                    serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
                                    serde_json::Value::String(s) => Some(
                                        crate::decode::bool_word(s)
                                            .map_or(Value::Text(s), Value::Bool),
                                    ),
                                    _ => None,
                                }
                                .ok_or_else(|| format!("`{}` is not a value", path.join(".")))?;
                                Ok(store_value(
                                    d,
                                    0,
                                    &metric,
                                    value,
                                    msg.at_ms,
                                    history,
                                    max_metrics,
                                ))
                            }),
                    };
                    match stored {
                        Ok(true) => {}
                        Ok(false) => self.refused_metrics(msg, b.device, 1),
                        Err(e) => record_error(d, &mut self.counters, msg.at_ms, &msg.topic, e),
                    }
                }
            }
            self.refresh_status(b.device);
        }
    }

    /// A discovery config: the entity's device, facts, and the topics to read it from.
    fn homeassistant_config(&mut self, msg: &RawMessage, topic: &str) {
        let conv = Convention::HomeAssistant;
        let entity = match ha::parse_config(topic, &self.layouts, &msg.payload) {
            Ok(e) => e,
            Err((device, why)) => {
                match device.and_then(|d| self.convention_device(msg.conn, conv, &d, &[])) {
                    Some(id) => record_error(
                        &mut self.devices[id.index()],
                        &mut self.counters,
                        msg.at_ms,
                        &msg.topic,
                        why,
                    ),
                    None => self.counters.decode_errors += 1,
                }
                return;
            }
        };
        let Some(id) = self.convention_device(msg.conn, conv, &entity.device, &[]) else {
            return;
        };
        self.touched = Some(id);
        let max = self.limits.max_metrics_per_device;
        let f = facts(&mut self.devices[id.index()], conv);
        if let Some(name) = entity.device_name {
            f.display_name = Some(capped(&name, MAX_NAME_CHARS));
        }
        merge_metric(
            f,
            MetricFacts {
                format: None,
                name: entity.metric.as_str().into(),
                unit: entity.unit.map(Into::into),
                datatype: entity.device_class.map(Into::into),
            },
            max,
        );
        if let Some(c) = entity.command {
            add_command(f, c);
        }
        if let Some(t) = entity.state_topic {
            let kind = HaKind::State {
                metric: entity.metric.into(),
                template: entity.template,
            };
            self.bind_homeassistant(msg.conn, id, t, kind);
        }
        for (t, online, offline) in entity.availability {
            let kind = HaKind::Availability {
                online: online.into(),
                offline: offline.into(),
            };
            self.bind_homeassistant(msg.conn, id, t, kind);
        }
    }

    /// Routes `topic` to an entity; a topic already routed elsewhere is routed again.
    fn bind_homeassistant(&mut self, conn: ConnId, id: DeviceId, topic: String, kind: HaKind) {
        // The topic may be subscribed to: nothing a broker would refuse (or worse).
        if topic.is_empty()
            || topic.contains(['+', '#'])
            || topic.len() > self.limits.max_topic_len
            || has_control(&topic)
        {
            self.counters.refused_bad_topic += 1;
            return;
        }
        if !self.ha_bindings.contains_key(topic.as_str())
            && self.ha_bindings.len() >= self.limits.max_unmapped_topics
        {
            self.refuse(Cap::UnmappedTopics, conn, 1);
            return;
        }
        let d = &mut self.devices[id.index()];
        let topic_idx = d.topic_index(&topic);
        let same = |b: &HaBinding| {
            b.device == id
                && match (&b.kind, &kind) {
                    (HaKind::State { metric: a, .. }, HaKind::State { metric: b, .. }) => a == b,
                    (HaKind::Availability { .. }, HaKind::Availability { .. }) => true,
                    _ => false,
                }
        };
        if !self.ha_bindings.contains_key(topic.as_str()) {
            self.to_follow.push((conn, topic.as_str().into()));
        }
        let list = self.ha_bindings.entry(topic.as_str().into()).or_default();
        list.retain(|b| !same(b));
        // Many entities may share one state topic; a device's entities are capped.
        if list.len() < self.limits.max_metrics_per_device {
            list.push(HaBinding {
                device: id,
                topic: topic_idx,
                kind,
            });
        }
        self.routes[conn.index()].remove(topic.as_bytes());
        // A retained state that came before its config (a filter brought it) is applied.
        self.replay_unmapped(conn, |t| t == topic);
    }
}
