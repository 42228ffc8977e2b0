//! The fast path of the JSON walker, for the JSON devices usually send: objects and arrays
//! of plain numbers, strings without escapes, booleans and nulls.
//!
//! It either appends exactly the leaves the general walker would, or declines and leaves
//! the payload to the general walker, which also owns every error message. It declines
//! whatever it does not handle exactly the same way: escapes, exponents, numbers with more
//! than 15 digits (so `digits / 10^k` is one correctly rounded division, the result
//! serde_json gives too), nesting deeper than [`MAX_DEPTH`], and anything malformed.

use crate::decode::{Leaf, Scratch};

/// The payload needs the general walker.
#[derive(Debug, PartialEq, Eq)]
pub struct Declined;

/// Deeper payloads go to the general walker (serde_json's limit is 128).
const MAX_DEPTH: u32 = 32;
/// At most 15 digits: below 2^53, so the significand is an exact `f64`.
const MAX_DIGITS: usize = 15;
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Walks `payload` into `scratch`; on `Declined`, `scratch` holds a partial walk.
pub fn walk(payload: &[u8], scratch: &mut Scratch) -> Result<(), Declined> {
    let mut p = Parser::new(payload)?;
    p.skip_ws();
    p.value(scratch, 0)?;
    p.skip_ws();
    if p.at == payload.len() {
        Ok(())
    } else {
        Err(Declined)
    }
}

pub(super) struct Parser<'a> {
    text: &'a str,
    /// `text` as bytes.
    bytes: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Parser<'a> {
    /// One check of the whole payload is cheaper than one per string, and lets strings be
    /// sliced out of it safely (their quotes are ASCII, so always on a char boundary).
    pub(super) fn new(payload: &'a [u8]) -> Result<Parser<'a>, Declined> {
        Ok(Parser {
            text: std::str::from_utf8(payload).map_err(|_| Declined)?,
            bytes: payload,
            at: 0,
        })
    }

    #[inline]
    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// A parser for numbers and literals whose caller reads strings itself (with
    /// [`special_at`] and a UTF-8 check of each): the payload was not checked, so
    /// [`Parser::string`] declines every string.
    pub(super) fn unchecked(payload: &'a [u8]) -> Parser<'a> {
        Parser {
            text: "",
            bytes: payload,
            at: 0,
        }
    }

    /// Consumes `expected` if it comes next, after whitespace.
    #[inline]
    fn eat(&mut self, expected: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(expected) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, scratch: &mut Scratch, depth: u32) -> Result<(), Declined> {
        match self.peek().ok_or(Declined)? {
            b'{' => self.object(scratch, depth + 1),
            b'[' => self.array(scratch, depth + 1),
            b'"' => {
                let (start, leaves) = (self.at, scratch.len());
                let s = self.string()?;
                scratch.push_str(s);
                scratch.note_span(start, self.at, leaves);
                Ok(())
            }
            b'-' | b'0'..=b'9' => {
                let (start, leaves) = (self.at, scratch.len());
                let n = self.number()?;
                scratch.push(Leaf::Number(n));
                scratch.note_span(start, self.at, leaves);
                Ok(())
            }
            b't' => {
                let (start, leaves) = (self.at, scratch.len());
                self.literal(b"true")?;
                scratch.push(Leaf::Bool(true));
                scratch.note_span(start, self.at, leaves);
                Ok(())
            }
            b'f' => {
                let (start, leaves) = (self.at, scratch.len());
                self.literal(b"false")?;
                scratch.push(Leaf::Bool(false));
                scratch.note_span(start, self.at, leaves);
                Ok(())
            }
            b'n' => self.literal(b"null"),
            _ => Err(Declined),
        }
    }

    fn object(&mut self, scratch: &mut Scratch, depth: u32) -> Result<(), Declined> {
        if depth > MAX_DEPTH {
            return Err(Declined);
        }
        self.at += 1;
        if self.eat(b'}') {
            return Ok(());
        }
        let base = scratch.path.len();
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(Declined);
            }
            let key = self.string()?;
            if base > 0 {
                scratch.path.push('.');
            }
            scratch.path.push_str(key);
            if !self.eat(b':') {
                return Err(Declined);
            }
            self.skip_ws();
            self.value(scratch, depth)?;
            scratch.path.truncate(base);
            if self.eat(b',') {
                continue;
            }
            return if self.eat(b'}') {
                Ok(())
            } else {
                Err(Declined)
            };
        }
    }

    fn array(&mut self, scratch: &mut Scratch, depth: u32) -> Result<(), Declined> {
        if depth > MAX_DEPTH {
            return Err(Declined);
        }
        self.at += 1;
        if self.eat(b']') {
            return Ok(());
        }
        let base = scratch.path.len();
        let mut index = 0usize;
        loop {
            crate::decode::nest::enter_index(&mut scratch.path, base, index);
            self.skip_ws();
            self.value(scratch, depth)?;
            scratch.path.truncate(base);
            if self.eat(b',') {
                index += 1;
                continue;
            }
            return if self.eat(b']') {
                Ok(())
            } else {
                Err(Declined)
            };
        }
    }

    /// A string without escapes or control characters, at an opening quote.
    fn string(&mut self) -> Result<&'a str, Declined> {
        let start = self.at + 1;
        let end = start + special_at(self.bytes.get(start..).ok_or(Declined)?).ok_or(Declined)?;
        if self.bytes[end] != b'"' {
            return Err(Declined);
        }
        self.at = end + 1;
        self.text.get(start..end).ok_or(Declined)
    }

    pub(super) fn literal(&mut self, word: &[u8]) -> Result<(), Declined> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(Declined)
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?` with at most [`MAX_DIGITS`] digits, computed as
    /// serde_json does: the digits as an exact `f64`, divided by an exact power of ten.
    #[inline]
    pub(super) fn number(&mut self) -> Result<f64, Declined> {
        // Locals rather than `self.at`, so the digit loops stay in registers.
        let bytes = self.bytes;
        let negative = bytes.get(self.at) == Some(&b'-');
        let int_start = self.at + usize::from(negative);
        let (mut digits, mut at) = digit_run(bytes, int_start, 0);
        let int_len = at - int_start;
        if int_len == 0 || (int_len > 1 && bytes[int_start] == b'0') {
            return Err(Declined);
        }
        let mut frac_len = 0;
        if bytes.get(at) == Some(&b'.') {
            let frac_start = at + 1;
            (digits, at) = digit_run(bytes, frac_start, digits);
            frac_len = at - frac_start;
            if frac_len == 0 {
                return Err(Declined);
            }
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) || int_len + frac_len > MAX_DIGITS {
            return Err(Declined);
        }
        self.at = at;
        // Below 10^15, so exact as an `i64` (whose conversion is one instruction).
        let mut n = digits as i64 as f64;
        if frac_len > 0 {
            n /= POW10[frac_len];
        }
        Ok(if negative { -n } else { n })
    }
}

/// Appends the run of decimal digits at `at` to `acc` (wrapping: the caller refuses long
/// runs); returns it and where the run ends.
#[inline]
fn digit_run(bytes: &[u8], mut at: usize, mut acc: u64) -> (u64, usize) {
    while let Some(&c) = bytes.get(at) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        acc = acc.wrapping_mul(10).wrapping_add(u64::from(d));
        at += 1;
    }
    (acc, at)
}

/// Where the first `"`, `\\` or control character is, eight bytes at a time.
#[inline]
pub(super) fn special_at(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // A byte's high bit is set where it is below 0x20 or equal to `"` or `\\`; bytes
        // of 0x80 and up are masked out (`!x`).
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let found =
            (x.wrapping_sub(ONES * 0x20) | quote.wrapping_sub(ONES) | backslash.wrapping_sub(ONES))
                & !x
                & HIGHS;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let rest = chunks.remainder();
    rest.iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|i| offset + i)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn special_at_finds_the_first_special_byte(bytes in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(b'"'), Just(b'\\'), Just(b'a'), Just(0x9f)], 0..40)
        ) {
            let naive = bytes.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            prop_assert_eq!(super::special_at(&bytes), naive);
        }
    }
}
