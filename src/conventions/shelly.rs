//! Shelly Gen2+: `<id>/online` (`true`/`false`), `<id>/status/<component>` (JSON status of
//! `switch:0`, `sys`, ...) and `<id>/events/rpc` (`NotifyStatus` notifications). Commands
//! are RPC requests on `<id>/rpc`.
//!
//! Metrics of a component's first instance (`switch:0`) keep the device's own names
//! (`apower`, `temperature.tC`); other components are prefixed (`switch:1.apower`,
//! `sys.uptime`) so two switches never share a metric.

//!
//! A custom `mqtt.topic_prefix` may span levels (`home/plug`); such a prefix is learned
//! (`super::layout`) from an `events/rpc` notification (`src`, a `Notify…` method), or
//! from its `online` (`true`/`false`) together with a component's JSON status, and the
//! prefix is the device's key as the default one (the device id) is.

use super::layout::Layouts;
use super::{Accepts, CommandDescriptor, CommandKind, Event, Output, online_word, quote};

/// What follows a device's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'t> {
    Online,
    Status(&'t str),
    Rpc,
}

/// A topic's prefix and kind, if it has one of a Shelly's forms.
fn parts(topic: &str) -> Option<(&str, Kind<'_>)> {
    let (prefix, kind) = if let Some(p) = topic.strip_suffix("/online") {
        (p, Kind::Online)
    } else if let Some(p) = topic.strip_suffix("/events/rpc") {
        (p, Kind::Rpc)
    } else {
        let (p, component) = topic.rsplit_once("/status/")?;
        if component.is_empty() || component.contains('/') {
            return None;
        }
        (p, Kind::Status(component))
    };
    (!prefix.split('/').any(str::is_empty)).then_some((prefix, kind))
}

/// A device's message: under a one-level prefix (the default, the device id) or a
/// learned one.
fn split<'t>(topic: &'t str, layouts: &Layouts) -> Option<(&'t str, Kind<'t>)> {
    let (prefix, kind) = parts(topic)?;
    (!prefix.contains('/') || layouts.shelly_prefix(prefix)).then_some((prefix, kind))
}

/// What a topic under a prefix of more than one level shows of a Shelly: a notification
/// is enough (`Rpc`); `online` and a status each show half.
pub fn evidence<'t>(topic: &'t str, payload: &[u8]) -> Option<(&'t str, Kind<'t>)> {
    let (prefix, kind) = parts(topic)?;
    if !prefix.contains('/') || prefix.starts_with('$') {
        return None;
    }
    let shown = match kind {
        Kind::Online => matches!(payload, b"true" | b"false"),
        Kind::Status(component) => {
            let (name, n) = component.split_once(':').unwrap_or((component, "0"));
            !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(payload)
                    .is_ok()
        }
        Kind::Rpc => {
            #[derive(serde::Deserialize)]
            struct Notification {
                src: String,
                method: String,
            }
            serde_json::from_slice::<Notification>(payload)
                .is_ok_and(|n| !n.src.is_empty() && n.method.starts_with("Notify"))
        }
    };
    shown.then_some((prefix, kind))
}

/// The prefix of a topic in one of a Shelly's forms.
pub fn prefix_of(topic: &str) -> Option<&str> {
    parts(topic).map(|(prefix, _)| prefix)
}

pub fn claims(topic: &str, layouts: &Layouts) -> bool {
    split(topic, layouts).is_some()
}

pub fn decode(topic: &str, layouts: &Layouts, payload: &[u8], out: &mut Output) {
    let Some((id, kind)) = split(topic, layouts) else {
        return;
    };
    out.device.push_str(id);
    match kind {
        Kind::Online => match online_word(payload) {
            Some(online) => out.events.push(Event::Online(online)),
            None => out.events.push(Event::Error(format!(
                "online payload `{}` is neither true nor false",
                quote(payload)
            ))),
        },
        Kind::Status(component) => {
            out.json(payload, prefix(component));
            if !out.values.is_empty()
                && let Some(command) = switch_command(id, component)
            {
                out.events.push(command);
            }
        }
        Kind::Rpc => notify_status(payload, out),
    }
}

/// A component's `id` repeats its topic's `:<n>`: not a metric.
pub fn ignored(metric: &str) -> bool {
    metric == "id" || metric.ends_with(".id")
}

/// The unit Shelly's Gen2 API fixes for a status field, in any component
/// (`switch:1.apower` is W like `apower`) and any phase of a meter (`a_act_power`,
/// `total_act_power`).
pub fn unit(metric: &str) -> Option<&'static str> {
    // Metrics of a component other than the first instance carry its name first.
    let field = match metric.split_once('.') {
        Some((component, rest)) if component.contains(':') || SINGLETONS.contains(&component) => {
            rest
        }
        _ => metric,
    };
    // History arrays (`aenergy.by_minute.0`) name their entries by index.
    let field = match field.rsplit_once('.') {
        Some((head, last)) if last.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => field,
    };
    let field = ["a_", "b_", "c_", "n_", "total_"]
        .iter()
        .find_map(|phase| field.strip_prefix(phase))
        .unwrap_or(field);
    Some(match field {
        "apower" | "act_power" => "W",
        "aprt_power" => "VA",
        "voltage" | "battery.V" => "V",
        "current" => "A",
        "freq" => "Hz",
        "aenergy.total"
        | "ret_aenergy.total"
        // EMData: `a_total_act_energy`, `total_act` (all phases).
        | "total_act_energy"
        | "total_act_ret_energy"
        | "act"
        | "act_ret" => "Wh",
        "aenergy.by_minute" | "ret_aenergy.by_minute" => "mWh",
        "temperature.tC" | "tC" => "°C",
        "temperature.tF" | "tF" => "°F",
        "rh" | "battery.percent" | "current_pos" | "target_pos" => "%",
        "lux" => "lx",
        "uptime" => "s",
        "rssi" => "dBm",
        _ => return None,
    })
}

/// Components of which a device has one, named without `:<n>` (`sys.uptime`).
const SINGLETONS: &[&str] = &["sys", "wifi", "eth", "cloud", "mqtt", "ble", "ws"];

fn prefix(component: &str) -> &str {
    if component.ends_with(":0") {
        ""
    } else {
        component
    }
}

/// `Switch.Set` for a `switch:<n>` component: `Switch.Set` for the first, `Switch.Set:<n>`
/// for the others (a Pro 4PM's four channels are four commands).
fn switch_command(id: &str, component: &str) -> Option<Event> {
    let channel: u32 = component.strip_prefix("switch:")?.parse().ok()?;
    let name = match channel {
        0 => "Switch.Set".to_string(),
        n => format!("Switch.Set:{n}"),
    };
    Some(Event::Command(CommandDescriptor {
        // The RPC's own reply settles it.
        confirms: None,
        name: name.into(),
        topic: format!("{id}/rpc").into(),
        kind: CommandKind::ShellyRpc {
            method: "Switch.Set".into(),
            channel,
        },
        accepts: Accepts::boolean(),
    }))
}

/// `{"method":"NotifyStatus","params":{"ts":…,"switch:0":{"apower":…}}}`: each component's
/// partial status, named as on its status topic. Other notifications carry no metrics.
fn notify_status(payload: &[u8], out: &mut Output) {
    #[derive(serde::Deserialize)]
    struct Notification {
        method: String,
        #[serde(default)]
        params: serde_json::Map<String, serde_json::Value>,
    }
    let n: Notification = match serde_json::from_slice(payload) {
        Ok(n) => n,
        Err(e) => {
            out.events
                .push(Event::Error(format!("malformed RPC notification: {e}")));
            return;
        }
    };
    if n.method != "NotifyStatus" && n.method != "NotifyFullStatus" {
        return;
    }
    let mut decoded = crate::decode::Scratch::default();
    for (component, status) in &n.params {
        if !status.is_object() {
            continue;
        }
        if let Some(command) = switch_command(&out.device, component) {
            out.events.push(command);
        }
        let Ok(bytes) = serde_json::to_vec(status) else {
            continue;
        };
        decoded.path.clear();
        decoded.path.push_str(prefix(component));
        if crate::decode::json::decode(&bytes, &mut decoded).is_err() {
            continue;
        }
    }
    decoded.path.clear();
    out.values = decoded;
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
    fn a_custom_prefix_is_learned_from_what_a_shelly_shows() {
        let c = Default::default();
        let mut l = Layouts::default();
        assert!(!claims("home/plug/online", &l));
        assert_eq!(l.learn(&c, "home/plug/online", b"true"), None, "half");
        assert!(
            l.learn(&c, "home/plug/status/sys", br#"{"uptime":5}"#)
                .is_some()
        );
        let out = run_in(&l, "home/plug/status/switch:0", br#"{"id":0,"apower":3.5}"#);
        assert_eq!(out.device, "home/plug");
        assert!(matches!(&out.events[..], [Event::Command(c)] if &*c.topic == "home/plug/rpc"));
        let rpc =
            br#"{"src":"shellyplus1pm-a8","dst":"x/y/events","method":"NotifyStatus","params":{}}"#;
        assert!(
            l.learn(&c, "x/y/events/rpc", rpc).is_some(),
            "a notification is enough"
        );
        assert!(claims("x/y/online", &l));
        for (topic, payload) in [
            ("a/b/online", &b"online"[..]),
            ("a/b/status/Switch:0", br#"{}"#),
            ("a/b/status/switch:x", br#"{}"#),
            ("a/b/status/sys", b"42"),
            ("a/b/events/rpc", br#"{"src":"s","method":"Switch.Set"}"#),
            ("a/b/events/rpc", br#"{"method":"NotifyStatus"}"#),
            ("$SYS/b/online", b"true"),
            ("a//online", b"true"),
        ] {
            assert_eq!(evidence(topic, payload), None, "{topic}");
        }
        assert!(!claims("a/b/status/sys", &l));
    }

    #[test]
    fn online_and_switch_status() {
        let out = run("shellyplus1pm-a0/online", b"true");
        assert_eq!(out.device, "shellyplus1pm-a0");
        assert_eq!(out.events, [Event::Online(true)]);
        let out = run(
            "shellyplus1pm-a0/status/switch:0",
            br#"{"id":0,"output":true,"apower":100.5,"temperature":{"tC":48.2}}"#,
        );
        assert_eq!(
            values(&out),
            pairs(&[
                ("id", "0"),
                ("output", "true"),
                ("apower", "100.5"),
                ("temperature.tC", "48.2")
            ])
        );
        assert!(
            matches!(&out.events[..], [Event::Command(c)] if &*c.topic == "shellyplus1pm-a0/rpc")
        );
        let out = run("s/status/switch:1", br#"{"apower":1}"#);
        assert_eq!(values(&out), pairs(&[("switch:1.apower", "1")]));
    }

    #[test]
    fn the_api_fixes_units_in_every_component_and_phase() {
        for (metric, want) in [
            ("apower", Some("W")),
            ("switch:1.apower", Some("W")),
            ("voltage", Some("V")),
            ("current", Some("A")),
            ("aenergy.total", Some("Wh")),
            ("aenergy.by_minute.2", Some("mWh")),
            ("temperature.tC", Some("°C")),
            ("switch:3.temperature.tF", Some("°F")),
            ("em:0.a_act_power", Some("W")),
            ("em:0.total_aprt_power", Some("VA")),
            ("em:0.n_current", Some("A")),
            ("emdata:0.a_total_act_energy", Some("Wh")),
            ("sys.uptime", Some("s")),
            ("wifi.rssi", Some("dBm")),
            ("pf", None),
            ("output", None),
            ("aenergy.minute_ts", None),
        ] {
            assert_eq!(unit(metric), want, "{metric}");
        }
    }

    #[test]
    fn notify_status_updates_components() {
        let out = run(
            "s/events/rpc",
            br#"{"src":"s","dst":"s/events","method":"NotifyStatus","params":{"ts":1.5,"switch:0":{"apower":7},"sys":{"uptime":9}}}"#,
        );
        let mut got = values(&out);
        got.sort();
        assert_eq!(got, pairs(&[("apower", "7"), ("sys.uptime", "9")]));
        let out = run("s/events/rpc", b"{oops");
        assert!(matches!(out.events[..], [Event::Error(_)]));
    }

    #[test]
    fn other_topics_are_not_shelly() {
        let l = Layouts::default();
        assert!(!claims("a/b/c", &l));
        assert!(!claims("/online", &l));
        assert!(!claims("a/status/x/y", &l));
        assert!(
            !claims("a/b/online", &l),
            "a prefix of two levels is learned"
        );
    }

    #[test]
    fn every_switch_channel_is_a_command() {
        let names = |out: &Output| -> Vec<(String, CommandKind)> {
            out.events
                .iter()
                .filter_map(|e| match e {
                    Event::Command(c) => Some((c.name.to_string(), c.kind.clone())),
                    _ => None,
                })
                .collect()
        };
        let rpc = |channel| CommandKind::ShellyRpc {
            method: "Switch.Set".into(),
            channel,
        };
        let out = run("pro4pm/status/switch:3", br#"{"id":3,"output":false}"#);
        assert_eq!(names(&out), [("Switch.Set:3".to_string(), rpc(3))]);
        let out = run(
            "pro4pm/events/rpc",
            br#"{"src":"pro4pm","method":"NotifyStatus","params":{"switch:1":{"output":true},"switch:2":{"output":true},"sys":{"uptime":1}}}"#,
        );
        assert_eq!(
            names(&out),
            [
                ("Switch.Set:1".to_string(), rpc(1)),
                ("Switch.Set:2".to_string(), rpc(2))
            ]
        );
        assert!(names(&run("pro4pm/status/cover:0", br#"{"id":0}"#)).is_empty());
    }
}
