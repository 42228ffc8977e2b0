//! The fleet state: devices, metrics, bounded history and status. Pure: no IO, no clock;
//! time comes in with each message or tick.
//!
//! Every message goes through [`FleetState::apply`]. A topic is classified once and cached,
//! so a message on a known topic costs one hash lookup, a decode into reusable buffers and
//! a few ring pushes, with no allocation. Everything a device could grow without bound is
//! capped by [`Limits`]; what is refused is counted in [`Counters`].

mod convention;
pub mod device;
pub mod history;

pub use device::{Device, DeviceId, LastError, Metric, MetricValue, Status};

use crate::config::{Limits, PayloadFormat};
use crate::conventions::{self, Convention, ConventionsConfig};
use crate::decode::json::Shape;
use crate::decode::{self, Leaf, Scratch, Value};
use crate::mapping::{AvailabilityTarget, Classified, FleetIdx, Mapper};
use crate::vocab::{ConnId, LinkState, RawMessage};
use history::{Coarse, Ring};
use std::collections::HashMap;
use std::time::Duration;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// Label pairs, as devices carry them.
pub type Labels = Vec<(Box<str>, Box<str>)>;

/// How long a device may stay quiet, when its fleet does not say.
pub const DEFAULT_EXPECTED_INTERVAL: Duration = Duration::from_secs(60);
/// Bytes of the last payload kept per device and per unmapped topic.
const LAST_PAYLOAD_CAP: usize = 4096;
/// How often the per-minute tier is held to its budget; it grows a minute at a time.
const COARSE_CHECK_EVERY_MS: i64 = 10_000;
/// A payload timestamp further ahead of arrival than this is not believed.
const MAX_CLOCK_AHEAD_MS: i64 = 10 * 60 * 1000;

/// Something that changed, for the headless stream, the alert pane and logs.
#[derive(Debug, Clone, PartialEq)]
pub enum FleetEvent {
    DeviceAppeared {
        device: DeviceId,
        at_ms: i64,
    },
    StatusChanged {
        device: DeviceId,
        from: Status,
        to: Status,
        at_ms: i64,
    },
    /// A device a convention found first joined the configured fleet that names it.
    DeviceJoined {
        device: DeviceId,
        from: FleetIdx,
        at_ms: i64,
    },
    LinkChanged {
        conn: ConnId,
        state: LinkState,
        at_ms: i64,
    },
    Notice {
        conn: ConnId,
        message: String,
        at_ms: i64,
    },
}

/// Totals, including everything refused under a cap.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Times the per-minute tier was cut back to its memory budget.
    pub coarse_trims: u64,
    pub messages: u64,
    pub decode_errors: u64,
    pub unmapped_messages: u64,
    pub refused_topic_too_long: u64,
    pub refused_bad_topic: u64,
    pub refused_payload_too_big: u64,
    pub refused_device_cap: u64,
    pub refused_metric_cap: u64,
    pub refused_unmapped_cap: u64,
    /// Sparkplug: per-node sequence-number gaps (messages lost or reordered).
    pub sparkplug_seq_gaps: u64,
    /// Sparkplug: metrics sent by an alias no birth defined (not stored).
    pub sparkplug_unknown_alias: u64,
    /// Sparkplug: data or device births before the birth that should precede them.
    pub sparkplug_before_birth: u64,
    /// Sparkplug: deaths from an older session (another bdSeq), ignored.
    pub sparkplug_stale_deaths: u64,
}

/// A connection as the state knows it.
#[derive(Debug, Clone)]
pub struct Connection {
    pub name: String,
    pub state: LinkState,
    pub since_ms: i64,
    pub messages: u64,
    /// Dropped before reaching the core (queue full); mirrored from the source's counter.
    pub dropped: u64,
    /// The broker's own count of messages it dropped (for all its clients), where it
    /// publishes one (Mosquitto's `$SYS/broker/publish/messages/dropped`).
    pub broker_dropped: Option<u64>,
    /// The latest notice about this connection (a refused subscription, a bad line).
    pub notice: Option<(i64, String)>,
}

/// A topic no fleet maps, kept so a user can see what to map.
#[derive(Debug, Clone)]
pub struct UnmappedTopic {
    pub conn: ConnId,
    pub topic: Box<str>,
    pub messages: u64,
    pub last_ms: i64,
    pub retained: bool,
    pub last_payload: Vec<u8>,
}

#[derive(Debug, Clone)]
enum Route {
    Telemetry {
        device: DeviceId,
        topic: u16,
        /// Index into `FleetState::metric_names` of the `{metric}` level, if any.
        metric: Option<u32>,
        /// Index into `FleetState::shapes` (JSON fleets), else `NO_SHAPE`.
        shape: u32,
    },
    Availability {
        fleet: FleetIdx,
        rule: u16,
        target: RouteTarget,
    },
    Unmapped(u32),
    /// A topic a device convention claimed; the device is resolved on its first message.
    Convention {
        convention: Convention,
        device: Option<convention::Resolved>,
    },
}

#[derive(Debug, Clone)]
enum RouteTarget {
    Device(DeviceId),
    Group(Labels),
}

/// A gateway (or any group) whose own availability topic speaks for its devices: the
/// labels its topic names, and what it said last. One alert per group, not per device.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub fleet: FleetIdx,
    pub conn: ConnId,
    pub labels: Labels,
    pub online: bool,
    /// When it last changed between online and offline.
    pub since_ms: i64,
}

/// The whole fleet.
pub struct FleetState {
    pub mapper: Mapper,
    pub limits: Limits,
    pub connections: Vec<Connection>,
    pub devices: Vec<Device>,
    pub unmapped: Vec<UnmappedTopic>,
    pub counters: Counters,
    device_index: Map<(ConnId, FleetIdx, Box<str>), DeviceId>,
    /// Per fleet: how many devices it has.
    fleet_sizes: Vec<u32>,
    /// Keyed by the topic's bytes: a known topic needs no UTF-8 check.
    routes: Vec<Map<Box<[u8]>, Route>>,
    /// Metric names taken from topic levels, shared by the routes that name them.
    metric_names: Vec<Box<str>>,
    /// Offline groups (a gateway and the labels it stands for), per fleet.
    offline_groups: Vec<(FleetIdx, Labels)>,
    /// Every group an availability topic has spoken for (at most `max_devices`).
    pub groups: Vec<Group>,
    events: Vec<FleetEvent>,
    scratch: Scratch,
    /// The payload shape last seen per JSON telemetry topic, whose values map straight to
    /// metric indices (metrics are never removed, so indices stay valid).
    shapes: Vec<Shape>,
    /// Reused: values read through a shape; the metric index of each decoded leaf.
    shape_values: Vec<(u32, Leaf)>,
    leaf_metrics: Vec<u32>,
    /// Off only in tests that compare against the walker alone.
    use_shapes: bool,
    now_ms: i64,
    coarse_checked_ms: i64,
    /// The device the latest message was about, for incremental alert evaluation.
    touched: Option<DeviceId>,
    conventions: ConventionsConfig,
    /// Sparkplug births and sequence numbers.
    sparkplug: conventions::sparkplug::Sessions,
    sparkplug_report: conventions::sparkplug::Report,
    /// Reused decoder output of the other conventions.
    convention_out: conventions::Output,
    /// Home Assistant discovery: state and availability topics the configs named.
    ha_bindings: Map<Box<str>, Vec<convention::HaBinding>>,
    /// Topics first bound since the engine last asked: its connection may need to
    /// subscribe to them.
    to_follow: Vec<(ConnId, Box<str>)>,
    /// Per convention (in `Convention::ALL` order), the configured fleets with a topic
    /// inside its namespace (`tele/+/SENSOR` in Tasmota's `tele/#`): there, a fleet's
    /// device and the convention's device of the same name on the same connection are
    /// one device.
    kin: Vec<Vec<FleetIdx>>,
}

impl FleetState {
    pub fn new(mapper: Mapper, limits: Limits, connection_names: &[String]) -> FleetState {
        let max_metrics = limits.max_metrics_per_device;
        FleetState {
            connections: connection_names
                .iter()
                .map(|n| Connection {
                    name: n.clone(),
                    state: LinkState::Connecting,
                    since_ms: 0,
                    messages: 0,
                    dropped: 0,
                    broker_dropped: None,
                    notice: None,
                })
                .collect(),
            routes: connection_names.iter().map(|_| Map::default()).collect(),
            metric_names: Vec::new(),
            fleet_sizes: vec![0; mapper.fleets.len()],
            mapper,
            limits,
            devices: Vec::new(),
            unmapped: Vec::new(),
            counters: Counters::default(),
            device_index: Map::default(),
            offline_groups: Vec::new(),
            groups: Vec::new(),
            events: Vec::new(),
            scratch: Scratch::default(),
            shapes: Vec::new(),
            shape_values: Vec::new(),
            leaf_metrics: Vec::new(),
            use_shapes: true,
            now_ms: 0,
            coarse_checked_ms: 0,
            touched: None,
            conventions: ConventionsConfig::none(),
            sparkplug: conventions::sparkplug::Sessions::new(max_metrics),
            sparkplug_report: Default::default(),
            convention_out: Default::default(),
            ha_bindings: Map::default(),
            to_follow: Vec::new(),
            kin: Vec::new(),
        }
    }

    /// Recognises devices of these conventions on topics no fleet maps (off by default).
    pub fn with_conventions(mut self, conventions: ConventionsConfig) -> FleetState {
        let has_fleets = self.mapper.has_configured_fleets();
        self.kin = Convention::ALL
            .iter()
            .map(|&c| {
                let namespace = if conventions.enabled(c, has_fleets) {
                    c.filters(&conventions)
                } else {
                    Vec::new()
                };
                self.mapper
                    .fleets
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| {
                        f.convention.is_none()
                            && f.filters().any(|ours| {
                                namespace
                                    .iter()
                                    .any(|theirs| crate::mapping::filter::covers(theirs, &ours))
                            })
                    })
                    .map(|(i, _)| i as FleetIdx)
                    .collect()
            })
            .collect();
        self.conventions = conventions;
        self
    }

    /// Events since the last call.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, FleetEvent> {
        self.events.drain(..)
    }

    /// The latest time the state has seen, epoch ms.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Topics that devices said they publish on (Home Assistant discovery) since the last
    /// call, with the connection they were announced on: subscribe to them where the
    /// connection's filters do not already bring them.
    pub fn take_topics_to_follow(&mut self) -> Vec<(ConnId, Box<str>)> {
        std::mem::take(&mut self.to_follow)
    }

    /// The fleets that have devices: configured fleets and conventions seen.
    pub fn fleets_in_use(&self) -> impl Iterator<Item = &crate::mapping::Fleet> + '_ {
        self.mapper
            .fleets
            .iter()
            .zip(&self.fleet_sizes)
            .filter_map(|(f, &n)| (n > 0).then_some(f))
    }

    pub fn fleet_name(&self, device: &Device) -> &str {
        self.mapper
            .fleets
            .get(device.fleet as usize)
            .map_or("?", |f| f.name.as_str())
    }

    /// Records a connection's new state.
    pub fn link_changed(&mut self, conn: ConnId, state: LinkState, at_ms: i64) {
        if let Some(c) = self.connections.get_mut(conn as usize) {
            c.state = state.clone();
            c.since_ms = at_ms;
            self.events
                .push(FleetEvent::LinkChanged { conn, state, at_ms });
        }
    }

    /// Keeps a notice about a connection for display.
    pub fn note(&mut self, conn: ConnId, message: String, at_ms: i64) {
        if let Some(c) = self.connections.get_mut(conn as usize) {
            c.notice = Some((at_ms, message.clone()));
            self.events.push(FleetEvent::Notice {
                conn,
                message,
                at_ms,
            });
        }
    }

    /// Mirrors a source's drop counter into the state.
    pub fn set_dropped(&mut self, conn: ConnId, dropped: u64) {
        if let Some(c) = self.connections.get_mut(conn as usize) {
            c.dropped = dropped;
        }
    }

    /// Records the broker's own drop counter for connection `conn`.
    pub fn set_broker_dropped(&mut self, conn: ConnId, dropped: u64) {
        if let Some(c) = self.connections.get_mut(conn as usize) {
            c.broker_dropped = Some(dropped);
        }
    }

    /// Re-evaluates every device's status at `now_ms` (stale by expected interval).
    pub fn tick(&mut self, now_ms: i64) {
        self.now_ms = self.now_ms.max(now_ms);
        for i in 0..self.devices.len() {
            self.refresh_status(i as DeviceId);
        }
        if now_ms - self.coarse_checked_ms >= COARSE_CHECK_EVERY_MS {
            self.coarse_checked_ms = now_ms;
            self.keep_coarse_in_budget();
        }
    }

    /// Holds the per-minute tier to `[limits] coarse_memory_mb`: over budget, every
    /// metric keeps the same number of newest minutes (a minute a metric grows at most).
    fn keep_coarse_in_budget(&mut self) {
        let budget = self.limits.coarse_memory_mb.saturating_mul(1 << 20)
            / std::mem::size_of::<history::Bucket>();
        let (mut kept, mut metrics) = (0usize, 0usize);
        for d in &self.devices {
            for m in &d.metrics {
                kept += m.coarse.len();
                metrics += 1;
            }
        }
        if kept <= budget || metrics == 0 {
            return;
        }
        let per_metric = budget / metrics;
        for d in &mut self.devices {
            for m in &mut d.metrics {
                m.coarse.trim_to(per_metric);
            }
        }
        self.counters.coarse_trims += 1;
    }

    /// The device the latest [`FleetState::apply`] changed, once.
    pub fn take_touched(&mut self) -> Option<DeviceId> {
        self.touched.take()
    }

    /// Applies one message.
    pub fn apply(&mut self, msg: &RawMessage) {
        self.touched = None;
        self.counters.messages += 1;
        self.now_ms = self.now_ms.max(msg.at_ms);
        let Some(conn) = self.connections.get_mut(msg.conn as usize) else {
            return;
        };
        conn.messages += 1;
        if msg.topic.len() > self.limits.max_topic_len {
            self.counters.refused_topic_too_long += 1;
            return;
        }
        let route = match self.routes[msg.conn as usize].get(&msg.topic[..]) {
            Some(r) => r.clone_cheap(),
            None => {
                let Ok(topic) = std::str::from_utf8(&msg.topic) else {
                    self.counters.refused_bad_topic += 1;
                    return;
                };
                match self.route(msg.conn, topic, &msg.payload) {
                    Some(r) => r,
                    None => return,
                }
            }
        };
        let topic = &msg.topic[..];
        match route {
            RouteRef::Telemetry(device, topic_idx, metric, shape) => {
                self.touched = Some(device);
                self.apply_telemetry(msg, topic, device, topic_idx, metric, shape)
            }
            RouteRef::Availability => self.apply_availability(msg, topic),
            RouteRef::Unmapped(i) => self.note_unmapped(i as usize, msg),
            RouteRef::Convention(convention, resolved) => {
                self.apply_convention(msg, convention, resolved)
            }
        }
    }

    /// Classifies a new topic and caches the answer; `None` if it was refused.
    fn route(&mut self, conn: ConnId, topic: &str, payload: &[u8]) -> Option<RouteRef> {
        let broker = self.connections[conn as usize].name.clone();
        let route = match self.mapper.classify(&broker, topic) {
            Classified::Telemetry {
                fleet,
                device,
                labels,
                metric,
            } => {
                if has_control(&device) {
                    self.counters.refused_bad_topic += 1;
                    return None;
                }
                let id = self.device_for(conn, fleet, &device, labels)?;
                let topic_idx = self.devices[id as usize].topic_index(topic);
                let metric =
                    metric.map(|m| match self.metric_names.iter().position(|n| **n == *m) {
                        Some(i) => i as u32,
                        None => {
                            self.metric_names.push(m.into());
                            (self.metric_names.len() - 1) as u32
                        }
                    });
                let json = matches!(
                    self.mapper.fleets[fleet as usize].format,
                    PayloadFormat::Json | PayloadFormat::Auto
                );
                let shape = if json && self.use_shapes {
                    self.shapes.push(Shape::default());
                    (self.shapes.len() - 1) as u32
                } else {
                    NO_SHAPE
                };
                Route::Telemetry {
                    device: id,
                    topic: topic_idx,
                    metric,
                    shape,
                }
            }
            Classified::Availability {
                fleet,
                rule,
                target,
            } => {
                let target = match target {
                    AvailabilityTarget::Device { device, labels } => {
                        if has_control(&device) {
                            self.counters.refused_bad_topic += 1;
                            return None;
                        }
                        RouteTarget::Device(self.device_for(conn, fleet, &device, labels)?)
                    }
                    AvailabilityTarget::Group(labels) => RouteTarget::Group(boxed(labels)),
                };
                Route::Availability {
                    fleet,
                    rule,
                    target,
                }
            }
            Classified::Unmapped if self.ha_bindings.contains_key(topic) => Route::Convention {
                convention: Convention::HomeAssistant,
                device: None,
            },
            Classified::Unmapped
                if let Some(convention) = conventions::claim(
                    &self.conventions,
                    self.mapper.has_configured_fleets(),
                    topic,
                    payload,
                ) =>
            {
                Route::Convention {
                    convention,
                    device: None,
                }
            }
            Classified::Unmapped => {
                if self.unmapped.len() >= self.limits.max_unmapped_topics {
                    self.counters.refused_unmapped_cap += 1;
                    self.counters.unmapped_messages += 1;
                    return None;
                }
                self.unmapped.push(UnmappedTopic {
                    conn,
                    topic: topic.into(),
                    messages: 0,
                    last_ms: 0,
                    retained: false,
                    last_payload: Vec::new(),
                });
                Route::Unmapped((self.unmapped.len() - 1) as u32)
            }
        };
        let r = route.clone_cheap();
        self.routes[conn as usize].insert(topic.as_bytes().into(), route);
        Some(r)
    }

    /// A device a convention created that configured fleet `fleet` names too (see `kin`).
    fn kin_of_convention(&self, conn: ConnId, fleet: FleetIdx, name: &str) -> Option<DeviceId> {
        Convention::ALL
            .iter()
            .zip(&self.kin)
            .filter(|(_, fleets)| fleets.contains(&fleet))
            .find_map(|(&c, _)| {
                let theirs = self.mapper.convention_fleet(c)?;
                self.device_index.get(&(conn, theirs, name.into())).copied()
            })
    }

    /// The configured fleet that already holds convention `convention`'s device `name`.
    pub(super) fn kin_fleet(
        &self,
        conn: ConnId,
        convention: Convention,
        name: &str,
    ) -> Option<FleetIdx> {
        let i = Convention::ALL.iter().position(|&c| c == convention)?;
        let key = |f: FleetIdx| (conn, f, Box::<str>::from(name));
        self.kin
            .get(i)?
            .iter()
            .copied()
            .find(|&f| self.device_index.contains_key(&key(f)))
    }

    /// Finds or creates a device; `None` when the device cap refuses it.
    fn device_for(
        &mut self,
        conn: ConnId,
        fleet: FleetIdx,
        name: &str,
        labels: Vec<(String, String)>,
    ) -> Option<DeviceId> {
        let key = (conn, fleet, Box::<str>::from(name));
        if let Some(&id) = self.device_index.get(&key) {
            add_labels(&mut self.devices[id as usize], labels);
            return Some(id);
        }
        if let Some(id) = self.kin_of_convention(conn, fleet, name) {
            // The convention saw it first: it joins the configured fleet.
            let old = (conn, self.devices[id as usize].fleet, key.2.clone());
            self.device_index.remove(&old);
            self.device_index.insert(key, id);
            let expected = self.mapper.fleets[fleet as usize].expected_interval;
            let d = &mut self.devices[id as usize];
            let from = std::mem::replace(&mut d.fleet, fleet);
            d.expected_interval = expected.unwrap_or(DEFAULT_EXPECTED_INTERVAL);
            add_labels(d, labels);
            // A gateway the convention knows may have it offline already.
            d.group_offline |= self
                .offline_groups
                .iter()
                .any(|(f, g)| *f == fleet && matches_group(&d.labels, g));
            self.fleet_sizes[fleet as usize] += 1;
            self.fleet_sizes[from as usize] = self.fleet_sizes[from as usize].saturating_sub(1);
            self.events.push(FleetEvent::DeviceJoined {
                device: id,
                from,
                at_ms: self.now_ms,
            });
            return Some(id);
        }
        if self.devices.len() >= self.limits.max_devices {
            self.counters.refused_device_cap += 1;
            return None;
        }
        let id = self.devices.len() as DeviceId;
        let labels = boxed(labels);
        let group_offline = self
            .offline_groups
            .iter()
            .any(|(f, g)| *f == fleet && matches_group(&labels, g));
        let expected_interval = self
            .mapper
            .fleets
            .get(fleet as usize)
            .and_then(|f| f.expected_interval)
            .unwrap_or(DEFAULT_EXPECTED_INTERVAL);
        self.devices.push(Device {
            id,
            name: name.into(),
            fleet,
            conn,
            labels,
            status: Status::Unknown,
            first_seen_ms: self.now_ms,
            last_seen_ms: self.now_ms,
            last_live_ms: None,
            messages: 0,
            decode_errors: 0,
            last_error: None,
            metrics: Vec::new(),
            available: None,
            group_offline,
            topics: Vec::new(),
            last_topic: 0,
            last_payload: Vec::new(),
            expected_interval,
            facts: None,
        });
        self.device_index.insert(key, id);
        if let Some(n) = self.fleet_sizes.get_mut(fleet as usize) {
            *n += 1;
        }
        self.events.push(FleetEvent::DeviceAppeared {
            device: id,
            at_ms: self.now_ms,
        });
        Some(id)
    }

    fn apply_telemetry(
        &mut self,
        msg: &RawMessage,
        topic: &[u8],
        id: DeviceId,
        topic_idx: u16,
        metric: Option<u32>,
        shape: u32,
    ) {
        let limits_payload = self.limits.max_payload_bytes;
        let history = self.limits.history;
        let max_metrics = self.limits.max_metrics_per_device;
        let d = &mut self.devices[id as usize];
        let fleet = &self.mapper.fleets[d.fleet as usize];
        note_arrival(d, msg, topic_idx);
        if msg.payload.len() > limits_payload {
            self.counters.refused_payload_too_big += 1;
            record_error(
                d,
                &mut self.counters,
                msg.at_ms,
                topic,
                format!(
                    "payload of {} bytes exceeds the {} byte cap ([limits] max_payload_bytes)",
                    msg.payload.len(),
                    limits_payload
                ),
            );
            self.refresh_status(id);
            return;
        }
        let mut shape = self.shapes.get_mut(shape as usize);
        if let Some(shape) = &shape
            && let Ok(timestamp) = shape.read(&msg.payload, &mut self.shape_values)
            && self
                .shape_values
                .iter()
                .all(|&(i, _)| (i as usize) < d.metrics.len())
        {
            let at = sample_time(timestamp, msg.at_ms);
            for &(i, leaf) in &self.shape_values {
                let value = match leaf {
                    Leaf::Number(n) => Value::Number(n),
                    Leaf::Bool(b) => Value::Bool(b),
                    Leaf::Text(a, b) => {
                        match std::str::from_utf8(&msg.payload[a as usize..b as usize]) {
                            Ok(t) => Value::Text(t),
                            Err(_) => continue,
                        }
                    }
                };
                update_metric(&mut d.metrics[i as usize], value, at);
            }
            self.refresh_status(id);
            return;
        }
        let metric_name = metric
            .and_then(|i| self.metric_names.get(i as usize))
            .map_or("value", |m| &**m);
        match decode::decode(&msg.payload, fleet.format, metric_name, &mut self.scratch) {
            Err(e) => record_error(d, &mut self.counters, msg.at_ms, topic, e.to_string()),
            Ok(()) => {
                let at = sample_time(self.scratch.timestamp_ms, msg.at_ms);
                let mut refused = 0u64;
                self.leaf_metrics.clear();
                for (i, (path, value)) in self.scratch.values().enumerate() {
                    match metric_index(d, i, path, at, history, max_metrics) {
                        Some(m) => {
                            update_metric(&mut d.metrics[m], value, at);
                            self.leaf_metrics.push(m as u32);
                        }
                        None => refused += 1,
                    }
                }
                if let Some(shape) = &mut shape {
                    if refused == 0 {
                        shape.learn(&msg.payload, &self.scratch, &self.leaf_metrics);
                    } else {
                        shape.forget();
                    }
                }
                if refused > 0 {
                    self.counters.refused_metric_cap += refused;
                    d.last_error = Some(LastError {
                        at_ms: msg.at_ms,
                        topic: String::from_utf8_lossy(topic).into_owned(),
                        message: format!(
                            "{refused} metric(s) refused: device already has {max_metrics} ([limits] max_metrics_per_device)"
                        ),
                    });
                }
            }
        }
        self.refresh_status(id);
    }

    fn apply_availability(&mut self, msg: &RawMessage, topic: &[u8]) {
        let Some(Route::Availability {
            fleet,
            rule,
            target,
        }) = self.routes[msg.conn as usize].get(topic)
        else {
            return;
        };
        let (fleet, target) = (*fleet, target.clone());
        let rule = &self.mapper.fleets[fleet as usize].availability[*rule as usize];
        let online = parse_availability(&msg.payload, &rule.online, &rule.offline);
        match target {
            RouteTarget::Device(id) => {
                self.touched = Some(id);
                let d = &mut self.devices[id as usize];
                note_arrival(d, msg, u16::MAX);
                match online {
                    Some(v) => d.available = Some(v),
                    None => record_error(
                        d,
                        &mut self.counters,
                        msg.at_ms,
                        topic,
                        format!(
                            "availability payload `{}` is neither `{}` nor `{}`",
                            crate::sanitize::truncate(&crate::sanitize::bytes(&msg.payload), 40),
                            rule.online,
                            rule.offline
                        ),
                    ),
                }
                self.refresh_status(id);
            }
            RouteTarget::Group(labels) => {
                let Some(online) = online else {
                    self.counters.decode_errors += 1;
                    return;
                };
                self.offline_groups
                    .retain(|(f, g)| !(*f == fleet && *g == labels));
                if !online {
                    self.offline_groups.push((fleet, labels.clone()));
                }
                self.note_group(fleet, msg.conn, &labels, online, msg.at_ms);
                for i in 0..self.devices.len() {
                    let d = &self.devices[i];
                    if d.fleet == fleet && matches_group(&d.labels, &labels) {
                        let was_offline = d.group_offline;
                        let d = &mut self.devices[i];
                        d.group_offline = self
                            .offline_groups
                            .iter()
                            .any(|(f, g)| *f == fleet && matches_group(&d.labels, g));
                        // A gateway back online vouches for its devices: their staleness
                        // counts from its return, not from before the outage.
                        if was_offline && !d.group_offline && !msg.retain {
                            d.last_live_ms = Some(d.last_live_ms.unwrap_or(0).max(msg.at_ms));
                        }
                        self.refresh_status(i as DeviceId);
                    }
                }
            }
        }
    }

    fn note_group(
        &mut self,
        fleet: FleetIdx,
        conn: ConnId,
        labels: &Labels,
        online: bool,
        at: i64,
    ) {
        let known = self
            .groups
            .iter()
            .position(|g| g.fleet == fleet && g.conn == conn && g.labels == *labels);
        let count = self.groups.len();
        match known.and_then(|i| self.groups.get_mut(i)) {
            Some(g) if g.online != online => {
                g.online = online;
                g.since_ms = at;
            }
            Some(_) => {}
            None if count < self.limits.max_devices => self.groups.push(Group {
                fleet,
                conn,
                labels: labels.clone(),
                online,
                since_ms: at,
            }),
            None => self.counters.refused_device_cap += 1,
        }
    }

    fn note_unmapped(&mut self, i: usize, msg: &RawMessage) {
        self.counters.unmapped_messages += 1;
        if let Some(u) = self.unmapped.get_mut(i) {
            u.messages += 1;
            u.last_ms = msg.at_ms;
            u.retained = msg.retain;
            copy_capped(&mut u.last_payload, &msg.payload);
        }
    }

    fn refresh_status(&mut self, id: DeviceId) {
        let d = &mut self.devices[id as usize];
        let status = d.compute_status(self.now_ms);
        if status != d.status {
            let from = d.status;
            d.status = status;
            self.events.push(FleetEvent::StatusChanged {
                device: id,
                from,
                to: status,
                at_ms: self.now_ms,
            });
        }
    }

    /// Devices by status: online, stale, offline, unknown.
    pub fn status_counts(&self) -> [usize; 4] {
        let mut c = [0; 4];
        for d in &self.devices {
            c[d.status as usize] += 1;
        }
        c
    }

    /// Finds a device by name (first match across brokers and fleets).
    pub fn find_device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| &*d.name == name)
    }
}

/// `Route::Telemetry::shape` of a topic that keeps no shape.
const NO_SHAPE: u32 = u32::MAX;

/// The payload's timestamp when it is sane, else the arrival time.
pub(super) fn sample_time(payload_ms: Option<i64>, arrival_ms: i64) -> i64 {
    payload_ms
        .filter(|&t| t <= arrival_ms + MAX_CLOCK_AHEAD_MS)
        .unwrap_or(arrival_ms)
}

/// A copy of a route without its owned parts, so the map borrow can end.
enum RouteRef {
    Telemetry(DeviceId, u16, Option<u32>, u32),
    Availability,
    Unmapped(u32),
    Convention(Convention, Option<convention::Resolved>),
}

impl Route {
    fn clone_cheap(&self) -> RouteRef {
        match self {
            Route::Telemetry {
                device,
                topic,
                metric,
                shape,
            } => RouteRef::Telemetry(*device, *topic, *metric, *shape),
            Route::Availability { .. } => RouteRef::Availability,
            Route::Unmapped(i) => RouteRef::Unmapped(*i),
            Route::Convention { convention, device } => RouteRef::Convention(*convention, *device),
        }
    }
}

fn note_arrival(d: &mut Device, msg: &RawMessage, topic_idx: u16) {
    d.messages += 1;
    d.last_seen_ms = d.last_seen_ms.max(msg.at_ms);
    if !msg.retain {
        d.last_live_ms = Some(d.last_live_ms.map_or(msg.at_ms, |t| t.max(msg.at_ms)));
    }
    if topic_idx != u16::MAX {
        d.last_topic = topic_idx;
        copy_capped(&mut d.last_payload, &msg.payload);
    }
}

fn record_error(
    d: &mut Device,
    counters: &mut Counters,
    at_ms: i64,
    topic: &[u8],
    message: String,
) {
    d.decode_errors += 1;
    counters.decode_errors += 1;
    d.last_error = Some(LastError {
        at_ms,
        topic: String::from_utf8_lossy(topic).into_owned(),
        message,
    });
}

/// Stores one decoded value; `false` if the metric cap refused a new metric.
fn store_value(
    d: &mut Device,
    hint: usize,
    path: &str,
    value: Value<'_>,
    at: i64,
    history: usize,
    max_metrics: usize,
) -> bool {
    match metric_index(d, hint, path, at, history, max_metrics) {
        Some(i) => {
            update_metric(&mut d.metrics[i], value, at);
            true
        }
        None => false,
    }
}

/// The index of the metric named `path`, created if new; `None` if the metric cap refused it.
fn metric_index(
    d: &mut Device,
    hint: usize,
    path: &str,
    at: i64,
    history: usize,
    max_metrics: usize,
) -> Option<usize> {
    // Payloads usually list their keys in the same order, so the i-th leaf is most often
    // the i-th metric: check there before scanning.
    let idx = match d.metrics.get(hint) {
        Some(m) if &*m.name == path => Some(hint),
        _ => d.metrics.iter().position(|m| &*m.name == path),
    };
    match idx {
        Some(i) => Some(i),
        None if d.metrics.len() >= max_metrics => None,
        None => {
            d.metrics.push(Metric {
                name: path.into(),
                value: MetricValue::Number(0.0),
                updated_ms: at,
                ring: Ring::new(history),
                coarse: Coarse::default(),
            });
            Some(d.metrics.len() - 1)
        }
    }
}

/// Sets a metric's latest value and records a number (or bool) in its history.
fn update_metric(m: &mut Metric, value: Value<'_>, at: i64) {
    let numeric = match value {
        Value::Number(n) => {
            m.value = MetricValue::Number(n);
            Some(n)
        }
        Value::Bool(b) => {
            m.value = MetricValue::Bool(b);
            Some(if b { 1.0 } else { 0.0 })
        }
        Value::Text(t) => {
            if !matches!(&m.value, MetricValue::Text(old) if &**old == t) {
                m.value = MetricValue::Text(t.into());
            }
            None
        }
    };
    m.updated_ms = m.updated_ms.max(at);
    if let Some(n) = numeric
        && let Some((t, v)) = m.ring.push(at, n)
    {
        m.coarse.push(t, v);
    }
}

/// Online/offline from an availability payload: the configured words, common synonyms
/// (`true`/`false`, `1`/`0`, Homie's `ready`/`lost`), or Zigbee2MQTT's `{"state": "online"}`.
pub fn parse_availability(payload: &[u8], online: &str, offline: &str) -> Option<bool> {
    let s = std::str::from_utf8(payload).ok()?.trim();
    if s.eq_ignore_ascii_case(online) {
        return Some(true);
    }
    if s.eq_ignore_ascii_case(offline) {
        return Some(false);
    }
    if s.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct State<'a> {
            #[serde(borrow)]
            state: std::borrow::Cow<'a, str>,
        }
        let st: State<'_> = serde_json::from_str(s).ok()?;
        return parse_availability(st.state.as_bytes(), online, offline);
    }
    match s.to_ascii_lowercase().as_str() {
        "online" | "true" | "1" | "ready" | "connected" | "up" => Some(true),
        "offline" | "false" | "0" | "lost" | "disconnected" | "down" => Some(false),
        _ => None,
    }
}

/// Labels a device did not have yet: a device's labels only ever grow.
fn add_labels(d: &mut Device, labels: Vec<(String, String)>) {
    for (k, v) in labels {
        if d.label(&k).is_none() {
            d.labels.push((k.into(), v.into()));
        }
    }
}

fn copy_capped(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    dst.extend_from_slice(&src[..src.len().min(LAST_PAYLOAD_CAP)]);
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn boxed(labels: Vec<(String, String)>) -> Labels {
    labels
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

/// True when a device carries every label of the group.
fn matches_group(labels: &[(Box<str>, Box<str>)], group: &[(Box<str>, Box<str>)]) -> bool {
    group
        .iter()
        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
}

#[cfg(test)]
mod tests;
