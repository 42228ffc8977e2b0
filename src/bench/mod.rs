//! `fleetop bench ingest`: fleetop's whole pipeline against `mosquitto_sub` on the same
//! flood, through a real broker or through a loopback stand-in that makes the subscriber
//! the bottleneck. The command line side lives in `cli::bench`; these are its parts.

pub mod alerts;
pub mod bare;
pub mod flood;
pub mod mosquitto;
pub mod pipeline;
pub mod publisher;
pub mod standin;

use std::time::Instant;

/// Progress of one subscriber: how many it got, and two observations (time, count) that
/// bracket its receiving period. The rate counts only messages between the two
/// observations, so a batch that arrived before the first one is not credited to it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub count: u64,
    pub first: Option<(Instant, u64)>,
    pub last: Option<(Instant, u64)>,
}

impl Tally {
    /// Records that `count` messages have arrived by `at`.
    pub fn note(&mut self, at: Instant, count: u64) {
        if count == self.count && self.first.is_some() {
            return;
        }
        self.count = count;
        if count == 0 {
            return;
        }
        if self.first.is_none() {
            self.first = Some((at, count));
        }
        self.last = Some((at, count));
    }

    /// Messages per second between the first and last observation.
    pub fn rate(&self) -> Option<f64> {
        let ((t0, c0), (t1, c1)) = (self.first?, self.last?);
        let secs = t1.duration_since(t0).as_secs_f64();
        (secs > 0.0 && c1 > c0).then(|| (c1 - c0) as f64 / secs)
    }

    /// Seconds between the first and last observation.
    pub fn secs(&self) -> f64 {
        match (self.first, self.last) {
            (Some((t0, _)), Some((t1, _))) => t1.duration_since(t0).as_secs_f64(),
            _ => 0.0,
        }
    }

    /// Last observation time, if any.
    pub fn last_at(&self) -> Option<Instant> {
        self.last.map(|(t, _)| t)
    }
}

/// `1234567` → `1.23 M`, `181234` → `181 k`: for the human-facing lines.
pub fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2} M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.0} k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// The final line; scripts parse it, so its shape is fixed.
pub fn summary(fleetop: Option<f64>, mosquitto_sub: Option<f64>) -> String {
    let f = fleetop.map_or(0, |r| r.round() as u64);
    match mosquitto_sub {
        Some(m) if m > 0.0 => {
            let m = m.round() as u64;
            let ratio = f as f64 / m.max(1) as f64;
            format!("ingest: fleetop {f} msg/s, mosquitto_sub {m} msg/s, ratio {ratio:.2}")
        }
        _ => format!("ingest: fleetop {f} msg/s, mosquitto_sub n/a, ratio n/a"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tally_counts_only_between_observations() {
        let t0 = Instant::now();
        let mut t = Tally::default();
        t.note(t0, 4096);
        t.note(t0 + Duration::from_millis(500), 4096 + 500_000);
        t.note(t0 + Duration::from_secs(1), 1_004_096);
        assert_eq!(t.rate().map(|r| r.round()), Some(1_000_000.0));
        assert_eq!(t.count, 1_004_096);
        assert_eq!(Tally::default().rate(), None);
    }

    #[test]
    fn summary_line_shapes() {
        assert_eq!(
            summary(Some(1_234_567.4), Some(181_000.0)),
            "ingest: fleetop 1234567 msg/s, mosquitto_sub 181000 msg/s, ratio 6.82"
        );
        assert_eq!(
            summary(Some(100.0), None),
            "ingest: fleetop 100 msg/s, mosquitto_sub n/a, ratio n/a"
        );
        assert_eq!(human(1_650_000.0), "1.65 M");
        assert_eq!(human(181_400.0), "181 k");
    }
}
