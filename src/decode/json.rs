//! A streaming JSON walker: every number, bool and string leaf becomes a metric named by its
//! dotted path (`ENERGY.Power`, `temperature.tC`, `soil.2`), without building a
//! `serde_json::Value` tree. Paths and strings go into reusable buffers, so a warm decoder
//! does not allocate. serde_json's recursion limit stays on: a deeply nested payload is an
//! error, not a stack overflow.
//!
//! Most payloads take the [`fast`] path; what it declines (escapes, exponents, long
//! numbers, deep nesting, anything malformed) goes through serde_json, which also words
//! every error.

mod fast;
mod shape;

pub use shape::{Mismatch, Shape, Target};

use super::{DecodeError, Leaf, Scratch};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Walks `payload` and appends its leaves to `scratch`, under its current path.
pub fn decode(payload: &[u8], scratch: &mut Scratch) -> Result<(), DecodeError> {
    let mark = scratch.mark();
    if fast::walk(payload, scratch).is_ok() {
        scratch.fast = true;
        return Ok(());
    }
    // Only what the fast path added goes: a prefix or earlier leaves stay.
    scratch.rewind(&mark);
    decode_general(payload, scratch)
}

/// The general walker: serde_json's parser, for every payload the fast path declines.
fn decode_general(payload: &[u8], scratch: &mut Scratch) -> Result<(), DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(payload);
    Walker { scratch }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| DecodeError::Json(e.to_string()))
}

struct Walker<'s> {
    scratch: &'s mut Scratch,
}

impl<'de> DeserializeSeed<'de> for Walker<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walker<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scratch.push(Leaf::Bool(v));
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scratch.push(Leaf::Number(v as f64));
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scratch.push(Leaf::Number(v as f64));
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.scratch.push(Leaf::Number(v));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scratch.push_str(v);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let base = self.scratch.path.len();
        while map
            .next_key_seed(Key {
                scratch: self.scratch,
                base,
            })?
            .is_some()
        {
            map.next_value_seed(Walker {
                scratch: self.scratch,
            })?;
            self.scratch.path.truncate(base);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let base = self.scratch.path.len();
        let mut index = 0usize;
        loop {
            super::nest::enter_index(&mut self.scratch.path, base, index);
            if seq
                .next_element_seed(Walker {
                    scratch: self.scratch,
                })?
                .is_none()
            {
                break;
            }
            index += 1;
        }
        self.scratch.path.truncate(base);
        Ok(())
    }
}

/// Appends `.key` (or `key` at the top) to the current path.
struct Key<'s> {
    scratch: &'s mut Scratch,
    base: usize,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        super::nest::enter_key(&mut self.scratch.path, self.base, v);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
