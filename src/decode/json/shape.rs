//! Payload shapes: a device sends the same keys in the same order message after message,
//! so once a payload has been walked, its bytes outside the scalar values (the keys,
//! punctuation, whitespace and nulls: its skeleton) say where each value goes. The next
//! payload is read by comparing its skeleton bytes in order and parsing only the values,
//! straight to the slots they filled last time: no key scanning, no dotted paths, no name
//! lookups.
//!
//! A payload whose skeleton matches is the learned document with scalar values swapped
//! for other scalar values, so it is valid JSON with the same paths, and reads exactly as
//! the walker would read it. Anything else (another key, another order, a null becoming
//! a number, an escape, an exponent, invalid UTF-8, an unreadable timestamp) is a
//! [`Mismatch`] and goes through the walker, which also words every error.

use super::fast::{Parser, special_at};
use crate::decode::{Became, Leaf, Scratch, bool_word, timestamp};

/// Skeletons longer than this are not kept (bounded memory per topic).
const MAX_SKELETON: usize = 1024;
/// Nor shapes with more values than this.
const MAX_SLOTS: usize = 256;

/// Where a value of the shape goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A slot the caller chose when learning (a metric index, say).
    Slot(u32),
    /// The sample time (a top-level `ts`, `time` or `timestamp`).
    Timestamp,
}

/// The payload does not have the learned shape.
#[derive(Debug, PartialEq, Eq)]
pub struct Mismatch;

/// The learned skeleton of one topic's payloads; empty until learned.
#[derive(Debug, Default, Clone)]
pub struct Shape {
    /// The skeleton's bytes, back to back.
    skeleton: Vec<u8>,
    /// Per value: where its preceding skeleton bytes end, and where it goes.
    values: Vec<(u32, Target)>,
}

impl Shape {
    pub fn is_learned(&self) -> bool {
        !self.values.is_empty()
    }

    pub fn forget(&mut self) {
        self.skeleton.clear();
        self.values.clear();
    }

    /// Learns the shape of `payload`, just decoded into `scratch`, where leaf `i` went to
    /// `slot_of_leaf[i]`. Forgets instead when the payload did not take the JSON fast path
    /// or is too big to keep. Reuses its buffers: no allocation once warm.
    pub fn learn(&mut self, payload: &[u8], scratch: &Scratch, slot_of_leaf: &[u32]) {
        self.forget();
        if !scratch.fast || scratch.spans.len() > MAX_SLOTS {
            return;
        }
        let mut from = 0usize;
        for span in &scratch.spans {
            let target = match span.became {
                Became::Leaf(i) => match slot_of_leaf.get(i as usize) {
                    Some(&slot) => Target::Slot(slot),
                    None => return self.forget(),
                },
                Became::Timestamp => Target::Timestamp,
                Became::Nothing => return self.forget(),
            };
            let (start, end) = (span.start as usize, span.end as usize);
            if self.skeleton.len() + (start - from) > MAX_SKELETON {
                return self.forget();
            }
            self.skeleton.extend_from_slice(&payload[from..start]);
            self.values.push((self.skeleton.len() as u32, target));
            from = end;
        }
        if self.skeleton.len() + (payload.len() - from) > MAX_SKELETON || self.values.is_empty() {
            return self.forget();
        }
        self.skeleton.extend_from_slice(&payload[from..]);
    }

    /// Reads a payload of this shape: appends `(slot, value)` in payload order to `out`
    /// (text as byte ranges into `payload`) and returns the timestamp it carries, if any.
    pub fn read(
        &self,
        payload: &[u8],
        out: &mut Vec<(u32, Leaf)>,
    ) -> Result<Option<i64>, Mismatch> {
        out.clear();
        if !self.is_learned() {
            return Err(Mismatch);
        }
        // The skeleton is valid UTF-8 and numbers are ASCII: only strings need a check.
        let mut p = Parser::unchecked(payload);
        let mut timestamp = None;
        let mut from = 0usize;
        for &(until, target) in &self.values {
            if !skip_exact(payload, &mut p.at, &self.skeleton[from..until as usize]) {
                return Err(Mismatch);
            }
            from = until as usize;
            match (p.peek(), target) {
                (Some(b'"'), target) => {
                    let start = p.at + 1;
                    let rest = payload.get(start..).ok_or(Mismatch)?;
                    let end = start + special_at(rest).ok_or(Mismatch)?;
                    if payload[end] != b'"' {
                        return Err(Mismatch);
                    }
                    p.at = end + 1;
                    let s = std::str::from_utf8(&payload[start..end]).map_err(|_| Mismatch)?;
                    match target {
                        Target::Timestamp => {
                            timestamp = Some(timestamp::from_rfc3339(s).ok_or(Mismatch)?);
                        }
                        Target::Slot(slot) => out.push((
                            slot,
                            match bool_word(s) {
                                Some(b) => Leaf::Bool(b),
                                None => Leaf::Text(start as u32, (start + s.len()) as u32),
                            },
                        )),
                    }
                }
                (Some(b'-' | b'0'..=b'9'), target) => {
                    let n = p.number().map_err(|_| Mismatch)?;
                    match target {
                        Target::Timestamp => {
                            timestamp = Some(timestamp::from_epoch_number(n).ok_or(Mismatch)?);
                        }
                        Target::Slot(slot) => out.push((slot, Leaf::Number(n))),
                    }
                }
                (Some(b't'), Target::Slot(slot)) => {
                    p.literal(b"true").map_err(|_| Mismatch)?;
                    out.push((slot, Leaf::Bool(true)));
                }
                (Some(b'f'), Target::Slot(slot)) => {
                    p.literal(b"false").map_err(|_| Mismatch)?;
                    out.push((slot, Leaf::Bool(false)));
                }
                _ => return Err(Mismatch),
            }
        }
        if skip_exact(payload, &mut p.at, &self.skeleton[from..]) && p.at == payload.len() {
            Ok(timestamp)
        } else {
            Err(Mismatch)
        }
    }
}

/// Moves `at` past `expected` if the payload has exactly those bytes there. Skeleton
/// pieces are short (`,"temp_c":`): eight bytes at a time beats a `memcmp` call.
#[inline]
fn skip_exact(payload: &[u8], at: &mut usize, expected: &[u8]) -> bool {
    let Some(got) = payload.get(*at..*at + expected.len()) else {
        return false;
    };
    let mut got_words = got.chunks_exact(8);
    let mut expected_words = expected.chunks_exact(8);
    let word = |w: &[u8]| u64::from_le_bytes(<[u8; 8]>::try_from(w).unwrap_or_default());
    for (g, e) in (&mut got_words).zip(&mut expected_words) {
        if word(g) != word(e) {
            return false;
        }
    }
    let same = got_words
        .remainder()
        .iter()
        .zip(expected_words.remainder())
        .all(|(g, e)| g == e);
    if same {
        *at += expected.len();
    }
    same
}
