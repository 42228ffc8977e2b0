//! `fleetop snapshot`: the fleet at one moment, as a table for people or JSON for scripts.

use crate::fleet::{Device, MetricValue};
use crate::sanitize;
use crate::text::{age, rfc3339};
use crate::view::CoreView;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub taken_at: String,
    pub connections: Vec<ConnectionView>,
    pub totals: Totals,
    pub devices: Vec<DeviceView>,
    pub unmapped_topics: usize,
    pub unmapped: Vec<UnmappedView>,
    pub counters: crate::fleet::Counters,
}

#[derive(Debug, Serialize)]
pub struct ConnectionView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub state: String,
    pub messages: u64,
    pub dropped: u64,
    /// What the broker itself says it dropped (Mosquitto's `$SYS` counter, for all its
    /// clients), where it says so: loss outside fleetop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_dropped: Option<u64>,
    /// Clients connected to the broker, and messages it received and sent a second, as its
    /// `$SYS` topics say (see [`crate::broker`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_clients: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_received_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_sent_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    pub devices: usize,
    pub online: usize,
    pub stale: usize,
    pub offline: usize,
    pub unknown: usize,
    pub msg_per_s: f64,
}

#[derive(Debug, Serialize)]
pub struct DeviceView {
    pub id: String,
    /// The name the device gives itself (conventions), when it differs from its id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The device it reaches the broker through (conventions: edge node, bridge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    pub fleet: String,
    pub broker: String,
    pub status: String,
    pub last_seen: String,
    pub age_s: f64,
    pub labels: BTreeMap<String, String>,
    pub messages: u64,
    pub decode_errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub metrics: BTreeMap<String, MetricView>,
    /// Sparkplug: why this node should be asked for a rebirth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebirth_needed: Option<String>,
    /// Commands the device's convention says it accepts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandView>,
}

#[derive(Debug, Serialize)]
pub struct CommandView {
    pub name: String,
    pub topic: String,
}

#[derive(Debug, Serialize)]
pub struct MetricView {
    pub value: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datatype: Option<String>,
    pub updated: String,
}

#[derive(Debug, Serialize)]
pub struct UnmappedView {
    pub broker: String,
    pub topic: String,
    pub messages: u64,
    pub last_payload: String,
}

/// Everything that a snapshot shows, with device strings already made safe.
pub fn build(view: &CoreView) -> Snapshot {
    let state = view.state;
    let now = view.now_ms;
    let counts = state.status_counts();
    let conn_name = |c: crate::vocab::ConnId| {
        state
            .connections
            .get(c.index())
            .map_or("?".to_string(), |c| c.name.clone())
    };
    let mut devices: Vec<&Device> = state.devices.iter().collect();
    devices.sort_by(|a, b| (state.fleet_name(a), &a.name).cmp(&(state.fleet_name(b), &b.name)));
    Snapshot {
        taken_at: rfc3339(now),
        connections: state
            .connections
            .iter()
            .zip(view.conns)
            .map(|(c, label)| ConnectionView {
                name: c.name.clone(),
                url: label.url.clone(),
                state: c.state.to_string(),
                messages: c.messages,
                dropped: c.dropped,
                broker_dropped: c.broker.dropped(),
                broker_clients: c.broker.clients(),
                broker_received_per_s: c.broker.received_per_s().map(tenths),
                broker_sent_per_s: c.broker.sent_per_s().map(tenths),
                notice: c.notice.as_ref().map(|(_, m)| m.clone()),
            })
            .collect(),
        totals: Totals {
            devices: state.devices.len(),
            online: counts[0],
            stale: counts[1],
            offline: counts[2],
            unknown: counts[3],
            msg_per_s: (view.msg_rate * 10.0).round() / 10.0,
        },
        devices: devices
            .into_iter()
            .map(|d| {
                let facts = d.facts.as_deref();
                DeviceView {
                    id: sanitize::text(&d.name).into_owned(),
                    name: facts
                        .and_then(|f| f.display_name.as_deref())
                        .map(|n| sanitize::text(n).into_owned()),
                    gateway: state
                        .gateway_of(d)
                        .map(|g| sanitize::text(&g.name).into_owned()),
                    rebirth_needed: facts
                        .and_then(|f| f.rebirth_needed.as_deref())
                        .map(str::to_string),
                    commands: facts.map_or_else(Vec::new, |f| {
                        f.commands
                            .iter()
                            .map(|c| CommandView {
                                name: sanitize::text(&c.name).into_owned(),
                                topic: sanitize::text(&c.topic).into_owned(),
                            })
                            .collect()
                    }),
                    fleet: state.fleet_name(d).to_string(),
                    broker: conn_name(d.conn),
                    status: d.status.to_string(),
                    last_seen: rfc3339(d.last_seen_ms),
                    age_s: ((now - d.last_seen_ms).max(0) as f64 / 100.0).round() / 10.0,
                    labels: d
                        .labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), sanitize::text(v).into_owned()))
                        .collect(),
                    messages: d.messages,
                    decode_errors: d.decode_errors,
                    last_error: d.last_error.as_ref().map(|e| {
                        format!(
                            "{} (on {})",
                            sanitize::text(&e.message),
                            sanitize::text(&e.topic)
                        )
                    }),
                    metrics: d
                        .metrics
                        .iter()
                        .map(|m| {
                            let value = match &m.value {
                                MetricValue::Number(n) => serde_json::json!(n),
                                MetricValue::Bool(b) => serde_json::json!(b),
                                MetricValue::Text(t) => serde_json::json!(sanitize::text(t)),
                            };
                            let unit = state
                                .unit(d, &m.name)
                                .map(|u| sanitize::text(u).into_owned());
                            let datatype = facts
                                .and_then(|f| f.metric(&m.name))
                                .and_then(|f| f.datatype.as_deref())
                                .map(|t| sanitize::text(t).into_owned());
                            (
                                sanitize::text(&m.name).into_owned(),
                                MetricView {
                                    value,
                                    unit,
                                    datatype,
                                    updated: rfc3339(m.updated_ms),
                                },
                            )
                        })
                        .collect(),
                }
            })
            .collect(),
        unmapped_topics: state.unmapped.len(),
        unmapped: state
            .unmapped
            .iter()
            .map(|u| UnmappedView {
                broker: conn_name(u.conn),
                topic: sanitize::text(&u.topic).into_owned(),
                messages: u.messages,
                last_payload: sanitize::truncate(&sanitize::payload(&u.last_payload), 200)
                    .into_owned(),
            })
            .collect(),
        counters: state.counters.clone(),
    }
}

/// The human form: connections, totals, then one line per device.
pub fn table(s: &Snapshot) -> String {
    let mut out = String::new();
    for c in &s.connections {
        let _ = write!(out, "broker {} ", c.name);
        if let Some(u) = &c.url {
            let _ = write!(out, "({u}) ");
        }
        let _ = write!(
            out,
            "{} · {} msgs · {} dropped",
            c.state, c.messages, c.dropped
        );
        if let Some(n) = c.broker_clients {
            let _ = write!(out, " · {n} clients on the broker");
        }
        if let (Some(rx), Some(tx)) = (c.broker_received_per_s, c.broker_sent_per_s) {
            let _ = write!(out, " · it receives {rx}/s, sends {tx}/s");
        }
        if let Some(n) = c.broker_dropped {
            let _ = write!(out, " · the broker says it dropped {n}");
        }
        let _ = writeln!(out);
        if let Some(n) = &c.notice {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    let t = &s.totals;
    let _ = writeln!(
        out,
        "{} devices: {} online, {} stale, {} offline, {} unknown · {} unmapped topics · {} decode errors",
        t.devices,
        t.online,
        t.stale,
        t.offline,
        t.unknown,
        s.unmapped_topics,
        s.counters.decode_errors
    );
    if s.devices.is_empty() {
        out.push_str("no devices yet");
        if s.unmapped_topics > 0 {
            out.push_str(
                ": every topic seen is unmapped; add a [[fleet]] for it (see config.example.toml)",
            );
        }
        out.push('\n');
    } else {
        device_rows(&mut out, s);
    }
    unmapped_rows(&mut out, s);
    out
}

/// The busiest unmapped topics, so a user sees what to map.
fn unmapped_rows(out: &mut String, s: &Snapshot) {
    const SHOWN: usize = 20;
    if s.unmapped.is_empty() {
        return;
    }
    let mut rows: Vec<&UnmappedView> = s.unmapped.iter().collect();
    rows.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| a.topic.cmp(&b.topic))
    });
    let _ = writeln!(
        out,
        "\nUNMAPPED TOPICS ({} in all{})",
        s.unmapped_topics,
        if rows.len() > SHOWN {
            ", busiest 20"
        } else {
            ""
        }
    );
    let w = rows
        .iter()
        .take(SHOWN)
        .map(|u| u.topic.chars().count())
        .max()
        .unwrap_or(5)
        .min(60);
    for u in rows.into_iter().take(SHOWN) {
        let _ = writeln!(
            out,
            "{:<w$}  {:>6}  {}",
            sanitize::truncate(&u.topic, w),
            u.messages,
            sanitize::truncate(&u.last_payload, 60)
        );
    }
}

fn device_rows(out: &mut String, s: &Snapshot) {
    let w_id = s
        .devices
        .iter()
        .map(|d| d.id.chars().count())
        .max()
        .unwrap_or(6)
        .clamp(6, 32);
    let w_fleet = s
        .devices
        .iter()
        .map(|d| d.fleet.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 16);
    let _ = writeln!(
        out,
        "\n{:<w_id$}  {:<w_fleet$}  {:<8} {:>5}  METRICS",
        "DEVICE", "FLEET", "STATUS", "SEEN"
    );
    for d in &s.devices {
        let metrics: Vec<String> = d
            .metrics
            .iter()
            .map(|(k, m)| {
                let v = match &m.value {
                    serde_json::Value::Number(n) => n
                        .as_f64()
                        .map_or_else(|| n.to_string(), crate::fleet::device::format_number),
                    serde_json::Value::Bool(b) => if *b { "on" } else { "off" }.into(),
                    serde_json::Value::String(t) => sanitize::truncate(t, 24).into_owned(),
                    other => other.to_string(),
                };
                format!("{k}={v}{}", m.unit.as_deref().unwrap_or(""))
            })
            .collect();
        let mut line = format!(
            "{:<w_id$}  {:<w_fleet$}  {:<8} {:>5}  {}",
            sanitize::truncate(&d.id, w_id),
            d.fleet,
            d.status,
            age((d.age_s * 1000.0) as i64),
            metrics.join(" ")
        );
        if d.decode_errors > 0 {
            let _ = write!(line, "  [{} decode errors]", d.decode_errors);
        }
        out.push_str(sanitize::truncate(&line, 400).as_ref());
        out.push('\n');
    }
}

/// A rate to a tenth, as people read it.
fn tenths(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
