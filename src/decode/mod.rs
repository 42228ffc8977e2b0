//! Payload decoding: bytes to named values, with no IO and no clock.
//!
//! A decoder appends leaves (`path`, value) to a reusable [`Scratch`]; the fleet state then
//! applies them. Nothing here trusts the payload: size and depth are bounded, non-finite
//! numbers are refused, and every failure is a [`DecodeError`] with a reason fit to show.

pub mod availability;
pub mod cbor;
pub mod json;
pub mod msgpack;
pub mod nest;
pub mod protobuf;
pub mod senml;
pub mod timestamp;

use crate::config::PayloadFormat;

/// One decoded value, borrowed from the scratch buffers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Leaf {
    Number(f64),
    Bool(bool),
    /// A string: `(start, end)` into [`Scratch::text`].
    Text(u32, u32),
}

/// A decoded value with its path, as read back from a [`Scratch`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Number(f64),
    Bool(bool),
    Text(&'a str),
}

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty payload (a retained message being cleared?)")]
    Empty,
    #[error("payload is not valid UTF-8 (at byte {0})")]
    Utf8(usize),
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("`{0}` is not a number")]
    NotANumber(String),
    #[error("`{0}` is not a finite number (NaN and infinity are refused)")]
    NotFinite(String),
    #[error("payload holds no values")]
    NoValues,
    /// A binary payload (CBOR, MessagePack, protobuf) its decoder could not read.
    #[error("{0}")]
    Binary(String),
    /// A SenML pack that breaks RFC 8428.
    #[error("SenML: {0}")]
    Senml(String),
}

/// Reusable buffers for decoding; cleared per message, never shrunk.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Current dotted path while walking.
    pub path: String,
    /// All leaf paths of the message, back to back.
    paths: String,
    /// All string values of the message, back to back.
    text: String,
    leaves: Vec<(u32, u32, Leaf)>,
    /// A timestamp found in the payload, epoch milliseconds.
    pub timestamp_ms: Option<i64>,
    non_finite: bool,
    /// Where each scalar value of the payload sits and what it became, when the JSON fast
    /// path read the whole payload (`fast`): what [`json::Shape::learn`] needs.
    spans: Vec<Span>,
    fast: bool,
}

/// A scalar value's bytes in the payload, and what it became.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
    became: Became,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Became {
    /// The leaf with this index.
    Leaf(u32),
    /// The value of a timestamp key (taken as the time, or kept as a leaf if unreadable).
    Timestamp,
    /// Nothing (a non-finite number).
    Nothing,
}

/// How far a scratch was filled, to go back to (see [`Scratch::rewind`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    path: usize,
    paths: usize,
    text: usize,
    leaves: usize,
    spans: usize,
    timestamp_ms: Option<i64>,
    non_finite: bool,
}

impl Scratch {
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            path: self.path.len(),
            paths: self.paths.len(),
            text: self.text.len(),
            leaves: self.leaves.len(),
            spans: self.spans.len(),
            timestamp_ms: self.timestamp_ms,
            non_finite: self.non_finite,
        }
    }

    /// Forgets what was added since `mark`, keeping what came before (a caller's path
    /// prefix, leaves of earlier payloads decoded into the same scratch).
    pub(crate) fn rewind(&mut self, mark: &Mark) {
        self.path.truncate(mark.path);
        self.paths.truncate(mark.paths);
        self.text.truncate(mark.text);
        self.leaves.truncate(mark.leaves);
        self.spans.truncate(mark.spans);
        self.timestamp_ms = mark.timestamp_ms;
        self.non_finite = mark.non_finite;
        self.fast = false;
    }

    pub fn clear(&mut self) {
        self.path.clear();
        self.paths.clear();
        self.text.clear();
        self.leaves.clear();
        self.timestamp_ms = None;
        self.non_finite = false;
        self.spans.clear();
        self.fast = false;
    }

    /// Notes where the value just pushed sits in the payload.
    fn note_span(&mut self, start: usize, end: usize, leaves_before: usize) {
        let became = if is_timestamp_key(&self.path) {
            Became::Timestamp
        } else if self.leaves.len() > leaves_before {
            Became::Leaf(leaves_before as u32)
        } else {
            Became::Nothing
        };
        self.spans.push(Span {
            start: start as u32,
            end: end as u32,
            became,
        });
    }

    fn push(&mut self, leaf: Leaf) {
        if let Leaf::Number(n) = leaf {
            if !n.is_finite() {
                self.non_finite = true;
                return;
            }
            if is_timestamp_key(&self.path) {
                if let Some(ms) = timestamp::from_epoch_number(n) {
                    self.timestamp_ms = Some(ms);
                    return;
                }
            }
        }
        let start = self.paths.len() as u32;
        self.paths.push_str(&self.path);
        self.leaves.push((start, self.paths.len() as u32, leaf));
    }

    fn push_str(&mut self, s: &str) {
        if is_timestamp_key(&self.path) {
            if let Some(ms) = timestamp::from_rfc3339(s) {
                self.timestamp_ms = Some(ms);
                return;
            }
        }
        match bool_word(s) {
            Some(b) => self.push(Leaf::Bool(b)),
            None => {
                let start = self.text.len() as u32;
                self.text.push_str(s);
                self.push(Leaf::Text(start, self.text.len() as u32));
            }
        }
    }

    /// Text taken as it is (hex of a byte string): no boolean words, no timestamps.
    fn push_text(&mut self, s: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        self.push(Leaf::Text(start, self.text.len() as u32));
    }

    /// The decoded values in payload order.
    pub fn values(&self) -> impl Iterator<Item = (&str, Value<'_>)> {
        self.leaves.iter().map(|&(s, e, leaf)| {
            let path = &self.paths[s as usize..e as usize];
            let value = match leaf {
                Leaf::Number(n) => Value::Number(n),
                Leaf::Bool(b) => Value::Bool(b),
                Leaf::Text(a, b) => Value::Text(&self.text[a as usize..b as usize]),
            };
            (path, value)
        })
    }

    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }
}

/// Only top-level `ts`, `time` and `timestamp` carry the sample time.
fn is_timestamp_key(path: &str) -> bool {
    matches!(path, "ts" | "time" | "timestamp")
}

/// `ON`/`OFF` (any case) and `true`/`false` are booleans.
pub fn bool_word(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("on") || s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Decodes a payload in `format`; for `number`/`text`/plain `auto` payloads the single value
/// is named `metric` (the `{metric}` from the topic, or `value`).
pub fn decode(
    payload: &[u8],
    format: PayloadFormat,
    metric: &str,
    scratch: &mut Scratch,
) -> Result<(), DecodeError> {
    scratch.clear();
    if payload.is_empty() {
        return Err(DecodeError::Empty);
    }
    let result = match format {
        PayloadFormat::Json => json::decode(payload, scratch),
        PayloadFormat::Number => decode_number(utf8(payload)?, metric, scratch),
        PayloadFormat::Text => {
            let s = utf8(payload)?;
            scratch.path.push_str(metric);
            scratch.push_str(s.trim());
            Ok(())
        }
        PayloadFormat::Auto => decode_auto(payload, metric, scratch),
        PayloadFormat::Cbor => cbor::decode(payload, scratch),
        PayloadFormat::Msgpack => msgpack::decode(payload, scratch),
        // Need more than the bytes: a pack has many samples and times (`senml`), a
        // protobuf payload needs its fleet's message type (`protobuf`).
        PayloadFormat::Senml | PayloadFormat::Protobuf => Err(DecodeError::Binary(format!(
            "{format:?} payloads are decoded by their own decoder"
        ))),
    };
    result?;
    check(scratch)
}

/// Decodes a protobuf payload as `message` (a `format = "protobuf"` fleet's type).
pub fn decode_protobuf(
    payload: &[u8],
    message: &prost_reflect::MessageDescriptor,
    scratch: &mut Scratch,
) -> Result<(), DecodeError> {
    scratch.clear();
    if payload.is_empty() {
        return Err(DecodeError::Empty);
    }
    protobuf::decode(payload, message, scratch)?;
    check(scratch)
}

/// What every decoded payload must be: finite, and not empty.
fn check(scratch: &Scratch) -> Result<(), DecodeError> {
    if scratch.non_finite {
        return Err(DecodeError::NotFinite("a value".into()));
    }
    if scratch.is_empty() && scratch.timestamp_ms.is_none() {
        return Err(DecodeError::NoValues);
    }
    Ok(())
}

fn utf8(payload: &[u8]) -> Result<&str, DecodeError> {
    std::str::from_utf8(payload).map_err(|e| DecodeError::Utf8(e.valid_up_to()))
}

fn decode_number(s: &str, metric: &str, scratch: &mut Scratch) -> Result<(), DecodeError> {
    let t = s.trim();
    let n: f64 = t.parse().map_err(|_| {
        DecodeError::NotANumber(
            crate::sanitize::truncate(&crate::sanitize::text(t), 40).into_owned(),
        )
    })?;
    if !n.is_finite() {
        return Err(DecodeError::NotFinite(t.to_string()));
    }
    scratch.path.push_str(metric);
    scratch.push(Leaf::Number(n));
    Ok(())
}

/// JSON objects and arrays as JSON; otherwise a number, a boolean word, or text.
fn decode_auto(payload: &[u8], metric: &str, scratch: &mut Scratch) -> Result<(), DecodeError> {
    let first = payload.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if matches!(first, Some(b'{' | b'[')) {
        return json::decode(payload, scratch);
    }
    let s = utf8(payload)?.trim();
    match decode_number(s, metric, scratch) {
        Ok(()) => Ok(()),
        Err(DecodeError::NotFinite(v)) => Err(DecodeError::NotFinite(v)),
        Err(_) => {
            scratch.clear();
            scratch.path.push_str(metric);
            let unquoted = s
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(s);
            scratch.push_str(unquoted);
            Ok(())
        }
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// A scratch's values as `(path, value)` strings, text quoted.
    pub fn strings(s: &Scratch) -> Vec<(String, String)> {
        s.values()
            .map(|(p, v)| {
                let v = match v {
                    Value::Number(n) => format!("{n}"),
                    Value::Bool(b) => format!("{b}"),
                    Value::Text(t) => format!("'{t}'"),
                };
                (p.to_string(), v)
            })
            .collect()
    }

    pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    pub fn leaves(
        payload: &[u8],
        format: PayloadFormat,
    ) -> Result<Vec<(String, String)>, DecodeError> {
        let mut s = Scratch::default();
        decode(payload, format, "value", &mut s)?;
        Ok(strings(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{leaves, pairs};
    use super::*;

    #[test]
    fn json_leaves_are_dotted_paths() {
        let got = leaves(
            br#"{"Time":"x","ENERGY":{"Power":12.5,"Today":0.3},"POWER":"ON","ok":true,"n":null,"arr":[1,{"a":2}]}"#,
            PayloadFormat::Json,
        )
        .unwrap();
        assert_eq!(
            got,
            pairs(&[
                ("Time", "'x'"),
                ("ENERGY.Power", "12.5"),
                ("ENERGY.Today", "0.3"),
                ("POWER", "true"),
                ("ok", "true"),
                ("arr.0", "1"),
                ("arr.1.a", "2"),
            ])
        );
    }

    #[test]
    fn timestamps_are_taken_not_stored_as_metrics() {
        let mut s = Scratch::default();
        decode(
            br#"{"ts":1764000000,"v":1}"#,
            PayloadFormat::Json,
            "value",
            &mut s,
        )
        .unwrap();
        assert_eq!(s.timestamp_ms, Some(1_764_000_000_000));
        assert_eq!(s.len(), 1);
        decode(
            br#"{"timestamp":"2025-11-24T16:00:00Z","v":1}"#,
            PayloadFormat::Json,
            "value",
            &mut s,
        )
        .unwrap();
        assert_eq!(s.timestamp_ms, Some(1_764_000_000_000));
        decode(
            br#"{"ts":"yesterday","v":1}"#,
            PayloadFormat::Json,
            "value",
            &mut s,
        )
        .unwrap();
        assert_eq!(s.timestamp_ms, None, "an unreadable ts stays a text metric");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn plain_payloads() {
        assert_eq!(
            leaves(b" 21.5\n", PayloadFormat::Number).unwrap(),
            pairs(&[("value", "21.5")])
        );
        assert_eq!(
            leaves(b"OFF", PayloadFormat::Auto).unwrap(),
            pairs(&[("value", "false")])
        );
        assert_eq!(
            leaves(b"ready", PayloadFormat::Auto).unwrap(),
            pairs(&[("value", "'ready'")])
        );
        assert_eq!(
            leaves(b"ready", PayloadFormat::Text).unwrap(),
            pairs(&[("value", "'ready'")])
        );
        assert_eq!(
            leaves(b"[1,2]", PayloadFormat::Auto).unwrap(),
            pairs(&[("0", "1"), ("1", "2")])
        );
    }

    #[test]
    fn bad_payloads_are_errors_with_reasons() {
        assert_eq!(leaves(b"", PayloadFormat::Json), Err(DecodeError::Empty));
        assert!(matches!(
            leaves(b"{\"a\":", PayloadFormat::Json),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            leaves(b"{\"a\":NaN}", PayloadFormat::Json),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            leaves(b"NaN", PayloadFormat::Number),
            Err(DecodeError::NotFinite(_))
        ));
        assert!(matches!(
            leaves(b"inf", PayloadFormat::Auto),
            Err(DecodeError::NotFinite(_))
        ));
        assert!(matches!(
            leaves(b"abc", PayloadFormat::Number),
            Err(DecodeError::NotANumber(_))
        ));
        assert_eq!(
            leaves(b"\xff\xfe", PayloadFormat::Text),
            Err(DecodeError::Utf8(0))
        );
        assert!(
            matches!(
                leaves(b"1e999", PayloadFormat::Json),
                Err(DecodeError::Json(_))
            ),
            "overflow"
        );
        assert_eq!(
            leaves(b"{}", PayloadFormat::Json),
            Err(DecodeError::NoValues)
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(matches!(
            leaves(deep.as_bytes(), PayloadFormat::Json),
            Err(DecodeError::Json(_))
        ));
        let deep = "{\"a\":".repeat(50_000) + "1" + &"}".repeat(50_000);
        assert!(matches!(
            leaves(deep.as_bytes(), PayloadFormat::Auto),
            Err(DecodeError::Json(_))
        ));
    }
}
