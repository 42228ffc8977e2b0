//! Smart street poles behind LoRaWAN gateways: a dimmable light on a dusk-to-dawn schedule
//! (commands override it for a while), air quality (PM2.5, PM10, NO2) and a parking-bay
//! sensor. One value per topic, the way many LoRaWAN network servers forward sensor fields.

use super::commands::{Command, Outcome};
use super::fleets::{Ctx, day_phase, jitter};
use super::payload::number;

pub(crate) const INTERVAL_MS: u64 = 15_000;
/// Topic suffixes, in the order of the device's telemetry topics.
pub(crate) const METRICS: [&str; 6] = ["light", "dim", "pm2_5", "pm10", "no2", "bay_occupied"];
const LIGHT: usize = 0;
const DIM: usize = 1;
const PM2_5: usize = 2;
const PM10: usize = 3;
const NO2: usize = 4;
const BAY: usize = 5;
/// Air quality goes out every tick; light and parking every this many ticks, and on change.
pub(crate) const FULL_EVERY: u32 = 4;
/// How long a light command overrides the schedule, in simulated seconds.
const MANUAL_S: f64 = 300.0;

pub(crate) const STUCK: &[&str] = &["pm2_5", "no2"];
/// NO2 past 100 ppb or PM2.5 past 75 µg/m³ within four minutes, from any starting point: a
/// sensor ageing, or a real pollution event.
pub(crate) const DRIFTS: &[(&str, f64)] = &[("no2", 0.5), ("pm2_5", 0.4)];
pub(crate) const SPIKES: &[(&str, f64)] = &[("pm10", 950.0), ("pm2_5", 480.0)];

#[derive(Debug, Clone)]
pub(crate) struct Pole {
    light_on: bool,
    dim: f64,
    manual_until_s: f64,
    /// Photocells do not agree to the second: each pole switches a little earlier or later.
    offset_s: f64,
    pm25_base: f64,
    pm25: f64,
    pm10_ratio: f64,
    no2_base: f64,
    no2: f64,
    occupied: bool,
    /// Every 23rd pole has a failed LED driver: light commands to it fail with a reason.
    driver_fault: bool,
    ticks: u32,
    light_changed: bool,
    bay_changed: bool,
}

impl Pole {
    pub fn new(index: usize, rng: &mut fastrand::Rng) -> Pole {
        let pm25_base = 6.0 + rng.f64() * 18.0;
        let no2_base = 12.0 + rng.f64() * 30.0;
        Pole {
            light_on: false,
            dim: 0.0,
            manual_until_s: 0.0,
            offset_s: rng.f64() * 20.0 - 10.0,
            pm25_base,
            pm25: pm25_base,
            pm10_ratio: 1.4 + rng.f64() * 0.5,
            no2_base,
            no2: no2_base,
            occupied: rng.bool(),
            driver_fault: index % 23 == 7,
            ticks: 0,
            light_changed: true,
            bay_changed: true,
        }
    }

    /// The light the schedule wants: off by day, full at dusk, dimmed after midnight.
    fn scheduled(&self, t_s: f64) -> (bool, f64) {
        let phase = day_phase(t_s + self.offset_s);
        if phase < 0.5 {
            (false, 0.0)
        } else if phase < 0.85 {
            (true, 100.0)
        } else {
            (true, 50.0)
        }
    }

    pub fn advance(&mut self, dt_s: f64, t_s: f64, rng: &mut fastrand::Rng) {
        if t_s >= self.manual_until_s && !self.driver_fault {
            let (on, dim) = self.scheduled(t_s);
            self.set_light(on, dim);
        }
        // Rush hours push particulates and NO2 up; otherwise they revert to the pole's base.
        let phase = day_phase(t_s);
        let rush =
            (-((phase - 0.3) * 25.0).powi(2)).exp() + (-((phase - 0.7) * 25.0).powi(2)).exp();
        let k = (dt_s / 120.0).min(1.0);
        let pm_target = self.pm25_base * (1.0 + 1.2 * rush);
        self.pm25 += (pm_target - self.pm25) * k + (rng.f64() - 0.5) * 1.5;
        self.pm25 = self.pm25.max(0.5);
        let no2_target = self.no2_base * (1.0 + 0.9 * rush);
        self.no2 += (no2_target - self.no2) * k + (rng.f64() - 0.5) * 2.0;
        self.no2 = self.no2.max(1.0);
        if rng.f64() < dt_s / 90.0 {
            self.occupied = !self.occupied;
            self.bay_changed = true;
        }
    }

    fn set_light(&mut self, on: bool, dim: f64) {
        let dim = if on { dim } else { 0.0 };
        if on != self.light_on || dim != self.dim {
            self.light_on = on;
            self.dim = dim;
            self.light_changed = true;
        }
    }

    /// Air quality every time; light and bay when they changed, on every `FULL_EVERY`th
    /// tick, and always when `full` (first report, after a command).
    pub fn emit(&mut self, ctx: &mut Ctx<'_>, full: bool) {
        let periodic = self.ticks % FULL_EVERY == 0;
        self.ticks = self.ticks.wrapping_add(1);
        let now = ctx.now_ms;
        let pm25 = self.pm25 * jitter(ctx.rng, 0.03);
        let pm10 = self.pm25 * self.pm10_ratio * jitter(ctx.rng, 0.05);
        let values = [
            (PM2_5, number(ctx.fx, METRICS[PM2_5], pm25, 1, now)),
            (PM10, number(ctx.fx, METRICS[PM10], pm10, 1, now)),
            (NO2, number(ctx.fx, METRICS[NO2], self.no2, 1, now)),
        ];
        for (topic, payload) in values {
            ctx.send(topic, payload, false);
        }
        if full || periodic || self.light_changed {
            let word = if self.light_on { "ON" } else { "OFF" };
            ctx.send(LIGHT, word.to_string(), false);
            ctx.send(DIM, format!("{:.0}", self.dim), false);
            self.light_changed = false;
        }
        if full || periodic || self.bay_changed {
            ctx.send(BAY, self.occupied.to_string(), false);
            self.bay_changed = false;
        }
    }

    pub fn command(&mut self, cmd: &Command, t_s: f64) -> Outcome {
        let (on, dim) = match cmd.name.as_str() {
            "light-on" => (true, if self.dim > 0.0 { self.dim } else { 100.0 }),
            "light-off" => (false, 0.0),
            "light-dim" => match cmd.level {
                Some(level) if (0.0..=100.0).contains(&level) => (level > 0.0, level.round()),
                Some(level) => {
                    return Outcome::Failed(format!("level {level} is out of range 0..100"));
                }
                None => return Outcome::Failed("light-dim needs level=0..100".into()),
            },
            _ => {
                return Outcome::unsupported(cmd, "light-on, light-off, light-dim level=N, reboot");
            }
        };
        if self.driver_fault {
            return Outcome::Failed("LED driver not responding (hardware fault)".into());
        }
        self.set_light(on, dim);
        self.manual_until_s = t_s + MANUAL_S;
        Outcome::Done(if on {
            format!("light on at {dim:.0}%")
        } else {
            "light off".to_string()
        })
    }
}
