//! Sparkplug B (3.0, Eclipse Tahu protobuf): `spBv1.0/<group>/<type>/<edge node>[/<device>]`
//! and host applications' `spBv1.0/STATE/<host id>` (B 2.2: `STATE/<host id>`).
//!
//! NBIRTH/DBIRTH define metrics (names, aliases, datatypes, units from the `engUnit`
//! property); NDATA/DDATA carry values by name or alias; NDEATH/DDEATH take nodes and
//! devices offline (an NDEATH takes all of its node's devices, and one whose bdSeq is not
//! the current session's is ignored as stale). Per-node `seq` gaps are counted. Data fleetop
//! cannot place (an alias never born, data before a birth) is counted and marks the node as
//! needing a rebirth; asking for it (NCMD `Node Control/Rebirth`) is a command.
//!
//! The state kept here (births, sequence numbers) is keyed by the fleet's device ids and
//! bounded by the device and metric caps.

pub mod proto;
mod values;

use super::{Accepts, CommandDescriptor, CommandKind, MetricFacts};
use crate::decode::Value;
use crate::vocab::DeviceId;
use prost::Message as _;
use proto::{Payload, datatype};
use std::collections::HashMap;
use values::emit;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Births of mqtt-spb-wrapper name data metrics `DATA/<name>` while its data messages use
/// the bare name: such metrics are shown by the bare name.
const DATA_FOLDER: &str = "DATA/";
/// ...and its commands `CMD/<name>`: those become commands, not metrics.
const COMMAND_FOLDER: &str = "CMD/";
/// Birth metrics a node publishes to be controlled (`Node Control/Rebirth`...).
const NODE_CONTROL: &str = "Node Control/";
const REBIRTH: &str = "Node Control/Rebirth";
/// Commands one birth may offer (the device's command cap applies after).
const MAX_BIRTH_COMMANDS: usize = 64;

/// A Sparkplug message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NBirth,
    NDeath,
    NData,
    NCmd,
    DBirth,
    DDeath,
    DData,
    DCmd,
    /// A host application's online state.
    State,
}

/// A parsed Sparkplug topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic<'a> {
    pub kind: Kind,
    /// Group id (empty for STATE).
    pub group: &'a str,
    /// Edge node id, or the host application id for STATE.
    pub node: &'a str,
    pub device: Option<&'a str>,
}

impl Topic<'_> {
    /// The key of the device a message is about, unique among Sparkplug devices.
    pub fn device_key(&self) -> String {
        match (self.kind, self.device) {
            (Kind::State, _) => format!("host:{}", self.node),
            (_, Some(d)) => format!("{}/{}/{d}", self.group, self.node),
            (_, None) => self.node_key(),
        }
    }

    /// The key of the edge node (the gateway of its devices).
    pub fn node_key(&self) -> String {
        format!("{}/{}", self.group, self.node)
    }
}

pub fn parse_topic(topic: &str) -> Option<Topic<'_>> {
    // Without allocating: this runs for every message.
    let mut buf = [""; 6];
    let mut n = 0;
    for level in topic.split('/') {
        if n == buf.len() {
            return None;
        }
        buf[n] = level;
        n += 1;
    }
    let levels = &buf[..n];
    let kind = |k: &str| {
        Some(match k {
            "NBIRTH" => Kind::NBirth,
            "NDEATH" => Kind::NDeath,
            "NDATA" => Kind::NData,
            "NCMD" => Kind::NCmd,
            "DBIRTH" => Kind::DBirth,
            "DDEATH" => Kind::DDeath,
            "DDATA" => Kind::DData,
            "DCMD" => Kind::DCmd,
            _ => return None,
        })
    };
    let ok = |s: &str| !s.is_empty();
    match *levels {
        ["spBv1.0", "STATE", host] | ["STATE", host] if ok(host) => Some(Topic {
            kind: Kind::State,
            group: "",
            node: host,
            device: None,
        }),
        ["spBv1.0", group, k, node] if ok(group) && ok(node) => {
            let kind = kind(k)?;
            matches!(kind, Kind::NBirth | Kind::NDeath | Kind::NData | Kind::NCmd).then_some(
                Topic {
                    kind,
                    group,
                    node,
                    device: None,
                },
            )
        }
        ["spBv1.0", group, k, node, device] if ok(group) && ok(node) && ok(device) => {
            let kind = kind(k)?;
            matches!(kind, Kind::DBirth | Kind::DDeath | Kind::DData | Kind::DCmd).then_some(
                Topic {
                    kind,
                    group,
                    node,
                    device: Some(device),
                },
            )
        }
        _ => None,
    }
}

pub fn claims(topic: &str) -> bool {
    parse_topic(topic).is_some()
}

/// Decodes a Sparkplug B payload into `into` (cleared first, its buffers reused).
pub fn decode_payload(bytes: &[u8], into: &mut Payload) -> Result<(), String> {
    into.clear();
    into.merge(bytes)
        .map_err(|e| format!("malformed Sparkplug B payload: {e}"))
}

/// A host application's STATE: 3.0 JSON `{"online":true,…}` or 2.2 `ONLINE`/`OFFLINE`.
pub fn host_state(payload: &[u8]) -> Option<bool> {
    #[derive(serde::Deserialize)]
    struct State {
        online: bool,
    }
    if let Ok(s) = serde_json::from_slice::<State>(payload) {
        return Some(s.online);
    }
    match std::str::from_utf8(payload).ok()?.trim() {
        "ONLINE" => Some(true),
        "OFFLINE" => Some(false),
        _ => None,
    }
}

/// An NCMD/DCMD payload setting one metric (`Node Control/Rebirth` = `true` asks a node
/// for a rebirth). `value` is parsed per the metric's datatype.
pub fn command_payload(
    metric: &str,
    datatype: u32,
    value: &str,
    now_ms: i64,
) -> Result<Vec<u8>, String> {
    let v = value.trim();
    let bad = || format!("`{v}` is not a {} value", datatype::name(datatype));
    let value = match datatype {
        datatype::BOOLEAN => proto::Value::Boolean(crate::decode::bool_word(v).ok_or_else(bad)?),
        datatype::INT8 | datatype::INT16 | datatype::INT32 => {
            proto::Value::Int(v.parse::<i32>().map_err(|_| bad())? as u32)
        }
        datatype::UINT8 | datatype::UINT16 | datatype::UINT32 => {
            proto::Value::Int(v.parse::<u32>().map_err(|_| bad())?)
        }
        datatype::INT64 => proto::Value::Long(v.parse::<i64>().map_err(|_| bad())? as u64),
        datatype::UINT64 | datatype::DATETIME => {
            proto::Value::Long(v.parse::<u64>().map_err(|_| bad())?)
        }
        datatype::FLOAT => proto::Value::Float(v.parse::<f32>().map_err(|_| bad())?),
        datatype::DOUBLE => proto::Value::Double(v.parse::<f64>().map_err(|_| bad())?),
        datatype::STRING | datatype::TEXT | datatype::UUID => proto::Value::String(v.into()),
        other => {
            return Err(format!(
                "commands of datatype {} are not supported",
                datatype::name(other)
            ));
        }
    };
    let now = u64::try_from(now_ms).unwrap_or_default();
    Ok(Payload {
        timestamp: Some(now),
        metrics: vec![proto::Metric {
            name: Some(metric.into()),
            alias: None,
            timestamp: Some(now),
            datatype: Some(datatype),
            is_historical: None,
            is_null: None,
            properties: None,
            value: Some(value),
        }],
        seq: None,
        uuid: None,
    }
    .encode_to_vec())
}

/// One metric as a birth defined it.
#[derive(Debug, Clone)]
struct Born {
    /// The name shown: the birth's, less mqtt-spb-wrapper's `DATA/` folder.
    shown: Box<str>,
    datatype: u32,
}

/// The metrics a birth defined, for one node or device.
#[derive(Debug, Default)]
struct Birth {
    metrics: Vec<Born>,
    by_alias: Map<u64, u32>,
    by_name: Map<Box<str>, u32>,
}

impl Birth {
    fn find(&self, name: Option<&str>, alias: Option<u64>) -> Option<usize> {
        let by_name = name.and_then(|n| self.by_name.get(n));
        by_name
            .or_else(|| alias.and_then(|a| self.by_alias.get(&a)))
            .map(|&i| i as usize)
    }
}

/// Per-node session: the current bdSeq and the last seq.
#[derive(Debug, Default, Clone, Copy)]
struct NodeSession {
    bd_seq: Option<u64>,
    last_seq: Option<u64>,
}

/// What one message did besides its values, for the fleet state to apply.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    /// The message's device (node, device or host) is now online or offline.
    pub online: Option<bool>,
    /// An NDEATH: every device of the node goes offline too.
    pub node_death: bool,
    pub seq_gap: bool,
    /// Why the node should be asked for a rebirth.
    pub rebirth: Option<&'static str>,
    pub unknown_aliases: u64,
    /// Data (or a DBIRTH) before the birth that defines it.
    pub before_birth: bool,
    /// Units and datatypes defined by a birth.
    pub facts: Vec<MetricFacts>,
    pub commands: Vec<CommandDescriptor>,
    pub error: Option<String>,
    /// A death whose bdSeq is not the current session's: ignored.
    pub stale_death: bool,
}

/// Births and sequence numbers of every Sparkplug node and device seen.
#[derive(Debug, Default)]
pub struct Sessions {
    births: Map<DeviceId, Birth>,
    nodes: Map<DeviceId, NodeSession>,
    payload: Payload,
    /// Metrics a birth may define (`[limits] max_metrics_per_device`).
    max_metrics: usize,
}

impl Sessions {
    pub fn new(max_metrics: usize) -> Sessions {
        Sessions {
            max_metrics,
            ..Sessions::default()
        }
    }

    /// Applies one message of `topic` about `node` (and `device`, for D* messages). Values
    /// go to `sink(hint, name, value, sample time)`, where `hint` is the metric's position
    /// in its birth.
    pub fn apply(
        &mut self,
        topic: &Topic<'_>,
        node: DeviceId,
        device: Option<DeviceId>,
        bytes: &[u8],
        report: &mut Report,
        mut sink: impl FnMut(usize, &str, Value<'_>, Option<i64>),
    ) {
        *report = Report::default();
        if topic.kind == Kind::State {
            report.online = host_state(bytes);
            if report.online.is_none() {
                report.error = Some(format!(
                    "STATE payload `{}` is neither {{\"online\":…}} nor ONLINE/OFFLINE",
                    super::quote(bytes)
                ));
            }
            return;
        }
        if matches!(topic.kind, Kind::NCmd | Kind::DCmd) {
            // A request to the node, not from it.
            return;
        }
        if let Err(e) = decode_payload(bytes, &mut self.payload) {
            report.error = Some(e);
            return;
        }
        let payload = &self.payload;
        let session = self.nodes.entry(node).or_default();
        match topic.kind {
            Kind::NBirth => {
                let bd_seq = bd_seq(payload);
                if let (Some(old), Some(new)) = (session.bd_seq, bd_seq)
                    && new != (old + 1) % 256
                    && new != old
                {
                    report.seq_gap = true;
                }
                session.bd_seq = bd_seq;
                session.last_seq = payload.seq;
            }
            Kind::NDeath => {
                if let (Some(current), Some(dead)) = (session.bd_seq, bd_seq(payload))
                    && current != dead
                {
                    report.stale_death = true;
                    return;
                }
            }
            _ => {
                if let Some(seq) = payload.seq {
                    match session.last_seq {
                        Some(last) if seq != (last + 1) % 256 => {
                            report.seq_gap = true;
                            report.rebirth = Some("sequence gap");
                        }
                        None if session.bd_seq.is_none() => {
                            report.before_birth = true;
                            report.rebirth = Some("data before the node's NBIRTH");
                        }
                        _ => {}
                    }
                    session.last_seq = Some(seq);
                }
            }
        }
        let target = device.unwrap_or(node);
        match topic.kind {
            Kind::NBirth | Kind::DBirth => {
                let birth = born(topic, payload, self.max_metrics, report);
                for (i, (b, m)) in birth.metrics.iter().zip(&payload.metrics).enumerate() {
                    emit(i, &b.shown, b.datatype, m, payload.timestamp, &mut sink);
                }
                self.births.insert(target, birth);
                report.online = Some(true);
            }
            Kind::NDeath => {
                report.online = Some(false);
                report.node_death = true;
                self.births.remove(&node);
            }
            Kind::DDeath => {
                report.online = Some(false);
                self.births.remove(&target);
            }
            Kind::NData | Kind::DData => {
                let birth = self.births.get(&target);
                if birth.is_none() {
                    report.before_birth = true;
                    report.rebirth = Some(if device.is_some() {
                        "DDATA before the device's DBIRTH"
                    } else {
                        "NDATA before the node's NBIRTH"
                    });
                }
                for m in &payload.metrics {
                    let found = birth.and_then(|b| {
                        b.find(m.name.as_deref(), m.alias)
                            .map(|i| (i, &b.metrics[i]))
                    });
                    match found {
                        Some((i, b)) => emit(
                            i,
                            &b.shown,
                            m.datatype.unwrap_or(b.datatype),
                            m,
                            payload.timestamp,
                            &mut sink,
                        ),
                        // Names describe themselves even unborn; aliases do not.
                        None => match &m.name {
                            Some(name) => emit(
                                usize::MAX,
                                name,
                                m.datatype.unwrap_or(0),
                                m,
                                payload.timestamp,
                                &mut sink,
                            ),
                            None => {
                                report.unknown_aliases += 1;
                                report.rebirth = Some("data for an alias no birth defined");
                            }
                        },
                    }
                }
            }
            Kind::NCmd | Kind::DCmd | Kind::State => {}
        }
    }

    /// Nodes and devices with a birth on record.
    pub fn len(&self) -> usize {
        self.births.len()
    }

    pub fn is_empty(&self) -> bool {
        self.births.is_empty()
    }
}

fn bd_seq(p: &Payload) -> Option<u64> {
    p.metrics
        .iter()
        .find(|m| m.name.as_deref() == Some("bdSeq"))
        .and_then(|m| match m.value {
            Some(proto::Value::Long(v)) => Some(v),
            Some(proto::Value::Int(v)) => Some(u64::from(v)),
            _ => None,
        })
}

/// What a command metric of this datatype takes: the type's own range for integers.
fn accepts(dt: u32) -> Accepts {
    let int = |min: i64, max: i64| Accepts::Integer {
        min: Some(min),
        max: Some(max),
    };
    match dt {
        datatype::BOOLEAN => Accepts::boolean(),
        datatype::INT8 => int(i8::MIN.into(), i8::MAX.into()),
        datatype::INT16 => int(i16::MIN.into(), i16::MAX.into()),
        datatype::INT32 => int(i32::MIN.into(), i32::MAX.into()),
        datatype::INT64 => int(i64::MIN, i64::MAX),
        datatype::UINT8 => int(0, u8::MAX.into()),
        datatype::UINT16 => int(0, u16::MAX.into()),
        datatype::UINT32 => int(0, u32::MAX.into()),
        // Typed integers are i64: a UInt64 is checked digit for digit by its payload.
        datatype::UINT64 => Accepts::Text,
        datatype::FLOAT | datatype::DOUBLE => Accepts::Number {
            min: None,
            max: None,
        },
        _ => Accepts::Text,
    }
}

/// Reads a birth: metric definitions, units, commands.
/// `Node Control/Rebirth` for a node: a host may ask any node it has heard of, born or not.
pub fn rebirth_command(group: &str, node: &str) -> CommandDescriptor {
    CommandDescriptor {
        confirms: None,
        name: REBIRTH.into(),
        topic: format!("spBv1.0/{group}/NCMD/{node}").into(),
        kind: CommandKind::Sparkplug {
            metric: REBIRTH.into(),
            datatype: datatype::BOOLEAN,
        },
        accepts: Accepts::boolean(),
    }
}

/// Reads a birth: metric definitions (every one, so data for any of them is placed; the
/// device's metric cap counts what it cannot keep), units (for the first `max_metrics`),
/// commands: a node's `Node Control/…` and `CMD/…` metrics, and a device's scalar
/// metrics as DCMD writes.
fn born(topic: &Topic<'_>, p: &Payload, max_metrics: usize, report: &mut Report) -> Birth {
    let mut birth = Birth::default();
    let cmd_topic = match topic.device {
        Some(d) => format!("spBv1.0/{}/DCMD/{}/{d}", topic.group, topic.node),
        None => format!("spBv1.0/{}/NCMD/{}", topic.group, topic.node),
    };
    if topic.device.is_none() {
        report
            .commands
            .push(rebirth_command(topic.group, topic.node));
    }
    for (i, m) in p.metrics.iter().enumerate() {
        let name = m.name.as_deref().unwrap_or_default();
        let dt = m.datatype.unwrap_or(0);
        let writable = if topic.device.is_some() {
            (datatype::INT8..=datatype::UUID).contains(&dt) && !name.is_empty()
        } else {
            name.starts_with(NODE_CONTROL) && name != REBIRTH
        };
        if (writable || name.starts_with(COMMAND_FOLDER))
            && report.commands.len() < MAX_BIRTH_COMMANDS
        {
            let shown = name.strip_prefix(DATA_FOLDER).unwrap_or(name);
            report.commands.push(CommandDescriptor {
                confirms: None,
                name: shown.into(),
                topic: cmd_topic.as_str().into(),
                kind: CommandKind::Sparkplug {
                    metric: name.into(),
                    datatype: dt,
                },
                accepts: accepts(dt),
            });
        }
        let described = i < max_metrics;
        let shown = name.strip_prefix(DATA_FOLDER).unwrap_or(name);
        let idx = birth.metrics.len() as u32;
        if let Some(a) = m.alias {
            birth.by_alias.insert(a, idx);
        }
        if !name.is_empty() {
            birth.by_name.insert(name.into(), idx);
            birth.by_name.entry(shown.into()).or_insert(idx);
        }
        let unit = m.properties.as_ref().and_then(unit_of);
        if described && (unit.is_some() || dt != 0) {
            report.facts.push(MetricFacts {
                format: None,
                name: shown.into(),
                unit,
                datatype: (dt != 0).then(|| datatype::name(dt).into()),
            });
        }
        birth.metrics.push(Born {
            shown: shown.into(),
            datatype: dt,
        });
    }
    birth
}

/// The engineering unit among a metric's properties.
fn unit_of(props: &proto::PropertySet) -> Option<Box<str>> {
    props
        .keys
        .iter()
        .zip(&props.values)
        .find(|(k, _)| matches!(k.as_str(), "engUnit" | "engUnits" | "unit" | "units"))
        .and_then(|(_, v)| match &v.value {
            Some(proto::PropertyScalar::String(s)) => Some(s.as_str().into()),
            _ => None,
        })
}

#[cfg(test)]
mod tests;
