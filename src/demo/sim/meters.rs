//! M2M utility meters: a cumulative kWh register and a few instantaneous values, reported
//! rarely (every three simulated minutes, standing in for the hours or days of real meters)
//! with the reading's own timestamp, and retained so a late watcher sees every meter at once.

use super::commands::{Command, Outcome};
use super::fleets::{Ctx, day_phase, jitter};
use super::payload::Json;

pub(crate) const INTERVAL_MS: u64 = 180_000;

pub(crate) const STUCK: &[&str] = &["power_kw"];
/// Supply voltage creeping past the +10 % limit (253 V) within two or three reports.
pub(crate) const DRIFTS: &[(&str, f64)] = &[("voltage_v", 0.06)];
pub(crate) const SPIKES: &[(&str, f64)] = &[("power_kw", 412.0), ("voltage_v", 0.0)];

#[derive(Debug, Clone)]
pub(crate) struct Meter {
    energy_kwh: f64,
    base_kw: f64,
    power_kw: f64,
    voltage: f64,
    pf: f64,
}

impl Meter {
    pub fn new(rng: &mut fastrand::Rng) -> Meter {
        let base_kw = 0.3 + rng.f64() * 2.5;
        Meter {
            energy_kwh: 1_000.0 + rng.f64() * 90_000.0,
            base_kw,
            power_kw: base_kw,
            voltage: 228.0 + rng.f64() * 7.0,
            pf: 0.9 + rng.f64() * 0.09,
        }
    }

    pub fn advance(&mut self, dt_s: f64, t_s: f64, rng: &mut fastrand::Rng) {
        // Energy accrues at the power drawn over the interval; load follows the day.
        self.energy_kwh += self.power_kw * dt_s / 3600.0;
        let evening = (-((day_phase(t_s) - 0.75) * 6.0).powi(2)).exp();
        self.power_kw = (self.base_kw * (0.6 + 1.8 * evening) * jitter(rng, 0.25)).max(0.05);
        self.voltage = (self.voltage + (rng.f64() - 0.5) * 1.0).clamp(222.0, 238.0);
    }

    pub fn emit(&mut self, ctx: &mut Ctx<'_>) {
        let ts = chrono::Utc::now().timestamp();
        let current = self.power_kw * 1000.0 / (self.voltage * self.pf);
        let mut j = Json::new(ctx.fx, ctx.now_ms);
        j.int("ts", ts)
            .num("energy_kwh", self.energy_kwh, 2)
            .num("power_kw", self.power_kw, 2)
            .num("voltage_v", self.voltage, 1)
            .num("current_a", current, 1)
            .num("pf", self.pf, 2);
        let payload = j.finish();
        ctx.send(0, payload, true);
    }

    pub fn command(&mut self, cmd: &Command) -> Outcome {
        Outcome::unsupported(cmd, "reboot")
    }
}
