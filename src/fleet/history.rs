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

#[derive(Debug, Clone, Copy, PartialEq)]
struct Cursor {
    t: i64,
    dt: i64,
    v: f64,
}

/// A fixed-length ring of `(time_ms, value)` samples.
#[derive(Debug, Clone)]
pub struct Ring {
    capacity: u32,
    len: u32,
    scale: u8,
    front: Cursor,
    back: Cursor,
    /// Encoded samples after the front one, oldest first.
    bytes: VecDeque<u8>,
}

impl Ring {
    pub fn new(capacity: usize) -> Ring {
        let zero = Cursor {
            t: 0,
            dt: 0,
            v: 0.0,
        };
        Ring {
            capacity: capacity.clamp(2, u32::MAX as usize) as u32,
            len: 0,
            scale: 0,
            front: zero,
            back: zero,
            bytes: VecDeque::new(),
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

    /// Appends a sample, evicting the oldest when full. Non-finite values are ignored.
    pub fn push(&mut self, t: i64, v: f64) {
        if !v.is_finite() {
            return;
        }
        if self.len == 0 {
            self.scale = decimal_scale(v).unwrap_or(0);
            self.front = Cursor { t, dt: 0, v };
            self.back = self.front;
            self.len = 1;
            return;
        }
        if let Some(s) = decimal_scale(v)
            && s > self.scale
        {
            self.rescale(s);
        }
        if self.len == self.capacity {
            self.pop_front();
        }
        if self.bytes.capacity() - self.bytes.len() < 16 {
            let grow = (self.bytes.capacity() / 4).max(32);
            self.bytes.reserve_exact(grow);
        }
        let back = self.back;
        let dt = t.wrapping_sub(back.t);
        push_varint(&mut self.bytes, zigzag(dt.wrapping_sub(back.dt)));
        let stored = self.encode_value(back.v, v);
        self.back = Cursor { t, dt, v: stored };
        self.len += 1;
    }

    /// Samples oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        let mut cursor = self.front;
        let mut pos = 0usize;
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

    fn encode_value(&mut self, prev: f64, v: f64) -> f64 {
        if let Some(s) = decimal_scale(v)
            && s <= self.scale
        {
            let p = POW10[self.scale as usize];
            let prev_scaled = (prev * p).round();
            // Only when both ends fit comfortably in an i64 (values < 1e14 at scale 4 do).
            if prev_scaled.abs() < 4e18 {
                let delta = (v * p).round() as i64 - prev_scaled as i64;
                let z = zigzag(delta);
                if z < (1 << 62) {
                    push_varint(&mut self.bytes, z << 1);
                    return (prev_scaled as i64 + delta) as f64 / p;
                }
            }
        }
        let raw = v as f32;
        if raw.is_finite() {
            push_varint(&mut self.bytes, RAW32);
            self.bytes.extend(raw.to_le_bytes());
            f64::from(raw)
        } else {
            push_varint(&mut self.bytes, RAW64);
            self.bytes.extend(v.to_le_bytes());
            v
        }
    }

    fn decode_next(&self, prev: Cursor, pos: &mut usize) -> Cursor {
        let dt = prev
            .dt
            .wrapping_add(unzigzag(read_varint(&self.bytes, pos)));
        let tag = read_varint(&self.bytes, pos);
        let v = if tag == RAW32 {
            f64::from(f32::from_le_bytes(read_array(&self.bytes, pos)))
        } else if tag == RAW64 {
            f64::from_le_bytes(read_array(&self.bytes, pos))
        } else {
            let p = POW10[self.scale as usize];
            ((prev.v * p).round() as i64).wrapping_add(unzigzag(tag >> 1)) as f64 / p
        };
        Cursor {
            t: prev.t.wrapping_add(dt),
            dt,
            v,
        }
    }

    fn pop_front(&mut self) {
        let mut pos = 0;
        self.front = self.decode_next(self.front, &mut pos);
        self.bytes.drain(..pos);
        self.len -= 1;
    }

    /// Re-encodes at a finer decimal scale; happens at most `MAX_SCALE` times per ring.
    fn rescale(&mut self, scale: u8) {
        let samples: Vec<(i64, f64)> = self.iter().collect();
        let capacity = self.capacity as usize;
        *self = Ring::new(capacity);
        self.scale = scale;
        for (t, v) in samples {
            if self.len == 0 {
                self.front = Cursor { t, dt: 0, v };
                self.back = self.front;
                self.len = 1;
            } else {
                self.push(t, v);
            }
        }
    }
}

/// The smallest number of decimals that represents `v` exactly, up to `MAX_SCALE`.
fn decimal_scale(v: f64) -> Option<u8> {
    if v.abs() >= 1e14 {
        return None;
    }
    (0..=MAX_SCALE).find(|&s| {
        let p = POW10[s as usize];
        let scaled = (v * p).round();
        scaled / p == v
    })
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

fn push_varint(out: &mut VecDeque<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push_back((n as u8) | 0x80);
        n >>= 7;
    }
    out.push_back(n as u8);
}

fn read_array<const N: usize>(bytes: &VecDeque<u8>, pos: &mut usize) -> [u8; N] {
    let mut b = [0u8; N];
    for (i, slot) in b.iter_mut().enumerate() {
        *slot = bytes.get(*pos + i).copied().unwrap_or(0);
    }
    *pos += N;
    b
}

fn read_varint(bytes: &VecDeque<u8>, pos: &mut usize) -> u64 {
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
    pub count: u32,
    pub min: f32,
    pub max: f32,
    pub mean: f32,
}

/// Per-minute aggregates for long windows; only minutes with data take memory.
#[derive(Debug, Clone, Default)]
pub struct Coarse {
    buckets: VecDeque<Bucket>,
}

impl Coarse {
    pub fn push(&mut self, t_ms: i64, v: f64) {
        if !v.is_finite() || t_ms < 0 {
            return;
        }
        let minute = (t_ms / 60_000).min(u32::MAX as i64) as u32;
        let v32 = v as f32;
        let bucket = match self.buckets.back() {
            Some(b) if b.minute == minute => self.buckets.back_mut(),
            Some(b) if b.minute > minute => {
                // A late sample: fold it into its minute if that is still kept.
                match self.buckets.binary_search_by_key(&minute, |b| b.minute) {
                    Ok(i) => self.buckets.get_mut(i),
                    Err(_) => None,
                }
            }
            _ => {
                self.buckets.push_back(Bucket {
                    minute,
                    count: 0,
                    min: v32,
                    max: v32,
                    mean: 0.0,
                });
                while self
                    .buckets
                    .front()
                    .is_some_and(|f| minute - f.minute >= COARSE_MINUTES as u32)
                {
                    self.buckets.pop_front();
                }
                self.buckets.back_mut()
            }
        };
        if let Some(b) = bucket {
            b.count = b.count.saturating_add(1);
            b.min = b.min.min(v32);
            b.max = b.max.max(v32);
            b.mean += (v32 - b.mean) / b.count as f32;
        }
    }

    pub fn buckets(&self) -> impl DoubleEndedIterator<Item = &Bucket> {
        self.buckets.iter()
    }

    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<Bucket>()
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
            r.push(1000 * i, i as f64 * 0.5);
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
            r.push(1_764_000_000_000 + 1000 * i, 50.0 + ((i % 7) as f64) * 0.1);
        }
        let encoded = r.bytes.len();
        assert!(encoded <= 512 * 3, "{encoded} bytes for 512 samples");
        assert_eq!(r.iter().nth(3), Some((1_764_000_003_000, 50.3)));
    }

    #[test]
    fn rescaling_keeps_earlier_samples() {
        let mut r = Ring::new(8);
        r.push(0, 20.0);
        r.push(1, 21.0);
        r.push(2, 20.25);
        r.push(3, 1.0 / 3.0);
        let got: Vec<_> = r.iter().collect();
        assert_eq!(got[..3], [(0, 20.0), (1, 21.0), (2, 20.25)]);
        assert_eq!(got[3].1, f64::from((1.0f64 / 3.0) as f32));
    }

    #[test]
    fn coarse_aggregates_per_minute_and_forgets_after_a_day() {
        let mut c = Coarse::default();
        c.push(0, 1.0);
        c.push(30_000, 3.0);
        c.push(60_000, 10.0);
        c.push(10_000, 5.0); // late, folds into minute 0
        let b: Vec<_> = c.buckets().copied().collect();
        assert_eq!(
            (b[0].count, b[0].min, b[0].max, b[0].mean),
            (3, 1.0, 5.0, 3.0)
        );
        assert_eq!(b[1].mean, 10.0);
        c.push(60_000 * COARSE_MINUTES as i64, 1.0);
        assert_eq!(c.buckets().next().map(|b| b.minute), Some(1));
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
                r.push(t, v);
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
