//! The bulk-send rate limit: a token bucket that starts nearly empty, so no second ever
//! carries more than the configured rate plus one.

/// Sends allowed at most `per_sec` a second on average, in bursts of at most a quarter second's worth.
#[derive(Debug, Clone)]
pub struct Pacer {
    per_sec: f64,
    tokens: f64,
    last_ms: Option<i64>,
}

impl Pacer {
    pub fn new(per_sec: f64) -> Pacer {
        Pacer {
            per_sec: per_sec.max(0.1),
            tokens: 1.0,
            last_ms: None,
        }
    }

    pub fn per_sec(&self) -> f64 {
        self.per_sec
    }

    fn burst(&self) -> f64 {
        (self.per_sec / 4.0).max(1.0)
    }

    /// How many sends may go now; they are taken from the bucket.
    pub fn take(&mut self, now_ms: i64, want: usize) -> usize {
        if let Some(last) = self.last_ms {
            let dt = (now_ms - last).max(0) as f64 / 1000.0;
            self.tokens = (self.tokens + dt * self.per_sec).min(self.burst());
        }
        self.last_ms = Some(now_ms);
        let n = (self.tokens.floor() as usize).min(want);
        self.tokens -= n as f64;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_the_rate() {
        let mut p = Pacer::new(20.0);
        let mut sent = Vec::new();
        // A front end ticking every 50 ms for 10 s, with 1000 sends waiting.
        for step in 0..200 {
            let now = step * 50;
            for _ in 0..p.take(now, 1000) {
                sent.push(now);
            }
        }
        for w in 0..190 {
            let from = w * 50;
            let in_window = sent
                .iter()
                .filter(|t| **t >= from && **t < from + 1000)
                .count();
            assert!(
                in_window <= 21,
                "{in_window} sends in the second from {from} ms"
            );
        }
        assert!(sent.len() >= 190, "{} sends in 10 s", sent.len());
        // Slow ticks do not bank a burst bigger than a quarter second's worth.
        let mut p = Pacer::new(20.0);
        p.take(0, 0);
        assert_eq!(p.take(60_000, 1000), 5);
    }
}
