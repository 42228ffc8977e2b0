//! Functions over a metric's history: `avg`, `min`, `max`, `delta`, `rate`, `changes`.
//!
//! Recent time comes from the ring (exact samples); when a window reaches further back
//! than the ring, the coarse per-minute tier fills in, each minute standing for as many
//! samples as the ring's rate suggests, so a long average is not skewed toward the
//! recent part.
//!
//! One pass summarises a (metric, window) for every function at once, and the summary
//! is cached per device: exact until a sample arrives or leaves the window, and then
//! still reused for a thirtieth of the window (a 5m average moves in 10 s steps, as with
//! a rule evaluation interval). Decoding a 512-sample ring for every rule on every
//! message and tick would otherwise dominate ingest.

use super::WindowFn;
use crate::fleet::history::Ring;
use crate::fleet::{Metric, MetricValue};
use std::cell::RefCell;

/// Identifies a metric's content: equal stamps mean nothing new arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Stamp {
    updated_ms: i64,
    len: u32,
    last_t: i64,
    value: u64,
}

impl Stamp {
    pub(crate) fn of(m: &Metric) -> Stamp {
        let (last_t, _) = m.ring.last().unwrap_or((i64::MIN, 0.0));
        let value = match &m.value {
            MetricValue::Number(x) => x.to_bits(),
            MetricValue::Bool(b) => u64::from(*b),
            // FNV-1a: text is short, and a changed text must count as new.
            MetricValue::Text(t) => t.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            }),
        };
        Stamp {
            updated_ms: m.updated_ms,
            len: m.ring.len() as u32,
            last_t,
            value,
        }
    }
}

/// Everything the window functions need, from one pass.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    n: usize,
    sum: f64,
    weights: f64,
    min: f64,
    max: f64,
    first: Option<(i64, f64)>,
    last: Option<(i64, f64)>,
    changes: u64,
    /// The oldest point of the metric's whole history (for `changes` coverage).
    earliest: Option<i64>,
    /// The summary holds while `now` stays in `[computed_at, valid_until]`.
    computed_at: i64,
    valid_until: i64,
}

/// One point of a window: a sample, or a coarse minute (its mean, range and weight).
#[derive(Clone, Copy)]
struct Point {
    t: i64,
    v: f64,
    lo: f64,
    hi: f64,
    weight: f64,
    /// When this point leaves a window of this length.
    leaves_at: i64,
}

impl Summary {
    fn push(&mut self, p: Point) {
        if self.n == 0 {
            self.min = p.lo;
            self.max = p.hi;
        }
        self.n += 1;
        self.sum += p.v * p.weight;
        self.weights += p.weight;
        self.min = self.min.min(p.lo);
        self.max = self.max.max(p.hi);
        // A minute that varied inside changed at least once; consecutive points that
        // differ changed once more.
        self.changes += u64::from(p.lo != p.hi);
        if let Some((_, prev)) = self.last {
            self.changes += u64::from(prev != p.v);
        }
        self.first.get_or_insert((p.t, p.v));
        self.last = Some((p.t, p.v));
        self.valid_until = self.valid_until.min(p.leaves_at);
    }

    fn get(&self, f: WindowFn, start: i64) -> Option<f64> {
        let out = match f {
            WindowFn::Avg => (self.weights > 0.0).then(|| self.sum / self.weights),
            WindowFn::Min => (self.n > 0).then_some(self.min),
            WindowFn::Max => (self.n > 0).then_some(self.max),
            WindowFn::Delta => match (self.first, self.last) {
                (Some((_, a)), Some((_, b))) if self.n >= 2 => Some(b - a),
                _ => None,
            },
            // In floats: device-supplied timestamps may be far enough apart to overflow.
            WindowFn::Rate => match (self.first, self.last) {
                (Some((ta, a)), Some((tb, b))) if tb > ta => {
                    Some((b - a) / ((tb as f64 - ta as f64) / 1000.0))
                }
                _ => None,
            },
            // "No change" means something only when the history spans the whole window:
            // right after start-up two equal samples must not flag every sensor as stuck.
            WindowFn::Changes => (self.n >= 2 && self.earliest.is_some_and(|e| e <= start))
                .then_some(self.changes as f64),
        };
        out.filter(|v| v.is_finite())
    }
}

/// A cached summary may lag by `window / SLACK_DIVISOR` (10 s for a 5m window).
pub const SLACK_DIVISOR: i64 = 30;

/// Most (metric, window) summaries kept per device; past it the cache starts over.
const CACHE_CAP: usize = 32;

/// A summary of (metric name, window length), and the metric's stamp when it was made.
type Cached = (Box<str>, i64, Stamp, Summary);

/// A device's window summaries, reused across rules and ticks.
#[derive(Debug, Default)]
pub struct WindowCache {
    entries: RefCell<Vec<Cached>>,
    /// 0..16: stretches this device's slack by up to 15/16 so that devices first seen
    /// together (a burst of retained messages) do not all re-summarise on one tick.
    spread: u8,
}

impl WindowCache {
    pub fn new(spread: u8) -> WindowCache {
        WindowCache {
            entries: RefCell::default(),
            spread: spread % 16,
        }
    }
}

/// Evaluates `f(metric, window)` at `now`; `None` is "no data".
pub(super) fn window(
    f: WindowFn,
    m: &Metric,
    window_ms: i64,
    now_ms: i64,
    cache: Option<&WindowCache>,
) -> Option<f64> {
    let start = now_ms.saturating_sub(window_ms);
    let Some(cache) = cache else {
        return summarize(m, window_ms, now_ms).get(f, start);
    };
    let stamp = Stamp::of(m);
    let mut entries = cache.entries.borrow_mut();
    // Exact while nothing arrived and nothing left the window; otherwise reused for a
    // thirtieth of the window, like a rule evaluation interval, so a flood of samples
    // or a tick per second does not re-decode the ring each time.
    let slack = window_ms / SLACK_DIVISOR * (16 + i64::from(cache.spread)) / 16;
    let hit = entries.iter().find(|(name, w, st, s)| {
        let age = now_ms.saturating_sub(s.computed_at);
        *w == window_ms
            && age >= 0
            && (age <= slack || (*st == stamp && now_ms <= s.valid_until))
            && **name == *m.name
    });
    if let Some((_, _, _, s)) = hit {
        return s.get(f, start);
    }
    let s = summarize(m, window_ms, now_ms);
    let slot = entries
        .iter()
        .position(|(name, w, _, _)| *w == window_ms && **name == *m.name);
    match slot {
        Some(i) => entries[i] = (m.name.clone(), window_ms, stamp, s),
        None => {
            if entries.len() >= CACHE_CAP {
                entries.clear();
            }
            entries.push((m.name.clone(), window_ms, stamp, s));
        }
    }
    s.get(f, start)
}

fn summarize(m: &Metric, window_ms: i64, now_ms: i64) -> Summary {
    let start = now_ms.saturating_sub(window_ms);
    let ring_first = m.ring.iter().next().map(|(t, _)| t);
    let mut s = Summary {
        earliest: ring_first,
        computed_at: now_ms,
        valid_until: i64::MAX,
        ..Summary::default()
    };
    if ring_first.is_none_or(|t| t > start) {
        // Once the ring alone covers the window, the coarse tier is no longer read.
        if let Some(t) = ring_first {
            s.valid_until = t.saturating_add(window_ms) - 1;
        }
        let weight = coarse_weight(&m.ring);
        for b in m.coarse.buckets() {
            let b_start = i64::from(b.minute) * 60_000;
            s.earliest = Some(s.earliest.map_or(b_start, |e| e.min(b_start)));
            if b_start + 60_000 <= start {
                continue;
            }
            if ring_first.is_some_and(|t| b_start >= t) {
                break;
            }
            s.push(Point {
                t: b_start + 30_000,
                v: f64::from(b.mean),
                lo: f64::from(b.min),
                hi: f64::from(b.max),
                weight,
                leaves_at: (b_start + 60_000).saturating_add(window_ms) - 1,
            });
        }
    }
    for (t, v) in m.ring.iter() {
        if t >= start {
            s.push(Point {
                t,
                v,
                lo: v,
                hi: v,
                weight: 1.0,
                leaves_at: t.saturating_add(window_ms),
            });
        }
    }
    s
}

/// How many samples one coarse minute stands for: the ring's rate per minute, at least 1.
fn coarse_weight(ring: &Ring) -> f64 {
    let (Some((t0, _)), Some((t1, _))) = (ring.iter().next(), ring.last()) else {
        return 1.0;
    };
    let span = t1.saturating_sub(t0);
    if ring.len() < 2 || span <= 0 {
        return 1.0;
    }
    ((ring.len() - 1) as f64 * 60_000.0 / span as f64).max(1.0)
}
