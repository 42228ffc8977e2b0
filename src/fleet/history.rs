//! Bounded metric history: a compact ring of recent samples plus a per-minute coarse tier.
//!
//! The ring keeps the last `capacity` samples, encoded as deltas so that 10,000 devices with
//! ten metrics each fit in a few hundred megabytes: times as a delta-of-delta in milliseconds
//! (periodic telemetry costs one byte), values as a delta of decimal-scaled integers
//! (sensor readings carry few decimals, so a small change costs one or two bytes), with a
//! raw `f32` escape for values that are not short decimals. Decoding is exact for short
//! decimals and `f32`-exact otherwise.

use std::collections::VecDeque;

/// Largest decimal scale tried: values with more decimals are stored as `f32`.
const MAX_SCALE: u8 = 4;
const POW10: [f64; 5] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];
/// Escape tags for raw values: `f32` when it is finite there, else `f64`.
const RAW32: u64 = 1;
const RAW64: u64 = 3;

/// A decoded sample plus what the next delta needs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cursor {
    t: i64,
    dt: i64,
    v: f64,
    /// `v` as an integer at the ring's decimal scale, or `NO_INT` when out of range.
    vi: i64,
}

const NO_INT: i64 = i64::MIN;

/// A fixed-length ring of `(time_ms, value)` samples.
#[derive(Debug, Clone)]
pub struct Ring {
    capacity: u32,
    len: u32,
    scale: u8,
    front: Cursor,
    back: Cursor,
    /// Encoded samples after the front one, oldest first, from `head` on. Bytes before
    /// `head` are already evicted; they are reclaimed once they are half the buffer.
    bytes: Vec<u8>,
    head: usize,
}

impl Ring {
    pub fn new(capacity: usize) -> Ring {
        let zero = Cursor {
            t: 0,
            dt: 0,
            v: 0.0,
            vi: 0,
        };
        Ring {
            capacity: capacity.clamp(2, u32::MAX as usize) as u32,
            len: 0,
            scale: 0,
            front: zero,
            back: zero,
            bytes: Vec::new(),
            head: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// The newest sample.
    pub fn last(&self) -> Option<(i64, f64)> {
        (self.len > 0).then_some((self.back.t, self.back.v))
    }

    /// Heap bytes held by the encoded samples.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// Appends a sample; when full, evicts and returns the oldest. Non-finite values are
    /// ignored.
    pub fn push(&mut self, t: i64, v: f64) -> Option<(i64, f64)> {
        if !v.is_finite() {
            return None;
        }
        self.push_inner(t, v, true)
    }

    fn push_inner(&mut self, t: i64, v: f64, may_rescale: bool) -> Option<(i64, f64)> {
        if self.len == 0 {
            self.scale = (0..=MAX_SCALE)
                .find(|&s| scaled(v, s).is_some())
                .unwrap_or(0);
            self.front = Cursor {
                t,
                dt: 0,
                v,
                vi: self.int_of(v),
            };
            self.back = self.front;
            self.len = 1;
            return None;
        }
        let mut fit = scaled(v, self.scale);
        if fit.is_none() && may_rescale {
            // More decimals than before: re-encode at the finer scale (at most 4 times).
            if let Some(s) = (self.scale + 1..=MAX_SCALE).find(|&s| scaled(v, s).is_some()) {
                self.rescale(s);
                fit = scaled(v, s);
            }
        }
        let evicted = (self.len == self.capacity).then(|| {
            let oldest = (self.front.t, self.front.v);
            self.pop_front();
            oldest
        });
        if self.head > 0 && self.head * 2 >= self.bytes.len() {
            self.bytes.drain(..self.head);
            self.head = 0;
        }
        if self.bytes.capacity() - self.bytes.len() < 16 {
            let grow = (self.bytes.capacity() / 4).max(32);
            self.bytes.reserve_exact(grow);
        }
        let back = self.back;
        let dt = t.wrapping_sub(back.t);
        let dt_delta = zigzag(dt.wrapping_sub(back.dt));
        let next = match fit {
            Some(vi) if back.vi != NO_INT && zigzag(vi.wrapping_sub(back.vi)) < (1 << 62) => {
                let v_delta = zigzag(vi - back.vi) << 1;
                if dt_delta < 0x80 && v_delta < 0x80 {
                    // The usual sample: one byte each, written together.
                    self.bytes
                        .extend_from_slice(&[dt_delta as u8, v_delta as u8]);
                } else {
                    push_varint(&mut self.bytes, dt_delta);
                    push_varint(&mut self.bytes, v_delta);
                }
                // `scaled` checked that `vi / 10^scale` gives back `v` exactly.
                Cursor { t, dt, v, vi }
            }
            _ => {
                push_varint(&mut self.bytes, dt_delta);
                let stored = self.push_raw(v);
                Cursor {
                    t,
                    dt,
                    v: stored,
                    vi: self.int_of(stored),
                }
            }
        };
        self.back = next;
        self.len += 1;
        evicted
    }

    /// Samples oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        let mut cursor = self.front;
        let mut pos = self.head;
        let mut remaining = self.len;
        std::iter::from_fn(move || {
            if remaining == 0 {
                return None;
            }
            if remaining < self.len {
                cursor = self.decode_next(cursor, &mut pos);
            }
            remaining -= 1;
            Some((cursor.t, cursor.v))
        })
    }

    /// The value as an integer at the ring's scale, rounded; `NO_INT` out of range.
    fn int_of(&self, v: f64) -> i64 {
        round_i64(v * POW10[self.scale as usize]).unwrap_or(NO_INT)
    }

    fn push_raw(&mut self, v: f64) -> f64 {
        let raw = v as f32;
        if raw.is_finite() {
            push_varint(&mut self.bytes, RAW32);
            self.bytes.extend_from_slice(&raw.to_le_bytes());
            f64::from(raw)
        } else {
            push_varint(&mut self.bytes, RAW64);
            self.bytes.extend_from_slice(&v.to_le_bytes());
            v
        }
    }

    #[inline]
    fn decode_next(&self, prev: Cursor, pos: &mut usize) -> Cursor {
        let dt = prev
            .dt
            .wrapping_add(unzigzag(read_varint(&self.bytes, pos)));
        let t = prev.t.wrapping_add(dt);
        let tag = read_varint(&self.bytes, pos);
        if tag & 1 == 0 {
            let vi = prev.vi.wrapping_add(unzigzag(tag >> 1));
            let v = vi as f64 / POW10[self.scale as usize];
            return Cursor { t, dt, v, vi };
        }
        let v = if tag == RAW32 {
            f64::from(f32::from_le_bytes(read_array(&self.bytes, pos)))
        } else {
            f64::from_le_bytes(read_array(&self.bytes, pos))
        };
        Cursor {
            t,
            dt,
            v,
            vi: self.int_of(v),
        }
    }

    #[inline]
    fn pop_front(&mut self) {
        let mut pos = self.head;
        self.front = self.decode_next(self.front, &mut pos);
        self.head = pos.min(self.bytes.len());
        self.len -= 1;
    }

    fn rescale(&mut self, scale: u8) {
        let samples: Vec<(i64, f64)> = self.iter().collect();
        *self = Ring::new(self.capacity as usize);
        let mut iter = samples.into_iter();
        if let Some((t, v)) = iter.next() {
            let _ = self.push_inner(t, v, false);
            self.scale = scale;
            self.front.vi = self.int_of(v);
            self.back = self.front;
        }
        for (t, v) in iter {
            let _ = self.push_inner(t, v, false);
        }
    }
}

/// `v` as an integer at `scale` decimals when that is exact (and in range).
#[inline]
fn scaled(v: f64, scale: u8) -> Option<i64> {
    let p = POW10[scale as usize];
    round_i64(v * p).filter(|&i| i as f64 / p == v)
}

/// `x` rounded to a nearby integer (the nearest one but for ties and the odd last-bit
/// case), `None` beyond ±4e18 or NaN. Callers check exactness themselves; this is a cast
/// rather than a call to `round`, which baseline x86-64 has no instruction for.
#[inline]
fn round_i64(x: f64) -> Option<i64> {
    let a = x.abs();
    if a.is_nan() || a >= 4e18 {
        None
    } else if a >= 4_503_599_627_370_496.0 {
        // From 2^52 on every f64 is an integer already.
        Some(x as i64)
    } else {
        Some((x + 0.5f64.copysign(x)) as i64)
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

#[inline]
fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_array<const N: usize>(bytes: &[u8], pos: &mut usize) -> [u8; N] {
    let mut b = [0u8; N];
    if let Some(src) = bytes.get(*pos..*pos + N) {
        b.copy_from_slice(src);
    }
    *pos += N;
    b
}

#[inline]
fn read_varint(bytes: &[u8], pos: &mut usize) -> u64 {
    // Most deltas fit one byte.
    if let Some(&b) = bytes.get(*pos)
        && b < 0x80
    {
        *pos += 1;
        return u64::from(b);
    }
    let mut n = 0u64;
    let mut shift = 0;
    while let Some(&b) = bytes.get(*pos) {
        *pos += 1;
        if shift < 64 {
            n |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    n
}

/// Minutes of coarse history kept (24 h).
pub const COARSE_MINUTES: usize = 24 * 60;

/// min/max/mean of one minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Minutes since the Unix epoch.
    pub minute: u32,
    pub min: f32,
    pub max: f32,
    pub mean: f32,
}

/// The minute being filled.
#[derive(Debug, Clone, Copy)]
struct Open {
    minute: u32,
    count: u32,
    min: f64,
    max: f64,
    sum: f64,
}

/// Per-minute aggregates of the samples the ring has let go of, for 24 h.
///
/// The ring answers for recent time; the coarse tier only holds what is older, so a
/// metric whose ring spans its whole life costs nothing here. Only minutes with data
/// take memory (16 bytes each).
#[derive(Debug, Clone, Default)]
pub struct Coarse {
    buckets: VecDeque<Bucket>,
    open: Option<Open>,
}

impl Coarse {
    /// Folds in a sample evicted from the ring (they arrive oldest first).
    pub fn push(&mut self, t_ms: i64, v: f64) {
        if !v.is_finite() || t_ms < 0 {
            return;
        }
        let minute = (t_ms / 60_000).min(u32::MAX as i64) as u32;
        match &mut self.open {
            // Same minute, or a sample that arrived out of order: fold into the open one.
            Some(o) if minute <= o.minute => {
                o.count += 1;
                o.min = o.min.min(v);
                o.max = o.max.max(v);
                o.sum += v;
            }
            _ => {
                self.close();
                self.open = Some(Open {
                    minute,
                    count: 1,
                    min: v,
                    max: v,
                    sum: v,
                });
            }
        }
    }

    fn close(&mut self) {
        let Some(o) = self.open.take() else { return };
        if self.buckets.capacity() == self.buckets.len() {
            let grow = (self.buckets.capacity() / 4).max(8);
            self.buckets.reserve_exact(grow);
        }
        self.buckets.push_back(Bucket {
            minute: o.minute,
            min: o.min as f32,
            max: o.max as f32,
            mean: (o.sum / f64::from(o.count)) as f32,
        });
        while self
            .buckets
            .front()
            .is_some_and(|f| o.minute - f.minute >= COARSE_MINUTES as u32)
        {
            self.buckets.pop_front();
        }
    }

    /// Closed minutes plus the open one, oldest first.
    pub fn buckets(&self) -> impl Iterator<Item = Bucket> + '_ {
        let open = self.open.map(|o| Bucket {
            minute: o.minute,
            min: o.min as f32,
            max: o.max as f32,
            mean: (o.sum / f64::from(o.count)) as f32,
        });
        self.buckets.iter().copied().chain(open)
    }

    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<Bucket>()
    }

    /// Closed minutes kept.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty() && self.open.is_none()
    }

    /// Keeps at most the newest `minutes` closed minutes, and gives the memory back.
    pub fn trim_to(&mut self, minutes: usize) {
        if self.buckets.len() > minutes {
            self.buckets.drain(..self.buckets.len() - minutes);
            self.buckets.shrink_to(minutes + minutes / 4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_the_last_capacity_samples_exactly() {
        let mut r = Ring::new(4);
        for i in 0..10 {
            let _ = r.push(1000 * i, i as f64 * 0.5);
        }
        let got: Vec<_> = r.iter().collect();
        assert_eq!(
            got,
            vec![(6000, 3.0), (7000, 3.5), (8000, 4.0), (9000, 4.5)]
        );
        assert_eq!(r.last(), Some((9000, 4.5)));
    }

    #[test]
    fn periodic_short_decimals_pack_small() {
        let mut r = Ring::new(512);
        for i in 0..512 {
            let _ = r.push(1_764_000_000_000 + 1000 * i, 50.0 + ((i % 7) as f64) * 0.1);
        }
        let encoded = r.bytes.len() - r.head;
        assert!(encoded <= 512 * 3, "{encoded} bytes for 512 samples");
        assert_eq!(r.iter().nth(3), Some((1_764_000_003_000, 50.3)));
    }

    #[test]
    fn rescaling_keeps_earlier_samples() {
        let mut r = Ring::new(8);
        for (t, v) in [(0, 20.0), (1, 21.0), (2, 20.25), (3, 1.0 / 3.0)] {
            let _ = r.push(t, v);
        }
        let got: Vec<_> = r.iter().collect();
        assert_eq!(got[..3], [(0, 20.0), (1, 21.0), (2, 20.25)]);
        assert_eq!(got[3].1, f64::from((1.0f64 / 3.0) as f32));
    }

    #[test]
    fn coarse_aggregates_per_minute_and_forgets_after_a_day() {
        let mut c = Coarse::default();
        c.push(0, 1.0);
        c.push(30_000, 3.0);
        c.push(10_000, 5.0);
        c.push(60_000, 10.0);
        c.push(50_000, 2.0); // late: folds into the open minute
        let b: Vec<_> = c.buckets().collect();
        assert_eq!((b[0].min, b[0].max, b[0].mean), (1.0, 5.0, 3.0));
        assert_eq!((b[1].minute, b[1].min, b[1].mean), (1, 2.0, 6.0));
        c.push(60_000 * (COARSE_MINUTES as i64 + 1), 1.0);
        c.push(60_000 * (COARSE_MINUTES as i64 + 2), 1.0);
        assert_eq!(
            c.buckets().next().map(|b| b.minute),
            Some(COARSE_MINUTES as u32 + 1)
        );
    }

    #[test]
    fn the_ring_hands_its_evictions_over() {
        let mut r = Ring::new(2);
        assert_eq!(r.push(1, 1.0), None);
        assert_eq!(r.push(2, 2.0), None);
        assert_eq!(r.push(3, 3.0), Some((1, 1.0)));
    }

    proptest! {
        #[test]
        fn ring_round_trips_any_samples(
            samples in proptest::collection::vec((any::<i64>(), any::<f64>()), 0..200),
            cap in 2usize..64,
        ) {
            let mut r = Ring::new(cap);
            let mut kept = Vec::new();
            for &(t, v) in &samples {
                let _ = r.push(t, v);
                if v.is_finite() {
                    kept.push((t, v));
                }
            }
            let start = kept.len().saturating_sub(cap);
            let expect = &kept[start..];
            let got: Vec<_> = r.iter().collect();
            prop_assert_eq!(got.len(), expect.len());
            for (g, e) in got.iter().zip(expect) {
                prop_assert_eq!(g.0, e.0);
                let exact = g.1 == e.1;
                let as_f32 = g.1 == f64::from(e.1 as f32);
                prop_assert!(exact || as_f32, "{:?} vs {:?}", g, e);
            }
        }
    }
}
