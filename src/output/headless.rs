//! `--headless`: one JSON object per line on stdout, for jq and scripts.
//!
//! Every line has `type` and `at` (RFC 3339). Types: `device_appeared`, `device_joined`,
//! `status_changed`, `connection`, `notice`, `alert`, `hook`, `stats`, and `output_dropped`
//! (lines this reader did not take in time, counted). Device strings are sanitised like everywhere else.

use crate::fleet::FleetEvent;
use crate::sanitize;
use crate::text::rfc3339;
use crate::view::CoreView;
use serde_json::{Value, json};

/// The JSON line for a fleet event.
pub fn event(view: &CoreView, ev: &FleetEvent) -> Value {
    let state = view.state;
    match ev {
        FleetEvent::DeviceAppeared { device, at_ms } => {
            let d = &state.devices[(*device).index()];
            json!({
                "type": "device_appeared",
                "at": rfc3339(*at_ms),
                "device": sanitize::text(&d.name),
                "fleet": state.fleet_name(d),
                "broker": conn_name(view, d.conn),
                "labels": d.labels.iter().map(|(k, v)| (k.to_string(), json!(sanitize::text(v)))).collect::<serde_json::Map<_, _>>(),
            })
        }
        FleetEvent::DeviceJoined {
            device,
            from,
            at_ms,
        } => {
            let d = &state.devices[(*device).index()];
            json!({
                "type": "device_joined",
                "at": rfc3339(*at_ms),
                "device": sanitize::text(&d.name),
                "fleet": state.fleet_name(d),
                "from": state.mapper.fleets.get(*from as usize).map_or("?", |f| f.name.as_str()),
                "broker": conn_name(view, d.conn),
            })
        }
        FleetEvent::StatusChanged {
            device,
            from,
            to,
            at_ms,
        } => {
            let d = &state.devices[(*device).index()];
            json!({
                "type": "status_changed",
                "at": rfc3339(*at_ms),
                "device": sanitize::text(&d.name),
                "fleet": state.fleet_name(d),
                "broker": conn_name(view, d.conn),
                "from": from,
                "to": to,
            })
        }
        FleetEvent::LinkChanged {
            conn,
            state: link,
            at_ms,
        } => json!({
            "type": "connection",
            "at": rfc3339(*at_ms),
            "broker": conn_name(view, *conn),
            "state": link.to_string(),
        }),
        FleetEvent::Notice {
            conn,
            message,
            at_ms,
        } => json!({
            "type": "notice",
            "at": rfc3339(*at_ms),
            "broker": conn_name(view, *conn),
            "message": message,
        }),
    }
}

/// An alert transition (`pending`, `firing`, `resolved`, `flapping`).
pub fn alert(t: &crate::alerts::Transition) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("type".into(), json!("alert"));
        o.insert("at".into(), json!(rfc3339(t.at_ms)));
        o.remove("at_ms");
    }
    v
}

/// A hook run that failed, timed out or was skipped.
pub fn hook(message: &str, at_ms: i64) -> Value {
    json!({
        "type": "hook",
        "at": rfc3339(at_ms),
        "message": message,
    })
}

/// Lines the reader did not take in time (the output queue was full), said on the first
/// line it takes again.
pub fn output_dropped(lines: u64, at_ms: i64) -> Value {
    json!({
        "type": "output_dropped",
        "at": rfc3339(at_ms),
        "lines": lines,
    })
}

/// Periodic figures: rate, drops, totals.
pub fn stats(view: &CoreView) -> Value {
    let s = view.state;
    let [online, stale, offline, unknown] = s.status_counts();
    json!({
        "type": "stats",
        "at": rfc3339(view.now_ms),
        "messages": s.counters.messages,
        "msg_per_s": (view.msg_rate * 10.0).round() / 10.0,
        "dropped": view.dropped,
        // The brokers' own counts of messages they dropped (all their clients), where
        // they publish one.
        // null where no broker says.
        "broker_dropped": s.connections.iter().filter_map(|c| c.broker.dropped()).reduce(|a, b| a + b),
        "devices": s.devices.len(),
        "online": online,
        "stale": stale,
        "offline": offline,
        "unknown": unknown,
        "decode_errors": s.counters.decode_errors,
        "unmapped_topics": s.unmapped.len(),
        "refused": {
            "topic_too_long": s.counters.refused_topic_too_long,
            "bad_topic": s.counters.refused_bad_topic,
            "payload_too_big": s.counters.refused_payload_too_big,
            "device_cap": s.counters.refused_device_cap,
            "guessed_cap": s.counters.refused_guessed_cap,
            "metric_cap": s.counters.refused_metric_cap,
            "unmapped_cap": s.counters.refused_unmapped_cap,
        },
        "evicted_guessed": s.counters.evicted_guessed,
    })
}

fn conn_name(view: &CoreView, conn: crate::vocab::ConnId) -> String {
    view.state
        .connections
        .get(conn.index())
        .map_or_else(|| "?".into(), |c| c.name.clone())
}
