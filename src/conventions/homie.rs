//! Homie 3.0/4.0 (`homie/<device>/…`) and 5 (`homie/5/<device>/…`): `$state` is the
//! online state, `$name` the device's name, `<node>/<property>` a value named
//! `<node>.<property>`, whose `$unit`, `$datatype` and `$settable` describe it (Homie 5
//! puts all of that in one `$description` JSON document). Settable properties take
//! commands on `<node>/<property>/set`.

use super::layout::Layouts;
use super::{Accepts, CommandDescriptor, CommandKind, Event, MetricFacts, Output, quote};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn claims(topic: &str, layouts: &Layouts) -> bool {
    layouts
        .homie_roots()
        .any(|root| split(topic, root).is_some())
}

/// The device's topic prefix, its id and the levels below it, under `root`.
fn split<'t>(topic: &'t str, root: &str) -> Option<(&'t str, &'t str, Vec<&'t str>)> {
    let rest = topic.strip_prefix(root)?.strip_prefix('/')?;
    let (prefix_len, rest) = match rest.strip_prefix("5/") {
        Some(r) if r.contains('/') => (root.len() + "/5/".len(), r),
        _ => (root.len() + 1, rest),
    };
    let (device, below) = rest.split_once('/')?;
    if device.is_empty() || device.starts_with('$') || below.is_empty() {
        return None;
    }
    Some((
        &topic[..prefix_len + device.len()],
        device,
        below.split('/').collect(),
    ))
}

pub fn decode(topic: &str, layouts: &Layouts, payload: &[u8], out: &mut Output) {
    let Some((prefix, device, below)) = layouts.homie_roots().find_map(|r| split(topic, r)) else {
        return;
    };
    out.device.push_str(device);
    let text = std::str::from_utf8(payload).map(str::trim);
    match below[..] {
        ["$state"] => match text {
            Ok("ready" | "sleeping") => out.events.push(Event::Online(true)),
            Ok("lost" | "disconnected") => out.events.push(Event::Online(false)),
            Ok("alert") => {
                out.events.push(Event::Online(true));
                out.events
                    .push(Event::Error("device reports $state alert".into()));
            }
            Ok("init" | "") => {}
            _ => out.events.push(Event::Error(format!(
                "$state `{}` is not a Homie state (init, ready, disconnected, sleeping, lost, alert)",
                quote(payload)
            ))),
        },
        // Homie 2's online flag.
        ["$online"] => {
            if let Some(online) = super::online_word(payload) {
                out.events.push(Event::Online(online));
            }
        }
        ["$name"] => {
            if let Ok(name) = text
                && !name.is_empty()
            {
                out.events.push(Event::Name(name.to_string()));
            }
        }
        ["$description"] => description(prefix, payload, out),
        [node, property, attribute] if !node.starts_with('$') && attribute.starts_with('$') => {
            let Ok(value) = text else { return };
            let name = format!("{node}.{property}");
            match attribute {
                "$unit" => out.events.push(Event::MetricFacts(MetricFacts {
                    name: name.into(),
                    unit: Some(value.into()),
                    ..Default::default()
                })),
                "$datatype" => out.events.push(Event::MetricFacts(MetricFacts {
                    name: name.into(),
                    datatype: Some(value.into()),
                    ..Default::default()
                })),
                "$format" => out.events.push(Event::MetricFacts(MetricFacts {
                    name: name.into(),
                    format: Some(value.into()),
                    ..Default::default()
                })),
                "$settable" if value == "true" => out.events.push(Event::Command(CommandDescriptor {
                    // The device publishes the new value on the property's topic.
                    confirms: Some(name.as_str().into()),
                    topic: format!("{prefix}/{node}/{property}/set").into(),
                    name: name.into(),
                    kind: CommandKind::Text,
                    // Until its `$datatype` and `$format` are seen (`super::declared_accepts`).
                    accepts: Accepts::Text,
                })),
                _ => {}
            }
        }
        [node, property] if !node.starts_with('$') && !property.starts_with('$') => {
            if payload.is_empty() {
                return;
            }
            out.plain(payload, &format!("{node}.{property}"));
        }
        [node, _, "set"] if !node.starts_with('$') => out.request = true,
        // Device and node attributes ($homie, $nodes, $properties, $stats…) carry no values.
        _ => {}
    }
}

/// What a settable property takes, by its `$datatype` and `$format`: an integer or float
/// range `from:to` (Homie 5 adds `:step`; either end may be left out), an enum's words
/// `a,b,c`, a colour's model `rgb` or `hsv`.
pub fn accepts(datatype: Option<&str>, format: Option<&str>) -> Accepts {
    let format = format.map(str::trim).filter(|f| !f.is_empty());
    let range = || {
        let mut ends = format.unwrap_or(":").split(':');
        let mut end = || ends.next().map(str::trim).filter(|e| !e.is_empty());
        (end(), end())
    };
    match datatype {
        Some("boolean") => Accepts::boolean(),
        Some("integer") => {
            let (min, max) = range();
            Accepts::Integer {
                min: min.and_then(|v| v.parse().ok()),
                max: max.and_then(|v| v.parse().ok()),
            }
        }
        Some("float") => {
            let (min, max) = range();
            Accepts::Number {
                min: min.and_then(|v| v.parse().ok()),
                max: max.and_then(|v| v.parse().ok()),
            }
        }
        Some("enum") => match format {
            Some(words) => Accepts::OneOf(words.split(',').map(|w| w.trim().into()).collect()),
            None => Accepts::Text,
        },
        Some("color") => Accepts::Color {
            hsv: format.is_some_and(|f| f.eq_ignore_ascii_case("hsv")),
        },
        _ => Accepts::Text,
    }
}

#[derive(Deserialize)]
struct Description {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    nodes: BTreeMap<String, NodeDescription>,
    /// Homie 5: the device above this one in its tree, and the tree's root, whose
    /// connection (and `$state`) this one's messages travel with.
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    root: Option<String>,
}

#[derive(Deserialize)]
struct NodeDescription {
    #[serde(default)]
    properties: BTreeMap<String, PropertyDescription>,
}

#[derive(Deserialize)]
struct PropertyDescription {
    #[serde(default)]
    datatype: Option<String>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    settable: bool,
}

/// Homie 5's `$description`: the whole device tree in one JSON document.
fn description(prefix: &str, payload: &[u8], out: &mut Output) {
    let d: Description = match serde_json::from_slice(payload) {
        Ok(d) => d,
        Err(e) => {
            out.events
                .push(Event::Error(format!("malformed $description: {e}")));
            return;
        }
    };
    if let Some(name) = d.name {
        out.events.push(Event::Name(name));
    }
    // The root is the one that goes lost for the whole tree; the parent stands in where a
    // description leaves the root out.
    if let Some(gateway) = d.root.or(d.parent)
        && !gateway.is_empty()
        && gateway != out.device
    {
        out.events.push(Event::Gateway(gateway));
    }
    for (node, n) in d.nodes {
        for (property, p) in n.properties {
            let name = format!("{node}.{property}");
            if p.settable {
                out.events.push(Event::Command(CommandDescriptor {
                    confirms: Some(name.as_str().into()),
                    name: name.as_str().into(),
                    topic: format!("{prefix}/{node}/{property}/set").into(),
                    kind: CommandKind::Text,
                    accepts: accepts(p.datatype.as_deref(), p.format.as_deref()),
                }));
            }
            out.events.push(Event::MetricFacts(MetricFacts {
                name: name.into(),
                unit: p.unit.map(Into::into),
                datatype: p.datatype.map(Into::into),
                format: p.format.map(Into::into),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conventions::testutil::{pairs, values};

    fn run(topic: &str, payload: &[u8]) -> Output {
        run_in(&Layouts::default(), topic, payload)
    }

    fn run_in(layouts: &Layouts, topic: &str, payload: &[u8]) -> Output {
        let mut out = Output::default();
        assert!(claims(topic, layouts), "{topic}");
        decode(topic, layouts, payload, &mut out);
        out
    }

    #[test]
    fn any_learned_root() {
        let mut layouts = Layouts::default();
        assert!(!claims("site/homie/lamp/$state", &layouts));
        layouts.learn(&Default::default(), "site/homie/lamp/$homie", b"4.0.0");
        let out = run_in(&layouts, "site/homie/lamp/light/power/$settable", b"true");
        assert_eq!(out.device, "lamp");
        assert!(
            matches!(&out.events[..], [Event::Command(c)] if &*c.topic == "site/homie/lamp/light/power/set")
        );
        let out = run_in(&layouts, "homie/fan/$state", b"ready");
        assert_eq!(
            (out.device.as_str(), &out.events[..]),
            ("fan", &[Event::Online(true)][..])
        );
    }

    #[test]
    fn device_attributes() {
        let out = run("homie/weather0/$state", b"ready");
        assert_eq!(out.device, "weather0");
        assert_eq!(out.events, [Event::Online(true)]);
        assert_eq!(
            run("homie/weather0/$state", b"lost").events,
            [Event::Online(false)]
        );
        assert_eq!(
            run("homie/weather0/$name", b"Weather station 0").events,
            [Event::Name("Weather station 0".into())]
        );
        assert!(run("homie/weather0/$nodes", b"env").events.is_empty());
        assert!(
            run("homie/weather0/env/$properties", b"temperature")
                .events
                .is_empty()
        );
        assert!(matches!(
            run("homie/w/$state", b"zombie").events[..],
            [Event::Error(_)]
        ));
    }

    #[test]
    fn property_values_units_and_datatypes() {
        let out = run("homie/weather0/env/temperature", b"10.00");
        assert_eq!(values(&out), pairs(&[("env.temperature", "10")]));
        let out = run("homie/weather0/env/temperature/$unit", "°C".as_bytes());
        assert_eq!(
            out.events,
            [Event::MetricFacts(MetricFacts {
                name: "env.temperature".into(),
                unit: Some("°C".into()),
                ..Default::default()
            })]
        );
        let out = run("homie/weather0/env/temperature/$datatype", b"float");
        assert!(
            matches!(&out.events[..], [Event::MetricFacts(m)] if m.datatype.as_deref() == Some("float"))
        );
        let out = run("homie/lamp/light/on/$settable", b"true");
        assert!(
            matches!(&out.events[..], [Event::Command(c)] if &*c.topic == "homie/lamp/light/on/set")
        );
        let out = run("homie/lamp/light/on/set", b"true");
        assert!(out.values.is_empty() && out.events.is_empty() && out.request);
    }

    #[test]
    fn homie5_description() {
        let out = run(
            "homie/5/lamp/$description",
            br#"{"homie":"5.0","name":"Lamp","nodes":{"light":{"properties":{"on":{"datatype":"boolean","settable":true},"power":{"datatype":"float","unit":"W"}}}}}"#,
        );
        assert_eq!(out.device, "lamp");
        assert_eq!(out.events[0], Event::Name("Lamp".into()));
        assert!(
            out.events.iter().any(
                |e| matches!(e, Event::Command(c) if &*c.topic == "homie/5/lamp/light/on/set")
            )
        );
        assert!(out.events.iter().any(|e| matches!(e, Event::MetricFacts(m) if &*m.name == "light.power" && m.unit.as_deref() == Some("W"))));
        let out = run("homie/5/lamp/light/power", b"12.5");
        assert_eq!(values(&out), pairs(&[("light.power", "12.5")]));
    }

    #[test]
    fn homie5_root_or_parent_is_the_gateway() {
        let gateway = |payload: &[u8]| {
            run("homie/5/bulb/$description", payload)
                .events
                .into_iter()
                .find_map(|e| match e {
                    Event::Gateway(g) => Some(g),
                    _ => None,
                })
        };
        let tree = br#"{"homie":"5.0","parent":"hub","root":"bridge","nodes":{}}"#;
        assert_eq!(gateway(tree).as_deref(), Some("bridge"));
        let parent_only = br#"{"homie":"5.0","parent":"hub","nodes":{}}"#;
        assert_eq!(gateway(parent_only).as_deref(), Some("hub"));
        assert_eq!(
            gateway(br#"{"homie":"5.0","root":"bulb"}"#),
            None,
            "a root is no one's child"
        );
        assert_eq!(gateway(br#"{"homie":"5.0"}"#), None);
    }

    #[test]
    fn not_homie() {
        let l = Layouts::default();
        assert!(!claims("homie/$broadcast", &l));
        assert!(!claims("homie/dev", &l));
        assert!(!claims("homiex/dev/$state", &l));
    }

    #[test]
    fn datatype_and_format_say_what_a_property_takes() {
        let int = |min, max| Accepts::Integer { min, max };
        assert_eq!(
            accepts(Some("integer"), Some("5:30")),
            int(Some(5), Some(30))
        );
        assert_eq!(accepts(Some("integer"), Some(":30")), int(None, Some(30)));
        assert_eq!(
            accepts(Some("integer"), Some("0:100:5")),
            int(Some(0), Some(100))
        );
        assert_eq!(accepts(Some("integer"), None), int(None, None));
        assert_eq!(
            accepts(Some("float"), Some("-1.5:2.5")),
            Accepts::Number {
                min: Some(-1.5),
                max: Some(2.5)
            }
        );
        assert_eq!(accepts(Some("boolean"), None), Accepts::boolean());
        assert_eq!(
            accepts(Some("enum"), Some("low, medium,high")),
            Accepts::one_of(&["low", "medium", "high"])
        );
        assert_eq!(
            accepts(Some("color"), Some("hsv")),
            Accepts::Color { hsv: true }
        );
        assert_eq!(
            accepts(Some("color"), Some("rgb")),
            Accepts::Color { hsv: false }
        );
        assert_eq!(accepts(Some("string"), None), Accepts::Text);
        assert_eq!(accepts(None, Some("1:2")), Accepts::Text);
    }
}
