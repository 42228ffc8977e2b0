//! The engine: sources feed a bounded queue, the engine drains it into the fleet state and
//! keeps the time and the rates. Every front end (snapshot, headless, record, TUI) drives
//! the same engine, so they all see the same pipeline.

mod alerting;
mod commands;
mod running;

pub use alerting::{ALERT_EVAL_EVERY_MS, Feed, alert_book};
pub use commands::Desk;
pub use running::Running;

use crate::alerts::{AlertBook, RuleSet};
use crate::config::{Config, Limits};
use crate::fleet::FleetState;
use crate::mapping::Mapper;
use crate::source::mqtt::ConnectionSpec;
use crate::source::replay::Speed;
use crate::source::subscriptions::Subscriptions;
use crate::source::{Clock, DropCounter, Outlet, ReplayClock, SourceEvent};
use crate::view::CoreView;
use crate::vocab::{ConnId, ConnLabel, LinkState, RawMessage};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where the messages come from.
#[derive(Debug, Clone)]
pub enum Input {
    Brokers(Vec<ConnectionSpec>),
    Replay { path: PathBuf, speed: Speed },
}

/// Fleet state plus the queue that feeds it.
pub struct Engine {
    pub state: FleetState,
    pub alerts: AlertBook,
    /// Where transitions, acks and silences are recorded, when the front end keeps one.
    pub alert_log: Option<crate::output::alert_log::AlertLog>,
    /// Runs `on_fire`/`on_resolve` hooks off this thread.
    pub hooks: crate::output::hooks::HookRunner,
    /// Alerts of one rule that come together run their hook together.
    pub hook_groups: crate::alerts::hooks::HookGroups,
    /// Where alert transitions are published, if anywhere (`[hooks] publish_topic`).
    alert_publish: Option<crate::alerts::hooks::AlertPublish>,
    pub clock: Clock,
    pub conns: Vec<ConnLabel>,
    /// Command templates, requests in flight, the audit log.
    pub desk: Desk,
    /// Per connection, where topics the fleet asks to follow are subscribed (none for a
    /// recording).
    subscriptions: Vec<Option<Subscriptions>>,
    drops: Vec<DropCounter>,
    intake: Intake,
    ever_connected: Vec<bool>,
    rate: RateMeter,
    alerts_ticked_ms: i64,
    /// What the core did that a front end shows: alert transitions, hook reports.
    feed: Feed,
    /// Where the devices it knows are kept for the next run, when the front end keeps them.
    known: Option<crate::output::known_devices::KnownDevicesFile>,
}

/// What the sources hand over, waiting to be applied.
pub struct Intake {
    rx: mpsc::Receiver<SourceEvent>,
    /// Events handed over but not yet applied: kept so a batch read never loses one.
    pending: Vec<SourceEvent>,
    /// What the latest mailbox held; its buffer goes back to the next mailbox taken.
    mail: Vec<RawMessage>,
    /// Messages taken from a mailbox that [`Engine::next_event`] has not handed out yet.
    unpacked: std::collections::VecDeque<RawMessage>,
}

impl Intake {
    fn new(rx: mpsc::Receiver<SourceEvent>) -> Intake {
        Intake {
            rx,
            pending: Vec::new(),
            mail: Vec::new(),
            unpacked: Default::default(),
        }
    }

    /// An intake whose sources have all gone: what an engine keeps once its own intake
    /// was handed to the task that runs it.
    fn closed() -> Intake {
        Intake::new(mpsc::channel(1).1)
    }
}

impl Engine {
    /// Builds the state from `config` and starts the sources on the current tokio runtime.
    pub fn start(config: &Config, input: Input) -> Result<Engine, String> {
        let mapper = Mapper::new(&config.fleets)?;
        // Everything that can be refused is checked before any connection starts.
        let rules = crate::alerts::RuleSet::from_config(config).map_err(|e| e.0)?;
        let set = crate::commands::CommandSet::from_config(config).map_err(|e| e.0)?;
        let (tx, rx) = mpsc::channel(config.limits.queue);
        let mut conns = Vec::new();
        let mut drops = Vec::new();
        let mut publishers = Vec::new();
        let mut subscriptions = Vec::new();
        let clock = match input {
            Input::Brokers(specs) => {
                for (i, spec) in specs.into_iter().enumerate() {
                    let outlet = Outlet::new(ConnId::nth(i), tx.clone())
                        .when_behind(config.limits.when_behind);
                    drops.push(outlet.dropped.clone());
                    conns.push(ConnLabel {
                        name: spec.name.clone(),
                        url: Some(spec.url.to_string()),
                    });
                    let read_only = format!(
                        "read-only: fleetop does not publish to broker `{}` (--read-only or read_only = true)",
                        spec.name
                    );
                    let started = crate::source::mqtt::spawn(spec, outlet);
                    publishers.push(started.publisher.ok_or(read_only));
                    subscriptions.push(Some(started.subscriptions));
                }
                Clock::Wall
            }
            Input::Replay { path, speed } => {
                let outlet = Outlet::new(crate::vocab::ConnId(0), tx.clone());
                drops.push(outlet.dropped.clone());
                conns.push(ConnLabel {
                    name: format!(
                        "replay:{}",
                        path.file_name().map_or_else(
                            || path.display().to_string(),
                            |n| n.to_string_lossy().into_owned()
                        )
                    ),
                    url: None,
                });
                let rate = match speed {
                    Speed::Times(x) => x,
                    Speed::Max => 1.0,
                };
                publishers.push(Err(
                    "a recording is being replayed: there is no broker to publish to".into(),
                ));
                subscriptions.push(None);
                let clock = Arc::new(ReplayClock::new(crate::source::now_ms(), rate));
                tokio::spawn(crate::source::replay::run(
                    path,
                    speed,
                    clock.clone(),
                    outlet,
                ));
                Clock::Replay(clock)
            }
        };
        let names: Vec<String> = conns.iter().map(|c| c.name.clone()).collect();
        Ok(Engine {
            state: FleetState::new(mapper, config.limits.clone(), &names)
                .with_conventions(config.conventions.clone()),
            desk: Desk::new(set, publishers, config.command_settings.bulk_rate),
            subscriptions,
            alerts: alert_book(rules),
            alert_log: None,
            hooks: crate::output::hooks::HookRunner::new(
                config
                    .hooks
                    .max_running
                    .unwrap_or(crate::alerts::hooks::DEFAULT_MAX_RUNNING),
            ),
            hook_groups: crate::alerts::hooks::HookGroups::from_config(&config.hooks),
            alert_publish: crate::alerts::hooks::AlertPublish::from_config(&config.hooks),
            ever_connected: vec![false; conns.len()],
            clock,
            conns,
            drops,
            intake: Intake::new(rx),
            rate: RateMeter::default(),
            alerts_ticked_ms: 0,
            feed: Feed::default(),
            known: None,
        })
    }

    /// An engine fed by hand (tests, benchmarks): no sources are started.
    pub fn detached(mapper: Mapper, limits: Limits, names: &[String]) -> (Engine, Vec<Outlet>) {
        let (tx, rx) = mpsc::channel(limits.queue);
        let outlets: Vec<Outlet> = (0..names.len())
            .map(|i| Outlet::new(ConnId::nth(i), tx.clone()))
            .collect();
        let fleets: Vec<&str> = mapper.fleets.iter().map(|f| f.name.as_str()).collect();
        let rules = RuleSet::builtin(&fleets);
        let engine = Engine {
            desk: Desk::new(
                crate::commands::CommandSet::default(),
                vec![Err("a detached engine has no connection to publish on".into()); names.len()],
                crate::config::CommandSettings::default().bulk_rate,
            ),
            subscriptions: vec![None; names.len()],
            alerts: alert_book(rules),
            alert_log: None,
            hooks: crate::output::hooks::HookRunner::new(crate::alerts::hooks::DEFAULT_MAX_RUNNING),
            hook_groups: crate::alerts::hooks::HookGroups::new(
                crate::alerts::hooks::DEFAULT_GROUP_INTERVAL,
            ),
            alert_publish: None,
            state: FleetState::new(mapper, limits, names),
            clock: Clock::Wall,
            conns: names
                .iter()
                .map(|n| ConnLabel {
                    name: n.clone(),
                    url: None,
                })
                .collect(),
            drops: outlets.iter().map(|o| o.dropped.clone()).collect(),
            intake: Intake::new(rx),
            ever_connected: vec![false; names.len()],
            rate: RateMeter::default(),
            alerts_ticked_ms: 0,
            feed: Feed::default(),
            known: None,
        };
        (engine, outlets)
    }

    /// Waits for at least one event, then applies up to `max` that are ready.
    /// Returns `false` once every source has ended and the queue is empty.
    pub async fn pump(&mut self, max: usize) -> bool {
        while let Some(m) = self.intake.unpacked.pop_front() {
            self.apply(&m);
        }
        if self
            .intake
            .rx
            .recv_many(&mut self.intake.pending, max)
            .await
            == 0
        {
            return false;
        }
        let mut batch = std::mem::take(&mut self.intake.pending);
        for ev in batch.drain(..) {
            self.handle(ev);
        }
        self.intake.pending = batch;
        true
    }

    /// The next event, unapplied (for the recorder, which writes it before applying it).
    pub async fn next_event(&mut self) -> Option<SourceEvent> {
        loop {
            if let Some(m) = self.intake.unpacked.pop_front() {
                return Some(SourceEvent::Message(m));
            }
            match self.intake.rx.recv().await? {
                SourceEvent::Messages(mailbox) => {
                    mailbox.take(&mut self.intake.mail);
                    let Intake { mail, unpacked, .. } = &mut self.intake;
                    unpacked.extend(mail.drain(..));
                }
                ev => return Some(ev),
            }
        }
    }

    /// Applies whatever is queued right now, without waiting.
    pub fn pump_ready(&mut self) {
        while let Ok(ev) = self.intake.rx.try_recv() {
            self.handle(ev);
        }
    }

    pub fn handle(&mut self, ev: SourceEvent) {
        match ev {
            SourceEvent::Message(m) => self.apply(&m),
            SourceEvent::Messages(mailbox) => {
                let mut mail = std::mem::take(&mut self.intake.mail);
                mailbox.take(&mut mail);
                for m in mail.drain(..) {
                    self.apply(&m);
                }
                self.intake.mail = mail;
            }
            SourceEvent::Link { conn, state, at_ms } => {
                let up = matches!(state, LinkState::Connected | LinkState::Replaying);
                if let Some(seen) = self.ever_connected.get_mut(conn.index())
                    && up
                {
                    *seen = true;
                }
                if up || matches!(state, LinkState::Down { .. }) {
                    self.alerts.link_changed(conn, up, at_ms);
                }
                self.state.link_changed(conn, state, at_ms);
            }
            SourceEvent::Notice {
                conn,
                message,
                at_ms,
            } => self.state.note(conn, message, at_ms),
            SourceEvent::Published {
                id, result, at_ms, ..
            } => {
                match result {
                    Ok(()) => self.desk.tracker.published(id, at_ms),
                    Err(why) => self.desk.tracker.failed(id, why, at_ms),
                }
                self.audit_settled();
            }
            SourceEvent::Broker {
                conn,
                reading,
                at_ms,
            } => self.state.broker_reading(conn, reading, at_ms),
            SourceEvent::Reply {
                conn,
                correlation,
                payload,
                at_ms,
            } => {
                self.desk
                    .tracker
                    .response(conn, &correlation, &payload, at_ms);
                self.audit_settled();
            }
        }
    }

    /// Applies a message, then re-evaluates the alert rules it can affect.
    pub fn apply(&mut self, msg: &RawMessage) {
        // Answers on this run's own reply topic are no device's telemetry.
        if !self.desk.is_inbox(&msg.topic) {
            self.state.apply(msg);
            let first = self.state.take_touched();
            for id in first.into_iter().chain(self.state.take_also_touched()) {
                if let Some(d) = self.state.devices.get(id.index()) {
                    self.alerts.evaluate_device(d, msg.at_ms);
                    self.desk.tracker.device_updated(d, msg.at_ms);
                }
            }
        }
        self.desk
            .tracker
            .message(msg.conn, &msg.topic, &msg.payload, msg.at_ms);
        if self.desk.tracker.has_settled() {
            self.audit_settled();
        }
    }

    /// Advances time: statuses, drop counters, message rate.
    pub fn tick(&mut self) {
        let now = self.clock.now_ms();
        self.state.tick(now);
        // Time-based alert transitions have second resolution; evaluating them is the
        // costly part of a tick at 10,000 devices. The alert tick evaluates what messages
        // left deferred; in between, that is all there is to do.
        if now - self.alerts_ticked_ms >= 1000 {
            self.alerts.evaluate_groups(&self.state.groups, now);
            self.alerts.tick(&self.state.devices, now);
            self.alerts_ticked_ms = now;
        } else {
            self.alerts.evaluate_deferred(&self.state.devices, now);
        }
        for (i, d) in self.drops.iter().enumerate() {
            self.state.set_dropped(ConnId::nth(i), d.get());
        }
        self.rate
            .update(crate::source::now_ms(), self.state.counters.messages);
        self.tick_commands();
        self.follow_topics(now);
        self.ask_rebirths();
    }

    /// Subscribes to the topics the fleet state learnt it needs (Home Assistant state
    /// topics) where the connection's subscriptions do not already bring them.
    fn follow_topics(&mut self, now: i64) {
        for (conn, topic) in self.state.take_topics_to_follow() {
            let Some(Some(subs)) = self.subscriptions.get(conn.index()) else {
                continue;
            };
            match subs.follow(&topic) {
                Ok(true) => {
                    tracing::debug!(%conn, topic = %crate::sanitize::text(&topic), "following")
                }
                Ok(false) => {}
                Err(e) => self.state.note(conn, e, now),
            }
        }
    }

    /// Records every publish in the audit log at its default place. Without one, commands
    /// are refused: nothing goes out unaudited.
    pub fn keep_audit_log(&mut self) {
        match crate::output::audit::AuditLog::default_path() {
            Some(path) => self.desk.keep_audit_log(&path),
            None => tracing::warn!("no state directory: commands are refused without an audit log"),
        }
    }

    /// The read-only view front ends draw from.
    pub fn view(&self) -> CoreView<'_> {
        CoreView {
            state: &self.state,
            alerts: &self.alerts,
            tracker: &self.desk.tracker,
            conns: &self.conns,
            now_ms: self.clock.now_ms(),
            msg_rate: self.rate.per_sec,
            dropped: self.dropped(),
            bulk_rate: self.desk.bulk_rate(),
        }
    }

    /// Messages per second over the last few seconds.
    pub fn msg_rate(&self) -> f64 {
        self.rate.per_sec
    }

    /// Total messages dropped before reaching the core.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().map(DropCounter::get).sum()
    }

    /// True once connection `conn` has been up at least once.
    pub fn ever_connected(&self, conn: usize) -> bool {
        self.ever_connected.get(conn).copied().unwrap_or(false)
    }
}

/// A smoothed messages-per-second figure.
#[derive(Debug, Default)]
struct RateMeter {
    last_ms: i64,
    last_count: u64,
    per_sec: f64,
}

impl RateMeter {
    fn update(&mut self, now_ms: i64, count: u64) {
        if self.last_ms == 0 {
            self.last_ms = now_ms;
            self.last_count = count;
            return;
        }
        let dt = (now_ms - self.last_ms) as f64 / 1000.0;
        if dt < 0.5 {
            return;
        }
        let instant = count.saturating_sub(self.last_count) as f64 / dt;
        self.per_sec = if self.per_sec == 0.0 {
            instant
        } else {
            0.5 * self.per_sec + 0.5 * instant
        };
        self.last_ms = now_ms;
        self.last_count = count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn mailbox_messages_come_out_one_by_one_and_in_order() {
        let mapper = Mapper::new(&[]).unwrap();
        let (mut engine, outlets) = Engine::detached(mapper, Limits::default(), &["b".into()]);
        for i in 0..3u8 {
            outlets[0].message(
                Bytes::from_static(b"a/b"),
                Bytes::from(vec![b'0' + i]),
                false,
            );
        }
        for i in 0..3u8 {
            match engine.next_event().await {
                Some(SourceEvent::Message(m)) => assert_eq!(m.payload[0], b'0' + i),
                other => panic!("expected message {i}, got {other:?}"),
            }
        }
        outlets[0].message(Bytes::from_static(b"a/b"), Bytes::from_static(b"1"), false);
        outlets[0].message(Bytes::from_static(b"a/b"), Bytes::from_static(b"2"), false);
        engine.pump_ready();
        assert_eq!(engine.state.counters.messages, 2);
    }
}
