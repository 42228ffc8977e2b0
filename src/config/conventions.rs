//! `[conventions]`: which device conventions are recognised with no configuration. What
//! each convention is and subscribes to is [`crate::conventions`]'s.

use super::duration;
use serde::Deserialize;
use std::time::Duration;

/// Every convention is on unless turned off; the generic JSON fallback is on only when no
/// `[[fleet]]` is configured (with fleets, the topics they leave are shown as unmapped).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConventionsConfig {
    pub sparkplug: bool,
    /// Ask a Sparkplug node for a rebirth (NCMD `Node Control/Rebirth`) when its data
    /// cannot be placed (no birth seen, an unknown alias, a sequence gap), as a primary
    /// host does; never in read-only mode, and audited like any command.
    pub sparkplug_rebirth: bool,
    /// At most one automatic rebirth request per node this often.
    #[serde(deserialize_with = "duration::deserialize")]
    pub sparkplug_rebirth_interval: Duration,
    pub homie: bool,
    pub zigbee2mqtt: bool,
    /// Zigbee2MQTT's `base_topic`.
    pub zigbee2mqtt_base: String,
    pub tasmota: bool,
    pub shelly: bool,
    /// Native ESPHome MQTT (`<node>/status`, `<node>/<component>/<id>/state`).
    pub esphome: bool,
    /// Home Assistant MQTT discovery (`homeassistant/…/config`).
    pub homeassistant: bool,
    /// SenML packs (RFC 8428, JSON or CBOR) on any topic: base names become devices.
    pub senml: bool,
    /// Default: on when no `[[fleet]]` is configured.
    pub generic: Option<bool>,
    /// Layouts known from the start rather than learned from traffic, and subscribed to:
    /// Homie roots besides `homie` (`site/homie`),
    pub homie_roots: Vec<String>,
    /// Home Assistant discovery prefixes besides `homeassistant`,
    pub homeassistant_prefixes: Vec<String>,
    /// Shelly Gen2 topic prefixes of more than one level (`plant/shelly-pro4pm-1`),
    pub shelly_prefixes: Vec<String>,
    /// and ESPHome nodes' `topic_prefix` (`plant/boiler`).
    pub esphome_prefixes: Vec<String>,
}

impl Default for ConventionsConfig {
    fn default() -> Self {
        ConventionsConfig {
            sparkplug: true,
            sparkplug_rebirth: true,
            sparkplug_rebirth_interval: Duration::from_secs(60),
            homie: true,
            zigbee2mqtt: true,
            zigbee2mqtt_base: "zigbee2mqtt".into(),
            tasmota: true,
            shelly: true,
            esphome: true,
            homeassistant: true,
            senml: true,
            generic: None,
            homie_roots: Vec::new(),
            homeassistant_prefixes: Vec::new(),
            shelly_prefixes: Vec::new(),
            esphome_prefixes: Vec::new(),
        }
    }
}

impl ConventionsConfig {
    /// Every pinned layout (its key and each value); the first that is not a plain topic
    /// prefix, as `(key, value)`.
    pub fn bad_pin(&self) -> Option<(&'static str, &str)> {
        let pins = [
            (
                "zigbee2mqtt_base",
                std::slice::from_ref(&self.zigbee2mqtt_base),
            ),
            ("homie_roots", &self.homie_roots[..]),
            ("homeassistant_prefixes", &self.homeassistant_prefixes[..]),
            ("shelly_prefixes", &self.shelly_prefixes[..]),
            ("esphome_prefixes", &self.esphome_prefixes[..]),
        ];
        pins.into_iter().find_map(|(key, values)| {
            values
                .iter()
                .find(|v| {
                    v.is_empty()
                        || v.starts_with('/')
                        || v.ends_with('/')
                        || v.contains(['+', '#', '\0'])
                })
                .map(|v| (key, v.as_str()))
        })
    }

    /// Every convention off: only configured fleets make devices.
    pub fn none() -> ConventionsConfig {
        ConventionsConfig {
            sparkplug: false,
            sparkplug_rebirth: false,
            homie: false,
            zigbee2mqtt: false,
            tasmota: false,
            shelly: false,
            esphome: false,
            homeassistant: false,
            senml: false,
            generic: Some(false),
            ..ConventionsConfig::default()
        }
    }
}
