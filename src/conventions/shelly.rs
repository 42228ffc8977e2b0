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
