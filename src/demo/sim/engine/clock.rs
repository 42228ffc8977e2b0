//! Simulated time and pacing: the clock that runs at `--rate`'s speed, the token bucket that
//! caps bursts, and the order of the event queue.

use super::Ev;
use std::time::{Duration, Instant};

/// A queue entry: ordered by time, then by insertion.
pub(super) struct Due(pub u64, pub u64, pub Ev);

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
pub(super) struct Clock {
    pub start: Instant,
    pub speed: f64,
}

impl Clock {
    pub fn now_ms(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * 1000.0 * self.speed) as u64
    }
    pub fn instant_at(&self, sim_ms: u64) -> Instant {
        self.start + Duration::from_secs_f64(sim_ms as f64 / 1000.0 / self.speed)
    }
    pub fn sim_of(&self, wall: Duration) -> u64 {
        (wall.as_secs_f64() * 1000.0 * self.speed) as u64
    }
}

/// A token bucket that lets debt build and says how long to wait it off.
pub(super) struct Bucket {
    pub rate: f64,
    pub tokens: f64,
    pub last: Instant,
}

impl Bucket {
    pub fn take(&mut self, n: usize) -> Duration {
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
