//! The five device models behind one interface, and what they share: the compressed day,
//! report intervals, and which metrics each fleet's scheduled faults may hit.

use super::commands::{Command, Outcome};
use super::payload::{Effects, Msg};
use super::{meters, poles, tanks, vehicles, weather};
use crate::demo::topics::Kind;

/// One simulated day lasts ten simulated minutes, so a demo shows dusk, dawn, rush hours and
/// pump cycles while someone watches.
pub(crate) const DAY_S: f64 = 600.0;

/// Where in the day the simulation starts: late afternoon, so the poles' lights come on
/// within the first minute of a demo.
const START_PHASE: f64 = 0.42;

/// Position in the simulated day: 0..0.5 daylight, 0.5..1 night.
pub(crate) fn day_phase(t_s: f64) -> f64 {
    (t_s / DAY_S + START_PHASE).rem_euclid(1.0)
}

/// A factor within ±`frac` of 1.
pub(crate) fn jitter(rng: &mut fastrand::Rng, frac: f64) -> f64 {
    1.0 + (rng.f64() - 0.5) * 2.0 * frac
}

/// Report interval of a fleet, in simulated milliseconds (the demo config's
/// `expected_interval` says the same).
pub(crate) fn interval_ms(kind: Kind) -> u64 {
    match kind {
        Kind::Tank => tanks::INTERVAL_MS,
        Kind::Pole => poles::INTERVAL_MS,
        Kind::Weather => weather::INTERVAL_MS,
        Kind::Meter => meters::INTERVAL_MS,
        Kind::Vehicle => vehicles::INTERVAL_MS,
    }
}

/// Average messages per report.
pub(crate) fn messages_per_tick(kind: Kind) -> f64 {
    match kind {
        Kind::Pole => 3.0 + 3.0 / f64::from(poles::FULL_EVERY),
        _ => 1.0,
    }
}

/// Telemetry topic suffixes: the poles' `{metric}` level; one topic for the other fleets.
pub(crate) fn metric_topics(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Pole => &poles::METRICS,
        _ => &[""],
    }
}

/// Metrics a scheduled fault may hit, per fleet.
pub(crate) struct FaultMenu {
    pub stuck: &'static [&'static str],
    pub drifts: &'static [(&'static str, f64)],
    pub spikes: &'static [(&'static str, f64)],
}

pub(crate) fn fault_menu(kind: Kind) -> FaultMenu {
    let (stuck, drifts, spikes) = match kind {
        Kind::Tank => (tanks::STUCK, tanks::DRIFTS, tanks::SPIKES),
        Kind::Pole => (poles::STUCK, poles::DRIFTS, poles::SPIKES),
        Kind::Weather => (weather::STUCK, weather::DRIFTS, weather::SPIKES),
        Kind::Meter => (meters::STUCK, meters::DRIFTS, meters::SPIKES),
        Kind::Vehicle => (vehicles::STUCK, vehicles::DRIFTS, vehicles::SPIKES),
    };
    FaultMenu {
        stuck,
        drifts,
        spikes,
    }
}

/// What a model needs to write its messages.
pub(crate) struct Ctx<'a> {
    /// Simulated time of this report, ms since the simulation started.
    pub now_ms: u64,
    pub uptime_s: u64,
    pub rng: &'a mut fastrand::Rng,
    pub fx: &'a mut Effects,
    pub topics: &'a [String],
    pub out: &'a mut Vec<Msg>,
}

impl Ctx<'_> {
    pub fn t_s(&self) -> f64 {
        self.now_ms as f64 / 1000.0
    }

    /// Queues a message on the device's `topic`th telemetry topic.
    pub fn send(&mut self, topic: usize, payload: String, retain: bool) {
        self.out.push(Msg {
            topic: self.topics[topic].clone(),
            payload,
            retain,
        });
    }
}

/// A device of any fleet.
#[derive(Debug, Clone)]
pub(crate) enum Model {
    Tank(tanks::Tank),
    Pole(poles::Pole),
    Weather(weather::Station),
    Meter(meters::Meter),
    Vehicle(vehicles::Van),
}

impl Model {
    /// `index` is the device's position within its fleet.
    pub fn new(kind: Kind, index: usize, rng: &mut fastrand::Rng) -> Model {
        match kind {
            Kind::Tank => Model::Tank(tanks::Tank::new(index, rng)),
            Kind::Pole => Model::Pole(poles::Pole::new(index, rng)),
            Kind::Weather => Model::Weather(weather::Station::new(rng)),
            Kind::Meter => Model::Meter(meters::Meter::new(rng)),
            Kind::Vehicle => Model::Vehicle(vehicles::Van::new(rng)),
        }
    }

    /// Advances the physics by `dt_s` simulated seconds, ending at `t_s`.
    pub fn advance(&mut self, dt_s: f64, t_s: f64, rng: &mut fastrand::Rng) {
        if dt_s <= 0.0 {
            return;
        }
        match self {
            Model::Tank(m) => m.advance(dt_s, t_s, rng),
            Model::Pole(m) => m.advance(dt_s, t_s, rng),
            Model::Weather(m) => m.advance(dt_s, t_s, rng),
            Model::Meter(m) => m.advance(dt_s, t_s, rng),
            Model::Vehicle(m) => m.advance(dt_s, t_s, rng),
        }
    }

    /// Writes a report; `full` asks for every value (first report, after a command).
    pub fn emit(&mut self, ctx: &mut Ctx<'_>, full: bool) {
        match self {
            Model::Tank(m) => m.emit(ctx),
            Model::Pole(m) => m.emit(ctx, full),
            Model::Weather(m) => m.emit(ctx),
            Model::Meter(m) => m.emit(ctx),
            Model::Vehicle(m) => m.emit(ctx),
        }
    }

    /// Applies a fleet-specific command (`reboot` is handled for every fleet elsewhere).
    pub fn command(&mut self, cmd: &Command, t_s: f64) -> Outcome {
        match self {
            Model::Tank(m) => m.command(cmd, t_s),
            Model::Pole(m) => m.command(cmd, t_s),
            Model::Weather(m) => m.command(cmd),
            Model::Meter(m) => m.command(cmd),
            Model::Vehicle(m) => m.command(cmd),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, PayloadFormat};
    use crate::decode::{self, Scratch, Value};
    use std::collections::HashMap;

    /// One full report of a fresh device, decoded the way fleetop decodes it.
    fn report(kind: Kind, index: usize, cmd: Option<&str>) -> HashMap<String, String> {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut model = Model::new(kind, index, &mut rng);
        model.advance(30.0, 400.0, &mut rng);
        if let Some(c) = cmd {
            let cmd = super::super::commands::parse(c.as_bytes()).unwrap();
            assert!(matches!(model.command(&cmd, 400.0), Outcome::Done(_)));
        }
        let topics: Vec<String> = metric_topics(kind)
            .iter()
            .map(|m| format!("x/{m}"))
            .collect();
        let (mut fx, mut out) = (Effects::default(), Vec::new());
        let mut ctx = Ctx {
            now_ms: 400_000,
            uptime_s: 42,
            rng: &mut rng,
            fx: &mut fx,
            topics: &topics,
            out: &mut out,
        };
        model.emit(&mut ctx, true);
        let format = if kind == Kind::Pole {
            PayloadFormat::Auto
        } else {
            PayloadFormat::Json
        };
        let mut scratch = Scratch::default();
        let mut seen = HashMap::new();
        for m in out {
            let metric = m.topic.rsplit('/').next().unwrap_or_default();
            decode::decode(m.payload.as_bytes(), format, metric, &mut scratch)
                .unwrap_or_else(|e| panic!("{kind}: {e}: {}", m.payload));
            for (path, v) in scratch.values() {
                let v = match v {
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Text(t) => t.to_string(),
                };
                seen.insert(path.to_string(), v);
            }
        }
        seen
    }

    #[test]
    fn the_demo_config_declares_what_devices_send_at_the_pace_they_send_it() {
        let config = Config::parse(&crate::demo::demo_config("p"), None).unwrap();
        for (k, kind) in Kind::ALL.into_iter().enumerate() {
            let fleet = &config.fleets[k];
            assert_eq!(fleet.name, kind.fleet());
            assert_eq!(
                fleet.expected_interval,
                Some(std::time::Duration::from_millis(interval_ms(kind))),
                "{kind}"
            );
            let seen = report(kind, 0, None);
            for name in fleet.metrics.iter().map(|m| &m.name).chain(&fleet.table) {
                assert!(
                    seen.contains_key(name),
                    "{kind}: `{name}` not sent; sent {seen:?}"
                );
            }
        }
        assert!(report(Kind::Weather, 0, None).len() >= 24);
    }

    #[test]
    fn commands_show_in_the_next_report() {
        let r = report(Kind::Pole, 0, Some("light-dim level=40"));
        assert_eq!((r["light"].as_str(), r["dim"].as_str()), ("true", "40"));
        let r = report(Kind::Pole, 0, Some("light-off"));
        assert_eq!(r["light"], "false");
        let r = report(Kind::Tank, 0, Some("pump-stop"));
        assert_eq!(r["pump"], "false");
        let r = report(Kind::Tank, 0, Some("pump-start"));
        assert_eq!(r["pump"], "true");
    }
}
