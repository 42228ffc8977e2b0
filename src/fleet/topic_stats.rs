//! Figures for every topic the state routes, mapped or not, for the topic explorer:
//! messages, last arrival, a rate over the last minute, the retained flag and the last
//! few payloads.
//!
//! Bounded: at most `[limits] max_explorer_topics` records (later topics are still
//! applied, only not counted here), each keeping [`PAYLOADS_KEPT`] payloads of at most
//! [`PAYLOAD_BYTES_KEPT`] bytes, so all payloads together stay under
//! `max_explorer_topics × 5 × 512` bytes (25 MiB at the default 10,000) whatever devices
//! send. Per message: one index into a vector, a few stores and one copy of at most 512
//! bytes into a buffer that is reused once it has grown.

use crate::vocab::{ConnId, DeviceId, RawMessage};
use std::collections::HashMap;

/// Payloads kept per topic.
pub const PAYLOADS_KEPT: usize = 5;
/// Bytes kept of each payload; its full size is kept beside them.
pub const PAYLOAD_BYTES_KEPT: usize = 512;
/// A topic with no record (the cap was reached).
pub(super) const NO_RECORD: u32 = u32::MAX;
/// The rate counts arrivals in this many buckets of [`BUCKET_MS`]: one minute.
const BUCKETS: usize = 6;
const BUCKET_MS: i64 = 10_000;

/// One payload as it came.
#[derive(Debug, Clone, Default)]
pub struct KeptPayload {
    pub at_ms: i64,
    pub retained: bool,
    /// Its size as sent; `bytes` holds at most [`PAYLOAD_BYTES_KEPT`] of it.
    pub size: usize,
    pub bytes: Vec<u8>,
}

/// What the explorer knows of one topic on one connection.
#[derive(Debug, Clone)]
pub struct TopicRecord {
    pub conn: ConnId,
    pub topic: Box<str>,
    pub messages: u64,
    pub last_ms: i64,
    /// Whether the latest message was retained.
    pub retained: bool,
    /// The device its latest message was about; `None` for a topic no device claims.
    pub device: Option<DeviceId>,
    /// Arrivals per bucket; `bucket` is the number (time / [`BUCKET_MS`]) of the newest.
    arrivals: [u32; BUCKETS],
    bucket: i64,
    /// A ring: `next` is where the next payload goes.
    payloads: Vec<KeptPayload>,
    next: usize,
}

impl TopicRecord {
    fn new(conn: ConnId, topic: &str) -> TopicRecord {
        TopicRecord {
            conn,
            topic: topic.into(),
            messages: 0,
            last_ms: 0,
            retained: false,
            device: None,
            arrivals: [0; BUCKETS],
            bucket: i64::MIN,
            payloads: Vec::new(),
            next: 0,
        }
    }

    fn record(&mut self, msg: &RawMessage) {
        self.messages += 1;
        self.last_ms = self.last_ms.max(msg.at_ms);
        self.retained = msg.retain;
        let bucket = msg.at_ms.div_euclid(BUCKET_MS);
        if bucket > self.bucket {
            let gap = bucket.saturating_sub(self.bucket).min(BUCKETS as i64);
            for b in 0..gap {
                self.arrivals[(bucket - b).rem_euclid(BUCKETS as i64) as usize] = 0;
            }
            self.bucket = bucket;
        }
        // Retained messages were not sent now: they say nothing about the rate.
        if !msg.retain && bucket > self.bucket - BUCKETS as i64 {
            self.arrivals[bucket.rem_euclid(BUCKETS as i64) as usize] += 1;
        }
        let kept = &msg.payload[..msg.payload.len().min(PAYLOAD_BYTES_KEPT)];
        if self.payloads.len() < PAYLOADS_KEPT {
            self.payloads.push(KeptPayload::default());
        }
        let slot = self.next % self.payloads.len();
        let p = &mut self.payloads[slot];
        p.at_ms = msg.at_ms;
        p.retained = msg.retain;
        p.size = msg.payload.len();
        p.bytes.clear();
        p.bytes.extend_from_slice(kept);
        self.next = (slot + 1) % PAYLOADS_KEPT;
    }

    /// Live messages a second over the minute before `now_ms`.
    pub fn rate(&self, now_ms: i64) -> f64 {
        let now = now_ms.div_euclid(BUCKET_MS);
        let counted: u32 = (0..BUCKETS as i64)
            .map(|age| self.bucket - age)
            .filter(|&b| b <= now && b > now - BUCKETS as i64)
            .map(|b| self.arrivals[b.rem_euclid(BUCKETS as i64) as usize])
            .sum();
        f64::from(counted) / (BUCKETS as i64 * BUCKET_MS / 1000) as f64
    }

    /// The kept payloads, newest first.
    pub fn payloads(&self) -> impl Iterator<Item = &KeptPayload> + '_ {
        let n = self.payloads.len();
        let newest = (self.next + PAYLOADS_KEPT - 1) % PAYLOADS_KEPT;
        (0..n).map(move |age| &self.payloads[(newest + n - age) % n])
    }
}

/// Every topic's record, found by connection and topic when a topic is first routed.
#[derive(Debug, Default)]
pub struct TopicStats {
    pub records: Vec<TopicRecord>,
    index: HashMap<(ConnId, Box<str>), u32, foldhash::fast::RandomState>,
}

impl TopicStats {
    /// The record of `topic` on `conn` (made if new), or [`NO_RECORD`] past `cap`. A topic
    /// routed again (its layout was learned, its device evicted) keeps its record.
    pub(super) fn index_for(&mut self, conn: ConnId, topic: &str, cap: usize) -> u32 {
        if let Some(&i) = self.index.get(&(conn, topic.into())) {
            return i;
        }
        if self.records.len() >= cap {
            return NO_RECORD;
        }
        let i = self.records.len() as u32;
        self.records.push(TopicRecord::new(conn, topic));
        self.index.insert((conn, topic.into()), i);
        i
    }

    /// Counts one message on record `i`, about `device` if the message found one.
    #[inline]
    pub(super) fn record(&mut self, i: u32, msg: &RawMessage, device: Option<DeviceId>) {
        if let Some(r) = self.records.get_mut(i as usize) {
            r.record(msg);
            if device.is_some() {
                r.device = device;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(at_ms: i64, payload: &[u8], retain: bool) -> RawMessage {
        RawMessage {
            conn: ConnId(0),
            topic: bytes::Bytes::from_static(b"a/b"),
            payload: payload.to_vec().into(),
            retain,
            at_ms,
        }
    }

    #[test]
    fn the_rate_counts_live_messages_of_the_last_minute() {
        let mut r = TopicRecord::new(ConnId(0), "a/b");
        r.record(&msg(0, b"r", true));
        for s in 0..30 {
            r.record(&msg(s * 2000, b"x", false));
        }
        assert_eq!(r.messages, 31);
        assert!((r.rate(59_999) - 0.5).abs() < 1e-9, "{}", r.rate(59_999));
        // A minute later the first buckets have aged out; two minutes on, all.
        assert!(r.rate(90_000) < 0.5);
        assert_eq!(r.rate(200_000), 0.0);
        // After a long silence new arrivals start from zero.
        r.record(&msg(500_000, b"x", false));
        assert!((r.rate(500_000) - 1.0 / 60.0).abs() < 1e-9);
    }

    #[test]
    fn payloads_are_a_bounded_ring_newest_first() {
        let mut r = TopicRecord::new(ConnId(0), "a/b");
        for i in 0..8u8 {
            r.record(&msg(i64::from(i), &[i], i == 0));
        }
        let seen: Vec<u8> = r.payloads().map(|p| p.bytes[0]).collect();
        assert_eq!(seen, [7, 6, 5, 4, 3]);
        r.record(&msg(9, &vec![b'x'; 4 * PAYLOAD_BYTES_KEPT], true));
        let newest = r.payloads().next().expect("a payload");
        assert_eq!(
            (newest.size, newest.bytes.len()),
            (2048, PAYLOAD_BYTES_KEPT)
        );
        assert!(newest.retained && r.retained);
    }

    #[test]
    fn records_are_capped_and_found_again() {
        let mut s = TopicStats::default();
        assert_eq!(s.index_for(ConnId(0), "a", 2), 0);
        assert_eq!(s.index_for(ConnId(1), "a", 2), 1, "per connection");
        assert_eq!(s.index_for(ConnId(0), "b", 2), NO_RECORD);
        assert_eq!(s.index_for(ConnId(0), "a", 2), 0);
        s.record(NO_RECORD, &msg(1, b"x", false), None);
        assert_eq!(s.records.len(), 2);
    }
}
