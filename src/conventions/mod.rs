//! Device conventions fleetop recognises with no configuration: Sparkplug B, Homie,
//! Tasmota, Shelly Gen2+, Zigbee2MQTT, native ESPHome, SenML packs and a generic JSON
//! fallback.
//!
//! Home Assistant MQTT discovery is also understood.
//!
//! Each convention is a pure decoder (topic + payload -> [`Output`]: which device, its
//! name and gateway, online state, metric values with units and datatypes, commands it
//! accepts, errors), tested without IO. The fleet state asks [`Conventions::claim`] about
//! topics no `[[fleet]]` maps, so explicit configuration always wins, and applies what the
//! decoder says (`crate::fleet::conventions`).

pub mod esphome;
pub mod generic;
pub mod homeassistant;
pub mod homie;
pub mod layout;
pub mod senml;
pub mod shelly;
pub mod sparkplug;
pub mod tasmota;
pub mod zigbee2mqtt;

use crate::config::conventions::ConventionsConfig;
use crate::decode::Scratch;
pub use layout::{Layouts, Learned};

/// A device convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Convention {
    Sparkplug,
    Homie,
    Zigbee2Mqtt,
    Tasmota,
    Shelly,
    EspHome,
    HomeAssistant,
    Senml,
    Generic,
}

impl Convention {
    /// In the order topics are tried: the most specific first, the fallback last.
    pub const ALL: [Convention; 9] = [
        Convention::Sparkplug,
        Convention::Homie,
        Convention::Zigbee2Mqtt,
        Convention::Tasmota,
        Convention::Shelly,
        Convention::EspHome,
        Convention::HomeAssistant,
        Convention::Senml,
        Convention::Generic,
    ];

    /// The name used as the devices' fleet and as the `[conventions]` key.
    pub fn name(self) -> &'static str {
        match self {
            Convention::Sparkplug => "sparkplug",
            Convention::Homie => "homie",
            Convention::Zigbee2Mqtt => "zigbee2mqtt",
            Convention::Tasmota => "tasmota",
            Convention::Shelly => "shelly",
            Convention::EspHome => "esphome",
            Convention::HomeAssistant => "homeassistant",
            Convention::Senml => "senml",
            Convention::Generic => "generic",
        }
    }

    /// How long a device of this convention may stay quiet: Tasmota reports every
    /// TelePeriod (300 s by default); Sparkplug, Zigbee2MQTT, Shelly and Homie devices
    /// report by exception and say when they go offline; ESPHome sensors report every
    /// `update_interval` (60 s by default) but binary ones only on change.
    pub fn expected_interval(self) -> std::time::Duration {
        std::time::Duration::from_secs(match self {
            Convention::Sparkplug | Convention::Zigbee2Mqtt | Convention::HomeAssistant => 3600,
            Convention::Homie | Convention::Shelly | Convention::EspHome => 600,
            Convention::Tasmota => 300,
            Convention::Senml | Convention::Generic => 60,
        })
    }

    /// Whether `[conventions]` turns this one on; the generic fallback is on by default only
    /// when no `[[fleet]]` is configured.
    pub fn enabled(self, config: &ConventionsConfig, has_fleets: bool) -> bool {
        match self {
            Convention::Sparkplug => config.sparkplug,
            Convention::Homie => config.homie,
            Convention::Zigbee2Mqtt => config.zigbee2mqtt,
            Convention::Tasmota => config.tasmota,
            Convention::Shelly => config.shelly,
            Convention::EspHome => config.esphome,
            Convention::HomeAssistant => config.homeassistant,
            Convention::Senml => config.senml,
            Convention::Generic => config.generic.unwrap_or(!has_fleets),
        }
    }

    /// Subscription filters that bring this convention's topics (none for the fallback,
    /// which needs `#`).
    pub fn filters(self, config: &ConventionsConfig) -> Vec<String> {
        match self {
            Convention::Sparkplug => vec!["spBv1.0/#".into(), "STATE/#".into()],
            Convention::Homie => pinned("homie", &config.homie_roots),
            Convention::Zigbee2Mqtt => vec![format!("{}/#", config.zigbee2mqtt_base)],
            Convention::Tasmota => vec![
                "tele/#".into(),
                "stat/#".into(),
                "tasmota/discovery/#".into(),
            ],
            Convention::Shelly => ["+/online", "+/status/#", "+/events/rpc"]
                .into_iter()
                .map(String::from)
                .chain(config.shelly_prefixes.iter().map(|p| format!("{p}/#")))
                .collect(),
            // A node under a one-level topic_prefix (its name, the default).
            Convention::EspHome => ["+/status", "+/debug", "+/+/+/state", "+/+/+/+/state"]
                .into_iter()
                .map(String::from)
                .chain(config.esphome_prefixes.iter().map(|p| format!("{p}/#")))
                .collect(),
            // State topics are wherever the configs point: `#` brings them.
            Convention::HomeAssistant => pinned("homeassistant", &config.homeassistant_prefixes),
            // Packs come on any topic: `#` brings them, like the fallback's.
            Convention::Senml | Convention::Generic => Vec::new(),
        }
    }
}

/// `<default>/#` and `<root>/#` for each root `[conventions]` pins.
fn pinned(default: &str, roots: &[String]) -> Vec<String> {
    std::iter::once(default)
        .chain(roots.iter().map(String::as_str))
        .map(|r| format!("{r}/#"))
        .collect()
}

impl std::fmt::Display for Convention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a convention taught about one device; absent for devices of configured fleets.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFacts {
    pub convention: Convention,
    /// The name the device gives itself (Homie `$name`, a Zigbee2MQTT description...).
    pub display_name: Option<Box<str>>,
    /// The device this one reaches the broker through (Sparkplug edge node, Zigbee2MQTT
    /// bridge): when it goes offline, so does this one.
    pub gateway: Option<crate::vocab::DeviceId>,
    /// Units, datatypes and settability of metrics, by metric name.
    pub metrics: Vec<MetricFacts>,
    /// What the device accepts as commands, for the command palette.
    pub commands: Vec<CommandDescriptor>,
    /// Sparkplug: why fleetop would ask this node for a rebirth (data it cannot place).
    pub rebirth_needed: Option<Box<str>>,
    /// Sparkplug: sequence-number gaps seen (lost or reordered messages).
    pub sequence_gaps: u64,
}

impl DeviceFacts {
    pub fn new(convention: Convention) -> DeviceFacts {
        DeviceFacts {
            convention,
            display_name: None,
            gateway: None,
            metrics: Vec::new(),
            commands: Vec::new(),
            rebirth_needed: None,
            sequence_gaps: 0,
        }
    }

    pub fn metric(&self, name: &str) -> Option<&MetricFacts> {
        self.metrics.iter().find(|m| &*m.name == name)
    }
}

/// What a device says about one of its metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricFacts {
    pub name: Box<str>,
    pub unit: Option<Box<str>>,
    pub datatype: Option<Box<str>>,
    /// Homie's `$format`: the range (`5:30`), the words (`low,high`) or the colour model
    /// (`rgb`) its values keep to.
    pub format: Option<Box<str>>,
}

/// A command a device accepts, as its convention defines it. Building and publishing the
/// request is the commands feature's job; this says where and how.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandDescriptor {
    /// What the operator picks: `POWER`, `env.target`, `Node Control/Rebirth`...
    pub name: Box<str>,
    /// Where the request is published.
    pub topic: Box<str>,
    pub kind: CommandKind,
    /// What the value may be, as the device or its convention declares it: a value
    /// outside it is refused before anything is published.
    pub accepts: Accepts,
    /// The metric in which the device reports what this command sets (a Zigbee2MQTT
    /// property, Tasmota's `POWER1`, a Home Assistant entity's state): the command has
    /// succeeded when the device reports the value sent, not when the broker took it.
    pub confirms: Option<Box<str>>,
}

/// The values a command takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepts {
    /// Any text (bounded in length).
    Text,
    /// On or off, published as the device's own words (`ON`/`OFF`, `true`/`false`).
    Switch {
        on: Box<str>,
        off: Box<str>,
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// One of these words, exactly.
    OneOf(Vec<Box<str>>),
    /// A colour as `r,g,b` (0..255 each), or `h,s,v` (0..360, 0..100, 0..100).
    Color {
        hsv: bool,
    },
}

impl Accepts {
    /// `ON`/`OFF`, as most firmware spells a switch.
    pub fn on_off() -> Accepts {
        Accepts::Switch {
            on: "ON".into(),
            off: "OFF".into(),
        }
    }

    /// `true`/`false`.
    pub fn boolean() -> Accepts {
        Accepts::Switch {
            on: "true".into(),
            off: "false".into(),
        }
    }

    pub fn one_of(words: &[&str]) -> Accepts {
        Accepts::OneOf(words.iter().map(|&w| w.into()).collect())
    }
}

/// How a command's payload is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    /// The value as plain text (Tasmota `cmnd/<dev>/<Command>`, Homie `…/set`, ESPHome
    /// `…/command`).
    Text,
    /// A JSON object `{"<property>": value}` (Zigbee2MQTT `<friendly>/set`).
    JsonProperty { property: Box<str> },
    /// A Shelly RPC request `{"id":N,"src":"<reply topic prefix>","method":…,"params":…}`
    /// on `<id>/rpc` for the component instance `channel` (`switch:<channel>`); the reply
    /// comes on `<src>/rpc` with the same id.
    ShellyRpc { method: Box<str>, channel: u32 },
    /// A Sparkplug NCMD/DCMD payload with one metric of this name and datatype code.
    Sparkplug { metric: Box<str>, datatype: u32 },
}

/// What one message says about devices, besides metric values.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The device's own name for itself.
    Name(String),
    /// The device reaches the broker through the device with this key.
    Gateway(String),
    Online(bool),
    MetricFacts(MetricFacts),
    Command(CommandDescriptor),
    /// Another device this message announces (a bridge's device list), whose gateway is
    /// the message's device.
    Child {
        key: String,
        name: Option<String>,
        metrics: Vec<MetricFacts>,
        commands: Vec<CommandDescriptor>,
    },
    /// Something wrong with the message, shown as the device's last error.
    Error(String),
}

/// A decoder's answer for one message; reused between messages so a warm decoder does
/// not allocate for plain telemetry.
#[derive(Debug, Default)]
pub struct Output {
    /// The device the message is about, unique within its convention.
    pub device: String,
    /// Labels of that device (`group` for Sparkplug, `base` for Zigbee2MQTT...).
    pub labels: Vec<(&'static str, String)>,
    pub events: Vec<Event>,
    /// Metric values the payload carried, named as the device names them.
    pub values: Scratch,
    /// A request to the device (`…/set`), not a message from it: no sign of life.
    pub request: bool,
}

impl Output {
    pub fn clear(&mut self) {
        self.device.clear();
        self.labels.clear();
        self.events.clear();
        self.values.clear();
        self.request = false;
    }

    /// Decodes a JSON payload's leaves under `prefix` (empty for none).
    fn json(&mut self, payload: &[u8], prefix: &str) {
        self.values.clear();
        self.values.path.push_str(prefix);
        if let Err(e) = crate::decode::json::decode(payload, &mut self.values) {
            self.values.clear();
            self.events.push(Event::Error(e.to_string()));
        }
        self.values.path.clear();
    }

    /// Decodes a single plain value (number, boolean word or text) named `metric`.
    fn plain(&mut self, payload: &[u8], metric: &str) {
        if let Err(e) = crate::decode::decode(
            payload,
            crate::config::PayloadFormat::Auto,
            metric,
            &mut self.values,
        ) {
            self.values.clear();
            self.events.push(Event::Error(e.to_string()));
        }
    }
}

/// The subscription filters of the enabled conventions, for brokers whose fleets do not
/// already subscribe to `#`.
pub fn enabled_filters(config: &ConventionsConfig, has_fleets: bool) -> Vec<String> {
    Convention::ALL
        .into_iter()
        .filter(|&c| c.enabled(config, has_fleets))
        .flat_map(|c| c.filters(config))
        .collect()
}

/// Whether a convention claims a topic (decided once per topic, from its first message).
pub fn claim(
    config: &ConventionsConfig,
    layouts: &Layouts,
    has_fleets: bool,
    topic: &str,
    payload: &[u8],
) -> Option<Convention> {
    Convention::ALL.into_iter().find(|&c| {
        c.enabled(config, has_fleets)
            && match c {
                Convention::Sparkplug => sparkplug::claims(topic),
                Convention::Homie => homie::claims(topic, layouts),
                Convention::Zigbee2Mqtt => layouts
                    .zigbee2mqtt_bases(config)
                    .any(|base| zigbee2mqtt::claims(topic, base)),
                Convention::Tasmota => tasmota::claims(topic, layouts),
                Convention::Shelly => shelly::claims(topic, layouts),
                Convention::EspHome => esphome::claims(topic, layouts),
                Convention::HomeAssistant => homeassistant::claims(topic, layouts),
                Convention::Senml => senml::claims(topic, payload),
                Convention::Generic => generic::claims(topic, payload),
            }
    })
}

/// Decodes a message of a stateless convention (everything but Sparkplug).
pub fn decode(
    convention: Convention,
    config: &ConventionsConfig,
    layouts: &Layouts,
    topic: &str,
    payload: &[u8],
    out: &mut Output,
) {
    out.clear();
    match convention {
        Convention::Homie => homie::decode(topic, layouts, payload, out),
        Convention::Zigbee2Mqtt => {
            if let Some(base) = layouts
                .zigbee2mqtt_bases(config)
                .find(|base| zigbee2mqtt::claims(topic, base))
            {
                zigbee2mqtt::decode(base, topic, payload, out)
            }
        }
        Convention::Tasmota => tasmota::decode(topic, layouts, payload, out),
        Convention::Shelly => shelly::decode(topic, layouts, payload, out),
        Convention::EspHome => esphome::decode(topic, layouts, payload, out),
        Convention::Generic => generic::decode(topic, payload, out),
        // Stateful, or many devices a message: applied by the fleet state.
        Convention::Sparkplug | Convention::HomeAssistant | Convention::Senml => {}
    }
}

/// The unit a convention's firmware fixes for a metric the device names but does not
/// describe (`ENERGY.Power` is W on every Tasmota, `apower` on every Shelly). `text`
/// reads another metric of the same device as text (Tasmota's `TempUnit`).
pub fn fixed_unit<'a>(
    convention: Convention,
    metric: &str,
    text: &dyn Fn(&str) -> Option<&'a str>,
) -> Option<&'static str> {
    match convention {
        Convention::Tasmota => tasmota::unit(metric, text),
        Convention::Shelly => shelly::unit(metric),
        _ => None,
    }
}

/// What a settable metric takes, by what its device declared about it (Homie's
/// `$datatype` and `$format`, which may come before or after its `$settable`).
pub fn declared_accepts(convention: Convention, m: &MetricFacts) -> Option<Accepts> {
    match convention {
        Convention::Homie => Some(homie::accepts(m.datatype.as_deref(), m.format.as_deref())),
        _ => None,
    }
}

/// Payload fields a convention repeats from elsewhere (Tasmota's local `Time`, Shelly's
/// component `id`): not metrics.
pub fn ignored(convention: Convention, metric: &str) -> bool {
    match convention {
        Convention::Tasmota => tasmota::ignored(metric),
        Convention::Shelly => shelly::ignored(metric),
        _ => false,
    }
}

/// Online/offline words of the conventions (`Online`, `true`, Homie `ready`/`lost`, a
/// Zigbee2MQTT `{"state":"online"}`).
fn online_word(payload: &[u8]) -> Option<bool> {
    crate::decode::availability::parse(payload, "online", "offline")
}

/// A short, safe quote of a payload for an error message.
fn quote(payload: &[u8]) -> String {
    crate::sanitize::truncate(&crate::sanitize::bytes(payload), 40).into_owned()
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use crate::decode::Value;

    /// The values of an output as `(name, value)` strings.
    pub fn values(out: &Output) -> Vec<(String, String)> {
        out.values
            .values()
            .map(|(p, v)| {
                let v = match v {
                    Value::Number(n) => format!("{n}"),
                    Value::Bool(b) => format!("{b}"),
                    Value::Text(t) => format!("'{t}'"),
                };
                (p.to_string(), v)
            })
            .collect()
    }

    /// The commands an output announces, as `(name, topic)`.
    pub fn commands(out: &Output) -> Vec<(&str, &str)> {
        out.events
            .iter()
            .filter_map(|e| match e {
                Event::Command(c) => Some((&*c.name, &*c.topic)),
                _ => None,
            })
            .collect()
    }

    pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }
}
