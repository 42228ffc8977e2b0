//! What a discovered entity takes on its command topic, by its component and the keys of
//! its config Home Assistant itself reads: a number's `min`/`max`/`step` (1, 100 and 1
//! unless given), a select's `options`, a switch's `payload_on`/`payload_off`, a light's
//! schema (`json`: `{"state":"ON"}`), a lock's, cover's or valve's words, a button's
//! `payload_press`.

use crate::conventions::{Accepts, CommandDescriptor, CommandKind};
use serde::Deserialize;

/// The command keys of a discovery config (abbreviations as Home Assistant accepts them).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CommandConfig {
    #[serde(deserialize_with = "loose_number")]
    min: Option<f64>,
    #[serde(deserialize_with = "loose_number")]
    max: Option<f64>,
    #[serde(deserialize_with = "loose_number")]
    step: Option<f64>,
    #[serde(alias = "ops")]
    options: Vec<serde_json::Value>,
    #[serde(alias = "pl_on", deserialize_with = "loose")]
    payload_on: Option<String>,
    #[serde(alias = "pl_off", deserialize_with = "loose")]
    payload_off: Option<String>,
    #[serde(deserialize_with = "loose")]
    schema: Option<String>,
    #[serde(alias = "pl_lock", deserialize_with = "loose")]
    payload_lock: Option<String>,
    #[serde(alias = "pl_unlk", deserialize_with = "loose")]
    payload_unlock: Option<String>,
    #[serde(alias = "pl_open", deserialize_with = "loose")]
    payload_open: Option<String>,
    #[serde(alias = "pl_cls", deserialize_with = "loose")]
    payload_close: Option<String>,
    #[serde(alias = "pl_stop", deserialize_with = "loose")]
    payload_stop: Option<String>,
    #[serde(alias = "pl_prs", deserialize_with = "loose")]
    payload_press: Option<String>,
}

/// A payload word given as a string, a number or a boolean (Home Assistant reads them as
/// strings); anything else is as if not given, so one odd key does not refuse the entity.
fn loose<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(word_of(&serde_json::Value::deserialize(d)?).map(String::from))
}

fn loose_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(word_of(&serde_json::Value::deserialize(d)?)
        .and_then(|w| w.parse::<f64>().ok())
        .filter(|v| v.is_finite()))
}

fn word_of(v: &serde_json::Value) -> Option<Box<str>> {
    match v {
        serde_json::Value::String(s) => Some(s.as_str().into()),
        serde_json::Value::Number(n) => Some(n.to_string().into()),
        serde_json::Value::Bool(b) => Some(b.to_string().into()),
        _ => None,
    }
}

impl CommandConfig {
    /// `payload_on`/`payload_off`, `ON`/`OFF` unless given.
    pub(super) fn on_off_words(&self) -> (String, String) {
        (
            self.payload_on.clone().unwrap_or_else(|| "ON".into()),
            self.payload_off.clone().unwrap_or_else(|| "OFF".into()),
        )
    }

    /// The command of entity `object` of `component` on `topic`; with a state topic, the
    /// entity's state confirms it.
    pub(super) fn descriptor(
        &self,
        component: &str,
        object: &str,
        topic: String,
        has_state: bool,
    ) -> CommandDescriptor {
        let word = |given: &Option<String>, default: &str| -> Box<str> {
            given.as_deref().unwrap_or(default).into()
        };
        let switch = || Accepts::Switch {
            on: word(&self.payload_on, "ON"),
            off: word(&self.payload_off, "OFF"),
        };
        let mut confirms = has_state.then(|| object.into());
        let mut kind = CommandKind::Text;
        let accepts = match component {
            "number" => {
                let (min, max, step) = (
                    self.min.unwrap_or(1.0),
                    self.max.unwrap_or(100.0),
                    self.step.unwrap_or(1.0),
                );
                let whole = |v: f64| v.fract() == 0.0 && v.abs() < 9e15;
                if whole(min) && whole(max) && whole(step) {
                    Accepts::Integer {
                        min: Some(min as i64),
                        max: Some(max as i64),
                    }
                } else {
                    Accepts::Number {
                        min: Some(min),
                        max: Some(max),
                    }
                }
            }
            "select" if !self.options.is_empty() => {
                Accepts::OneOf(self.options.iter().filter_map(word_of).collect())
            }
            "light" if self.schema.as_deref() == Some("json") => {
                kind = CommandKind::JsonProperty {
                    property: "state".into(),
                };
                // A JSON light's state topic is JSON too: its `state` is what it reports.
                confirms = has_state.then(|| "state".into());
                Accepts::on_off()
            }
            "switch" | "light" | "fan" | "siren" | "humidifier" => switch(),
            "lock" => Accepts::OneOf(vec![
                word(&self.payload_lock, "LOCK"),
                word(&self.payload_unlock, "UNLOCK"),
                word(&self.payload_open, "OPEN"),
            ]),
            "cover" | "valve" => Accepts::OneOf(vec![
                word(&self.payload_open, "OPEN"),
                word(&self.payload_close, "CLOSE"),
                word(&self.payload_stop, "STOP"),
            ]),
            "button" => {
                confirms = None;
                Accepts::OneOf(vec![word(&self.payload_press, "PRESS")])
            }
            _ => Accepts::Text,
        };
        CommandDescriptor {
            name: object.into(),
            topic: topic.into(),
            kind,
            accepts,
            confirms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(component: &str, config: &str) -> CommandDescriptor {
        let c: CommandConfig = serde_json::from_str(config).expect("config");
        c.descriptor(component, "x", "t/set".into(), true)
    }

    #[test]
    fn what_an_entity_takes_is_what_its_config_declares() {
        assert_eq!(
            descriptor("number", r#"{"min":5,"max":30}"#).accepts,
            Accepts::Integer {
                min: Some(5),
                max: Some(30)
            }
        );
        assert_eq!(
            descriptor("number", r#"{}"#).accepts,
            Accepts::Integer {
                min: Some(1),
                max: Some(100)
            },
            "Home Assistant's defaults"
        );
        assert_eq!(
            descriptor("number", r#"{"min":0.5,"max":2,"step":0.5}"#).accepts,
            Accepts::Number {
                min: Some(0.5),
                max: Some(2.0)
            }
        );
        assert_eq!(
            descriptor("select", r#"{"options":["eco","comfort"]}"#).accepts,
            Accepts::one_of(&["eco", "comfort"])
        );
        assert_eq!(
            descriptor("switch", r#"{"pl_on":"1","pl_off":"0"}"#).accepts,
            Accepts::Switch {
                on: "1".into(),
                off: "0".into()
            }
        );
        let light = descriptor("light", r#"{"schema":"json"}"#);
        assert_eq!(
            (light.kind, light.accepts, light.confirms.as_deref()),
            (
                CommandKind::JsonProperty {
                    property: "state".into()
                },
                Accepts::on_off(),
                Some("state")
            )
        );
        assert_eq!(descriptor("light", "{}").kind, CommandKind::Text);
        let button = descriptor("button", "{}");
        assert_eq!(
            (button.accepts, button.confirms),
            (Accepts::one_of(&["PRESS"]), None)
        );
        assert_eq!(descriptor("text", "{}").accepts, Accepts::Text);
        assert_eq!(
            descriptor("switch", r#"{"pl_on":1,"pl_off":{"x":0}}"#).accepts,
            Accepts::Switch {
                on: "1".into(),
                off: "OFF".into()
            },
            "odd keys are as if not given"
        );
        assert_eq!(descriptor("text", "{}").confirms.as_deref(), Some("x"));
    }
}
