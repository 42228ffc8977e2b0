//! The field simulator: five fleets of devices publishing realistic telemetry over MQTT 5,
//! with faults on a seed-determined schedule, and devices that answer commands.
//!
//! Topic layout: [`crate::demo::topics`]. Commands and replies: [`commands`]. The fleets:
//! `tanks`, `poles`, `weather`, `meters`, `vehicles` (one module each). Faults: [`faults`].
//!
//! Pace: by default each fleet reports at its natural interval (about 27 msg/s for 200
//! devices, 1,350 msg/s for 10,000). `rate` sets the total instead: the simulated clock runs
//! faster or slower to match (faster for benchmarks, slower for a throttled public broker),
//! and a token bucket keeps bursts within one second's worth. A clock slower than real time
//! makes devices report less often than the demo config's `expected_interval` expects, so
//! fleetop shows them stale: [`SimOptions::natural_rate`] tells the caller when that happens.

pub mod commands;
mod engine;
pub mod faults;
mod fleets;
pub mod layout;
mod link;
mod meters;
mod payload;
mod poles;
mod tanks;
mod vehicles;
mod weather;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// First topic level(s) of everything published; see [`crate::demo::validate_prefix`].
    pub prefix: String,
    /// Same seed, same device ids, values and fault schedule.
    pub seed: u64,
    pub devices: usize,
    /// Total messages a second: a target, not only a cap. The simulated clock runs faster
    /// or slower to match (faster: benchmarks; slower: a throttled broker). `None`: the
    /// fleets' natural pace. For "natural, but at most R", see [`SimOptions::at_most`].
    pub rate: Option<f64>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            prefix: crate::demo::DEFAULT_PREFIX.into(),
            seed: 1,
            devices: 200,
            rate: None,
        }
    }
}

impl SimOptions {
    pub const MAX_DEVICES: usize = 100_000;
    /// Beyond this no broker we know keeps up, and the clock would run absurdly fast.
    pub const MAX_RATE: f64 = 5_000_000.0;
    /// Below this, reports are minutes apart even for a handful of devices.
    pub const MIN_RATE: f64 = 0.1;

    /// Checks the options, with messages that say what to use instead.
    pub fn validate(&self) -> Result<(), String> {
        crate::demo::validate_prefix(&self.prefix).map_err(|e| format!("--prefix: {e}"))?;
        if self.devices == 0 {
            return Err("--devices 0: the simulator needs at least one device".into());
        }
        if self.devices > Self::MAX_DEVICES {
            return Err(format!(
                "--devices {}: at most {} devices can be simulated",
                self.devices,
                Self::MAX_DEVICES
            ));
        }
        if let Some(rate) = self.rate {
            if !rate.is_finite() || rate <= 0.0 {
                return Err(format!(
                    "--rate {rate}: give a positive number of messages a second"
                ));
            }
            if rate < Self::MIN_RATE {
                return Err(format!("--rate {rate}: at least {} msg/s", Self::MIN_RATE));
            }
            if rate > Self::MAX_RATE {
                return Err(format!(
                    "--rate {rate}: at most {} msg/s (no broker keeps up beyond that)",
                    Self::MAX_RATE
                ));
            }
        }
        Ok(())
    }

    /// Messages a second at the fleets' natural pace, for this many devices.
    pub fn natural_rate(&self) -> f64 {
        layout::natural_rate(self.devices.min(Self::MAX_DEVICES))
    }

    /// The natural pace, slowed down if it would exceed `max` msg/s: what a shared public
    /// broker should get (it never speeds the clock up).
    pub fn at_most(self, max: f64) -> SimOptions {
        let natural = self.natural_rate();
        SimOptions {
            rate: (max < natural).then_some(max),
            ..self
        }
    }

    /// How much faster than real time the simulated clock runs (below 1: slower).
    pub fn speed(&self) -> f64 {
        self.rate.map_or(1.0, |r| r / self.natural_rate())
    }
}

/// Live counters, shared with whoever wants to show progress.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Messages handed to the MQTT client (QoS 0 telemetry is not acknowledged).
    pub published: AtomicU64,
    pub publish_errors: AtomicU64,
    pub commands_received: AtomicU64,
    pub commands_answered: AtomicU64,
    /// Commands that arrived faster than the simulator could take them.
    pub commands_dropped: AtomicU64,
    pub faults: AtomicU64,
    pub malformed: AtomicU64,
    pub reconnects: AtomicU64,
}

/// What a simulation did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimReport {
    pub published: u64,
    pub publish_errors: u64,
    pub commands_received: u64,
    pub commands_answered: u64,
    pub commands_dropped: u64,
    pub faults: u64,
    pub malformed: u64,
    pub reconnects: u64,
    pub devices: usize,
    /// Wall time from the first report to the goodbye.
    pub elapsed: Duration,
}

impl SimReport {
    pub fn msg_per_s(&self) -> f64 {
        self.published as f64 / self.elapsed.as_secs_f64().max(1e-3)
    }
}

impl SimStats {
    fn report(&self, devices: usize, elapsed: Duration) -> SimReport {
        SimReport {
            published: self.published.load(Relaxed),
            publish_errors: self.publish_errors.load(Relaxed),
            commands_received: self.commands_received.load(Relaxed),
            commands_answered: self.commands_answered.load(Relaxed),
            commands_dropped: self.commands_dropped.load(Relaxed),
            faults: self.faults.load(Relaxed),
            malformed: self.malformed.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            devices,
            elapsed,
        }
    }
}

/// Publishes the simulated fleets to the broker at `url` until `stop` turns true or its
/// sender is dropped. Fails at once, with a reason, if the options are invalid or the broker
/// cannot be reached or refuses; once running, lost connections are retried and counted.
pub async fn run(
    url: &str,
    opts: SimOptions,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<SimReport> {
    run_with_stats(url, opts, stop, Arc::new(SimStats::default())).await
}

/// [`run`], updating `stats` as it goes (for a live status line).
pub async fn run_with_stats(
    url: &str,
    opts: SimOptions,
    stop: tokio::sync::watch::Receiver<bool>,
    stats: Arc<SimStats>,
) -> anyhow::Result<SimReport> {
    opts.validate().map_err(anyhow::Error::msg)?;
    let engine = engine::Engine::start(url, &opts, stats.clone(), stop)
        .await
        .map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    engine.run().await;
    Ok(stats.report(opts.devices, started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_says_what_is_wrong() {
        let ok = SimOptions::default();
        ok.validate().unwrap();
        let with = |f: fn(&mut SimOptions)| {
            let mut o = SimOptions::default();
            f(&mut o);
            o.validate().unwrap_err()
        };
        assert!(with(|o| o.devices = 0).contains("at least one"));
        assert!(with(|o| o.devices = 100_001).contains("at most 100000"));
        assert!(with(|o| o.rate = Some(0.0)).contains("positive"));
        assert!(with(|o| o.rate = Some(-3.0)).contains("positive"));
        assert!(with(|o| o.rate = Some(f64::NAN)).contains("positive"));
        assert!(with(|o| o.rate = Some(1e12)).contains("at most"));
        assert!(with(|o| o.prefix = "a/+".into()).contains("--prefix"));
    }

    #[test]
    fn natural_rate_and_speed() {
        let o = SimOptions::default();
        let natural = o.natural_rate();
        assert!((20.0..40.0).contains(&natural), "{natural}");
        let fast = SimOptions {
            rate: Some(natural * 10.0),
            ..o.clone()
        };
        assert!((fast.speed() - 10.0).abs() < 1e-9);
        assert_eq!(o.speed(), 1.0);
        assert_eq!(o.clone().at_most(50.0).rate, None);
        assert_eq!(o.at_most(10.0).rate, Some(10.0));
    }
}
