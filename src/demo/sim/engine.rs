//! The scheduler: one task owns every device, a queue of due reports and the fault plan, on
//! a simulated clock that runs at the speed `--rate` asks for.
//!
//! Single-owner state (no locks) keeps a report cheap: pop the due device, step its physics
//! to now, format its message, hand it to the publisher. Commands arrive on a channel from
//! the command client's event loop and are handled between reports.

use super::commands::{self, Fate, Outcome};
use super::faults::{Fault, FaultKind, FaultPlan};
use super::fleets::{Ctx, Model, interval_ms, jitter, metric_topics};
use super::layout::Layout;
use super::link::{Connector, Link, with_will};
use super::payload::{Effects, Msg};
use super::{SimOptions, SimStats};
use crate::demo::topics::{self, OFFLINE, ONLINE, Vars};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Reports handled before the loop looks at commands and the stop signal again.
const BATCH: usize = 4096;
/// A rebooting device is back after this much simulated time.
const REBOOT_MS: u64 = 8_000;
/// A dropped gateway stays away at least this long in wall time, whatever the speed.
const MIN_GATEWAY_DOWN: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Life {
    Up,
    Dead,
    Rebooting,
}

struct Dev {
    model: Model,
    fx: Effects,
    rng: fastrand::Rng,
    life: Life,
    /// Has said `online` (and sent a first full report) since it last came up.
    announced: bool,
    /// Has ever published something retained (its status, a meter reading).
    retained: bool,
    uptime_base_s: u64,
    boot_ms: u64,
    last_ms: u64,
    flaky: bool,
    topics: Vec<String>,
    status: Option<String>,
    commands: u64,
}

struct Gateway {
    link: Option<Link>,
    status: String,
    session: u32,
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    Tick(usize),
    Revive(usize),
    Reboot(usize),
    GatewayBack(usize),
}

/// A queue entry: ordered by time, then by insertion.
struct Due(u64, u64, Ev);

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

/// Simulated milliseconds since the start, at `speed` times wall time.
struct Clock {
    start: Instant,
    speed: f64,
}

impl Clock {
    fn now_ms(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * 1000.0 * self.speed) as u64
    }
    fn instant_at(&self, sim_ms: u64) -> Instant {
        self.start + Duration::from_secs_f64(sim_ms as f64 / 1000.0 / self.speed)
    }
    fn sim_of(&self, wall: Duration) -> u64 {
        (wall.as_secs_f64() * 1000.0 * self.speed) as u64
    }
}

/// A token bucket that lets debt build and says how long to wait it off.
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, n: usize) -> Duration {
        let now = Instant::now();
        let burst = self.rate.max(5.0);
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(burst);
        self.last = now;
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

enum Wake {
    Stop,
    Command(Option<Box<Publish>>),
    Timer,
}

pub(crate) struct Engine {
    prefix: String,
    seed: u64,
    layout: Layout,
    devs: Vec<Dev>,
    by_id: HashMap<String, usize>,
    queue: BinaryHeap<Reverse<Due>>,
    seq: u64,
    plan: FaultPlan,
    next_fault: Option<Fault>,
    gateways: Vec<Gateway>,
    gateways_down: usize,
    clock: Clock,
    bucket: Option<Bucket>,
    out: Vec<Msg>,
    pool: Vec<Link>,
    cmd: Link,
    cmd_rx: mpsc::Receiver<Publish>,
    connector: Connector,
    stats: Arc<SimStats>,
    stop: watch::Receiver<bool>,
    stopping: bool,
}

impl Engine {
    /// Connects everything and lays out the fleet; an unreachable or refusing broker is an
    /// error here, before anything is published.
    pub async fn start(
        url: &str,
        opts: &SimOptions,
        stats: Arc<SimStats>,
        stop: watch::Receiver<bool>,
    ) -> Result<Engine, String> {
        eprintln!(
            "XDBG start: {:?}",
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| s
                    .lines()
                    .find(|l| l.starts_with("VmRSS"))
                    .map(str::to_string))
        );
        let connector = Connector::new(url)?;
        let layout = Layout::new(opts.seed, opts.devices);
        let natural = layout.natural_rate();
        let target = opts.rate.unwrap_or(natural);
        let speed = opts.rate.map_or(1.0, |r| r / natural);

        // One connection carries ~100k msg/s of small QoS 0 publishes; more only help
        // when the broker spreads connections over cores.
        let pool_size = std::env::var("XPOOL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or((target / 40_000.0).ceil().clamp(1.0, 4.0) as usize);
        let mut pool = Vec::with_capacity(pool_size);
        for i in 0..pool_size {
            let options = connector.options(&format!("pub{i}"));
            pool.push(Link::connect(&connector, options, 20_000, stats.clone(), None, None).await?);
        }
        eprintln!(
            "XDBG pool: {:?}",
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| s
                    .lines()
                    .find(|l| l.starts_with("VmRSS"))
                    .map(str::to_string))
        );
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        let filter = topics::command_filter(&opts.prefix);
        let cmd = Link::connect(
            &connector,
            connector.options("cmd"),
            1024,
            stats.clone(),
            Some(cmd_tx),
            Some(filter),
        )
        .await?;

        eprintln!(
            "XDBG cmd: {:?}",
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| s
                    .lines()
                    .find(|l| l.starts_with("VmRSS"))
                    .map(str::to_string))
        );
        let mut gateways = Vec::with_capacity(layout.gateways.len());
        for g in 0..layout.gateways.len() {
            gateways.push(Gateway {
                link: None,
                status: layout.gateway_status_topic(&opts.prefix, g),
                session: 0,
            });
        }
        let mut engine = Engine {
            prefix: opts.prefix.clone(),
            seed: opts.seed,
            devs: devices(&layout, &opts.prefix, opts.seed),
            by_id: layout
                .devices
                .iter()
                .enumerate()
                .map(|(i, d)| (d.id.clone(), i))
                .collect(),
            queue: BinaryHeap::with_capacity(layout.devices.len() + 64),
            seq: 0,
            plan: FaultPlan::new(opts.seed, &layout),
            next_fault: None,
            layout,
            gateways,
            gateways_down: 0,
            clock: Clock {
                start: Instant::now(),
                speed,
            },
            bucket: opts.rate.map(|rate| Bucket {
                rate,
                tokens: rate.max(5.0),
                last: Instant::now(),
            }),
            out: Vec::with_capacity(16),
            pool,
            cmd,
            cmd_rx,
            connector,
            stats,
            stop,
            stopping: false,
        };
        eprintln!(
            "XDBG engine: {:?}",
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| s
                    .lines()
                    .find(|l| l.starts_with("VmRSS"))
                    .map(str::to_string))
        );
        engine.connect_gateways().await?;
        eprintln!(
            "XDBG gateways: {:?}",
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| s
                    .lines()
                    .find(|l| l.starts_with("VmRSS"))
                    .map(str::to_string))
        );
        engine.next_fault = engine.plan.next_fault();
        // First reports spread over the first three seconds (or the interval, if shorter), so
        // a watcher sees every fleet at once without a thundering herd.
        for i in 0..engine.devs.len() {
            let kind = engine.layout.devices[i].kind;
            let spread = interval_ms(kind).min(3_000);
            let at = engine.devs[i].rng.u64(..spread);
            engine.schedule(at, Ev::Tick(i));
        }
        engine.clock.start = Instant::now();
        Ok(engine)
    }

    async fn connect_gateways(&mut self) -> Result<(), String> {
        let mut set = tokio::task::JoinSet::new();
        for g in 0..self.gateways.len() {
            let connector = self.connector.clone();
            let stats = self.stats.clone();
            let role = format!("gw-{}-0", self.layout.gateways[g].id);
            let options = with_will(connector.options(&role), &self.gateways[g].status, OFFLINE);
            set.spawn(async move {
                (
                    g,
                    Link::connect(&connector, options, 64, stats, None, None).await,
                )
            });
        }
        while let Some(joined) = set.join_next().await {
            let (g, link) = joined.map_err(|e| format!("gateway connection task failed: {e}"))?;
            let link = link.map_err(|e| format!("gateway {}: {e}", self.layout.gateways[g].id))?;
            let _ = link
                .client
                .publish(
                    self.gateways[g].status.clone(),
                    QoS::AtLeastOnce,
                    true,
                    ONLINE,
                )
                .await;
            self.stats.published.fetch_add(1, Relaxed);
            self.gateways[g].link = Some(link);
        }
        Ok(())
    }

    fn schedule(&mut self, at_ms: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Due(at_ms, self.seq, ev)));
    }

    /// Runs until the stop signal, then says goodbye.
    pub async fn run(mut self) {
        self.stopping = *self.stop.borrow();
        let mut commands_open = true;
        while !self.stopping {
            let now = self.clock.now_ms();
            let mut handled = 0;
            while handled < BATCH && !self.stopping {
                match self.queue.peek() {
                    Some(Reverse(Due(at, _, _))) if *at <= now => {}
                    _ => break,
                }
                if let Some(Reverse(Due(at, _, ev))) = self.queue.pop() {
                    self.handle(ev, at, now).await;
                }
                handled += 1;
            }
            while let Some(f) = self.next_fault.take() {
                if f.at_ms > now {
                    self.next_fault = Some(f);
                    break;
                }
                self.apply_fault(f, now).await;
                self.next_fault = self.plan.next_fault();
            }
            let next = [
                self.queue.peek().map(|Reverse(d)| d.0),
                self.next_fault.as_ref().map(|f| f.at_ms),
            ]
            .into_iter()
            .flatten()
            .min();
            let wake = match next {
                _ if handled >= BATCH => Instant::now(),
                Some(at) => self
                    .clock
                    .instant_at(at)
                    .min(Instant::now() + Duration::from_secs(1)),
                None => Instant::now() + Duration::from_secs(1),
            };
            let woke = tokio::select! {
                biased;
                r = self.stop.changed() => match r {
                    Ok(()) if !*self.stop.borrow() => Wake::Timer,
                    _ => Wake::Stop,
                },
                p = self.cmd_rx.recv(), if commands_open => Wake::Command(p.map(Box::new)),
                _ = tokio::time::sleep_until(wake.into()) => Wake::Timer,
            };
            match woke {
                Wake::Stop => self.stopping = true,
                Wake::Command(Some(p)) => self.on_command(*p).await,
                Wake::Command(None) => commands_open = false,
                Wake::Timer => {}
            }
        }
        self.shutdown().await;
    }

    async fn handle(&mut self, ev: Ev, at: u64, now: u64) {
        match ev {
            Ev::Tick(i) => {
                let interval = interval_ms(self.layout.devices[i].kind);
                let d = &mut self.devs[i];
                let mut next = at + (interval as f64 * jitter(&mut d.rng, 0.05)) as u64;
                if next + interval < now {
                    // Far behind (a slow broker, a paused process): skip rather than burst.
                    next = now + d.rng.u64(..interval.min(1_000));
                }
                self.schedule(next, Ev::Tick(i));
                self.emit(i, at, false);
                self.flush(i).await;
            }
            Ev::Revive(i) => {
                let d = &mut self.devs[i];
                if d.life != Life::Up {
                    d.life = Life::Up;
                    d.boot_ms = at;
                    d.uptime_base_s = 0;
                }
            }
            Ev::Reboot(i) => {
                if self.take_down(i, Life::Rebooting) {
                    self.schedule(at + REBOOT_MS, Ev::Revive(i));
                }
                self.flush(i).await;
            }
            Ev::GatewayBack(g) => self.gateway_back(g, at).await,
        }
    }

    fn reachable(&self, i: usize) -> bool {
        self.devs[i].life == Life::Up
            && self.layout.devices[i]
                .gateway
                .is_none_or(|g| self.gateways[g].link.is_some())
    }

    /// Steps device `i` to `at` and writes its report into `self.out` if it can be heard.
    fn emit(&mut self, i: usize, at: u64, full: bool) {
        let reachable = self.reachable(i);
        let d = &mut self.devs[i];
        let dt = at.saturating_sub(d.last_ms) as f64 / 1000.0;
        d.last_ms = d.last_ms.max(at);
        d.model.advance(dt, at as f64 / 1000.0, &mut d.rng);
        d.fx.expire(at);
        if !reachable {
            return;
        }
        let mut full = full;
        if !d.announced {
            if let Some(status) = &d.status {
                self.out.push(Msg {
                    topic: status.clone(),
                    payload: ONLINE.into(),
                    retain: true,
                });
            }
            d.announced = true;
            d.retained = true;
            full = true;
        }
        if d.flaky && d.rng.f64() < 0.05 {
            d.fx.malform();
            self.stats.malformed.fetch_add(1, Relaxed);
        }
        let mut ctx = Ctx {
            now_ms: at,
            uptime_s: d.uptime_base_s + at.saturating_sub(d.boot_ms) / 1000,
            rng: &mut d.rng,
            fx: &mut d.fx,
            topics: &d.topics,
            out: &mut self.out,
        };
        d.model.emit(&mut ctx, full);
    }

    /// Publishes `self.out` on the pool connection that carries device `i`.
    async fn flush(&mut self, i: usize) {
        if self.out.is_empty() {
            return;
        }
        if let Some(bucket) = &mut self.bucket {
            let wait = bucket.take(self.out.len());
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    r = self.stop.changed() => if r.is_err() || *self.stop.borrow() {
                        self.stopping = true;
                    },
                }
            }
        }
        let link = &self.pool[i % self.pool.len()];
        for m in self.out.drain(..) {
            match link
                .client
                .publish(m.topic, QoS::AtMostOnce, m.retain, m.payload)
                .await
            {
                Ok(()) => self.stats.published.fetch_add(1, Relaxed),
                Err(_) => self.stats.publish_errors.fetch_add(1, Relaxed),
            };
        }
    }

    /// Marks a device down; if it had said `online`, says `offline` for it (its LWT).
    fn take_down(&mut self, i: usize, life: Life) -> bool {
        let d = &mut self.devs[i];
        if d.life != Life::Up {
            return false;
        }
        d.life = life;
        if d.announced
            && let Some(status) = &d.status
        {
            self.out.push(Msg {
                topic: status.clone(),
                payload: OFFLINE.into(),
                retain: true,
            });
        }
        d.announced = false;
        true
    }

    async fn apply_fault(&mut self, f: Fault, now: u64) {
        tracing::info!("simulator fault: {}", f.describe(&self.layout));
        self.stats.faults.fetch_add(1, Relaxed);
        match f.kind {
            FaultKind::Dies {
                device,
                back_after_ms,
            } => {
                if self.take_down(device, Life::Dead)
                    && let Some(back) = back_after_ms
                {
                    self.schedule(now + back, Ev::Revive(device));
                }
                self.flush(device).await;
            }
            FaultKind::GatewayDrops {
                gateway,
                back_after_ms,
            } => {
                // Keep most of the fleet reachable even when faults come fast.
                let max_down = (self.gateways.len() / 8).max(1);
                if self.gateways_down < max_down
                    && let Some(link) = self.gateways[gateway].link.take()
                {
                    link.kill();
                    self.gateways_down += 1;
                    let back = back_after_ms.max(self.clock.sim_of(MIN_GATEWAY_DOWN));
                    self.schedule(now + back, Ev::GatewayBack(gateway));
                }
            }
            FaultKind::Stuck {
                device,
                metric,
                for_ms,
            } => self.devs[device].fx.stick(metric, now + for_ms),
            FaultKind::Drift {
                device,
                metric,
                per_s,
                for_ms,
            } => self.devs[device].fx.drift(metric, per_s, now, now + for_ms),
            FaultKind::Spike {
                device,
                metric,
                value,
            } => self.devs[device].fx.spike(metric, value),
            FaultKind::Malformed { device } => {
                self.devs[device].fx.malform();
                self.stats.malformed.fetch_add(1, Relaxed);
            }
        }
    }

    async fn gateway_back(&mut self, g: usize, at: u64) {
        let gw = &mut self.gateways[g];
        gw.session += 1;
        let role = format!("gw-{}-{}", self.layout.gateways[g].id, gw.session);
        let options = with_will(self.connector.options(&role), &gw.status, OFFLINE);
        match Link::connect(&self.connector, options, 64, self.stats.clone(), None, None).await {
            Ok(link) => {
                let _ = link
                    .client
                    .publish(gw.status.clone(), QoS::AtLeastOnce, true, ONLINE)
                    .await;
                self.stats.published.fetch_add(1, Relaxed);
                gw.link = Some(link);
                self.gateways_down -= 1;
            }
            Err(e) => {
                tracing::warn!(
                    "simulator: gateway {} cannot reconnect: {e}",
                    self.layout.gateways[g].id
                );
                let retry = self.clock.sim_of(Duration::from_secs(5));
                self.schedule(at + retry, Ev::GatewayBack(g));
            }
        }
    }

    async fn on_command(&mut self, p: Publish) {
        self.stats.commands_received.fetch_add(1, Relaxed);
        let now = self.clock.now_ms();
        let Ok(topic) = std::str::from_utf8(&p.topic) else {
            return;
        };
        let Some((kind, id)) = topics::parse_command_topic(&self.prefix, topic) else {
            return;
        };
        // No such device, or one that cannot hear: nobody answers, as in the field.
        let Some(&i) = self.by_id.get(id) else {
            return;
        };
        if self.layout.devices[i].kind != kind || !self.reachable(i) {
            return;
        }
        let n = self.devs[i].commands;
        self.devs[i].commands += 1;
        let Fate::Reply { delay, failure } = commands::fate(self.seed, i, n) else {
            return;
        };
        let parsed = commands::parse(&p.payload);
        let mut rebooting = false;
        let outcome = match (&parsed, failure) {
            (Err(e), _) => Outcome::Failed(e.clone()),
            (Ok(_), Some(reason)) => Outcome::Failed(reason.to_string()),
            (Ok(cmd), None) if cmd.name == "reboot" => {
                rebooting = true;
                Outcome::Done(format!("rebooting; back in about {} s", REBOOT_MS / 1000))
            }
            (Ok(cmd), None) => self.devs[i].model.command(cmd, now as f64 / 1000.0),
        };
        let payload = commands::reply_payload(id, parsed.as_ref().ok(), &outcome);
        let (reply_to, props) = match p.properties {
            Some(PublishProperties {
                response_topic: Some(t),
                correlation_data,
                ..
            }) => (
                t,
                Some(PublishProperties {
                    correlation_data,
                    ..PublishProperties::default()
                }),
            ),
            _ => (topics::reply_topic(topic), None),
        };
        let client = self.cmd.client.clone();
        let stats = self.stats.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let sent = match props {
                Some(pr) => {
                    client
                        .publish_with_properties(reply_to, QoS::AtLeastOnce, false, payload, pr)
                        .await
                }
                None => {
                    client
                        .publish(reply_to, QoS::AtLeastOnce, false, payload)
                        .await
                }
            };
            if sent.is_ok() {
                stats.commands_answered.fetch_add(1, Relaxed);
            }
        });
        if rebooting {
            // Go down once the reply is on its way.
            let at = now + self.clock.sim_of(delay + Duration::from_millis(300));
            self.schedule(at, Ev::Reboot(i));
        } else if matches!(outcome, Outcome::Done(_)) {
            // The change shows in telemetry straight away.
            self.emit(i, now.max(self.devs[i].last_ms), true);
            self.flush(i).await;
        }
    }

    /// Says `offline` for everyone, clears what the simulation retained (a shared broker
    /// keeps nothing of it), and disconnects cleanly so no last will fires.
    async fn shutdown(mut self) {
        let mut goodbye = Vec::new();
        for d in &self.devs {
            if !d.retained {
                continue;
            }
            if let Some(status) = &d.status {
                if d.announced {
                    goodbye.push((status.clone(), OFFLINE, false));
                }
                goodbye.push((status.clone(), "", true));
            }
            if d.topics.len() == 1 && matches!(d.model, Model::Meter(_)) {
                goodbye.push((d.topics[0].clone(), "", true));
            }
        }
        for gw in &self.gateways {
            goodbye.push((gw.status.clone(), OFFLINE, false));
            goodbye.push((gw.status.clone(), "", true));
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        let pool = &self.pool[0].client;
        for (topic, payload, retain) in goodbye {
            let qos = if retain {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            };
            let send = pool.publish(topic, qos, retain, payload);
            match tokio::time::timeout_at(deadline.into(), send).await {
                Ok(Ok(())) => self.stats.published.fetch_add(1, Relaxed),
                Ok(Err(_)) => self.stats.publish_errors.fetch_add(1, Relaxed),
                Err(_) => break,
            };
        }
        let within =
            deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(500);
        for gw in &mut self.gateways {
            if let Some(link) = gw.link.take() {
                link.close(within).await;
            }
        }
        for link in self.pool.drain(..) {
            link.close(within).await;
        }
        self.cmd.close(Duration::from_millis(500)).await;
    }
}

/// Builds every device's state and topics; per-device random streams keep a device's values
/// independent of how many others there are.
fn devices(layout: &Layout, prefix: &str, seed: u64) -> Vec<Dev> {
    let flaky = FaultPlan::flaky(seed, layout.devices.len());
    let mut fleet_index = [0usize; 5];
    layout
        .devices
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut rng =
                fastrand::Rng::with_seed(seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let index = fleet_index[spec.kind as usize];
            fleet_index[spec.kind as usize] += 1;
            let vars = layout.vars(spec);
            let topics = metric_topics(spec.kind)
                .iter()
                .map(|m| {
                    let v = Vars {
                        metric: Some(m),
                        ..vars.clone()
                    };
                    topics::telemetry_topic(prefix, spec.kind, &v)
                })
                .collect();
            Dev {
                model: Model::new(spec.kind, index, &mut rng),
                fx: Effects::default(),
                uptime_base_s: rng.u64(3_600..2_600_000),
                rng,
                life: Life::Up,
                announced: false,
                retained: false,
                boot_ms: 0,
                last_ms: 0,
                flaky: flaky[i],
                topics,
                status: topics::device_status_topic(prefix, spec.kind, &vars),
                commands: 0,
            }
        })
        .collect()
}
