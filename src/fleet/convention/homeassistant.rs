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
        /// A binary_sensor's on and off words.
        binary: Option<(Box<str>, Box<str>)>,
    },
    Availability {
        online: Box<str>,
        offline: Box<str>,
        mode: ha::AvailabilityMode,
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
                HaKind::Availability {
                    online,
                    offline,
                    mode,
                } => match crate::decode::availability::parse(&msg.payload, &online, &offline) {
                    Some(v) => {
                        let online = self.ha_availability(b.device, b.topic, v, mode);
                        self.set_online(b.device, online);
                    }
                    None => record_error(
                        d,
                        &mut self.counters,
                        msg.at_ms,
                        &msg.topic,
                        format!("availability payload is neither `{online}` nor `{offline}`"),
                    ),
                },
                HaKind::State {
                    metric,
                    template,
                    binary,
                } => {
                    let scratch = &mut self.convention_out.values;
                    let stored =
                        state_value(&template, binary.as_ref(), &msg.payload, &metric, scratch)
                            .map(|values| {
                                values.iter().all(|(name, v)| {
                                    store_value(
                                        d,
                                        0,
                                        name,
                                        v.as_value(),
                                        msg.at_ms,
                                        history,
                                        max_metrics,
                                    )
                                })
                            });
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

    /// A device's online state once availability topic `topic` said `online`: that word
    /// (`latest`), or every topic's (`all`: online only while none says offline; `any`:
    /// online while one says online), whatever order they came in.
    fn ha_availability(
        &mut self,
        device: DeviceId,
        topic: u16,
        online: bool,
        mode: ha::AvailabilityMode,
    ) -> bool {
        let said = self.ha_available.entry(device).or_default();
        match said.iter_mut().find(|(t, _)| *t == topic) {
            Some(entry) => entry.1 = online,
            None => said.push((topic, online)),
        }
        match mode {
            ha::AvailabilityMode::Latest => online,
            ha::AvailabilityMode::All => said.iter().all(|(_, v)| *v),
            ha::AvailabilityMode::Any => said.iter().any(|(_, v)| *v),
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
                binary: entity.binary.map(|(on, off)| (on.into(), off.into())),
            };
            self.bind_homeassistant(msg.conn, id, t, kind);
        }
        for (t, online, offline) in entity.availability {
            let kind = HaKind::Availability {
                online: online.into(),
                offline: offline.into(),
                mode: entity.availability_mode,
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

/// A state value, owned: what a template or a JSON leaf made of a payload.
enum Owned {
    Number(f64),
    Bool(bool),
    Text(String),
}

impl Owned {
    fn as_value(&self) -> Value<'_> {
        match self {
            Owned::Number(n) => Value::Number(*n),
            Owned::Bool(b) => Value::Bool(*b),
            Owned::Text(t) => Value::Text(t),
        }
    }

    /// Text as a plain payload reads: a number, a boolean word, or text.
    fn read(text: &str) -> Owned {
        let t = text.trim();
        match (t.parse::<f64>(), crate::decode::bool_word(t)) {
            (Ok(n), _) if n.is_finite() => Owned::Number(n),
            (_, Some(b)) => Owned::Bool(b),
            _ => Owned::Text(t.to_string()),
        }
    }
}

/// What an entity's state payload says, as `(metric, value)` pairs: the payload itself
/// (a JSON payload's leaves by their paths), a JSON leaf, or a rendered template; a
/// binary_sensor's is `true`/`false` by its on and off words.
fn state_value(
    template: &Template,
    binary: Option<&(Box<str>, Box<str>)>,
    payload: &[u8],
    metric: &str,
    scratch: &mut crate::decode::Scratch,
) -> Result<Vec<(String, Owned)>, String> {
    let text = match template {
        Template::Value if binary.is_none() => {
            crate::decode::decode(payload, crate::config::PayloadFormat::Auto, metric, scratch)
                .map_err(|e| e.to_string())?;
            return Ok(scratch
                .values()
                .map(|(name, v)| {
                    let owned = match v {
                        Value::Number(n) => Owned::Number(n),
                        Value::Bool(b) => Owned::Bool(b),
                        Value::Text(t) => Owned::Text(t.to_string()),
                    };
                    (name.to_string(), owned)
                })
                .collect());
        }
        Template::Value => String::from_utf8_lossy(payload).trim().to_string(),
        Template::Json(path) => {
            let json: serde_json::Value =
                serde_json::from_slice(payload).map_err(|e| format!("state is not JSON: {e}"))?;
            let leaf = ha::extract(path, &json)
                .ok_or_else(|| format!("state has no `{}`", path.join(".")))?;
            match leaf {
                serde_json::Value::Number(n) if binary.is_none() => {
                    let n = n.as_f64().ok_or("not a value")?;
                    return Ok(vec![(metric.to_string(), Owned::Number(n))]);
                }
                serde_json::Value::Bool(b) if binary.is_none() => {
                    return Ok(vec![(metric.to_string(), Owned::Bool(*b))]);
                }
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => leaf.to_string(),
                _ => return Err(format!("`{}` is not a value", path.join("."))),
            }
        }
        Template::Jinja(j) => j
            .render(payload)
            .map_err(|e| format!("value template: {e}"))?,
    };
    let value = match binary {
        Some((on, off)) if text == **on => Owned::Bool(true),
        Some((on, off)) if text == **off => Owned::Bool(false),
        Some((on, off)) => {
            return Err(format!(
                "state `{}` is neither `{on}` nor `{off}`",
                crate::sanitize::truncate(&crate::sanitize::text(&text), 40)
            ));
        }
        None => Owned::read(&text),
    };
    Ok(vec![(metric.to_string(), value)])
}

#[cfg(test)]
mod tests {
    use super::super::tests::{device, msg, number, state, state_with_fleets};
    use crate::fleet::{ConventionsConfig, MetricValue, Status};

    fn config(topic: &str, json: &str) -> crate::vocab::RawMessage {
        msg(topic, json.as_bytes(), 1)
    }

    #[test]
    fn templates_are_rendered_and_binary_sensors_read_their_words() {
        let mut s = state(ConventionsConfig::default());
        let dev = r#""dev":{"ids":["node-1"]}"#;
        s.apply(&config(
            "homeassistant/sensor/node-1/power/config",
            &format!(r#"{{"stat_t":"n1/power","val_tpl":"{{{{ value | float * 0.1 }}}}",{dev}}}"#),
        ));
        s.apply(&config(
            "homeassistant/binary_sensor/node-1/door/config",
            &format!(r#"{{"stat_t":"n1/door","pl_on":"YES","pl_off":"NO",{dev}}}"#),
        ));
        s.apply(&config(
            "homeassistant/sensor/node-1/temp/config",
            &format!(
                r#"{{"stat_t":"n1/json","val_tpl":"{{{{ (value_json.t | float / 10) | round(1) if value_json.t is defined else 0 }}}}",{dev}}}"#
            ),
        ));
        s.apply(&msg("n1/power", b"2155", 2));
        s.apply(&msg("n1/door", b"NO", 3));
        s.apply(&msg("n1/json", br#"{"t":"215"}"#, 4));
        let d = device(&s, "node-1");
        let value = |m: &str| d.metric(m).map(|m| m.value.clone());
        assert_eq!(value("power"), Some(MetricValue::Number(215.5)));
        assert_eq!(value("door"), Some(MetricValue::Bool(false)));
        assert_eq!(value("temp"), Some(MetricValue::Number(21.5)));
        assert!(d.last_error.is_none(), "{:?}", d.last_error);
        s.apply(&msg("n1/door", b"YES", 5));
        assert_eq!(
            device(&s, "node-1").metric("door").map(|m| m.value.clone()),
            Some(MetricValue::Bool(true))
        );
        s.apply(&msg("n1/door", b"MAYBE", 6));
        let e = device(&s, "node-1").last_error.clone().expect("an error");
        assert!(
            e.message.contains("neither `YES` nor `NO`"),
            "{}",
            e.message
        );
        s.apply(&msg("n1/power", b"n/a", 7));
        let e = device(&s, "node-1").last_error.clone().expect("an error");
        assert!(e.message.contains("value template"), "{}", e.message);
    }

    #[test]
    fn a_hostile_template_is_refused_and_shown_on_the_device() {
        let mut s = state(ConventionsConfig::default());
        s.apply(&config(
            "homeassistant/sensor/node-2/x/config",
            r#"{"stat_t":"n2/x","val_tpl":"{% for i in value %}{{ i }}{% endfor %}","dev":{"ids":["node-2"]}}"#,
        ));
        let d = device(&s, "node-2");
        let e = d.last_error.as_ref().expect("refused");
        assert!(
            e.message.contains("refused") && e.message.contains("for"),
            "{}",
            e.message
        );
        s.apply(&msg("n2/x", b"1", 2));
        assert!(
            device(&s, "node-2").metric("x").is_none(),
            "never evaluated"
        );
    }

    #[test]
    fn availability_lists_follow_their_mode_in_any_order() {
        for (mode, order, want) in [
            ("all", [("a", "online"), ("b", "offline")], Status::Offline),
            ("all", [("b", "offline"), ("a", "online")], Status::Offline),
            ("any", [("a", "online"), ("b", "offline")], Status::Online),
            ("any", [("b", "offline"), ("a", "online")], Status::Online),
            (
                "latest",
                [("a", "online"), ("b", "offline")],
                Status::Offline,
            ),
            (
                "latest",
                [("b", "offline"), ("a", "online")],
                Status::Online,
            ),
        ] {
            let mut s = state(ConventionsConfig::default());
            s.apply(&config(
                "homeassistant/sensor/node-3/t/config",
                &format!(
                    r#"{{"stat_t":"n3/t","avty_mode":"{mode}","avty":[{{"t":"n3/a"}},{{"t":"n3/b"}}],"dev":{{"ids":["node-3"]}}}}"#
                ),
            ));
            for (i, (topic, word)) in order.iter().enumerate() {
                s.apply(&msg(&format!("n3/{topic}"), word.as_bytes(), 2 + i as i64));
            }
            assert_eq!(device(&s, "node-3").status, want, "{mode} {order:?}");
        }
    }

    #[test]
    fn home_assistant_discovery_groups_entities_and_refuses_hostile_templates() {
        let mut s = state(ConventionsConfig::default());
        // State published before its config: routed by the generic fallback, then re-routed.
        s.apply(&msg("plugs/p1/state", br#"{"power":10.5,"relay":"ON"}"#, 1));
        let dev = r#""dev":{"ids":["p1-mac"],"name":"Kitchen plug"},"avty_t":"plugs/p1/avail""#;
        s.apply(&msg(
            "homeassistant/sensor/p1/power/config",
            format!(r#"{{"stat_t":"plugs/p1/state","val_tpl":"{{{{ value_json.power }}}}","unit_of_meas":"W","dev_cla":"power",{dev}}}"#).as_bytes(),
            2,
        ));
        s.apply(&msg(
            "homeassistant/switch/p1/relay/config",
            format!(r#"{{"stat_t":"plugs/p1/state","val_tpl":"{{{{ value_json.relay }}}}","cmd_t":"plugs/p1/set",{dev}}}"#).as_bytes(),
            3,
        ));
        s.apply(&msg("plugs/p1/avail", b"online", 4));
        s.apply(&msg(
            "plugs/p1/state",
            br#"{"power":12.25,"relay":"OFF"}"#,
            5,
        ));
        let p = device(&s, "p1-mac");
        assert_eq!(s.fleet_name(p), "homeassistant");
        assert_eq!(p.status, Status::Online);
        assert_eq!(number(p, "power"), 12.25);
        assert_eq!(
            p.metric("relay").map(|m| &m.value),
            Some(&MetricValue::Bool(false))
        );
        assert_eq!(s.unit(p, "power"), Some("W"));
        let f = p.facts.as_ref().unwrap();
        assert_eq!(f.display_name.as_deref(), Some("Kitchen plug"));
        assert_eq!(&*f.commands[0].topic, "plugs/p1/set");
        s.apply(&msg("plugs/p1/avail", b"offline", 6));
        assert_eq!(device(&s, "p1-mac").status, Status::Offline);

        // A hostile template is refused, never evaluated, and shown on the device.
        s.apply(&msg(
            "homeassistant/sensor/p1/evil/config",
            br#"{"stat_t":"plugs/p1/evil","val_tpl":"{{ ''.__class__.__mro__ }}","dev":{"ids":"p1-mac"}}"#,
            7,
        ));
        let p = device(&s, "p1-mac");
        assert!(p.last_error.as_ref().unwrap().message.contains("refused"));
        assert!(p.metric("evil").is_none());
    }

    #[test]
    fn a_home_assistant_state_retained_before_its_config_is_applied_when_the_config_comes() {
        let mut s = state_with_fleets("[[fleet]]\nname = \"tanks\"\ntopic = \"t/{device}\"\n");
        // A filter brought the retained state first; it was unmapped.
        s.apply(&msg("garden-node/sensor/temperature/state", b"21.5", 1));
        assert!(s.find_device("garden-node").is_none());
        s.apply(&msg(
            "homeassistant/sensor/garden-node/temperature/config",
            br#"{"name":"Temperature","stat_t":"garden-node/sensor/temperature/state","unit_of_meas":"C","dev":{"ids":["garden-node"]}}"#,
            2,
        ));
        assert_eq!(number(device(&s, "garden-node"), "temperature"), 21.5);
    }
}
