//! The fleet state: devices, metrics, bounded history and status. Pure: no IO, no clock;
//! time comes in with each message or tick.
//!
//! Every message goes through [`FleetState::apply`]. A topic is classified once and cached,
//! so a message on a known topic costs one hash lookup, a decode into reusable buffers and
//! a few ring pushes, with no allocation. Everything a device could grow without bound is
//! capped by [`Limits`]; what is refused is counted in [`Counters`].
//!
//! `route.rs` classifies a topic once and caches where it goes, `apply.rs` applies routed
//! messages to devices, `convention.rs` applies what device conventions decoded.

mod apply;
mod caps;
mod convention;
pub mod delivery;
pub mod device;
pub mod history;
mod known;
mod layout;
mod route;
mod senml;
#[cfg(test)]
pub(crate) mod testutil;
pub mod topic_stats;

use crate::conventions::MetricFacts;
pub use device::{Device, LastError, Metric, MetricValue, Status};
pub use known::{KnownDevice, KnownFleet};
pub use topic_stats::{KeptPayload, TopicRecord, TopicStats};

use crate::config::conventions::ConventionsConfig;
use crate::config::{Limits, PayloadFormat};
use crate::conventions::{self, Convention};
use crate::decode::json::Shape;
use crate::decode::{self, Leaf, Scratch, Value};
use crate::mapping::{AvailabilityTarget, Classified, FleetIdx, Mapper};
use crate::vocab::{ConnId, DeviceId, LinkState, RawMessage};
use apply::{add_labels, boxed, has_control, matches_group};
use history::{Coarse, Ring};
use route::{Route, RouteRef, RouteTarget};
use std::collections::HashMap;
use std::time::Duration;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// A connection's routes by topic bytes, each with its topic's record in `topic_stats`.
type Routes = Map<Box<[u8]>, (Route, u32)>;
/// Label pairs, as devices carry them.
pub type Labels = Vec<(Box<str>, Box<str>)>;

/// How long a device may stay quiet, when its fleet does not say.
pub const DEFAULT_EXPECTED_INTERVAL: Duration = Duration::from_secs(60);
/// How far back "devices with payload errors" looks: long enough to notice a device that
/// fails every few minutes, short enough that a fixed one drops out of the count.
pub const RECENT_ERRORS: Duration = Duration::from_secs(10 * 60);
/// How often the per-minute tier is held to its budget; it grows a minute at a time.
const COARSE_CHECK_EVERY_MS: i64 = 10_000;

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
    /// Devices the generic fallback guessed, refused by `[limits] max_guessed_devices`.
    pub refused_guessed_cap: u64,
    /// Guessed devices evicted to make room for a recognised or configured one.
    pub evicted_guessed: u64,
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
    /// When the link last came up after being down (or first came up): staleness of its
    /// devices counts from here, not from before an outage fleetop could not see through.
    pub up_since_ms: Option<i64>,
    /// When it last went blind: its link went down, or fleetop stopped (known devices
    /// restored from an earlier run).
    pub blind_from_ms: Option<i64>,
    pub messages: u64,
    /// Dropped before reaching the core (queue full); mirrored from the source's counter.
    pub dropped: u64,
    /// What the broker says about itself on `$SYS` (clients, rates, its own drop count
    /// for all its clients), where it publishes that and lets fleetop read it.
    pub broker: crate::broker::BrokerHealth,
    /// The latest notice about this connection (a refused subscription, a bad line).
    pub notice: Option<(i64, String)>,
}

impl Connection {
    /// True while fleetop cannot see this connection's devices: it was up and is not now
    /// (down, or connecting again). A finished replay is not blind: it has said all it had.
    pub fn is_blind(&self) -> bool {
        (self.up_since_ms.is_some() || self.blind_from_ms.is_some())
            && matches!(
                self.state,
                LinkState::Connecting | LinkState::Down { .. } | LinkState::Failed(_)
            )
    }

    /// The latest stretch its devices could not be seen (see [`Connection::up_since_ms`]).
    pub fn blind(&self) -> crate::vocab::Blind {
        crate::vocab::Blind {
            from_ms: self.blind_from_ms.unwrap_or(i64::MIN),
            until_ms: self.up_since_ms.unwrap_or(i64::MIN),
        }
    }
}

/// A link that delivers messages now.
fn is_up(state: &LinkState) -> bool {
    matches!(state, LinkState::Connected | LinkState::Replaying)
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
    /// Every routed topic's figures and last payloads, for the topic explorer.
    pub topic_stats: TopicStats,
    pub counters: Counters,
    device_index: Map<(ConnId, FleetIdx, Box<str>), DeviceId>,
    /// Per fleet: how many devices it has.
    fleet_sizes: Vec<u32>,
    /// Keyed by the topic's bytes: a known topic needs no UTF-8 check.
    /// Each with its topic's record in `topic_stats` (or `topic_stats::NO_RECORD`).
    routes: Vec<Routes>,
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
    /// Shape slots whose topic's route is gone, for the next topic to take.
    free_shapes: Vec<u32>,
    /// Reused: values read through a shape; the metric index of each decoded leaf.
    shape_values: Vec<(u32, Leaf)>,
    leaf_metrics: Vec<u32>,
    /// Off only in tests that compare against the walker alone.
    use_shapes: bool,
    now_ms: i64,
    coarse_checked_ms: i64,
    /// The device the latest message was about, for incremental alert evaluation.
    touched: Option<DeviceId>,
    /// More devices the latest message was about (a SenML pack of several base names).
    also_touched: Vec<DeviceId>,
    conventions: ConventionsConfig,
    /// Sparkplug births and sequence numbers.
    sparkplug: conventions::sparkplug::Sessions,
    sparkplug_report: conventions::sparkplug::Report,
    /// Sparkplug nodes to ask for a rebirth, and when each was last asked.
    rebirths: Vec<DeviceId>,
    rebirth_asked: Map<DeviceId, i64>,
    /// Reused decoder output of the other conventions.
    convention_out: conventions::Output,
    /// Home Assistant discovery: state and availability topics the configs named.
    ha_bindings: Map<Box<str>, Vec<convention::homeassistant::HaBinding>>,
    /// Home Assistant devices' availability topics (by topic index) and what each said
    /// last, for `availability_mode` all/any.
    ha_available: Map<DeviceId, Vec<(u16, bool)>>,
    /// Topics first bound since the engine last asked: its connection may need to
    /// subscribe to them.
    to_follow: Vec<(ConnId, Box<str>)>,
    /// Per convention (in `Convention::ALL` order), the configured fleets with a topic
    /// inside its namespace (`tele/+/SENSOR` in Tasmota's `tele/#`): there, a fleet's
    /// device and the convention's device of the same name on the same connection are
    /// one device.
    kin: Vec<Vec<FleetIdx>>,
    /// Devices the generic fallback guessed, oldest first: the first to be evicted.
    guessed: std::collections::VecDeque<DeviceId>,
    cap_notices: caps::CapNotices,
    /// Where conventions that live under any root were found (Homie roots).
    layouts: conventions::Layouts,
    /// Messages seen before their layout was known, applied again once it is.
    replays: Vec<RawMessage>,
    /// Reused: the SenML pack being applied.
    senml_pack: crate::decode::senml::Pack,
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
                    up_since_ms: None,
                    blind_from_ms: None,
                    messages: 0,
                    dropped: 0,
                    broker: Default::default(),
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
            topic_stats: TopicStats::default(),
            counters: Counters::default(),
            device_index: Map::default(),
            offline_groups: Vec::new(),
            groups: Vec::new(),
            events: Vec::new(),
            scratch: Scratch::default(),
            shapes: Vec::new(),
            free_shapes: Vec::new(),
            shape_values: Vec::new(),
            leaf_metrics: Vec::new(),
            use_shapes: true,
            now_ms: 0,
            coarse_checked_ms: 0,
            touched: None,
            also_touched: Vec::new(),
            conventions: ConventionsConfig::none(),
            sparkplug: conventions::sparkplug::Sessions::new(max_metrics),
            sparkplug_report: Default::default(),
            rebirths: Vec::new(),
            rebirth_asked: Map::default(),
            convention_out: Default::default(),
            ha_bindings: Map::default(),
            ha_available: Map::default(),
            to_follow: Vec::new(),
            kin: Vec::new(),
            guessed: Default::default(),
            cap_notices: Default::default(),
            layouts: Default::default(),
            replays: Vec::new(),
            senml_pack: Default::default(),
        }
    }

    /// Recognises devices of these conventions on topics no fleet maps (off by default).
    pub fn with_conventions(mut self, conventions: ConventionsConfig) -> FleetState {
        let has_fleets = self.mapper.has_configured_fleets();
        self.kin = Convention::ALL
            .iter()
            .map(|&c| {
                let namespace = if c.enabled(&conventions, has_fleets) {
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
        self.layouts = conventions::Layouts::pinned(&conventions);
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
        if let Some(c) = self.connections.get_mut(conn.index()) {
            if is_up(&state) && (!is_up(&c.state) || c.up_since_ms.is_none()) {
                c.up_since_ms = Some(at_ms);
            }
            if !is_up(&state) && is_up(&c.state) {
                c.blind_from_ms = Some(at_ms);
            }
            c.state = state.clone();
            c.since_ms = at_ms;
            self.events
                .push(FleetEvent::LinkChanged { conn, state, at_ms });
        }
    }

    /// Keeps a notice about a connection for display.
    pub fn note(&mut self, conn: ConnId, message: String, at_ms: i64) {
        if let Some(c) = self.connections.get_mut(conn.index()) {
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
        if let Some(c) = self.connections.get_mut(conn.index()) {
            c.dropped = dropped;
        }
    }

    /// Takes in what connection `conn`'s broker said about itself on `$SYS`.
    pub fn broker_reading(&mut self, conn: ConnId, reading: crate::broker::Reading, at_ms: i64) {
        if let Some(c) = self.connections.get_mut(conn.index()) {
            c.broker.apply(reading, at_ms);
        }
    }

    /// Re-evaluates every device's status at `now_ms` (stale by expected interval). The
    /// devices of a connection that is down keep the status they had: fleetop cannot see
    /// them, which says nothing about them.
    pub fn tick(&mut self, now_ms: i64) {
        self.now_ms = self.now_ms.max(now_ms);
        for i in 0..self.devices.len() {
            let conn = (self.devices[i].conn).index();
            if self.connections.get(conn).is_some_and(Connection::is_blind) {
                continue;
            }
            self.refresh_status(DeviceId::nth(i));
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

    /// The other devices the latest [`FleetState::apply`] changed (a SenML pack speaks
    /// for several), once; empty for most messages.
    pub fn take_also_touched(&mut self) -> Vec<DeviceId> {
        std::mem::take(&mut self.also_touched)
    }

    /// Applies one message.
    pub fn apply(&mut self, msg: &RawMessage) {
        self.touched = None;
        self.also_touched.clear();
        self.counters.messages += 1;
        self.now_ms = self.now_ms.max(msg.at_ms);
        let Some(conn) = self.connections.get_mut(msg.conn.index()) else {
            return;
        };
        conn.messages += 1;
        self.dispatch(msg, false);
        // Rare (a layout was just learned) and bounded by the unmapped list.
        for replay in std::mem::take(&mut self.replays) {
            self.dispatch(&replay, true);
        }
    }

    /// Routes one counted message to where it goes.
    /// `replay`: a message applied again once its layout is known, counted already.
    fn dispatch(&mut self, msg: &RawMessage, replay: bool) {
        if msg.topic.len() > self.limits.max_topic_len {
            self.refuse(caps::Cap::TopicLength, msg.conn, 1);
            return;
        }
        let (route, record) = match self.routes[msg.conn.index()].get(&msg.topic[..]) {
            Some((r, record)) => (r.clone_cheap(), *record),
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
        self.deliver(msg, route);
        if !replay {
            self.topic_stats.record(record, msg, self.touched);
        }
    }

    fn deliver(&mut self, msg: &RawMessage, route: RouteRef) {
        let topic = &msg.topic[..];
        match route {
            RouteRef::Telemetry(device, topic_idx, metric, shape) => {
                self.touched = Some(device);
                self.apply_telemetry(msg, topic, device, topic_idx, metric, shape)
            }
            RouteRef::Availability => self.apply_availability(msg, topic),
            RouteRef::Unmapped(i) => self.note_unmapped(i as usize, msg),
            RouteRef::Convention(convention, resolved) => {
                // A generic JSON device's topic, once resolved and its shape learnt, is
                // read like a configured JSON fleet's: straight into metric slots.
                if let (Convention::Generic, Some(r)) = (convention, resolved)
                    && r.shape != route::NO_SHAPE
                    && self.apply_generic_shape(msg, r.device, r.topic, r.shape)
                {
                    self.touched = Some(r.device);
                    return;
                }
                self.apply_convention(msg, convention, resolved)
            }
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

    /// Devices whose payloads failed to decode (or were refused under a cap) within
    /// [`RECENT_ERRORS`] of `now_ms`: how many devices are in trouble now, not how many
    /// bad payloads there ever were.
    pub fn devices_with_recent_errors(&self, now_ms: i64) -> usize {
        self.devices
            .iter()
            .filter(|d| d.has_recent_error(now_ms))
            .count()
    }

    /// Finds a device by name (first match across brokers and fleets).
    /// Where the conventions that live under any root were found (`discover`).
    pub fn layouts(&self) -> &conventions::Layouts {
        &self.layouts
    }

    pub fn find_device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| &*d.name == name)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod topic_stats_tests;
