//! Tasmota: `tele/<dev>/LWT` (`Online`/`Offline`), `tele/<dev>/SENSOR` and `STATE` (JSON,
//! nested: `ENERGY.Power`), `stat/<dev>/RESULT` (JSON) and `stat/<dev>/POWER` (plain).
//! Commands are `cmnd/<dev>/<Command>` with the reply in `stat/<dev>/RESULT`.
//!
//! That is the default FullTopic, `%prefix%/%topic%/`. Any other places the prefix word
//! and the topic among literal levels (`%topic%/%prefix%/`, `site/%prefix%/%topic%/`);
//! its devices are learned one by one from their LWTs (`super::layout`), and a device is
//! keyed by its stem's levels other than the prefix (`site/pump`), which are unique to it
//! whichever of them is `%topic%`.

mod discovery;

use super::layout::Layouts;
use super::{Accepts, CommandDescriptor, CommandKind, Event, Output, online_word, quote};

/// Relays a device may have (`POWER1`…`POWER32`).
const MAX_RELAYS: u32 = 32;
/// Where a stem has its prefix word.
const PREFIX: &str = "%prefix%";
/// Levels a FullTopic spans, with the prefix and the topic: deeper ones are not learned.
const MAX_STEM_LEVELS: usize = 8;

/// A device's message: the FullTopic's levels, the prefix word's place among them, and
/// the level after them (`SENSOR`, `RESULT`...).
struct Split<'t> {
    levels: Vec<&'t str>,
    prefix_at: usize,
    kind: &'t str,
}

impl Split<'_> {
    /// The device's key: its levels other than the prefix.
    fn device(&self, out: &mut String) {
        for (i, level) in self.levels.iter().enumerate() {
            if i == self.prefix_at {
                continue;
            }
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(level);
        }
    }

    /// The topic of one of the device's commands: its FullTopic with the `cmnd` prefix.
    fn command_topic(&self, command: &str) -> String {
        let mut topic = String::new();
        for (i, level) in self.levels.iter().enumerate() {
            topic.push_str(if i == self.prefix_at { "cmnd" } else { level });
            topic.push('/');
        }
        topic.push_str(command);
        topic
    }
}

/// The levels before the last, and the last, if none is empty.
fn levels(topic: &str) -> Option<(Vec<&str>, &str)> {
    let (head, kind) = topic.rsplit_once('/')?;
    let levels: Vec<&str> = head.split('/').collect();
    (!kind.is_empty() && levels.iter().all(|l| !l.is_empty())).then_some((levels, kind))
}

/// `levels` with the one at `at` written as the prefix placeholder.
fn stem_of(levels: &[&str], at: usize) -> String {
    let mut stem = String::new();
    for (i, level) in levels.iter().enumerate() {
        if i > 0 {
            stem.push('/');
        }
        stem.push_str(if i == at { PREFIX } else { level });
    }
    stem
}

/// Whether a topic is one level below `stem`, with a prefix word at its placeholder.
/// Checked against every known topic when a stem is learned, so it allocates nothing.
pub fn on_stem(topic: &str, stem: &str) -> bool {
    let mut topic_levels = topic.split('/');
    let same = stem.split('/').all(|s| {
        topic_levels.next().is_some_and(|t| {
            if s == PREFIX {
                matches!(t, "tele" | "stat" | "cmnd")
            } else {
                t == s
            }
        })
    });
    same && topic_levels.next().is_some_and(|k| !k.is_empty()) && topic_levels.next().is_none()
}

/// The stem a device announces with its LWT (`site/tele/pump/LWT`, `Online`), when its
/// FullTopic is not the default. Tasmota publishes exactly `Online` and `Offline` there,
/// always with the `tele` prefix: one `tele` level, so the prefix's place is certain.
pub fn announced_stem(topic: &str, payload: &[u8]) -> Option<String> {
    // Asked of every new topic: the cheap test first.
    if !topic.ends_with("/LWT") {
        return None;
    }
    let (levels, _) = levels(topic)?;
    if !matches!(payload, b"Online" | b"Offline")
        || levels.len() < 2
        || levels.len() > MAX_STEM_LEVELS
        || levels[0].starts_with('$')
    {
        return None;
    }
    let mut tele = levels.iter().enumerate().filter(|(_, l)| **l == "tele");
    let (at, _) = tele.next()?;
    if tele.next().is_some() || (at == 0 && levels.len() == 2) {
        return None;
    }
    Some(stem_of(&levels, at))
}

/// A device's message under the default FullTopic or a learned stem. Only `tele` and
/// `stat` are the device's own; `cmnd` topics are requests to it.
fn split<'t>(topic: &'t str, layouts: &Layouts) -> Option<Split<'t>> {
    let (levels, kind) = levels(topic)?;
    let own = |l: &str| matches!(l, "tele" | "stat");
    if levels.len() == 2 && own(levels[0]) {
        return Some(Split {
            levels,
            prefix_at: 0,
            kind,
        });
    }
    let prefix_at = (0..levels.len())
        .find(|&i| own(levels[i]) && layouts.tasmota_stem(&stem_of(&levels, i)))?;
    Some(Split {
        levels,
        prefix_at,
        kind,
    })
}

/// `tele/<dev>/<kind>` or `stat/<dev>/<kind>`, or the same on a learned device's stem;
/// or the device's discovery message (`tasmota/discovery/<mac>/config`).
pub fn claims(topic: &str, layouts: &Layouts) -> bool {
    discovery::claims(topic) || split(topic, layouts).is_some()
}

/// What a state or result key is as a command of the same name, and what it takes:
/// `POWER`, `POWER<n>` (`ON`/`OFF`), `Dimmer` (0..100), `CT` (153..500 mired), colours.
fn settable(key: &str) -> Option<Accepts> {
    let range = |min, max| Accepts::Integer {
        min: Some(min),
        max: Some(max),
    };
    let relay = key.strip_prefix("POWER").is_some_and(|n| {
        n.is_empty()
            || n.parse::<u32>()
                .is_ok_and(|n| (1..=MAX_RELAYS).contains(&n))
    });
    Some(match key {
        _ if relay => Accepts::on_off(),
        "Dimmer" => range(0, 100),
        "CT" => range(153, 500),
        "Color" | "HSBColor" => Accepts::Text,
        _ => return None,
    })
}

/// A command `name` on the device's command topic; `stat/<dev>/RESULT` answers it with
/// the key of the same name.
fn command(name: &str, topic: String, accepts: Accepts) -> Event {
    Event::Command(CommandDescriptor {
        confirms: Some(name.into()),
        name: name.into(),
        topic: topic.into(),
        kind: CommandKind::Text,
        accepts,
    })
}

pub fn decode(topic: &str, layouts: &Layouts, payload: &[u8], out: &mut Output) {
    if discovery::claims(topic) {
        return discovery::decode(payload, out);
    }
    let Some(split) = split(topic, layouts) else {
        return;
    };
    split.device(&mut out.device);
    let kind = split.kind;
    if split.levels[split.prefix_at] == "tele" && kind == "LWT" {
        match online_word(payload) {
            Some(online) => out.events.push(Event::Online(online)),
            None => out.events.push(Event::Error(format!(
                "LWT payload `{}` is neither Online nor Offline",
                quote(payload)
            ))),
        }
        return;
    }
    if payload.trim_ascii_start().starts_with(b"{") {
        out.json(payload, "");
    } else {
        out.plain(payload, kind);
    }
    let commands: Vec<Event> = out
        .values
        .values()
        .filter_map(|(name, _)| Some(command(name, split.command_topic(name), settable(name)?)))
        .collect();
    out.events.extend(commands);
}

/// The unit Tasmota's firmware fixes for a field it names: the energy monitor's
/// `ENERGY.*` (`ENERGY.Power` is W on every build, `ENERGY.Power.1` its second channel),
/// and sensor readings whose unit the payload declares beside them (`TempUnit: "C"` for
/// every `<sensor>.Temperature` at that level or below). `text` reads another metric of
/// the same device as text.
pub fn unit<'a>(metric: &str, text: &dyn Fn(&str) -> Option<&'a str>) -> Option<&'static str> {
    let path = strip_channel(metric);
    let (parent, field) = path.rsplit_once('.').unwrap_or(("", path));
    if parent == "ENERGY" || parent.ends_with(".ENERGY") {
        return energy_unit(field);
    }
    let (declared, words): (&str, &[(&str, &'static str)]) = match field {
        "Temperature" | "DewPoint" => ("TempUnit", &[("C", "°C"), ("F", "°F")]),
        "Pressure" | "SeaPressure" => (
            "PressureUnit",
            &[("hPa", "hPa"), ("mmHg", "mmHg"), ("inHg", "inHg")],
        ),
        "Humidity" => return Some("%"),
        "Illuminance" => return Some("lx"),
        _ => return None,
    };
    // The nearest declaration among the field's ancestors wins.
    let mut scope = parent;
    loop {
        let name = if scope.is_empty() {
            declared.to_string()
        } else {
            format!("{scope}.{declared}")
        };
        if let Some(said) = text(&name) {
            return words.iter().find(|(w, _)| *w == said).map(|(_, u)| *u);
        }
        if scope.is_empty() {
            return None;
        }
        scope = scope.rsplit_once('.').map_or("", |(up, _)| up);
    }
}

/// `ENERGY` fields as the energy driver (xdrv_03) reports them.
fn energy_unit(field: &str) -> Option<&'static str> {
    Some(match field {
        "Total" | "Yesterday" | "Today" | "ExportActive" | "ImportActive" => "kWh",
        "ExportReactive" | "ImportReactive" => "kvarh",
        "Period" => "Wh",
        "Power" | "ActivePower" => "W",
        "ApparentPower" => "VA",
        "ReactivePower" => "var",
        "Voltage" => "V",
        "Current" => "A",
        "Frequency" => "Hz",
        "PhaseAngle" => "°",
        _ => return None,
    })
}

/// A multi-channel meter reports arrays (`"Power":[10,20]` is `ENERGY.Power.0`, `.1`): the
/// channel is not part of the field's name.
fn strip_channel(metric: &str) -> &str {
    match metric.rsplit_once('.') {
        Some((head, last)) if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => metric,
    }
}

/// Tasmota's `Time` is the device's local time without a zone: not a metric, not a
/// trustworthy sample time.
pub fn ignored(metric: &str) -> bool {
    metric == "Time"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conventions::testutil::{commands, pairs, values};

    fn run(topic: &str, payload: &[u8]) -> Output {
        run_in(&Layouts::default(), topic, payload)
    }

    fn run_in(layouts: &Layouts, topic: &str, payload: &[u8]) -> Output {
        let mut out = Output::default();
        assert!(claims(topic, layouts), "{topic}");
        decode(topic, layouts, payload, &mut out);
        out
    }

    fn learned(lwts: &[&str]) -> Layouts {
        let mut l = Layouts::default();
        for t in lwts {
            assert!(l.learn(&Default::default(), t, b"Online").is_some(), "{t}");
        }
        l
    }

    #[test]
    fn a_custom_full_topic_is_learned_per_device_from_its_lwt() {
        let l = learned(&["kitchen/tele/LWT", "site/tele/pump/LWT", "a/b/tele/c/d/LWT"]);
        let out = run_in(&l, "kitchen/stat/RESULT", br#"{"POWER":"ON"}"#);
        assert_eq!(out.device, "kitchen");
        assert_eq!(commands(&out), [("POWER", "kitchen/cmnd/POWER")]);
        let out = run_in(&l, "site/tele/pump/LWT", b"Offline");
        assert_eq!(
            (&*out.device, &out.events[..]),
            ("site/pump", &[Event::Online(false)][..])
        );
        let out = run_in(&l, "a/b/stat/c/d/POWER", b"ON");
        assert_eq!(out.device, "a/b/c/d");
        assert_eq!(commands(&out), [("POWER", "a/b/cmnd/c/d/POWER")]);
        // Other devices under the same literal levels said nothing: not Tasmota's.
        for topic in [
            "site/tele/well/SENSOR",
            "site/stat/other/RESULT",
            "kitchen/tele/x/SENSOR",
            "hall/tele/SENSOR",
            "kitchen/cmnd/POWER",
            "site/tele/pump/SENSOR/extra",
        ] {
            assert!(!claims(topic, &l), "{topic}");
        }
    }

    #[test]
    fn a_stem_covers_its_own_topics_only() {
        let stem = "site/%prefix%/pump";
        for topic in [
            "site/tele/pump/SENSOR",
            "site/stat/pump/RESULT",
            "site/cmnd/pump/POWER",
        ] {
            assert!(on_stem(topic, stem), "{topic}");
        }
        for topic in [
            "site/tele/pump",
            "site/tele/pump/",
            "site/tele/pump/a/b",
            "site/info/pump/SENSOR",
            "site/tele/well/SENSOR",
            "other/tele/pump/SENSOR",
        ] {
            assert!(!on_stem(topic, stem), "{topic}");
        }
    }

    #[test]
    fn only_a_tasmota_lwt_teaches_a_stem() {
        let mut l = Layouts::default();
        let c = Default::default();
        for (topic, payload) in [
            ("site/tele/pump/LWT", &b"online"[..]),
            ("site/tele/pump/LWT", b"1"),
            ("site/tele/pump/STATE", b"Online"),
            ("site/stat/pump/LWT", b"Online"),
            ("tele/tele/pump/LWT", b"Online"),
            ("tele/pump/LWT", b"Online"),
            ("site//tele/LWT", b"Online"),
            ("$SYS/tele/LWT", b"Online"),
            ("a/b/c/d/e/f/g/tele/h/LWT", b"Online"),
        ] {
            assert_eq!(l.learn(&c, topic, payload), None, "{topic}");
        }
        let off = crate::config::conventions::ConventionsConfig {
            tasmota: false,
            ..Default::default()
        };
        assert_eq!(l.learn(&off, "site/tele/pump/LWT", b"Online"), None);
        assert!(!claims("site/tele/pump/LWT", &l));
    }

    #[test]
    fn lwt_is_online_state() {
        let out = run("tele/plug0/LWT", b"Online");
        assert_eq!(out.device, "plug0");
        assert_eq!(out.events, [Event::Online(true)]);
        assert_eq!(
            run("tele/plug0/LWT", b"Offline").events,
            [Event::Online(false)]
        );
        assert!(matches!(
            run("tele/plug0/LWT", b"\x1b[2J").events[..],
            [Event::Error(_)]
        ));
    }

    #[test]
    fn sensor_json_is_nested_metrics() {
        let out = run(
            "tele/plug0/SENSOR",
            br#"{"Time":"2026-11-24T21:50:27","ENERGY":{"Power":40.5,"Voltage":231}}"#,
        );
        assert_eq!(
            values(&out),
            pairs(&[
                ("Time", "'2026-11-24T21:50:27'"),
                ("ENERGY.Power", "40.5"),
                ("ENERGY.Voltage", "231")
            ])
        );
        assert!(ignored("Time"));
    }

    #[test]
    fn the_firmware_fixes_energy_units_and_the_payload_declares_sensor_units() {
        let none = |_: &str| None;
        assert_eq!(unit("ENERGY.Power", &none), Some("W"));
        assert_eq!(unit("ENERGY.Power.1", &none), Some("W"));
        assert_eq!(unit("StatusSNS.ENERGY.Total", &none), Some("kWh"));
        assert_eq!(unit("ENERGY.ApparentPower", &none), Some("VA"));
        assert_eq!(unit("ENERGY.ReactivePower", &none), Some("var"));
        assert_eq!(unit("ENERGY.Voltage", &none), Some("V"));
        assert_eq!(unit("ENERGY.Current", &none), Some("A"));
        assert_eq!(unit("ENERGY.Factor", &none), None);
        assert_eq!(
            unit("Power", &none),
            None,
            "only the energy driver's fields"
        );
        assert_eq!(
            unit("AM2301.Temperature", &none),
            None,
            "no TempUnit, no guess"
        );
        let celsius = |n: &str| (n == "TempUnit").then_some("C");
        assert_eq!(unit("AM2301.Temperature", &celsius), Some("°C"));
        let nested = |n: &str| (n == "StatusSNS.TempUnit").then_some("F");
        assert_eq!(unit("StatusSNS.DS18B20.Temperature", &nested), Some("°F"));
        let odd = |_: &str| Some("K");
        assert_eq!(unit("AM2301.Temperature", &odd), None);
        assert_eq!(unit("AM2301.Humidity", &none), Some("%"));
    }

    #[test]
    fn results_and_plain_stat_topics_name_commands() {
        let out = run("stat/plug0/RESULT", br#"{"POWER":"ON","Dimmer":40}"#);
        assert_eq!(values(&out), pairs(&[("POWER", "true"), ("Dimmer", "40")]));
        assert_eq!(
            commands(&out),
            [
                ("POWER", "cmnd/plug0/POWER"),
                ("Dimmer", "cmnd/plug0/Dimmer")
            ]
        );
        let out = run("stat/plug0/POWER", b"OFF");
        assert_eq!(values(&out), pairs(&[("POWER", "false")]));
    }

    #[test]
    fn other_topics_are_not_tasmota() {
        let l = Layouts::default();
        for topic in [
            "cmnd/plug0/POWER",
            "tele/plug0",
            "tele/plug0/SENSOR/x",
            "tele//SENSOR",
            "tele/plug0/",
            "plug0/tele/SENSOR",
        ] {
            assert!(!claims(topic, &l), "{topic}");
        }
    }

    #[test]
    fn malformed_json_is_an_error() {
        let out = run("tele/plug0/SENSOR", b"{\"ENERGY\":");
        assert!(matches!(out.events[..], [Event::Error(_)]));
        assert!(out.values.is_empty());
    }

    #[test]
    fn every_relay_a_state_names_is_a_command_the_result_confirms() {
        let out = run(
            "tele/strip/STATE",
            br#"{"POWER1":"ON","POWER2":"OFF","POWER12":"OFF","POWER33":"ON","Dimmer":40}"#,
        );
        let got: Vec<(&str, Option<&str>, &Accepts)> = out
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Command(c) => Some((&*c.name, c.confirms.as_deref(), &c.accepts)),
                _ => None,
            })
            .collect();
        let dimmer = Accepts::Integer {
            min: Some(0),
            max: Some(100),
        };
        let on_off = Accepts::on_off();
        assert_eq!(
            got,
            [
                ("POWER1", Some("POWER1"), &on_off),
                ("POWER2", Some("POWER2"), &on_off),
                ("POWER12", Some("POWER12"), &on_off),
                ("Dimmer", Some("Dimmer"), &dimmer)
            ],
            "Tasmota has 32 relays at most"
        );
    }
}
