//! Modular weather stations: two dozen readings in one nested JSON message (air, wind, rain,
//! solar, soil moisture at four depths, leaf wetness, lightning, power).

use super::commands::{Command, Outcome};
use super::fleets::{Ctx, day_phase, jitter};
use super::payload::Json;
use std::f64::consts::TAU;

pub(crate) const INTERVAL_MS: u64 = 15_000;

/// A seized anemometer or a frozen wind vane: both move on every report when healthy.
pub(crate) const STUCK: &[&str] = &["wind.speed_ms", "wind.dir_deg"];
pub(crate) const DRIFTS: &[(&str, f64)] = &[("battery_v", -0.006), ("air.pressure_hpa", -0.2)];
pub(crate) const SPIKES: &[(&str, f64)] = &[("air.temp_c", 85.3), ("wind.gust_ms", 96.0)];

/// Soil layers, shallow to deep; deeper layers react to rain later and less.
const DEPTHS: [(&str, f64); 4] = [
    ("moisture_10cm", 1.0),
    ("moisture_20cm", 0.6),
    ("moisture_40cm", 0.3),
    ("moisture_80cm", 0.1),
];

#[derive(Debug, Clone)]
pub(crate) struct Station {
    temp_base: f64,
    temp_c: f64,
    humidity: f64,
    pressure: f64,
    wind: f64,
    wind_dir: f64,
    raining: bool,
    rain_rate: f64,
    rain_today: f64,
    soil: [f64; 4],
    leaf_wetness: f64,
    strikes: u32,
    battery_v: f64,
}

impl Station {
    pub fn new(rng: &mut fastrand::Rng) -> Station {
        let soil = 20.0 + rng.f64() * 15.0;
        let temp_base = 8.0 + rng.f64() * 14.0;
        Station {
            temp_base,
            temp_c: temp_base + 4.0,
            humidity: 45.0 + rng.f64() * 20.0,
            pressure: 1005.0 + rng.f64() * 20.0,
            wind: 2.0 + rng.f64() * 5.0,
            wind_dir: rng.f64() * 360.0,
            raining: false,
            rain_rate: 0.0,
            rain_today: 0.0,
            soil: [soil, soil + 3.0, soil + 6.0, soil + 8.0],
            leaf_wetness: 0.0,
            strikes: 0,
            battery_v: 3.9 + rng.f64() * 0.2,
        }
    }

    pub fn advance(&mut self, dt_s: f64, t_s: f64, rng: &mut fastrand::Rng) {
        let phase = day_phase(t_s);
        let sun = (phase * TAU).sin().max(0.0);
        let k = (dt_s / 60.0).min(1.0);
        let target =
            self.temp_base + 7.0 * (phase * TAU - 0.6).sin() - if self.raining { 3.0 } else { 0.0 };
        self.temp_c += (target - self.temp_c) * k + (rng.f64() - 0.5) * 0.2;
        let rh_target = if self.raining {
            96.0
        } else {
            85.0 - 35.0 * sun
        };
        self.humidity = (self.humidity + (rh_target - self.humidity) * k).clamp(5.0, 100.0);
        self.pressure = (self.pressure + (rng.f64() - 0.5) * 0.15).clamp(970.0, 1045.0);
        self.wind = (self.wind + (rng.f64() - 0.5) * 1.2 + (4.0 - self.wind) * 0.02 * k).max(0.0);
        self.wind_dir = (self.wind_dir + (rng.f64() - 0.5) * 25.0).rem_euclid(360.0);
        // Showers come and go: a Markov chain in simulated minutes.
        let minutes = dt_s / 60.0;
        if self.raining {
            self.raining = rng.f64() >= 0.12 * minutes;
        } else {
            self.raining = rng.f64() < 0.02 * minutes;
        }
        self.rain_rate = if self.raining {
            (self.rain_rate.max(0.5) * jitter(rng, 0.3)).clamp(0.2, 25.0)
        } else {
            0.0
        };
        self.rain_today += self.rain_rate * dt_s / 3600.0 * 20.0;
        if phase < (dt_s / super::fleets::DAY_S) {
            // A new simulated day.
            self.rain_today = 0.0;
        }
        for (i, (_, reach)) in DEPTHS.iter().enumerate() {
            let wet = self.rain_rate * reach * 0.05 * minutes;
            let dry = (0.02 + 0.05 * sun) * reach * minutes * 2.0;
            self.soil[i] = (self.soil[i] + wet - dry).clamp(5.0, 55.0);
        }
        let wet_target = if self.raining {
            100.0
        } else if sun == 0.0 {
            40.0
        } else {
            0.0
        };
        self.leaf_wetness += (wet_target - self.leaf_wetness) * k * 0.5;
        self.strikes = if self.raining && rng.f64() < 0.15 {
            rng.u32(1..6)
        } else {
            0
        };
        self.battery_v = (self.battery_v + (sun * 0.0004 - 0.0001) * dt_s).clamp(3.3, 4.2);
    }

    pub fn emit(&mut self, ctx: &mut Ctx<'_>) {
        let sun = (day_phase(ctx.t_s()) * TAU).sin().max(0.0);
        let radiation = 950.0
            * sun
            * if self.raining {
                0.25
            } else {
                jitter(ctx.rng, 0.1)
            };
        let gust = self.wind * (1.3 + ctx.rng.f64() * 0.6);
        let dew = dew_point(self.temp_c, self.humidity);
        let mut j = Json::new(ctx.fx, ctx.now_ms);
        j.open("air")
            .num("temp_c", self.temp_c, 1)
            .num("humidity_pct", self.humidity, 0)
            .num("pressure_hpa", self.pressure, 1)
            .num("dew_point_c", dew, 1)
            .close();
        j.open("wind")
            .num("speed_ms", self.wind, 1)
            .num("gust_ms", gust, 1)
            .num("dir_deg", self.wind_dir, 0)
            .close();
        j.open("rain")
            .num("rate_mmh", self.rain_rate, 1)
            .num("today_mm", self.rain_today, 1)
            .close();
        j.open("solar")
            .num("radiation_wm2", radiation, 0)
            .num("uv_index", radiation / 95.0, 1)
            .num("lux", radiation * 120.0, 0)
            .close();
        j.open("soil");
        for (i, (name, _)) in DEPTHS.iter().enumerate() {
            j.num(name, self.soil[i], 1);
        }
        j.num("temp_10cm", self.temp_base + 2.0 * sun, 1)
            .num("temp_40cm", self.temp_base + 1.0, 1)
            .close();
        j.num("leaf_wetness_pct", self.leaf_wetness, 0);
        j.open("lightning")
            .int("strikes", i64::from(self.strikes))
            .num(
                "distance_km",
                if self.strikes > 0 {
                    3.0 + ctx.rng.f64() * 20.0
                } else {
                    0.0
                },
                0,
            )
            .close();
        j.num("battery_v", self.battery_v, 2)
            .num("panel_v", 6.2 * sun, 1)
            .num("rssi_dbm", -70.0 - ctx.rng.f64() * 25.0, 0)
            .int("uptime_s", ctx.uptime_s as i64);
        let payload = j.finish();
        ctx.send(0, payload, false);
    }

    pub fn command(&mut self, cmd: &Command) -> Outcome {
        Outcome::unsupported(cmd, "reboot")
    }
}

/// Magnus formula: dew point from temperature and relative humidity.
fn dew_point(t: f64, rh: f64) -> f64 {
    let (a, b) = (17.62, 243.12);
    let g = (rh.max(1.0) / 100.0).ln() + a * t / (b + t);
    b * g / (a - g)
}
