//! Zigbee2MQTT under its base topic (`zigbee2mqtt` unless configured): `bridge/state` and
//! `bridge/devices` (the bridge is its devices' gateway), `<friendly>/availability` (JSON
//! `{"state":"online"}` or the legacy plain word) and `<friendly>` (flat JSON state).
//! Commands are `<friendly>/set` with a JSON object. Friendly names may contain `/`.
//!
//! Any other base is learned (`super::layout`) once a bridge has shown itself under it
//! twice over: its `bridge/state` and its `bridge/devices` or `bridge/info`, each in the
//! shape the bridge publishes, so one look-alike topic is not enough.

use super::{
    Accepts, CommandDescriptor, CommandKind, Event, MetricFacts, Output, online_word, quote,
};
use serde::Deserialize;

/// Exposes deeper than this (composite features of features) are not read.
const MAX_EXPOSE_DEPTH: usize = 3;

/// What a bridge topic shows of a bridge under a base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// `bridge/state`: `online`/`offline`, or `{"state":"online"}` since 1.29.
    State,
    /// `bridge/info`: an object with the bridge's `version` and `coordinator`.
    Info,
    /// `bridge/devices`: an array of devices, each with an IEEE address and a friendly
    /// name (the coordinator among them).
    Devices,
}

/// The base a bridge topic is under and what its payload shows, if it is the bridge's.
pub fn evidence<'t>(topic: &'t str, payload: &[u8]) -> Option<(&'t str, Evidence)> {
    let (base, what) = topic.rsplit_once("/bridge/")?;
    if base.is_empty() || base.starts_with('$') || base.split('/').any(str::is_empty) {
        return None;
    }
    let shown = match what {
        "state" => {
            #[derive(Deserialize)]
            struct State {
                state: String,
            }
            let word = match serde_json::from_slice::<State>(payload) {
                Ok(s) => s.state,
                Err(_) => String::from_utf8_lossy(payload).into_owned(),
            };
            matches!(&*word, "online" | "offline").then_some(Evidence::State)
        }
        "info" => {
            #[derive(Deserialize)]
            struct Info {
                version: String,
                // Required, never read: only a bridge's info has it.
                #[serde(rename = "coordinator")]
                _coordinator: serde::de::IgnoredAny,
            }
            let info: Info = serde_json::from_slice(payload).ok()?;
            (!info.version.is_empty()).then_some(Evidence::Info)
        }
        "devices" => {
            #[derive(Deserialize)]
            struct Listed {
                #[serde(rename = "ieee_address")]
                _ieee: String,
                #[serde(rename = "friendly_name")]
                _friendly: String,
            }
            let list: Vec<Listed> = serde_json::from_slice(payload).ok()?;
            (!list.is_empty()).then_some(Evidence::Devices)
        }
        _ => None,
    }?;
    Some((base, shown))
}

pub fn claims(topic: &str, base: &str) -> bool {
    topic
        .strip_prefix(base)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| !rest.is_empty())
}

pub fn decode(base: &str, topic: &str, payload: &[u8], out: &mut Output) {
    let Some(rest) = topic
        .strip_prefix(base)
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return;
    };
    if let Some(what) = rest.strip_prefix("bridge/") {
        out.device.push_str(base);
        out.labels.push(("role", "bridge".into()));
        match what {
            "state" => availability(payload, out),
            "devices" => device_list(base, payload, out),
            _ => {}
        }
        return;
    }
    out.events.push(Event::Gateway(base.into()));
    if let Some(friendly) = rest.strip_suffix("/availability") {
        out.device.push_str(friendly);
        availability(payload, out);
        return;
    }
    for suffix in ["/set", "/get"] {
        if let Some(at) = rest.rfind(suffix)
            && (rest.len() == at + suffix.len() || rest[at + suffix.len()..].starts_with('/'))
        {
            // A request to the device, not from it.
            out.device.push_str(&rest[..at]);
            out.request = true;
            return;
        }
    }
    out.device.push_str(rest);
    out.json(payload, "");
}

fn availability(payload: &[u8], out: &mut Output) {
    match online_word(payload) {
        Some(online) => out.events.push(Event::Online(online)),
        None => out.events.push(Event::Error(format!(
            "availability payload `{}` is neither online nor offline",
            quote(payload)
        ))),
    }
}

#[derive(Deserialize)]
struct ListedDevice {
    friendly_name: String,
    #[serde(default)]
    ieee_address: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    definition: Option<Definition>,
}

#[derive(Deserialize)]
struct Definition {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    exposes: Vec<Expose>,
}

#[derive(Deserialize)]
struct Expose {
    #[serde(default)]
    property: Option<String>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    /// Bit 2 (value 2): settable.
    #[serde(default)]
    access: u8,
    #[serde(default)]
    features: Vec<Expose>,
    /// `numeric`: the range and step.
    #[serde(default)]
    value_min: Option<f64>,
    #[serde(default)]
    value_max: Option<f64>,
    #[serde(default)]
    value_step: Option<f64>,
    /// `enum`: the words (or numbers) it takes.
    #[serde(default)]
    values: Vec<serde_json::Value>,
    /// `binary`: what on and off are (`"ON"`, `true`, `"LOCK"`...).
    #[serde(default)]
    value_on: Option<serde_json::Value>,
    #[serde(default)]
    value_off: Option<serde_json::Value>,
}

impl Expose {
    /// What a settable property takes, as the expose declares it.
    fn accepts(&self) -> Accepts {
        let word = |v: &serde_json::Value| -> Box<str> {
            match v {
                serde_json::Value::String(s) => s.as_str().into(),
                other => other.to_string().into(),
            }
        };
        let whole = |v: Option<f64>| v.is_none_or(|v| v.fract() == 0.0 && v.abs() < 9e15);
        match self.kind.as_deref() {
            Some("binary") => match (&self.value_on, &self.value_off) {
                (Some(on), Some(off)) => Accepts::Switch {
                    on: word(on),
                    off: word(off),
                },
                _ => Accepts::Text,
            },
            Some("numeric")
                if whole(self.value_min) && whole(self.value_max) && whole(self.value_step) =>
            {
                Accepts::Integer {
                    min: self.value_min.map(|v| v as i64),
                    max: self.value_max.map(|v| v as i64),
                }
            }
            Some("numeric") => Accepts::Number {
                min: self.value_min,
                max: self.value_max,
            },
            Some("enum") if !self.values.is_empty() => {
                Accepts::OneOf(self.values.iter().map(word).collect())
            }
            _ => Accepts::Text,
        }
    }
}

/// `bridge/devices`: each device's name, units and settable properties. The list's size
/// is bounded by the payload cap; how many devices it can create, by the device cap.
fn device_list(base: &str, payload: &[u8], out: &mut Output) {
    let list: Vec<ListedDevice> = match serde_json::from_slice(payload) {
        Ok(l) => l,
        Err(e) => {
            out.events
                .push(Event::Error(format!("malformed bridge/devices list: {e}")));
            return;
        }
    };
    for d in list {
        if d.kind.as_deref() == Some("Coordinator") || d.friendly_name.is_empty() {
            continue;
        }
        let mut metrics = Vec::new();
        let mut commands = Vec::new();
        if let Some(def) = &d.definition {
            for e in &def.exposes {
                collect(base, &d.friendly_name, e, 0, &mut metrics, &mut commands);
            }
        }
        // The friendly name is the user's name for the device (and its topic); until one
        // is given it is the IEEE address, and the model's description says more.
        let unnamed = d.ieee_address.as_deref() == Some(d.friendly_name.as_str());
        let name = if unnamed {
            d.definition.and_then(|def| def.description)
        } else {
            None
        };
        out.events.push(Event::Child {
            key: d.friendly_name,
            name,
            metrics,
            commands,
        });
    }
}

fn collect(
    base: &str,
    friendly: &str,
    e: &Expose,
    depth: usize,
    metrics: &mut Vec<MetricFacts>,
    commands: &mut Vec<CommandDescriptor>,
) {
    if let Some(property) = &e.property {
        metrics.push(MetricFacts {
            format: None,
            name: property.as_str().into(),
            unit: e.unit.as_deref().map(Into::into),
            datatype: e.kind.as_deref().map(Into::into),
        });
        if e.access & 2 != 0 {
            commands.push(CommandDescriptor {
                // The bridge publishes the device's new state, the property among it.
                confirms: Some(property.as_str().into()),
                name: property.as_str().into(),
                topic: format!("{base}/{friendly}/set").into(),
                kind: CommandKind::JsonProperty {
                    property: property.as_str().into(),
                },
                accepts: e.accepts(),
            });
        }
    }
    if depth < MAX_EXPOSE_DEPTH {
        for f in &e.features {
            collect(base, friendly, f, depth + 1, metrics, commands);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conventions::testutil::{pairs, values};

    fn run(topic: &str, payload: &[u8]) -> Output {
        let mut out = Output::default();
        assert!(claims(topic, "zigbee2mqtt"), "{topic}");
        decode("zigbee2mqtt", topic, payload, &mut out);
        out
    }

    #[test]
    fn availability_json_and_legacy() {
        let out = run(
            "zigbee2mqtt/kitchen_sensor0/availability",
            br#"{"state": "online"}"#,
        );
        assert_eq!(out.device, "kitchen_sensor0");
        assert_eq!(
            out.events,
            [Event::Gateway("zigbee2mqtt".into()), Event::Online(true)]
        );
        let out = run("zigbee2mqtt/kitchen/sensor/availability", b"offline");
        assert_eq!(out.device, "kitchen/sensor");
        assert_eq!(out.events[1], Event::Online(false));
    }

    #[test]
    fn state_is_flat_json_through_the_bridge() {
        let out = run(
            "zigbee2mqtt/kitchen_sensor0",
            br#"{"battery":87,"humidity":45.9,"temperature":21}"#,
        );
        assert_eq!(
            values(&out),
            pairs(&[
                ("battery", "87"),
                ("humidity", "45.9"),
                ("temperature", "21")
            ])
        );
        let out = run("zigbee2mqtt/lamp/set", br#"{"state":"ON"}"#);
        assert_eq!(out.device, "lamp");
        assert!(out.values.is_empty() && out.request);
    }

    #[test]
    fn bridge_state_and_device_list() {
        let out = run("zigbee2mqtt/bridge/state", br#"{"state":"offline"}"#);
        assert_eq!(out.device, "zigbee2mqtt");
        assert_eq!(out.events, [Event::Online(false)]);
        let list = br#"[{"friendly_name":"Coordinator","type":"Coordinator"},
            {"friendly_name":"lamp","type":"Router","definition":{"description":"Hue bulb","exposes":[
              {"type":"light","features":[{"type":"binary","property":"state","access":7},
                                          {"type":"numeric","property":"brightness","access":7}]},
              {"type":"numeric","property":"linkquality","unit":"lqi","access":1}]}}]"#;
        let out = run("zigbee2mqtt/bridge/devices", list);
        let [
            Event::Child {
                key,
                name,
                metrics,
                commands,
            },
        ] = &out.events[..]
        else {
            panic!("{:?}", out.events)
        };
        assert_eq!(
            (key.as_str(), name.as_deref()),
            ("lamp", None),
            "the friendly name is the name"
        );
        assert_eq!(metrics.len(), 3);
        assert_eq!(metrics[2].unit.as_deref(), Some("lqi"));
        let names: Vec<&str> = commands.iter().map(|c| &*c.name).collect();
        assert_eq!(names, ["state", "brightness"]);
        assert_eq!(&*commands[0].topic, "zigbee2mqtt/lamp/set");
    }

    #[test]
    fn a_device_without_a_friendly_name_is_named_by_its_model() {
        let list = br#"[{"friendly_name":"0x00158d0001","ieee_address":"0x00158d0001","definition":{"description":"Door sensor","exposes":[]}},
            {"friendly_name":"front door","ieee_address":"0x00158d0002","definition":{"description":"Door sensor","exposes":[]}}]"#;
        let names: Vec<_> = run("zigbee2mqtt/bridge/devices", list)
            .events
            .into_iter()
            .filter_map(|e| match e {
                Event::Child { key, name, .. } => Some((key, name)),
                _ => None,
            })
            .collect();
        assert_eq!(
            names,
            [
                ("0x00158d0001".to_string(), Some("Door sensor".to_string())),
                ("front door".to_string(), None)
            ]
        );
    }

    #[test]
    fn malformed_device_list_is_an_error() {
        let out = run("zigbee2mqtt/bridge/devices", b"[{\"friendly_name\":");
        assert!(matches!(out.events[..], [Event::Error(_)]));
    }

    #[test]
    fn only_the_bridge_s_own_payloads_are_evidence() {
        let info = br#"{"version":"2.1.3","coordinator":{"type":"zStack3x0"},"config":{}}"#;
        let list = br#"[{"ieee_address":"0x00124b0","friendly_name":"Coordinator"}]"#;
        assert_eq!(
            evidence("a/b/bridge/state", br#"{"state":"online"}"#),
            Some(("a/b", Evidence::State))
        );
        assert_eq!(
            evidence("z/bridge/state", b"offline"),
            Some(("z", Evidence::State))
        );
        assert_eq!(evidence("z/bridge/info", info), Some(("z", Evidence::Info)));
        assert_eq!(
            evidence("z/bridge/devices", list),
            Some(("z", Evidence::Devices))
        );
        for (topic, payload) in [
            ("z/bridge/state", &br#"{"state":"up"}"#[..]),
            ("z/bridge/state", b"1"),
            ("z/bridge/info", br#"{"version":"1.0"}"#),
            ("z/bridge/devices", b"[]"),
            ("z/bridge/devices", br#"[{"friendly_name":"x"}]"#),
            ("z/bridge/health", b"online"),
            ("bridge/state", b"online"),
            ("$SYS/bridge/state", b"online"),
            ("a//bridge/state", b"online"),
        ] {
            assert_eq!(evidence(topic, payload), None, "{topic}");
        }
    }

    #[test]
    fn base_topic_is_configurable() {
        assert!(claims("z2m/x", "z2m"));
        assert!(!claims("zigbee2mqttx/x", "zigbee2mqtt"));
        assert!(!claims("zigbee2mqtt/", "zigbee2mqtt"));
    }

    #[test]
    fn exposes_say_what_a_property_takes() {
        let expose = |json: &str| {
            serde_json::from_str::<Expose>(json)
                .expect("expose")
                .accepts()
        };
        assert_eq!(
            expose(r#"{"type":"numeric","value_min":0,"value_max":254}"#),
            Accepts::Integer {
                min: Some(0),
                max: Some(254)
            }
        );
        assert_eq!(
            expose(r#"{"type":"numeric","value_min":5,"value_max":30,"value_step":0.5}"#),
            Accepts::Number {
                min: Some(5.0),
                max: Some(30.0)
            }
        );
        assert_eq!(
            expose(r#"{"type":"binary","value_on":"ON","value_off":"OFF"}"#),
            Accepts::on_off()
        );
        assert_eq!(
            expose(r#"{"type":"binary","value_on":true,"value_off":false}"#),
            Accepts::boolean()
        );
        assert_eq!(
            expose(r#"{"type":"enum","values":["low","high",3]}"#),
            Accepts::one_of(&["low", "high", "3"])
        );
        assert_eq!(expose(r#"{"type":"text"}"#), Accepts::Text);
    }
}
