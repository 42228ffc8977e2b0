//! Commands the device conventions announce (Tasmota `cmnd`, Homie and Zigbee2MQTT `/set`,
//! Home Assistant command topics, Shelly RPC, Sparkplug NCMD/DCMD) as templates with one
//! `value` parameter, so they go through the same palette, confirmation, audit and
//! read-only rules as configured commands.

use super::params::{ParamKind, ParamSpec, ParamValue};
use super::placeholders::Placeholders;
use super::template::{CommandTemplate, DEFAULT_TIMEOUT, Payload, ReplySpec};
use crate::conventions::sparkplug::proto::datatype;
use crate::conventions::{Accepts, CommandDescriptor, CommandKind, DeviceFacts};
use crate::expr::Expr;

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
            Some(CommandTemplate {
                name: c.name.to_string(),
                fleet: None,
                description: format!("{} command", facts.convention.name()),
                topic,
                payload: Payload::Convention(c.clone()),
                params: vec![ParamSpec {
                    name: "value".into(),
                    kind: value_kind(&c.accepts),
                    default: default_value(c),
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

/// What the `value` parameter accepts: what the device declared.
fn value_kind(accepts: &Accepts) -> ParamKind {
    match accepts {
        Accepts::Text => ParamKind::String { max_len: MAX_VALUE },
        Accepts::Switch { .. } => ParamKind::Bool,
        Accepts::Integer { min, max } => ParamKind::Int {
            min: *min,
            max: *max,
        },
        Accepts::Number { min, max } => ParamKind::Float {
            min: *min,
            max: *max,
        },
        Accepts::OneOf(words) => ParamKind::Enum(words.iter().map(|w| w.to_string()).collect()),
        Accepts::Color { hsv } => ParamKind::Color { hsv: *hsv },
    }
}

/// A Sparkplug rebirth or reboot needs no value: asking is `true`.
fn default_value(c: &CommandDescriptor) -> Option<ParamValue> {
    match &c.kind {
        CommandKind::Sparkplug { metric, datatype }
            if *datatype == datatype::BOOLEAN
                && (metric.ends_with("/Rebirth") || metric.ends_with("/Reboot")) =>
        {
            Some(ParamValue::Bool(true))
        }
        _ => None,
    }
}

/// Where the device answers, when its convention says (Shelly RPC: `<src>/rpc`).
pub fn reply_topic(kind: &CommandKind, tag: &str) -> Option<String> {
    match kind {
        CommandKind::ShellyRpc { .. } => Some(format!("{}/rpc", super::rpc_source(tag))),
        _ => None,
    }
}

/// A checked value in the device's own words: a switch's `true` and `false` become its
/// `ON` and `OFF` (or whatever it declared).
fn word<'a>(accepts: &'a Accepts, value: &'a str) -> &'a str {
    match (accepts, value) {
        (Accepts::Switch { on, .. }, "true") => on,
        (Accepts::Switch { off, .. }, "false") => off,
        _ => value,
    }
}

/// What the device reports once it has done what was asked: the metric it confirms in
/// holding the value sent (as fleetop stores it: `ON` is `true`, numbers are numbers).
pub fn expectation(c: &CommandDescriptor, values: &[(String, ParamValue)]) -> Option<Expr> {
    let metric = c.confirms.as_deref()?;
    let (_, value) = values.iter().find(|(n, _)| n == "value")?;
    let text = value.to_string();
    let sent = word(&c.accepts, &text);
    let literal = match crate::decode::bool_word(sent) {
        Some(b) => b.to_string(),
        None if sent.parse::<f64>().is_ok_and(f64::is_finite) => sent.to_string(),
        None => quoted(sent),
    };
    Expr::parse(&format!("metric({}) == {literal}", quoted(metric))).ok()
}

/// A string literal of the expression language.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The payload for a checked `value`, as the convention wants it.
pub fn payload(
    c: &CommandDescriptor,
    value: &str,
    tag: &str,
    now_ms: i64,
) -> Result<Vec<u8>, String> {
    let value = word(&c.accepts, value);
    let json = |v: serde_json::Value| serde_json::to_vec(&v).map_err(|e| e.to_string());
    match &c.kind {
        CommandKind::Text => Ok(value.as_bytes().to_vec()),
        CommandKind::JsonProperty { property } => {
            json(serde_json::json!({ property.as_ref(): typed(value) }))
        }
        CommandKind::ShellyRpc { method, channel } => json(serde_json::json!({
            "id": tag,
            "src": super::rpc_source(tag),
            "method": method.as_ref(),
            "params": { "id": channel, "on": typed(value) },
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
                confirms: None,
                name: "brightness".into(),
                topic: "zigbee2mqtt/lamp {x}/set".into(),
                kind: CommandKind::JsonProperty {
                    property: "brightness".into(),
                },
                accepts: Accepts::Text,
            },
            CommandDescriptor {
                confirms: None,
                name: "Node Control/Rebirth".into(),
                topic: "spBv1.0/g/NCMD/n1".into(),
                kind: CommandKind::Sparkplug {
                    metric: "Node Control/Rebirth".into(),
                    datatype: datatype::BOOLEAN,
                },
                accepts: Accepts::boolean(),
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
        let switch = CommandDescriptor {
            confirms: None,
            name: "Switch.Set:2".into(),
            topic: "pro4pm/rpc".into(),
            kind: CommandKind::ShellyRpc {
                method: "Switch.Set".into(),
                channel: 2,
            },
            accepts: Accepts::boolean(),
        };
        let shelly = payload(&switch, "true", "fo-3", 0).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&shelly).unwrap();
        assert_eq!(v["params"]["on"], true);
        assert_eq!(v["params"]["id"], 2);
        assert_eq!(v["id"], "fo-3");
    }

    #[test]
    fn values_are_checked_against_what_the_device_declared_and_sent_in_its_words() {
        let command = |kind, accepts| CommandDescriptor {
            confirms: None,
            name: "x".into(),
            topic: "n/x/command".into(),
            kind,
            accepts,
        };
        let light = CommandKind::JsonProperty {
            property: "state".into(),
        };
        let f = facts(vec![
            command(CommandKind::Text, Accepts::on_off()),
            command(light, Accepts::on_off()),
            command(
                CommandKind::Text,
                Accepts::Integer {
                    min: Some(0),
                    max: Some(100),
                },
            ),
            command(CommandKind::Text, Accepts::one_of(&["OPEN", "CLOSE"])),
        ]);
        let t = templates(&f);
        let target = Target {
            device: "n",
            fleet: "esphome",
            labels: &[],
            now_ms: 1,
        };
        let send = |i: usize, value: &str| {
            t[i].prepare(target, &[("value".into(), value.into())], "fo-1")
                .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        };
        assert_eq!(send(0, "on").as_deref(), Ok("ON"));
        assert_eq!(send(0, "false").as_deref(), Ok("OFF"));
        assert!(send(0, "maybe").is_err());
        assert_eq!(send(1, "true").as_deref(), Ok(r#"{"state":"ON"}"#));
        assert_eq!(send(2, "40").as_deref(), Ok("40"));
        assert_eq!(
            send(2, "140").unwrap_err(),
            "value must be between 0 and 100, got 140"
        );
        assert_eq!(send(3, "CLOSE").as_deref(), Ok("CLOSE"));
        assert!(send(3, "turbo").unwrap_err().contains("one of OPEN, CLOSE"));
    }

    #[test]
    fn success_is_the_device_reporting_the_value_sent() {
        use crate::fleet::MetricValue;
        let c = |accepts, confirms: Option<&str>| CommandDescriptor {
            name: "x".into(),
            topic: "t".into(),
            kind: CommandKind::Text,
            accepts,
            confirms: confirms.map(Into::into),
        };
        let expect = |c: &CommandDescriptor, v: ParamValue| {
            expectation(c, &[("value".into(), v)]).map(|e| e.source().to_string())
        };
        assert_eq!(
            expect(
                &c(Accepts::on_off(), Some("POWER1")),
                ParamValue::Bool(true)
            )
            .as_deref(),
            Some(r#"metric("POWER1") == true"#)
        );
        let words = Accepts::Switch {
            on: "LOCK".into(),
            off: "UNLOCK".into(),
        };
        assert_eq!(
            expect(&c(words, Some("lock \"a\"")), ParamValue::Bool(false)).as_deref(),
            Some(r#"metric("lock \"a\"") == "UNLOCK""#)
        );
        assert_eq!(
            expect(&c(Accepts::Text, Some("n")), ParamValue::Int(7)).as_deref(),
            Some(r#"metric("n") == 7"#)
        );
        assert_eq!(expect(&c(Accepts::Text, None), ParamValue::Int(7)), None);
        let e = expectation(
            &c(Accepts::on_off(), Some("state")),
            &[("value".into(), ParamValue::Bool(true))],
        )
        .unwrap();
        let mut d = crate::fleet::testutil::device("bulb", &[("state", 0.0)]);
        d.metrics[0].value = MetricValue::Bool(false);
        assert!(!e.eval(&d, &crate::expr::EvalCtx::at(0)).is_true());
        d.metrics[0].value = MetricValue::Bool(true);
        assert!(e.eval(&d, &crate::expr::EvalCtx::at(0)).is_true());
    }
}
