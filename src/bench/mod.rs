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
pub mod steady;

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

/// What fleetop made of a flood: how many of the messages sent it applied, and at what
/// rate. A rate with losses is not a rate, so [`summary`] never prints one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub rate: Option<f64>,
    pub applied: u64,
    pub sent: u64,
}

impl Outcome {
    pub fn lossless(&self) -> bool {
        self.applied >= self.sent
    }

    /// The worse of two runs: a loss beats any rate, then the slower rate.
    pub fn worse(self, other: Outcome) -> Outcome {
        match (self.lossless(), other.lossless()) {
            (true, false) => other,
            (false, true) => self,
            _ if other.rate.unwrap_or(0.0) < self.rate.unwrap_or(0.0) => other,
            _ => self,
        }
    }

    /// The better of two rounds of the same run: lossless first, then the faster.
    pub fn better(self, other: Outcome) -> Outcome {
        if self.worse(other) == self {
            other
        } else {
            self
        }
    }
}

/// The bench's fixed last line: `ingest: fleetop X msg/s lossless (N of N applied),
/// mosquitto_sub Y msg/s, ratio Z`, or `ingest: fleetop lossy (K of N lost, A applied),
/// …, ratio n/a` when anything was lost.
pub fn summary(fleetop: Outcome, mosquitto_sub: Option<f64>) -> String {
    let reference = mosquitto_sub.filter(|&m| m > 0.0).map(|m| m.round() as u64);
    let reference_text = reference.map_or("mosquitto_sub n/a".to_string(), |m| {
        format!("mosquitto_sub {m} msg/s")
    });
    let Outcome { applied, sent, .. } = fleetop;
    if !fleetop.lossless() {
        return format!(
            "ingest: fleetop lossy ({} of {sent} lost, {applied} applied), {reference_text}, ratio n/a",
            sent - applied
        );
    }
    let f = fleetop.rate.map_or(0, |r| r.round() as u64);
    let ratio = reference.map_or("n/a".to_string(), |m| {
        format!("{:.2}", f as f64 / m.max(1) as f64)
    });
    format!(
        "ingest: fleetop {f} msg/s lossless ({applied} of {sent} applied), {reference_text}, ratio {ratio}"
    )
}

/// `1.21 M msg/s, lossless (N of N applied)` or `lossy: K of N lost`.
pub fn describe(run: Outcome) -> String {
    if run.lossless() {
        format!(
            "{} msg/s, lossless ({} of {} applied)",
            run.rate.map_or("?".into(), human),
            run.applied,
            run.sent
        )
    } else {
        format!("lossy: {} of {} lost", run.sent - run.applied, run.sent)
    }
}

/// The process's peak resident memory (VmHWM), as Linux reports it.
pub fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or("n/a".into(), |kb| format!("{:.0} MB", kb as f64 / 1024.0))
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
        let run = |rate: f64, applied: u64| Outcome {
            rate: Some(rate),
            applied,
            sent: 1_000_000,
        };
        assert_eq!(
            summary(run(1_234_567.4, 1_000_000), Some(181_000.0)),
            "ingest: fleetop 1234567 msg/s lossless (1000000 of 1000000 applied), \
             mosquitto_sub 181000 msg/s, ratio 6.82"
        );
        assert_eq!(
            summary(run(100.0, 1_000_000), None),
            "ingest: fleetop 100 msg/s lossless (1000000 of 1000000 applied), \
             mosquitto_sub n/a, ratio n/a"
        );
        assert_eq!(
            summary(run(2e6, 999_000), Some(5e5)),
            "ingest: fleetop lossy (1000 of 1000000 lost, 999000 applied), \
             mosquitto_sub 500000 msg/s, ratio n/a"
        );
        // A loss is worse than any rate; among lossless runs the slower is worse.
        assert_eq!(
            run(2e6, 999_000).worse(run(1e3, 1_000_000)),
            run(2e6, 999_000)
        );
        assert_eq!(
            run(2e6, 1_000_000).worse(run(1e6, 1_000_000)),
            run(1e6, 1_000_000)
        );
        assert_eq!(
            run(2e6, 1_000_000).better(run(1e6, 1_000_000)),
            run(2e6, 1_000_000)
        );
        assert_eq!(human(1_650_000.0), "1.65 M");
        assert_eq!(human(181_400.0), "181 k");
    }
}
