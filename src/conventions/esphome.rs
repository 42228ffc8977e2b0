//! Native ESPHome MQTT, without Home Assistant discovery. Under a node's `topic_prefix`
//! (its name by default; any number of levels): `<prefix>/status` (`online`/`offline`, its
//! birth and will), `<prefix>/<component>/<object_id>/state` (`sensor` numbers,
//! `binary_sensor`/`switch`/`fan` `ON`/`OFF`, `light` JSON, text...), the sub-states of
//! climates, covers, valves and fans (`climate/<id>/mode/state`), and the logger's
//! `<prefix>/debug`. A command goes where its state comes from, with `command` for
//! `state`.
//!
//! `x/status` or `x/sensor/y/state` alone say little: a prefix is learned
//! (`super::layout`) once two kinds of its topics were seen (the status, a state, a log
//! line), and the prefix is the device's key.

use super::layout::Layouts;
use super::{Accepts, CommandDescriptor, CommandKind, Event, Output, online_word, quote};

/// What follows a node's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'t> {
    Status,
    Debug,
    State {
        component: &'t str,
        id: &'t str,
        sub: Option<&'t str>,
    },
}

impl Kind<'_> {
    /// What this kind of topic shows of a node, as a bit: two different ones are enough.
    pub fn evidence(self) -> u8 {
        match self {
            Kind::Status => 1,
            Kind::State { .. } => 2,
            Kind::Debug => 4,
        }
    }
}

/// ESPHome's MQTT components that publish a state.
const COMPONENTS: &[&str] = &[
    "alarm_control_panel",
    "binary_sensor",
    "climate",
    "cover",
    "date",
    "datetime",
    "event",
    "fan",
    "light",
    "lock",
    "number",
    "select",
    "sensor",
    "switch",
    "text",
    "text_sensor",
    "time",
    "update",
    "valve",
];

/// Characters kept of a log line.
const MAX_LOG_CHARS: usize = 200;

/// The sub-states a component publishes beside (or instead of) its `state`.
fn subs(component: &str) -> &'static [&'static str] {
    match component {
        "climate" => &[
            "action",
            "current_humidity",
            "current_temperature",
            "fan_mode",
            "mode",
            "preset",
            "swing_mode",
            "target_humidity",
            "target_temperature",
            "target_temperature_high",
            "target_temperature_low",
        ],
        "cover" => &["position", "tilt"],
        "valve" => &["position"],
        "fan" => &["direction", "oscillation", "speed_level"],
        _ => &[],
    }
}

/// An object id as ESPHome derives it from a name: lowercase letters, digits, `_`, `-`.
fn object_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn prefix_ok(prefix: &str) -> bool {
    !prefix.starts_with('$') && !prefix.split('/').any(str::is_empty)
}

/// The ways a topic reads as a node's: a prefix and what follows it. A state topic may
/// read two ways (`<p>/<component>/<id>/state`, `<p>/<component>/<id>/<sub>/state`).
fn readings(topic: &str) -> [Option<(&str, Kind<'_>)>; 2] {
    fn only<'t>(prefix: &'t str, kind: Kind<'t>) -> [Option<(&'t str, Kind<'t>)>; 2] {
        [prefix_ok(prefix).then_some((prefix, kind)), None]
    }
    if let Some(prefix) = topic.strip_suffix("/status") {
        return only(prefix, Kind::Status);
    }
    if let Some(prefix) = topic.strip_suffix("/debug") {
        return only(prefix, Kind::Debug);
    }
    let Some(rest) = topic.strip_suffix("/state") else {
        return [None, None];
    };
    let plain = rest.rsplit_once('/').and_then(|(head, id)| {
        let (prefix, component) = head.rsplit_once('/')?;
        (COMPONENTS.contains(&component) && object_id(id) && prefix_ok(prefix)).then_some((
            prefix,
            Kind::State {
                component,
                id,
                sub: None,
            },
        ))
    });
    let sub = rest.rsplit_once('/').and_then(|(head, sub)| {
        let (head, id) = head.rsplit_once('/')?;
        let (prefix, component) = head.rsplit_once('/')?;
        (subs(component).contains(&sub) && object_id(id) && prefix_ok(prefix)).then_some((
            prefix,
            Kind::State {
                component,
                id,
                sub: Some(sub),
            },
        ))
    });
    [plain, sub]
}

/// A node's message, under a learned prefix.
fn split<'t>(topic: &'t str, layouts: &Layouts) -> Option<(&'t str, Kind<'t>)> {
    readings(topic)
        .into_iter()
        .flatten()
        .find(|(prefix, _)| layouts.esphome_node(prefix))
}

/// Whether a topic is one of the node `prefix`'s.
pub fn on_node(topic: &str, prefix: &str) -> bool {
    readings(topic)
        .into_iter()
        .flatten()
        .any(|(p, _)| p == prefix)
}

/// Whether a topic has the shape of a node's state, learned or not: the generic fallback
/// leaves these to be claimed once the node shows itself, rather than guess a device.
pub fn state_shaped(topic: &str) -> bool {
    readings(topic)
        .into_iter()
        .flatten()
        .any(|(_, k)| matches!(k, Kind::State { .. }))
}

/// What a topic shows of a node: its status word, a log line in the logger's format, or a
/// state of one of ESPHome's components.
pub fn evidence<'t>(topic: &'t str, payload: &[u8]) -> Option<(&'t str, Kind<'t>)> {
    let (prefix, kind) = readings(topic).into_iter().flatten().next()?;
    let shown = match kind {
        Kind::Status => matches!(payload, b"online" | b"offline"),
        Kind::Debug => log_line(payload),
        Kind::State { .. } => !payload.is_empty(),
    };
    shown.then_some((prefix, kind))
}

/// `[D][sensor:094]: …`, maybe after a colour escape: the logger's format.
fn log_line(payload: &[u8]) -> bool {
    let text = strip_colours(&String::from_utf8_lossy(payload));
    let Some(rest) = text.strip_prefix('[') else {
        return false;
    };
    let level = rest.split_once(']').map_or("", |(level, _)| level);
    matches!(level, "E" | "W" | "I" | "C" | "D" | "V" | "VV")
        && rest[level.len()..].starts_with("][")
}

/// The text of a log line without its ANSI colour sequences (`ESC[0;36m`).
fn strip_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\u{1b}[") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        let end = tail
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(tail.len());
        // The sequence's final byte (`m`) goes too.
        let skip = tail[end..].chars().next().map_or(0, char::len_utf8);
        rest = &tail[end + skip..];
    }
    out.push_str(rest);
    out
}

pub fn claims(topic: &str, layouts: &Layouts) -> bool {
    split(topic, layouts).is_some()
}

pub fn decode(topic: &str, layouts: &Layouts, payload: &[u8], out: &mut Output) {
    let Some((prefix, kind)) = split(topic, layouts) else {
        return;
    };
    out.device.push_str(prefix);
    match kind {
        Kind::Status => match online_word(payload) {
            Some(online) => out.events.push(Event::Online(online)),
            None => out.events.push(Event::Error(format!(
                "status payload `{}` is neither online nor offline",
                quote(payload)
            ))),
        },
        Kind::Debug => {
            let line = strip_colours(&String::from_utf8_lossy(payload));
            let line = crate::sanitize::truncate(line.trim(), MAX_LOG_CHARS);
            if !line.is_empty() {
                let text = crate::config::PayloadFormat::Text;
                // A log line is text: it cannot fail to decode as such.
                let _ = crate::decode::decode(line.as_bytes(), text, "debug", &mut out.values);
            }
        }
        Kind::State { component, id, sub } => {
            let metric = match sub {
                Some(sub) => format!("{id}.{sub}"),
                None => id.to_string(),
            };
            if payload.trim_ascii_start().starts_with(b"{") {
                out.json(payload, &metric);
            } else if payload.trim_ascii().eq_ignore_ascii_case(b"nan") {
                // A sensor with no reading yet (or a failed one) publishes `nan`.
                return;
            } else {
                out.plain(payload, &metric);
            }
            commands(prefix, component, id, sub, out);
        }
    }
}

/// The commands a component takes, as ESPHome's MQTT components parse them.
fn commands(prefix: &str, component: &str, id: &str, sub: Option<&str>, out: &mut Output) {
    let topic = match sub {
        Some(sub) => format!("{prefix}/{component}/{id}/{sub}/command"),
        None => format!("{prefix}/{component}/{id}/command"),
    };
    let name = match sub {
        Some(sub) => format!("{id}.{sub}"),
        None => id.to_string(),
    };
    // ESPHome publishes the new state where the old one came from.
    let mut push = |name: String, kind: CommandKind, accepts: Accepts| {
        out.events.push(Event::Command(CommandDescriptor {
            confirms: Some(name.as_str().into()),
            name: name.into(),
            topic: topic.as_str().into(),
            kind,
            accepts,
        }))
    };
    let text = |accepts| (CommandKind::Text, accepts);
    let (kind, accepts) = match (component, sub) {
        ("light", None) => {
            // The JSON schema: `{"state":"ON"}`, `{"brightness":128}` (0..255).
            let brightness = format!("{id}.brightness");
            if out.values.values().any(|(n, _)| n == brightness) {
                push(
                    brightness,
                    CommandKind::JsonProperty {
                        property: "brightness".into(),
                    },
                    Accepts::Integer {
                        min: Some(0),
                        max: Some(255),
                    },
                );
            }
            push(
                format!("{id}.state"),
                CommandKind::JsonProperty {
                    property: "state".into(),
                },
                Accepts::on_off(),
            );
            return;
        }
        ("switch" | "fan", None) => text(Accepts::on_off()),
        ("number", None) => text(Accepts::Number {
            min: None,
            max: None,
        }),
        ("select" | "text", None) => text(Accepts::Text),
        ("lock", None) => text(Accepts::one_of(&["LOCK", "UNLOCK", "OPEN"])),
        ("cover" | "valve", None) => text(Accepts::one_of(&["OPEN", "CLOSE", "STOP"])),
        ("cover" | "valve", Some("position")) | ("cover", Some("tilt")) => text(Accepts::Integer {
            min: Some(0),
            max: Some(100),
        }),
        ("climate", Some("mode")) => text(Accepts::one_of(&[
            "off",
            "heat_cool",
            "cool",
            "heat",
            "fan_only",
            "dry",
            "auto",
        ])),
        (
            "climate",
            Some(
                "target_temperature"
                | "target_temperature_low"
                | "target_temperature_high"
                | "target_humidity",
            ),
        ) => text(Accepts::Number {
            min: None,
            max: None,
        }),
        ("climate", Some("fan_mode" | "swing_mode" | "preset")) => text(Accepts::Text),
        ("fan", Some("oscillation")) => text(Accepts::one_of(&["oscillate_on", "oscillate_off"])),
        ("fan", Some("speed_level")) => text(Accepts::Integer {
            min: Some(0),
            max: None,
        }),
        ("fan", Some("direction")) => text(Accepts::one_of(&["forward", "reverse"])),
        _ => return,
    };
    push(name, kind, accepts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conventions::testutil::{pairs, values};

    fn learned(prefixes: &[&str]) -> Layouts {
        let c = Default::default();
        let mut l = Layouts::default();
        for p in prefixes {
            assert_eq!(l.learn(&c, &format!("{p}/status"), b"online"), None, "{p}");
            assert!(
                l.learn(&c, &format!("{p}/sensor/t/state"), b"1").is_some(),
                "{p}"
            );
        }
        l
    }

    fn run(l: &Layouts, topic: &str, payload: &[u8]) -> Output {
        let mut out = Output::default();
        assert!(claims(topic, l), "{topic}");
        decode(topic, l, payload, &mut out);
        out
    }

    fn commands(out: &Output) -> Vec<(&str, &str, &Accepts)> {
        out.events
            .iter()
            .filter_map(|e| match e {
                Event::Command(c) => Some((&*c.name, &*c.topic, &c.accepts)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_node_is_learned_from_two_kinds_of_its_topics() {
        let c = Default::default();
        let mut l = Layouts::default();
        assert!(!claims("garden/status", &l));
        assert_eq!(l.learn(&c, "garden/status", b"online"), None, "half");
        assert_eq!(
            l.learn(&c, "garden/status", b"online"),
            None,
            "twice is once"
        );
        assert!(
            l.learn(&c, "garden/binary_sensor/door/state", b"OFF")
                .is_some()
        );
        assert!(claims("garden/debug", &l));
        // A log line and a state, under a prefix of two levels.
        assert_eq!(
            l.learn(
                &c,
                "home/esp-1/debug",
                b"\x1b[0;36m[D][sensor:094]: 'T': Sending state 21.5\x1b[0m"
            ),
            None
        );
        assert!(
            l.learn(&c, "home/esp-1/climate/hvac/mode/state", b"heat")
                .is_some()
        );
        assert!(claims("home/esp-1/sensor/t/state", &l));
        for (topic, payload) in [
            ("a/status", &b"ready"[..]),
            ("a/debug", b"hello"),
            ("a/debug", b"[X][y]"),
            ("a/sensor/Temp/state", b"1"),
            ("a/gadget/t/state", b"1"),
            ("a/sensor/t/state", b""),
            ("a/climate/h/colour/state", b"1"),
            ("$SYS/status", b"online"),
            ("a//status", b"online"),
            ("a/sensor/t/command", b"1"),
        ] {
            assert_eq!(evidence(topic, payload), None, "{topic}");
        }
        // The same kind twice is not two kinds.
        assert_eq!(l.learn(&c, "b/sensor/x/state", b"1"), None);
        assert_eq!(l.learn(&c, "b/switch/y/state", b"ON"), None);
        assert!(!claims("b/sensor/x/state", &l));
    }

    #[test]
    fn states_are_typed_and_named_by_object_id() {
        let l = learned(&["garden", "site/esp"]);
        let out = run(&l, "garden/status", b"offline");
        assert_eq!(
            (&*out.device, &out.events[..]),
            ("garden", &[Event::Online(false)][..])
        );
        let out = run(&l, "garden/sensor/soil_moisture/state", b"41.3");
        assert_eq!(values(&out), pairs(&[("soil_moisture", "41.3")]));
        assert!(commands(&out).is_empty(), "a sensor takes no command");
        let out = run(&l, "garden/binary_sensor/door/state", b"ON");
        assert_eq!(values(&out), pairs(&[("door", "true")]));
        let out = run(&l, "garden/sensor/t/state", b"nan");
        assert!(out.values.is_empty() && out.events.is_empty(), "no reading");
        let out = run(
            &l,
            "garden/text_sensor/version/state",
            b"2025.11.2 Dec 1 2025",
        );
        assert_eq!(
            values(&out),
            pairs(&[("version", "'2025.11.2 Dec 1 2025'")])
        );
        let out = run(
            &l,
            "site/esp/climate/hvac/current_temperature/state",
            b"19.5",
        );
        assert_eq!(out.device, "site/esp");
        assert_eq!(values(&out), pairs(&[("hvac.current_temperature", "19.5")]));
        let out = run(&l, "garden/debug", b"\x1b[0;33m[W][wifi:123]: weak\x1b[0m");
        assert_eq!(values(&out), pairs(&[("debug", "'[W][wifi:123]: weak'")]));
    }

    #[test]
    fn commands_are_those_esphome_parses() {
        let l = learned(&["n"]);
        let out = run(&l, "n/switch/relay/state", b"OFF");
        assert_eq!(
            commands(&out),
            [("relay", "n/switch/relay/command", &Accepts::on_off())]
        );
        let out = run(
            &l,
            "n/light/desk/state",
            br#"{"state":"ON","brightness":128,"color_mode":"rgb","color":{"r":255,"g":0,"b":0}}"#,
        );
        assert_eq!(
            values(&out),
            pairs(&[
                ("desk.state", "true"),
                ("desk.brightness", "128"),
                ("desk.color_mode", "'rgb'"),
                ("desk.color.r", "255"),
                ("desk.color.g", "0"),
                ("desk.color.b", "0")
            ])
        );
        let got: Vec<(&str, &str)> = commands(&out).iter().map(|c| (c.0, c.1)).collect();
        assert_eq!(
            got,
            [
                ("desk.brightness", "n/light/desk/command"),
                ("desk.state", "n/light/desk/command")
            ]
        );
        let out = run(&l, "n/number/setpoint/state", b"21");
        assert_eq!(commands(&out)[0].1, "n/number/setpoint/command");
        let out = run(&l, "n/select/mode/state", b"Eco");
        assert_eq!(commands(&out)[0].2, &Accepts::Text);
        let out = run(&l, "n/cover/gate/position/state", b"40");
        assert_eq!(
            commands(&out),
            [(
                "gate.position",
                "n/cover/gate/position/command",
                &Accepts::Integer {
                    min: Some(0),
                    max: Some(100)
                }
            )]
        );
        let out = run(&l, "n/climate/hvac/mode/state", b"heat");
        assert!(
            matches!(commands(&out)[0].2, Accepts::OneOf(w) if w.iter().any(|w| &**w == "fan_only"))
        );
        let out = run(&l, "n/climate/hvac/action/state", b"heating");
        assert!(commands(&out).is_empty(), "the action is read-only");
    }

    #[test]
    fn colours_are_stripped_from_log_lines() {
        assert_eq!(strip_colours("\x1b[0;36m[D][x]\x1b[0m"), "[D][x]");
        assert_eq!(strip_colours("a\x1b["), "a");
        assert_eq!(strip_colours("\x1b[1;31"), "");
        assert!(log_line(b"[VV][api:1]: x"));
        assert!(!log_line(b"[DD][x]"));
        assert!(!log_line(b"\xff"));
    }

    #[test]
    fn the_generic_fallback_leaves_state_shaped_topics() {
        assert!(state_shaped("x/light/desk/state"));
        assert!(!state_shaped("x/light/Desk/state"));
        assert!(!state_shaped("x/status"));
    }
}
