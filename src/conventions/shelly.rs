//! Shelly Gen2+: `<id>/online` (`true`/`false`), `<id>/status/<component>` (JSON status of
//! `switch:0`, `sys`, ...) and `<id>/events/rpc` (`NotifyStatus` notifications). Commands
//! are RPC requests on `<id>/rpc`.
//!
//! Metrics of a component's first instance (`switch:0`) keep the device's own names
//! (`apower`, `temperature.tC`); other components are prefixed (`switch:1.apower`,
//! `sys.uptime`) so two switches never share a metric.

use super::{CommandDescriptor, CommandKind, Event, Output, online_word, quote};

pub fn claims(topic: &str) -> bool {
    let levels: Vec<&str> = topic.splitn(4, '/').collect();
    match levels[..] {
        [id, "online"] => !id.is_empty(),
        [id, "status", component] => !id.is_empty() && !component.is_empty(),
        [id, "events", "rpc"] => !id.is_empty(),
        _ => false,
    }
}

pub fn decode(topic: &str, payload: &[u8], out: &mut Output) {
    let levels: Vec<&str> = topic.splitn(4, '/').collect();
    let Some(&id) = levels.first() else { return };
    out.device.push_str(id);
    match levels[..] {
        [_, "online"] => match online_word(payload) {
            Some(online) => out.events.push(Event::Online(online)),
            None => out.events.push(Event::Error(format!(
                "online payload `{}` is neither true nor false",
                quote(payload)
            ))),
        },
        [_, "status", component] => {
            out.json(payload, prefix(component));
            if component.starts_with("switch:") && !out.values.is_empty() {
                out.events.push(switch_command(id));
            }
        }
        [_, "events", "rpc"] => notify_status(payload, out),
        _ => {}
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

fn switch_command(id: &str) -> Event {
    Event::Command(CommandDescriptor {
        name: "Switch.Set".into(),
        topic: format!("{id}/rpc").into(),
        kind: CommandKind::ShellyRpc {
            method: "Switch.Set".into(),
        },
    })
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
        crate::conventions::testutil::run(claims, decode, topic, payload)
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
        assert!(!claims("a/b/c"));
        assert!(!claims("/online"));
        assert!(!claims("a/status/x/y"));
    }
}
