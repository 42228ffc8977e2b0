//! Cellular water-tank monitors: level filling and draining with pump cycles, a few tanks
//! trending toward critical low (a leak the pump cannot keep up with) or overflow (a float
//! switch that never stops the pump), pump state, battery, cellular signal.

use super::commands::{Command, Outcome};
use super::fleets::{Ctx, day_phase, jitter};
use super::payload::Json;

pub(crate) const INTERVAL_MS: u64 = 10_000;
/// How long a pump command overrides the automatic float control, in simulated seconds.
const MANUAL_S: f64 = 600.0;
/// Automatic control: pump on below, off above (percent).
const PUMP_ON_BELOW: f64 = 25.0;
const PUMP_OFF_ABOVE: f64 = 90.0;

pub(crate) const STUCK: &[&str] = &["level_pct", "temp_c"];
/// (metric, change per simulated second): the battery sags past 3.4 V within two minutes;
/// the level reads past 100 % within three and a half, whatever it started at.
pub(crate) const DRIFTS: &[(&str, f64)] = &[("battery_v", -0.006), ("level_pct", 0.5)];
pub(crate) const SPIKES: &[(&str, f64)] = &[("level_pct", 187.5), ("temp_c", 96.0)];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Profile {
    Normal,
    /// Drains faster than the pump fills: heads for critical low and stays there.
    Leak,
    /// The float switch is stuck: the pump never stops on its own and the tank overflows.
    Overfill,
}

#[derive(Debug, Clone)]
pub(crate) struct Tank {
    profile: Profile,
    level: f64,
    capacity_l: f64,
    pump_on: bool,
    /// Simulated time until which a command, not the float switch, decides the pump.
    manual_until_s: f64,
    fill_pct_min: f64,
    drain_pct_min: f64,
    battery_v: f64,
    rssi_base: f64,
    temp_c: f64,
}

impl Tank {
    /// `index` is the tank's position in its fleet: every 12th leaks and every 12th (offset
    /// by six) overfills, so any demo with a dozen tanks shows both trends.
    pub fn new(index: usize, rng: &mut fastrand::Rng) -> Tank {
        let profile = match index % 12 {
            4 => Profile::Leak,
            10 => Profile::Overfill,
            _ => Profile::Normal,
        };
        let level = match profile {
            Profile::Normal => 30.0 + rng.f64() * 55.0,
            Profile::Leak => 45.0 + rng.f64() * 15.0,
            Profile::Overfill => 70.0 + rng.f64() * 10.0,
        };
        Tank {
            profile,
            level,
            capacity_l: [5_000.0, 10_000.0, 15_000.0, 20_000.0][rng.usize(..4)],
            pump_on: profile == Profile::Overfill || rng.bool(),
            manual_until_s: 0.0,
            fill_pct_min: 6.0 + rng.f64() * 4.0,
            drain_pct_min: 2.0 + rng.f64() * 2.5,
            battery_v: 3.85 + rng.f64() * 0.25,
            rssi_base: -75.0 - rng.f64() * 30.0,
            temp_c: 12.0 + rng.f64() * 6.0,
        }
    }

    /// Moves the tank on by `dt_s` simulated seconds.
    pub fn advance(&mut self, dt_s: f64, t_s: f64, rng: &mut fastrand::Rng) {
        let minutes = dt_s / 60.0;
        let day = day_phase(t_s);
        // Demand peaks in the simulated morning and evening.
        let demand = self.drain_pct_min * (1.0 + 0.6 * (2.0 * day * std::f64::consts::TAU).sin());
        let drain = match self.profile {
            Profile::Leak => demand + self.fill_pct_min,
            _ => demand,
        } * jitter(rng, 0.2);
        let fill = if self.pump_on { self.fill_pct_min } else { 0.0 };
        self.level = (self.level + (fill - drain) * minutes).clamp(0.0, 100.0);

        if t_s >= self.manual_until_s {
            if self.level < PUMP_ON_BELOW {
                self.pump_on = true;
            } else if self.level > PUMP_OFF_ABOVE && self.profile != Profile::Overfill {
                self.pump_on = false;
            }
        }
        // Solar-charged battery: charges by day, the pump and modem draw it down.
        let sun = (day * std::f64::consts::TAU).sin().max(0.0);
        let draw = if self.pump_on { 0.0002 } else { 0.00005 };
        self.battery_v = (self.battery_v + (sun * 0.0004 - draw) * dt_s).clamp(3.3, 4.2);
        // A sensor's noise (±0.3 °C) is more than its 0.1 °C resolution: a healthy one never
        // repeats itself for long, so a stuck one shows.
        self.temp_c += (14.0 + 6.0 * sun - self.temp_c) * 0.05 + (rng.f64() - 0.5) * 0.6;
    }

    pub fn emit(&mut self, ctx: &mut Ctx<'_>) {
        let rssi = self.rssi_base + (ctx.rng.f64() - 0.5) * 8.0;
        let mut j = Json::new(ctx.fx, ctx.now_ms);
        j.num("level_pct", self.level, 1)
            .num("volume_l", self.level / 100.0 * self.capacity_l, 0)
            .word("pump", if self.pump_on { "ON" } else { "OFF" })
            .boolean("overflow", self.level >= 99.5)
            .num("battery_v", self.battery_v, 2)
            .num("rssi_dbm", rssi, 0)
            .num("temp_c", self.temp_c, 1)
            .int("uptime_s", ctx.uptime_s as i64);
        let payload = j.finish();
        ctx.send(0, payload, false);
    }

    pub fn command(&mut self, cmd: &Command, t_s: f64) -> Outcome {
        let on = match cmd.name.as_str() {
            "pump-start" => true,
            "pump-stop" => false,
            _ => return Outcome::unsupported(cmd, "pump-start, pump-stop, reboot"),
        };
        if on && self.battery_v < 3.45 {
            return Outcome::Failed("battery too low to run the pump (below 3.45 V)".into());
        }
        self.pump_on = on;
        self.manual_until_s = t_s + MANUAL_S;
        Outcome::Done(format!(
            "pump {} for the next {} min",
            if on { "started" } else { "stopped" },
            MANUAL_S as u64 / 60
        ))
    }
}
