//! Commands the device conventions announce (Tasmota `cmnd`, Homie and Zigbee2MQTT `/set`,
//! Home Assistant command topics, Shelly RPC, Sparkplug NCMD/DCMD) as templates with one
//! `value` parameter, so they go through the same palette, confirmation, audit and
//! read-only rules as configured commands.

use super::params::{ParamKind, ParamSpec, ParamValue};
use super::placeholders::Placeholders;
use super::template::{CommandTemplate, DEFAULT_TIMEOUT, Payload, ReplySpec};
use crate::conventions::sparkplug::proto::datatype;
use crate::conventions::{CommandKind, DeviceFacts};

/// Longest value typed for a convention command.
const MAX_VALUE: usize = 256;

/// One template per command the device announced.
pub fn templates(facts: &DeviceFacts) -> Vec<CommandTemplate> {
    facts
        .commands
        .iter()
        .filter_map(|c| {
            // The topic is the device's own: a literal, braces escaped.
            let topic = Placeholders::parse(&c.topic.replace('{', "{{").replace('}', "}}")).ok()?;
            let (kind, default) = value_kind(&c.kind);
            Some(CommandTemplate {
                name: c.name.to_string(),
                fleet: None,
                description: format!("{} command", facts.convention.name()),
                topic,
                payload: Payload::Convention(c.kind.clone()),
                params: vec![ParamSpec {
                    name: "value".into(),
                    kind,
                    default,
                    description: String::new(),
                }],
                qos: 1,
                retain: false,
                dangerous: false,
                timeout: DEFAULT_TIMEOUT,
                reply: ReplySpec {
                    response: false,
                    topic: None,
                    id_field: "id".into(),
                    ok_field: "ok".into(),
                    error_field: "error".into(),
                },
                expect: None,
            })
        })
        .collect()
}

/// What the `value` parameter accepts, by what the device declared.
fn value_kind(kind: &CommandKind) -> (ParamKind, Option<ParamValue>) {
    let text = ParamKind::String { max_len: MAX_VALUE };
    match kind {
        CommandKind::Text { datatype } => match datatype.as_deref() {
            Some("boolean") => (ParamKind::Bool, None),
            Some("integer") => (
                ParamKind::Int {
                    min: None,
                    max: None,
                },
                None,
            ),
            Some("float") => (
                ParamKind::Float {
                    min: None,
                    max: None,
                },
                None,
            ),
            _ => (text, None),
        },
        CommandKind::JsonProperty { .. } => (text, None),
        CommandKind::ShellyRpc { .. } => (ParamKind::Bool, None),
        CommandKind::Sparkplug {
            metric,
            datatype: dt,
        } => match *dt {
            datatype::BOOLEAN => {
                let rebirth = metric.ends_with("/Rebirth") || metric.ends_with("/Reboot");
                (ParamKind::Bool, rebirth.then_some(ParamValue::Bool(true)))
            }
            datatype::INT8..=datatype::UINT64 => (
                ParamKind::Int {
                    min: None,
                    max: None,
                },
                None,
            ),
            datatype::FLOAT | datatype::DOUBLE => (
                ParamKind::Float {
                    min: None,
                    max: None,
                },
                None,
            ),
            _ => (text, None),
        },
    }
}

/// Where the device answers, when its convention says (Shelly RPC: `<src>/rpc`).
pub fn reply_topic(kind: &CommandKind, tag: &str) -> Option<String> {
    match kind {
        CommandKind::ShellyRpc { .. } => Some(format!("{}/rpc", super::rpc_source(tag))),
        _ => None,
    }
}

/// The payload for `value`, as the convention wants it.
pub fn payload(kind: &CommandKind, value: &str, tag: &str, now_ms: i64) -> Result<Vec<u8>, String> {
    let json = |v: serde_json::Value| serde_json::to_vec(&v).map_err(|e| e.to_string());
    match kind {
        CommandKind::Text { .. } => Ok(value.as_bytes().to_vec()),
        CommandKind::JsonProperty { property } => {
            json(serde_json::json!({ property.as_ref(): typed(value) }))
        }
        CommandKind::ShellyRpc { method } => json(serde_json::json!({
            "id": tag,
            "src": super::rpc_source(tag),
            "method": method.as_ref(),
            "params": { "id": 0, "on": typed(value) },
        })),
        CommandKind::Sparkplug { metric, datatype } => {
            crate::conventions::sparkplug::command_payload(metric, *datatype, value, now_ms)
        }
    }
}

/// `true`, `42`, `3.5` as JSON booleans and numbers; anything else as a string.
fn typed(value: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(value)
        .ok()
        .filter(|v| v.is_boolean() || v.is_number())
        .unwrap_or_else(|| value.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Target;
    use crate::conventions::{CommandDescriptor, Convention};

    fn facts(commands: Vec<CommandDescriptor>) -> DeviceFacts {
        let mut f = DeviceFacts::new(Convention::Zigbee2Mqtt);
        f.commands = commands;
        f
    }

    #[test]
    fn convention_commands_become_templates() {
        let f = facts(vec![
            CommandDescriptor {
                name: "brightness".into(),
                topic: "zigbee2mqtt/lamp {x}/set".into(),
                kind: CommandKind::JsonProperty {
                    property: "brightness".into(),
                },
            },
            CommandDescriptor {
                name: "Node Control/Rebirth".into(),
                topic: "spBv1.0/g/NCMD/n1".into(),
                kind: CommandKind::Sparkplug {
                    metric: "Node Control/Rebirth".into(),
                    datatype: datatype::BOOLEAN,
                },
            },
        ]);
        let t = templates(&f);
        let target = Target {
            device: "lamp",
            fleet: "zigbee2mqtt",
            labels: &[],
            now_ms: 1,
        };
        let p = t[0]
            .prepare(target, &[("value".into(), "128".into())], "fo-1")
            .unwrap();
        assert_eq!(p.topic, "zigbee2mqtt/lamp {x}/set");
        assert_eq!(p.payload, br#"{"brightness":128}"#);
        let rebirth = t[1].prepare(target, &[], "fo-2").unwrap();
        assert_eq!(rebirth.topic, "spBv1.0/g/NCMD/n1");
        assert!(!rebirth.payload.is_empty());
        assert!(
            t[1].prepare(target, &[("value".into(), "maybe".into())], "x")
                .is_err()
        );
        let shelly = payload(
            &CommandKind::ShellyRpc {
                method: "Switch.Set".into(),
            },
            "true",
            "fo-3",
            0,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&shelly).unwrap();
        assert_eq!(v["params"]["on"], true);
        assert_eq!(v["id"], "fo-3");
    }
}
