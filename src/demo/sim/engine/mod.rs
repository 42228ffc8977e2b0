//! The scheduler: one task owns every device, a queue of due reports and the fault plan, on
//! a simulated clock that runs at the speed `--rate` asks for.
//!
//! Single-owner state (no locks) keeps a report cheap: pop the due device, step its physics
//! to now, format its message, hand it to the publisher. Commands arrive on a channel from
//! the command client's event loop and are handled between reports.

mod clock;
#[cfg(test)]
mod fault_alerts;
mod incidents;
mod lifecycle;

use super::faults::{Fault, FaultPlan};
use super::fleets::{Ctx, Model, interval_ms, jitter};
use super::layout::Layout;
use super::link::{Connector, Link};
use super::payload::{Effects, Msg};
use super::{SimOptions, SimStats};
use crate::demo::topics::{self, OFFLINE, ONLINE};
use clock::{Bucket, Clock, Due};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Publish;
use rumqttc::v5::{ClientError, Request};
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

impl Dev {
    /// Steps the device's physics to `at` and, if it can be heard, writes its report into
    /// `out` (after an `online` status when it has just come up). True when a flaky device
    /// garbled this report on its own, besides any scheduled fault.
    fn report(&mut self, at: u64, full: bool, reachable: bool, out: &mut Vec<Msg>) -> bool {
        let dt = at.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.last_ms = self.last_ms.max(at);
        self.model.advance(dt, at as f64 / 1000.0, &mut self.rng);
        self.fx.expire(at);
        if !reachable {
            return false;
        }
        let mut full = full;
        if !self.announced {
            if let Some(status) = &self.status {
                out.push(Msg {
                    topic: status.clone(),
                    payload: ONLINE.into(),
                    retain: true,
                });
            }
            self.announced = true;
            self.retained = true;
            full = true;
        }
        let garbled = self.flaky && self.rng.f64() < 0.05;
        if garbled {
            self.fx.malform();
        }
        let mut ctx = Ctx {
            now_ms: at,
            uptime_s: self.uptime_base_s + at.saturating_sub(self.boot_ms) / 1000,
            rng: &mut self.rng,
            fx: &mut self.fx,
            topics: &self.topics,
            out,
        };
        self.model.emit(&mut ctx, full);
        garbled
    }

    /// Stops the device (`Dead` or `Rebooting`); its last will goes into `out` if it has
    /// one and had said `online`. False when it was not up.
    fn take_down(&mut self, life: Life, out: &mut Vec<Msg>) -> bool {
        if self.life != Life::Up {
            return false;
        }
        self.life = life;
        if self.announced
            && let Some(status) = &self.status
        {
            out.push(Msg {
                topic: status.clone(),
                payload: OFFLINE.into(),
                retain: true,
            });
        }
        self.announced = false;
        true
    }

    /// Back up after dying or rebooting, with a fresh uptime.
    fn revive(&mut self, at: u64) {
        if self.life != Life::Up {
            self.life = Life::Up;
            self.boot_ms = at;
            self.uptime_base_s = 0;
        }
    }
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

enum Wake {
    Stop,
    Command(Option<Box<Publish>>),
    Gateway(usize, Result<Link, String>),
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
    /// Gateways reconnect in the background (a connect may take seconds); results land here.
    gateway_tx: mpsc::UnboundedSender<(usize, Result<Link, String>)>,
    gateway_rx: mpsc::UnboundedReceiver<(usize, Result<Link, String>)>,
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
        let connector = Connector::new(url)?;
        let layout = Layout::new(opts.seed, opts.devices);
        let natural = layout.natural_rate();
        let target = opts.rate.unwrap_or(natural);
        let speed = opts.rate.map_or(1.0, |r| r / natural);

        // One connection carries 80k+ msg/s of small QoS 0 publishes; more only help when
        // the broker can spread connections over cores.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool_size = ((target / 50_000.0).ceil() as usize).clamp(1, cores.clamp(1, 4));
        let mut pool = Vec::with_capacity(pool_size);
        for i in 0..pool_size {
            let options = connector.options(&format!("pub{i}"));
            pool.push(Link::connect(&connector, options, 20_000, stats.clone(), None, None).await?);
        }
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        let (gateway_tx, gateway_rx) = mpsc::unbounded_channel();
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
            devs: lifecycle::devices(&layout, &opts.prefix, opts.seed),
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
            gateway_tx,
            gateway_rx,
            connector,
            stats,
            stop,
            stopping: false,
        };
        engine.connect_gateways().await?;
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
                Some((g, link)) = self.gateway_rx.recv() => Wake::Gateway(g, link),
                _ = tokio::time::sleep_until(wake.into()) => Wake::Timer,
            };
            match woke {
                Wake::Stop => self.stopping = true,
                Wake::Command(Some(p)) => self.on_command(*p).await,
                Wake::Command(None) => commands_open = false,
                Wake::Gateway(g, link) => self.gateway_connected(g, link).await,
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
            Ev::Revive(i) => self.devs[i].revive(at),
            Ev::Reboot(i) => {
                if self.take_down(i, Life::Rebooting) {
                    self.schedule(at + REBOOT_MS, Ev::Revive(i));
                }
                self.flush(i).await;
            }
            Ev::GatewayBack(g) => self.gateway_back(g),
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
        if self.devs[i].report(at, full, reachable, &mut self.out) {
            self.stats.malformed.fetch_add(1, Relaxed);
        }
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
        let client = &self.pool[i % self.pool.len()].client;
        for m in self.out.drain(..) {
            let p = match client.try_publish(m.topic, QoS::AtMostOnce, m.retain, m.payload) {
                Ok(()) => {
                    self.stats.published.fetch_add(1, Relaxed);
                    continue;
                }
                Err(ClientError::TryRequest(Request::Publish(p))) => p,
                Err(_) => {
                    self.stats.publish_errors.fetch_add(1, Relaxed);
                    continue;
                }
            };
            // The connection's queue is full: the broker is slow or gone. Wait for room (this
            // is what paces a --rate beyond what the broker takes), but never past a stop.
            let topic = String::from_utf8_lossy(&p.topic).into_owned();
            tokio::select! {
                r = client.publish(topic, p.qos, p.retain, p.payload) => match r {
                    Ok(()) => self.stats.published.fetch_add(1, Relaxed),
                    Err(_) => self.stats.publish_errors.fetch_add(1, Relaxed),
                },
                r = self.stop.changed() => {
                    if r.is_err() || *self.stop.borrow() {
                        self.stopping = true;
                        break;
                    }
                    0
                }
            };
        }
    }

    /// Marks a device down; if it had said `online`, says `offline` for it (its LWT).
    fn take_down(&mut self, i: usize, life: Life) -> bool {
        self.devs[i].take_down(life, &mut self.out)
    }
}
