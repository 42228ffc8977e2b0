//! A delivery fleet: GPS position, speed and heading, fuel, engine temperature. Vans drive
//! around their depot between delivery stops and refuel when low.

use super::commands::{Command, Outcome};
use super::fleets::{Ctx, jitter};
use super::payload::Json;

pub(crate) const INTERVAL_MS: u64 = 5_000;

/// A GPS fix that stops moving while the van drives; an engine sensor that repeats itself.
pub(crate) const STUCK: &[&str] = &["lat", "engine_temp_c"];
/// Engine temperature creeping past 110 °C within four minutes even from cold: a failing
/// thermostat or a coolant leak.
pub(crate) const DRIFTS: &[(&str, f64)] = &[("engine_temp_c", 0.4)];
pub(crate) const SPIKES: &[(&str, f64)] = &[("speed_kmh", 312.0), ("engine_temp_c", 151.0)];

/// The depot the vans circle (Munich; any city would do).
const DEPOT: (f64, f64) = (48.1374, 11.5755);
const RANGE_KM: f64 = 12.0;
const KM_PER_DEG_LAT: f64 = 111.2;

#[derive(Debug, Clone)]
pub(crate) struct Van {
    lat: f64,
    lon: f64,
    heading: f64,
    speed: f64,
    cruise: f64,
    /// Simulated seconds left in the current leg (driving) or stop (parked).
    leg_s: f64,
    driving: bool,
    fuel: f64,
    engine_c: f64,
    odometer_km: f64,
}

impl Van {
    pub fn new(rng: &mut fastrand::Rng) -> Van {
        let (dlat, dlon) = offset_deg((rng.f64() - 0.5) * 10.0, (rng.f64() - 0.5) * 10.0);
        Van {
            lat: DEPOT.0 + dlat,
            lon: DEPOT.1 + dlon,
            heading: rng.f64() * 360.0,
            speed: 0.0,
            cruise: 30.0 + rng.f64() * 35.0,
            leg_s: rng.f64() * 120.0,
            driving: rng.bool(),
            fuel: 25.0 + rng.f64() * 70.0,
            engine_c: 20.0 + rng.f64() * 60.0,
            odometer_km: 20_000.0 + rng.f64() * 180_000.0,
        }
    }

    pub fn advance(&mut self, dt_s: f64, _t_s: f64, rng: &mut fastrand::Rng) {
        self.leg_s -= dt_s;
        if self.leg_s <= 0.0 {
            self.driving = !self.driving;
            self.leg_s = if self.driving {
                60.0 + rng.f64() * 240.0
            } else {
                20.0 + rng.f64() * 70.0
            };
            if !self.driving && self.fuel < 12.0 {
                self.fuel = 95.0 + rng.f64() * 5.0;
            }
        }
        if self.driving {
            self.speed =
                (self.speed + (self.cruise * jitter(rng, 0.3) - self.speed) * 0.5).max(5.0);
            let (north_km, east_km) = self.km_from_depot();
            if (north_km * north_km + east_km * east_km).sqrt() > RANGE_KM {
                // Head back towards the depot.
                self.heading = (-east_km).atan2(-north_km).to_degrees().rem_euclid(360.0);
            } else {
                self.heading = (self.heading + (rng.f64() - 0.5) * 40.0).rem_euclid(360.0);
            }
            let km = self.speed * dt_s / 3600.0;
            let rad = self.heading.to_radians();
            let (dlat, dlon) = offset_deg(km * rad.cos(), km * rad.sin());
            self.lat += dlat;
            self.lon += dlon;
            self.odometer_km += km;
            // A 75 L tank at about 11 L/100 km.
            self.fuel = (self.fuel - km * 0.11 / 75.0 * 100.0).max(0.0);
            self.engine_c += (90.0 - self.engine_c) * (dt_s / 90.0).min(1.0);
        } else {
            self.speed = 0.0;
            self.engine_c += (15.0 - self.engine_c) * (dt_s / 900.0).min(1.0);
        }
    }

    fn km_from_depot(&self) -> (f64, f64) {
        let north = (self.lat - DEPOT.0) * KM_PER_DEG_LAT;
        let east = (self.lon - DEPOT.1) * KM_PER_DEG_LAT * DEPOT.0.to_radians().cos();
        (north, east)
    }

    pub fn emit(&mut self, ctx: &mut Ctx<'_>) {
        let mut j = Json::new(ctx.fx, ctx.now_ms);
        j.num("lat", self.lat, 5)
            .num("lon", self.lon, 5)
            .num("speed_kmh", self.speed, 0)
            .num("heading_deg", self.heading, 0)
            .num("fuel_pct", self.fuel, 1)
            .num("engine_temp_c", self.engine_c + (ctx.rng.f64() - 0.5), 1)
            .word("ignition", if self.driving { "ON" } else { "OFF" })
            .num("odometer_km", self.odometer_km, 1)
            .int("uptime_s", ctx.uptime_s as i64);
        let payload = j.finish();
        ctx.send(0, payload, false);
    }

    pub fn command(&mut self, cmd: &Command) -> Outcome {
        Outcome::unsupported(cmd, "reboot")
    }
}

/// Degrees of latitude and longitude for a displacement in km near the depot.
fn offset_deg(north_km: f64, east_km: f64) -> (f64, f64) {
    (
        north_km / KM_PER_DEG_LAT,
        east_km / (KM_PER_DEG_LAT * DEPOT.0.to_radians().cos()),
    )
}
