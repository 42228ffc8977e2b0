//! Home Assistant MQTT discovery: `homeassistant/<component>/[<node_id>/]<object_id>/config`
//! documents name an entity's state topic, value template, unit, device class, device
//! (entities sharing `device.identifiers` are one device) and availability topics. The
//! entity's metric is its `object_id`, read from its state topic.
//!
//! Simple value templates (`{{ value }}`, `{{ value_json.a.b }}`, `{{ value_json['a'] }}`,
//! optionally piped through `float`, `int` or `round(n)`, which change nothing fleetop
//! shows) are read directly; others are rendered by a sandboxed Jinja engine (`jinja`),
//! and one it refuses is shown as the device's last error, never evaluated. A
//! binary_sensor's state is its `payload_on`/`payload_off` (`ON`/`OFF`); availability
//! lists follow `availability_mode` (`latest`, `all`, `any`).
//!
//! Any other discovery prefix is learned (`super::layout`) from a config under it: one
//! of Home Assistant's MQTT components in its place and a JSON object naming the topics
//! an entity is read or driven on, so a `…/config` topic alone is not enough.

mod command;
pub mod jinja;

use super::CommandDescriptor;
use super::layout::Layouts;
use serde::Deserialize;

/// Path segments a template may walk into a JSON payload.
const MAX_TEMPLATE_DEPTH: usize = 8;
/// Home Assistant's MQTT discovery components (the `<component>` level).
const COMPONENTS: &[&str] = &[
    "alarm_control_panel",
    "binary_sensor",
    "button",
    "camera",
    "climate",
    "cover",
    "device_automation",
    "device_tracker",
    "event",
    "fan",
    "humidifier",
    "image",
    "lawn_mower",
    "light",
    "lock",
    "notify",
    "number",
    "scene",
    "select",
    "sensor",
    "siren",
    "switch",
    "tag",
    "text",
    "update",
    "vacuum",
    "valve",
    "water_heater",
];

pub fn claims(topic: &str, layouts: &Layouts) -> bool {
    parse_topic(topic, layouts).is_some()
}

/// The discovery prefix of a config topic whose payload has a discovery config's shape.
/// A topic that reads two ways (`a/sensor/light/x/config`: is `light` a node or the
/// component?) teaches nothing.
pub fn announced_prefix<'t>(topic: &'t str, payload: &[u8]) -> Option<&'t str> {
    let rest = topic.strip_suffix("/config")?;
    let levels: Vec<&str> = rest.split('/').collect();
    if levels.iter().any(|l| l.is_empty()) || levels[0].starts_with('$') {
        return None;
    }
    let n = levels.len();
    // The prefix's length when levels[at] is the component.
    let reading = |at: usize| (at >= 1 && COMPONENTS.contains(&levels[at])).then_some(at);
    let at = match (
        n.checked_sub(2).and_then(reading),
        n.checked_sub(3).and_then(reading),
    ) {
        (Some(at), None) | (None, Some(at)) => at,
        _ => return None,
    };
    #[derive(Deserialize)]
    struct Shape {
        #[serde(default, alias = "stat_t")]
        state_topic: Option<String>,
        #[serde(default, alias = "cmd_t")]
        command_topic: Option<String>,
        #[serde(default, alias = "json_attr_t")]
        json_attributes_topic: Option<String>,
        /// Device triggers and tags.
        #[serde(default)]
        topic: Option<String>,
    }
    let shape: Shape = serde_json::from_slice(payload).ok()?;
    let named = [
        shape.state_topic,
        shape.command_topic,
        shape.json_attributes_topic,
        shape.topic,
    ];
    if !named.iter().flatten().any(|t| !t.is_empty()) {
        return None;
    }
    let prefix_len = levels[..at].iter().map(|l| l.len() + 1).sum::<usize>() - 1;
    Some(&topic[..prefix_len])
}

/// `(node_id, object_id)` of a discovery config topic under a known prefix.
/// A config topic's component, node id (if any) and object id.
fn parse_topic<'t>(
    topic: &'t str,
    layouts: &Layouts,
) -> Option<(&'t str, Option<&'t str>, &'t str)> {
    layouts.homeassistant_prefixes().find_map(|prefix| {
        under(
            topic
                .strip_prefix(prefix)?
                .strip_prefix('/')?
                .strip_suffix("/config")?,
        )
    })
}

fn under(rest: &str) -> Option<(&str, Option<&str>, &str)> {
    let levels: Vec<&str> = rest.split('/').collect();
    match levels[..] {
        [component, object] if !component.is_empty() && !object.is_empty() => {
            Some((component, None, object))
        }
        [component, node, object]
            if !component.is_empty() && !node.is_empty() && !object.is_empty() =>
        {
            Some((component, Some(node), object))
        }
        _ => None,
    }
}

/// How a state payload becomes the entity's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// The payload itself.
    Value,
    /// A leaf of the JSON payload.
    Json(Vec<String>),
    /// Anything else, rendered in the sandbox.
    Jinja(jinja::Jinja),
}

/// How an entity's availability topics combine (`availability_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AvailabilityMode {
    /// The last message on any of them.
    #[default]
    Latest,
    /// Online only while every one says online.
    All,
    /// Online while any one says online.
    Any,
}

/// One discovered entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// Unique among Home Assistant devices: the first device identifier, else the node id,
    /// else the object id.
    pub device: String,
    pub device_name: Option<String>,
    pub metric: String,
    pub state_topic: Option<String>,
    pub template: Template,
    pub unit: Option<String>,
    pub device_class: Option<String>,
    /// `(topic, online payload, offline payload)`.
    pub availability: Vec<(String, String, String)>,
    pub availability_mode: AvailabilityMode,
    /// A binary_sensor's `(payload_on, payload_off)`: its state is a boolean.
    pub binary: Option<(String, String)>,
    /// What the entity takes on its command topic, as its component and config say.
    pub command: Option<CommandDescriptor>,
}

#[derive(Deserialize)]
struct Config {
    #[serde(default, rename = "~")]
    base: Option<String>,
    #[serde(default, alias = "stat_t")]
    state_topic: Option<String>,
    #[serde(default, alias = "val_tpl")]
    value_template: Option<String>,
    #[serde(default, alias = "unit_of_meas")]
    unit_of_measurement: Option<String>,
    #[serde(default, alias = "dev_cla")]
    device_class: Option<String>,
    #[serde(default, alias = "dev")]
    device: Option<DeviceConfig>,
    #[serde(default, alias = "avty_t")]
    availability_topic: Option<String>,
    #[serde(default, alias = "avty")]
    availability: Vec<AvailabilityConfig>,
    #[serde(default, alias = "pl_avail")]
    payload_available: Option<String>,
    #[serde(default, alias = "pl_not_avail")]
    payload_not_available: Option<String>,
    #[serde(default, alias = "avty_mode")]
    availability_mode: Option<String>,
    #[serde(default, alias = "cmd_t")]
    command_topic: Option<String>,
    #[serde(flatten)]
    commands: command::CommandConfig,
}

#[derive(Deserialize)]
struct DeviceConfig {
    #[serde(default, alias = "ids")]
    identifiers: Option<Identifiers>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Identifiers {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct AvailabilityConfig {
    #[serde(alias = "t")]
    topic: String,
    #[serde(default, alias = "pl_avail")]
    payload_available: Option<String>,
    #[serde(default, alias = "pl_not_avail")]
    payload_not_available: Option<String>,
}

/// Reads a discovery config. An `Err` carries the device (when known) and why.
pub fn parse_config(
    topic: &str,
    layouts: &Layouts,
    payload: &[u8],
) -> Result<Entity, (Option<String>, String)> {
    let (component, node, object) =
        parse_topic(topic, layouts).ok_or((None, "not a discovery topic".to_string()))?;
    let c: Config = serde_json::from_slice(payload).map_err(|e| {
        (
            node.map(str::to_string),
            format!("malformed discovery config: {e}"),
        )
    })?;
    let device = c
        .device
        .as_ref()
        .and_then(|d| match &d.identifiers {
            Some(Identifiers::One(id)) => Some(id.clone()),
            Some(Identifiers::Many(ids)) => ids.first().cloned(),
            None => None,
        })
        .filter(|id| !id.is_empty())
        .or_else(|| node.map(str::to_string))
        .unwrap_or_else(|| object.to_string());
    let expand = |t: Option<String>| {
        t.map(|t| match (&c.base, t.strip_prefix('~')) {
            (Some(base), Some(rest)) => format!("{base}{rest}"),
            _ => t,
        })
    };
    let template = match &c.value_template {
        None => Template::Value,
        Some(t) => match parse_template(t) {
            Some(simple) => simple,
            None => Template::Jinja(jinja::Jinja::compile(t).map_err(|why| {
                (
                    Some(device.clone()),
                    format!(
                        "value template `{}` of {object} refused: {why}",
                        crate::sanitize::truncate(&crate::sanitize::text(t), 60)
                    ),
                )
            })?),
        },
    };
    let availability_mode = match c.availability_mode.as_deref() {
        None | Some("latest") => AvailabilityMode::Latest,
        Some("all") => AvailabilityMode::All,
        Some("any") => AvailabilityMode::Any,
        Some(other) => {
            return Err((
                Some(device.clone()),
                format!(
                    "availability_mode `{}` of {object} is none of latest, all, any",
                    crate::sanitize::truncate(&crate::sanitize::text(other), 20)
                ),
            ));
        }
    };
    let binary = (component == "binary_sensor").then(|| c.commands.on_off_words());
    let online = c
        .payload_available
        .clone()
        .unwrap_or_else(|| "online".into());
    let offline = c
        .payload_not_available
        .clone()
        .unwrap_or_else(|| "offline".into());
    let mut availability: Vec<(String, String, String)> = c
        .availability
        .iter()
        .map(|a| {
            (
                expand(Some(a.topic.clone())).unwrap_or_default(),
                a.payload_available
                    .clone()
                    .unwrap_or_else(|| online.clone()),
                a.payload_not_available
                    .clone()
                    .unwrap_or_else(|| offline.clone()),
            )
        })
        .collect();
    if let Some(t) = expand(c.availability_topic.clone()) {
        availability.push((t, online, offline));
    }
    let state_topic = expand(c.state_topic);
    let command = expand(c.command_topic).map(|topic| {
        c.commands
            .descriptor(component, object, topic, state_topic.is_some())
    });
    Ok(Entity {
        device_name: c.device.and_then(|d| d.name),
        metric: object.to_string(),
        state_topic,
        template,
        unit: c.unit_of_measurement,
        device_class: c.device_class,
        availability,
        availability_mode,
        binary,
        command,
        device,
    })
}

/// Understands `{{ value }}` and `{{ value_json.a.b }}` / `{{ value_json['a'] }}`, with
/// `| float`, `| int` or `| round(n)` filters; `None` for anything else.
pub fn parse_template(t: &str) -> Option<Template> {
    let inner = t.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    let mut parts = inner.split('|');
    let expr = parts.next()?.trim();
    for filter in parts {
        let f = filter.trim();
        let ok = matches!(f, "float" | "int" | "float(0)" | "int(0)")
            || f.strip_prefix("round(")
                .and_then(|r| r.strip_suffix(')'))
                .is_some_and(|n| n.trim().parse::<u8>().is_ok());
        if !ok {
            return None;
        }
    }
    if expr == "value" {
        return Some(Template::Value);
    }
    let mut rest = expr.strip_prefix("value_json")?;
    let mut path = Vec::new();
    while !rest.is_empty() {
        if path.len() >= MAX_TEMPLATE_DEPTH {
            return None;
        }
        if let Some(r) = rest.strip_prefix('.') {
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            path.push(r[..end].to_string());
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let quote = r.chars().next().filter(|c| *c == '\'' || *c == '"')?;
            let r = &r[1..];
            let end = r.find(quote)?;
            let key = &r[..end];
            if key.contains(['\\', '{', '}']) {
                return None;
            }
            path.push(key.to_string());
            rest = r[end + 1..].strip_prefix(']')?;
        } else {
            return None;
        }
    }
    (!path.is_empty()).then_some(Template::Json(path))
}

/// The JSON leaf a template points at, as the text or number it is.
pub fn extract<'a>(path: &[String], v: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(v, |v, key| match v {
        serde_json::Value::Object(m) => m.get(key),
        serde_json::Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_with_abbreviations_and_device_grouping() {
        let e = parse_config(
            "homeassistant/sensor/plug1/power/config",
            &Layouts::default(),
            br#"{"~":"tele/plug1","name":"Power","stat_t":"~/SENSOR","val_tpl":"{{ value_json.ENERGY.Power | float }}",
                "unit_of_meas":"W","dev_cla":"power","dev":{"ids":["plug-abc"],"name":"Plug 1"},"avty_t":"~/LWT",
                "pl_avail":"Online","pl_not_avail":"Offline"}"#,
        )
        .unwrap();
        assert_eq!(e.device, "plug-abc");
        assert_eq!(e.device_name.as_deref(), Some("Plug 1"));
        assert_eq!(e.metric, "power");
        assert_eq!(e.state_topic.as_deref(), Some("tele/plug1/SENSOR"));
        assert_eq!(
            e.template,
            Template::Json(vec!["ENERGY".into(), "Power".into()])
        );
        assert_eq!(e.unit.as_deref(), Some("W"));
        assert_eq!(
            e.availability,
            [("tele/plug1/LWT".into(), "Online".into(), "Offline".into())]
        );
    }

    #[test]
    fn templates_simple_or_refused() {
        assert_eq!(parse_template("{{ value }}"), Some(Template::Value));
        assert_eq!(
            parse_template("{{value_json['temp-c']}}"),
            Some(Template::Json(vec!["temp-c".into()]))
        );
        assert_eq!(
            parse_template("{{ value_json.a | round(1) }}"),
            Some(Template::Json(vec!["a".into()]))
        );
        for hostile in [
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{% for x in range(999999999) %}x{% endfor %}",
            "{{ value_json.a | lipsum }}",
            "{{ value_json.a }}{{ value_json.b }}",
            "{{ value_json.a + 1 }}",
            "{{ value_json }}",
            "{{ value_json.a.b.c.d.e.f.g.h.i }}",
        ] {
            assert_eq!(parse_template(hostile), None, "{hostile}");
        }
        let err = parse_config(
            "homeassistant/sensor/x/config",
            &Layouts::default(),
            br#"{"stat_t":"x/state","val_tpl":"{{ cycler.__init__.__globals__.os }}","dev":{"ids":"dev1"}}"#,
        )
        .unwrap_err();
        assert_eq!(err.0.as_deref(), Some("dev1"));
        assert!(err.1.contains("refused"), "{}", err.1);
    }

    #[test]
    fn extracts_leaves() {
        let v: serde_json::Value = serde_json::from_str(r#"{"a":{"b":[1,{"c":2.5}]}}"#).unwrap();
        let path: Vec<String> = ["a", "b", "1", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(extract(&path, &v), Some(&serde_json::json!(2.5)));
        assert!(extract(&["zz".to_string()], &v).is_none());
        let l = Layouts::default();
        assert!(!claims("homeassistant/sensor/config", &l));
        assert!(claims("homeassistant/binary_sensor/node/obj/config", &l));
    }

    #[test]
    fn a_prefix_is_learned_from_a_config_of_the_right_shape() {
        let config = br#"{"stat_t":"x/state","dev":{"ids":"d"}}"#;
        assert_eq!(announced_prefix("a/b/sensor/x/config", config), Some("a/b"));
        assert_eq!(
            announced_prefix("ha/light/node/x/config", config),
            Some("ha")
        );
        assert_eq!(
            announced_prefix("ha/device_automation/n/t/config", br#"{"topic":"n/t"}"#),
            Some("ha")
        );
        for (topic, payload) in [
            ("ha/sensor/light/x/config", &config[..]),
            ("ha/widget/x/config", config),
            ("sensor/x/config", config),
            ("ha/sensor/x/state", config),
            ("ha//sensor/x/config", config),
            ("$SYS/sensor/x/config", config),
            ("ha/sensor/x/config", br#"{"name":"x","unit":"C"}"#),
            ("ha/sensor/x/config", br#"{"stat_t":""}"#),
            ("ha/sensor/x/config", br#"{"stat_t":5}"#),
            ("ha/sensor/x/config", b"online"),
        ] {
            assert_eq!(announced_prefix(topic, payload), None, "{topic}");
        }
        let mut l = Layouts::default();
        assert!(!claims("a/b/sensor/x/config", &l));
        l.learn(&Default::default(), "a/b/sensor/x/config", config);
        assert!(claims("a/b/switch/y/config", &l));
        assert!(claims("homeassistant/switch/y/config", &l));
    }
}
