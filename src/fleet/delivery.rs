//! Delivery delay and reporting jitter per device, kept as metrics like any other
//! (`delay`, `jitter`, in seconds): table columns, `/` filters and alert rules such as
//! `delay > 30` use them by name.
//!
//! - `delay`: arrival time minus the sample's own timestamp (the newest one a message
//!   carries), for messages that carry one. Large: a queue somewhere (a gateway buffering,
//!   a broker backlog) or a device clock that is off; negative: a clock ahead.
//! - `jitter`: how irregular the reporting interval is, smoothed as RTP does for
//!   interarrival jitter (RFC 3550 6.4.1: J += (|D| - J) / 16), where D is the change
//!   between two successive intervals of the same topic. Per topic, so a device that
//!   publishes several topics per report is not judged by the gaps between them.
//!
//! Retained messages say nothing about delivery now and are not counted. Pure: times
//! come in with the message.

/// Topics per device whose intervals are followed; a device's further topics are not.
const MAX_TOPICS: usize = 64;
/// RFC 3550's gain: each new difference moves the estimate by 1/16 of the way.
const GAIN: f64 = 1.0 / 16.0;

/// The metric names, as filters and rules write them.
pub const DELAY: &str = "delay";
pub const JITTER: &str = "jitter";

/// The unit of a delivery metric.
pub fn unit(metric: &str) -> Option<&'static str> {
    matches!(metric, DELAY | JITTER).then_some("s")
}

/// What one device's arrivals have shown so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delivery {
    /// Per followed topic: its index, last live arrival, last interval (ms).
    topics: Vec<(u16, i64, Option<i64>)>,
    jitter_ms: Option<f64>,
}

/// What a message's arrival measured, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Measured {
    pub delay_s: Option<f64>,
    pub jitter_s: Option<f64>,
}

impl Delivery {
    /// Notes a live message on topic `topic` arriving at `arrival_ms` whose newest sample
    /// is stamped `sample_ms`; what it measured (jitter only once a topic has shown two
    /// intervals, and only when this message updated it).
    pub fn observe(&mut self, topic: u16, arrival_ms: i64, sample_ms: Option<i64>) -> Measured {
        let delay_s = sample_ms.map(|t| (arrival_ms - t) as f64 / 1000.0);
        let jitter_s = self.interval(topic, arrival_ms).map(|j| j / 1000.0);
        Measured { delay_s, jitter_s }
    }

    /// The jitter estimate after this arrival, if it moved.
    fn interval(&mut self, topic: u16, arrival_ms: i64) -> Option<f64> {
        let Some(i) = self.topics.iter().position(|t| t.0 == topic) else {
            if self.topics.len() < MAX_TOPICS {
                self.topics.push((topic, arrival_ms, None));
            }
            return None;
        };
        let (_, last, previous) = self.topics[i];
        // Out of order (a replay, a second connection): not an interval.
        if arrival_ms < last {
            return None;
        }
        let interval = arrival_ms - last;
        self.topics[i] = (topic, arrival_ms, Some(interval));
        let change = (interval - previous?).abs() as f64;
        let j = match self.jitter_ms {
            // The first change is the first estimate, rather than creeping up from 0.
            None => change,
            Some(j) => j + (change - j) * GAIN,
        };
        self.jitter_ms = Some(j);
        Some(j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_is_arrival_minus_the_samples_own_time() {
        let mut d = Delivery::default();
        let m = d.observe(0, 100_000, Some(58_000));
        assert_eq!(m.delay_s, Some(42.0));
        assert_eq!(
            d.observe(0, 110_000, Some(110_500)).delay_s,
            Some(-0.5),
            "a clock ahead"
        );
        assert_eq!(d.observe(0, 120_000, None).delay_s, None);
    }

    #[test]
    fn a_steady_reporter_has_no_jitter() {
        let mut d = Delivery::default();
        let got: Vec<_> = (0..6)
            .map(|i| d.observe(0, i * 10_000, None).jitter_s)
            .collect();
        assert_eq!(
            got,
            [None, None, Some(0.0), Some(0.0), Some(0.0), Some(0.0)]
        );
    }

    #[test]
    fn jitter_follows_rfc_3550_smoothing() {
        let mut d = Delivery::default();
        // Intervals 10 s, 14 s, 10 s: changes of 4 s, then 4 s again, then 0.
        for (t, want) in [
            (0, None),
            (10_000, None),
            (24_000, Some(4.0)),
            (34_000, Some(4.0)),
        ] {
            assert_eq!(d.observe(0, t, None).jitter_s, want, "at {t}");
        }
        let j = d.observe(0, 44_000, None).jitter_s.unwrap();
        assert!((j - 3.75).abs() < 1e-9, "4 + (0 - 4)/16 = {j}");
    }

    #[test]
    fn topics_are_judged_apart() {
        let mut d = Delivery::default();
        // Two topics per report, 50 ms apart, every 10 s: steady.
        let mut last = None;
        for i in 0..5 {
            d.observe(0, i * 10_000, None);
            last = d.observe(1, i * 10_000 + 50, None).jitter_s;
        }
        assert_eq!(last, Some(0.0));
        // Out of order is no interval.
        assert_eq!(d.observe(1, 1_000, None).jitter_s, None);
    }

    #[test]
    fn the_topics_followed_are_bounded() {
        let mut d = Delivery::default();
        for t in 0..1000u16 {
            d.observe(t, 0, None);
        }
        assert_eq!(d.topics.len(), MAX_TOPICS);
    }

    #[test]
    fn units() {
        assert_eq!(unit("delay"), Some("s"));
        assert_eq!(unit("jitter"), Some("s"));
        assert_eq!(unit("temp"), None);
    }
}
