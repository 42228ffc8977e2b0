//! The demo's fault schedule against the demo config's rules, with injected time and no
//! broker: the simulator's own devices (the same models, effects, last wills and fault
//! decisions the engine uses) report into a fleet state and an alert book built from
//! `demo_config`, one simulated second at a time.
//!
//! Two promises are held here: every scheduled fault that happens raises an alert naming
//! its device (or gateway) while the fault lasts, and a healthy device raises none of the
//! rules written for faults (the demo's own trends, a leaking or overfilling tank, may).

use super::incidents::max_gateways_down;
use super::lifecycle::devices;
use super::{Dev, Life};
use crate::alerts::{AlertBook, RuleSet};
use crate::config::Config;
use crate::demo::sim::faults::{Fault, FaultKind, FaultPlan};
use crate::demo::sim::fleets::interval_ms;
use crate::demo::sim::layout::Layout;
use crate::demo::sim::payload::Msg;
use crate::demo::topics::{OFFLINE, ONLINE};
use crate::fleet::FleetState;
use crate::mapping::Mapper;
use crate::vocab::{LinkState, RawMessage};

const PREFIX: &str = "demo";
/// Simulated time 0, as epoch ms: the fleet state and the alert book see wall-like times.
const EPOCH: i64 = 1_764_000_000_000;

/// An alert's firing: the rule, what it is about (device name or gateway labels), from
/// when until when (`u64::MAX`: still firing), in simulated ms.
#[derive(Debug, Clone)]
struct Raised {
    rule: String,
    about: String,
    at_ms: u64,
    until_ms: u64,
}

/// The simulator's devices and gateways feeding a fleet state and an alert book.
struct Field {
    layout: Layout,
    devs: Vec<Dev>,
    gateway_up: Vec<bool>,
    gateway_back: Vec<Option<u64>>,
    revive: Vec<Option<u64>>,
    next_report: Vec<u64>,
    state: FleetState,
    book: AlertBook,
    out: Vec<Msg>,
    raised: Vec<Raised>,
    now: u64,
}

impl Field {
    fn new(seed: u64, n: usize) -> Field {
        let config = Config::parse(&crate::demo::demo_config(PREFIX), None).expect("demo config");
        let mapper = Mapper::from_config(&config).expect("demo fleets");
        let mut state = FleetState::new(mapper, config.limits.clone(), &["demo".to_string()]);
        let mut book = AlertBook::new(RuleSet::from_config(&config).expect("demo rules"));
        state.link_changed(crate::vocab::ConnId(0), LinkState::Connected, EPOCH);
        book.link_changed(crate::vocab::ConnId(0), true, EPOCH);
        let layout = Layout::new(seed, n);
        let devs = devices(&layout, PREFIX, seed);
        let next_report = (0..devs.len())
            .map(|i| (i as u64 * 137) % interval_ms(layout.devices[i].kind).min(3_000))
            .collect();
        let gateways = layout.gateways.len();
        let mut field = Field {
            revive: vec![None; devs.len()],
            devs,
            gateway_up: vec![true; gateways],
            gateway_back: vec![None; gateways],
            next_report,
            state,
            book,
            out: Vec::new(),
            raised: Vec::new(),
            now: 0,
            layout,
        };
        for g in 0..gateways {
            field.gateway_says(g, ONLINE);
        }
        field
    }

    fn reachable(&self, i: usize) -> bool {
        self.devs[i].life == Life::Up
            && self.layout.devices[i]
                .gateway
                .is_none_or(|g| self.gateway_up[g])
    }

    fn gateway_says(&mut self, g: usize, what: &str) {
        self.out.push(Msg {
            topic: self.layout.gateway_status_topic(PREFIX, g),
            payload: what.into(),
            retain: true,
        });
    }

    /// What the engine's `apply_fault` does, without the sockets. False if it could not
    /// happen now (and the simulator would not announce it).
    fn apply(&mut self, f: &Fault) -> bool {
        match f.kind {
            FaultKind::GatewayDrops {
                gateway,
                back_after_ms,
            } => {
                let down = self.gateway_up.iter().filter(|up| !**up).count();
                if down >= max_gateways_down(self.gateway_up.len()) || !self.gateway_up[gateway] {
                    return false;
                }
                self.gateway_up[gateway] = false;
                self.gateway_back[gateway] = Some(self.now + back_after_ms);
                self.gateway_says(gateway, OFFLINE);
            }
            ref kind => {
                let Some(d) = kind.device() else { return false };
                if !self.reachable(d) {
                    return false;
                }
                if let Some(back) = self.devs[d].suffer(kind, self.now, &mut self.out) {
                    self.revive[d] = Some(back);
                }
            }
        }
        self.deliver();
        true
    }

    /// Runs the field to simulated `until_ms`, a second at a time.
    fn run_to(&mut self, until_ms: u64) {
        while self.now < until_ms {
            self.now += 1000;
            for g in 0..self.gateway_up.len() {
                if self.gateway_back[g].is_some_and(|t| t <= self.now) {
                    self.gateway_back[g] = None;
                    self.gateway_up[g] = true;
                    self.gateway_says(g, ONLINE);
                }
            }
            for i in 0..self.devs.len() {
                if self.revive[i].is_some_and(|t| t <= self.now) {
                    self.revive[i] = None;
                    self.devs[i].revive(self.now);
                }
                while self.next_report[i] <= self.now {
                    let at = self.next_report[i];
                    self.next_report[i] += interval_ms(self.layout.devices[i].kind);
                    let reachable = self.reachable(i);
                    self.devs[i].report(at, false, reachable, &mut self.out);
                }
            }
            self.deliver();
            let now = EPOCH + self.now as i64;
            self.state.tick(now);
            self.book.evaluate_groups(&self.state.groups, now);
            self.book.tick(&self.state.devices, now);
            self.note_raised();
        }
    }

    /// Hands what devices and gateways wrote to the fleet state and the alert book.
    fn deliver(&mut self) {
        let at_ms = EPOCH + self.now as i64;
        for m in std::mem::take(&mut self.out) {
            self.state.apply(&RawMessage {
                conn: crate::vocab::ConnId(0),
                topic: m.topic.into_bytes().into(),
                payload: m.payload.into_bytes().into(),
                // A broker forwards a live message to a subscriber without the retain flag.
                retain: false,
                at_ms,
            });
            if let Some(id) = self.state.take_touched()
                && let Some(d) = self.state.devices.get(id.index())
            {
                self.book.evaluate_device(d, at_ms);
            }
        }
        self.note_raised();
    }

    fn note_raised(&mut self) {
        for t in self.book.drain() {
            let at_ms = (t.at_ms - EPOCH) as u64;
            if t.to.is_raised() && !t.from.is_raised() {
                self.raised.push(Raised {
                    rule: t.rule_name.to_string(),
                    about: t.device_name.clone(),
                    at_ms,
                    until_ms: u64::MAX,
                });
            } else if t.from.is_raised()
                && !t.to.is_raised()
                && let Some(r) = self.raised.iter_mut().rev().find(|r| {
                    r.rule == *t.rule_name && r.about == t.device_name && r.until_ms == u64::MAX
                })
            {
                r.until_ms = at_ms;
            }
        }
    }

    /// The rules that speak for a fault: the built-in for a death, a gateway or a garbled
    /// payload; for a sensor fault, every rule that reads the faulty metric.
    fn rules_for(&self, f: &FaultKind) -> Vec<String> {
        let metric = match *f {
            FaultKind::Dies { .. } => return vec!["device_offline".into(), "device_stale".into()],
            FaultKind::GatewayDrops { .. } => return vec!["gateway_offline".into()],
            FaultKind::Malformed { .. } => return vec!["decode_errors".into()],
            FaultKind::Stuck { metric, .. }
            | FaultKind::Drift { metric, .. }
            | FaultKind::Spike { metric, .. } => metric,
        };
        self.book
            .rules()
            .rules()
            .iter()
            .filter(|r| r.metrics().contains(&metric))
            .map(|r| r.name.to_string())
            .collect()
    }

    /// What an operator would look for: the device's name, or the gateway's label.
    fn about(&self, f: &Fault) -> String {
        match f.kind {
            FaultKind::GatewayDrops { gateway, .. } => {
                format!("gateway={}", self.layout.gateways[gateway].id)
            }
            ref kind => kind
                .device()
                .map(|d| self.layout.devices[d].id.clone())
                .unwrap_or_default(),
        }
    }
}

/// True when an alert's subject is `about`: a device's name, or one of the `key=value`
/// labels a gateway's alert is named by.
fn names(subject: &str, about: &str) -> bool {
    subject == about || subject.split(' ').any(|w| w == about)
}

/// How long after a fault starts its alert may come: its whole duration, for those that
/// last; a one-off (a spike, a garbled message) shows in the next report or two.
fn deadline(f: &Fault, layout: &Layout) -> u64 {
    let report = |d: usize| interval_ms(layout.devices[d].kind);
    match f.kind {
        FaultKind::Dies {
            device,
            back_after_ms,
        } => back_after_ms.unwrap_or(3 * report(device) + 30_000),
        FaultKind::GatewayDrops { back_after_ms, .. } => back_after_ms,
        FaultKind::Stuck { for_ms, .. } | FaultKind::Drift { for_ms, .. } => for_ms,
        FaultKind::Spike { device, .. } | FaultKind::Malformed { device } => 2 * report(device),
    }
}

#[test]
fn every_scheduled_fault_that_happens_raises_an_alert_while_it_lasts() {
    for seed in [1, 7] {
        let mut field = Field::new(seed, 200);
        let mut plan = FaultPlan::new(seed, &field.layout);
        let mut checked = Vec::new();
        let mut misses = Vec::new();
        for _ in 0..40 {
            let Some(f) = plan.next_fault() else { break };
            field.run_to(f.at_ms.div_ceil(1000) * 1000);
            let (start, about) = (field.now, field.about(&f));
            if !field.apply(&f) {
                continue;
            }
            checked.push((start, start + deadline(&f, &field.layout), about, f));
        }
        let end = checked.iter().map(|c| c.1).max().unwrap_or(0);
        field.run_to(end + 1000);
        for (start, until, about, f) in &checked {
            let rules = field.rules_for(&f.kind);
            assert!(
                !rules.is_empty(),
                "no rule reads what {} breaks",
                f.describe(&field.layout)
            );
            // Firing at some moment while the fault lasts (it may have fired before, for a
            // device already in trouble the same way).
            let caught = field.raised.iter().any(|r| {
                names(&r.about, about)
                    && rules.contains(&r.rule)
                    && r.at_ms <= *until
                    && r.until_ms >= *start
            });
            if !caught {
                misses.push(format!("seed {seed}: {}", f.describe(&field.layout)));
            }
        }
        assert!(
            checked.len() >= 20,
            "seed {seed}: only {} faults happened",
            checked.len()
        );
        assert!(misses.is_empty(), "no alert for:\n{}", misses.join("\n"));
    }
}

/// Rules written for faults stay quiet on devices nothing happens to, over every fleet for
/// 90 simulated minutes (nine of the demo's ten-minute days: dawns, rush hours, nights).
#[test]
fn healthy_devices_raise_no_fault_alerts() {
    let mut field = Field::new(3, 200);
    field.run_to(90 * 60 * 1000);
    let flaky = FaultPlan::flaky(3, 200);
    let noise: Vec<String> = field
        .raised
        .iter()
        .filter(|r| !TREND_RULES.contains(&r.rule.as_str()))
        // A flaky device garbles a message now and then on its own: that alert is true.
        .filter(|r| {
            !(r.rule == "decode_errors"
                && field
                    .layout
                    .devices
                    .iter()
                    .position(|d| d.id == r.about)
                    .is_some_and(|i| flaky[i]))
        })
        .map(|r| format!("{} {} at {}s", r.rule, r.about, r.at_ms / 1000))
        .collect();
    assert!(
        noise.is_empty(),
        "{} alerts on healthy devices:\n{}",
        noise.len(),
        noise.join("\n")
    );
}

/// Rules the demo's healthy devices are meant to raise: tanks that leak or overfill by
/// design, batteries that run down overnight.
const TREND_RULES: &[&str] = &["tank_low", "tank_overflow", "battery_low"];
