//! CBOR (RFC 8949) payloads: maps become metrics the way JSON objects do (nested keys
//! joined with dots, array items by index). Integer keys name a level by their number;
//! byte strings show as bounded hex; a tag's content is read as if untagged, so tag 1
//! (epoch time) and tag 0 (RFC 3339 text) under a timestamp key are the sample time,
//! like JSON's.
//!
//! Read item by item with ciborium's low-level decoder, text borrowed straight from the
//! payload, so no tree is built: every length is checked against the bytes there are,
//! and nesting is bounded.

use super::nest::{self, MAX_DEPTH};
use super::{DecodeError, Leaf, Scratch};
use ciborium_ll::{Decoder, Header};

/// Decodes one CBOR data item and appends its leaves to `scratch`.
pub fn decode(payload: &[u8], scratch: &mut Scratch) -> Result<(), DecodeError> {
    let mut reader = Reader { payload, pos: 0 };
    reader
        .item(scratch, 0, true)
        .map_err(|e| DecodeError::Binary(format!("malformed CBOR: {e}")))
}

/// A ciborium error in words (its `Display` is its `Debug`).
pub(crate) fn describe(e: &ciborium::de::Error<std::io::Error>) -> String {
    use ciborium::de::Error;
    match e {
        Error::Io(_) => "it ends in the middle of a value".into(),
        Error::Syntax(at) => format!("not CBOR at byte {at}"),
        Error::Semantic(_, what) => what.clone(),
        Error::RecursionLimitExceeded => format!("nested more than {MAX_DEPTH} deep"),
    }
}

struct Reader<'p> {
    payload: &'p [u8],
    pos: usize,
}

/// A text or byte string: borrowed when in one piece, joined when sent in chunks.
enum Chunked<'p> {
    Borrowed(&'p [u8]),
    Joined(Vec<u8>),
}

impl Chunked<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunked::Borrowed(b) => b,
            Chunked::Joined(v) => v,
        }
    }
}

impl<'p> Reader<'p> {
    fn header(&mut self) -> Result<Header, String> {
        let rest = self.payload.get(self.pos..).unwrap_or_default();
        let mut dec = Decoder::from(rest);
        let header = dec.pull().map_err(|e| match e {
            ciborium_ll::Error::Io(_) => "it ends in the middle of a value".to_string(),
            ciborium_ll::Error::Syntax(at) => format!("not CBOR at byte {}", self.pos + at),
        })?;
        self.pos += dec.offset();
        Ok(header)
    }

    fn take(&mut self, len: usize) -> Result<&'p [u8], String> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.payload.len());
        let end = end.ok_or("a string longer than the payload")?;
        let bytes = &self.payload[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// A text or byte string's content: definite, or chunks up to a break.
    fn string(&mut self, len: Option<usize>, text: bool) -> Result<Chunked<'p>, String> {
        if let Some(len) = len {
            return self.take(len).map(Chunked::Borrowed);
        }
        let mut joined = Vec::new();
        loop {
            match self.header()? {
                Header::Break => return Ok(Chunked::Joined(joined)),
                Header::Text(Some(n)) if text => joined.extend_from_slice(self.take(n)?),
                Header::Bytes(Some(n)) if !text => joined.extend_from_slice(self.take(n)?),
                _ => return Err("a chunked string with a chunk of another kind".into()),
            }
        }
    }

    fn text(&mut self, len: Option<usize>) -> Result<std::borrow::Cow<'p, str>, String> {
        let bad = |e: std::str::Utf8Error| format!("text that is not UTF-8 ({e})");
        match self.string(len, true)? {
            Chunked::Borrowed(b) => std::str::from_utf8(b).map(Into::into).map_err(bad),
            Chunked::Joined(v) => String::from_utf8(v)
                .map(Into::into)
                .map_err(|e| bad(e.utf8_error())),
        }
    }

    /// One data item; its leaves go to `scratch` when `emit` (else it is only skipped,
    /// as the value of a key that names no metric).
    fn item(&mut self, scratch: &mut Scratch, depth: usize, emit: bool) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested more than {MAX_DEPTH} deep"));
        }
        match self.header()? {
            Header::Positive(n) if emit => scratch.push(Leaf::Number(n as f64)),
            Header::Negative(n) if emit => scratch.push(Leaf::Number(-1.0 - n as f64)),
            Header::Float(f) if emit => scratch.push(Leaf::Number(f)),
            Header::Simple(20) if emit => scratch.push(Leaf::Bool(false)),
            Header::Simple(21) if emit => scratch.push(Leaf::Bool(true)),
            Header::Positive(_) | Header::Negative(_) | Header::Float(_) | Header::Simple(_) => {}
            Header::Tag(_) => self.item(scratch, depth + 1, emit)?,
            Header::Break => return Err("a break outside an array or map".into()),
            Header::Bytes(len) => {
                let bytes = self.string(len, false)?;
                if emit {
                    let mut hex = String::new();
                    nest::hex_text(bytes.bytes(), &mut hex);
                    scratch.push_text(&hex);
                }
            }
            Header::Text(len) => {
                let text = self.text(len)?;
                if emit {
                    scratch.push_str(&text);
                }
            }
            Header::Array(len) => {
                let base = scratch.path.len();
                let mut i = 0usize;
                while len.is_none_or(|n| i < n) {
                    if len.is_none() && self.at_break()? {
                        break;
                    }
                    nest::enter_index(&mut scratch.path, base, i);
                    self.item(scratch, depth + 1, emit)?;
                    i += 1;
                }
                scratch.path.truncate(base);
            }
            Header::Map(len) => {
                let base = scratch.path.len();
                let mut i = 0usize;
                while len.is_none_or(|n| i < n) {
                    if len.is_none() && self.at_break()? {
                        break;
                    }
                    let named = self.key(scratch, base, depth + 1)?;
                    self.item(scratch, depth + 1, emit && named)?;
                    i += 1;
                }
                scratch.path.truncate(base);
            }
        }
        Ok(())
    }

    /// Whether the next header is the break that ends an indefinite array or map
    /// (consumed if so).
    fn at_break(&mut self) -> Result<bool, String> {
        let before = self.pos;
        let is_break = matches!(self.header()?, Header::Break);
        if !is_break {
            self.pos = before;
        }
        Ok(is_break)
    }

    /// A map key, entered into the path: text as is, integers by number, booleans by
    /// word; other keys (maps, arrays, floats, bytes) name no metric (`false`).
    fn key(&mut self, scratch: &mut Scratch, base: usize, depth: usize) -> Result<bool, String> {
        let start = self.pos;
        let path = &mut scratch.path;
        match self.header()? {
            Header::Text(len) => {
                let text = self.text(len)?;
                nest::enter_key(path, base, &text);
            }
            Header::Positive(n) => nest::enter_key(path, base, &n.to_string()),
            Header::Negative(n) => nest::enter_key(path, base, &(-1 - i128::from(n)).to_string()),
            Header::Simple(20) => nest::enter_key(path, base, "false"),
            Header::Simple(21) => nest::enter_key(path, base, "true"),
            _ => {
                // Read past the whole key, then say its value names nothing.
                self.pos = start;
                self.item(scratch, depth, false)?;
                scratch.path.truncate(base);
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PayloadFormat;
    use crate::decode::testutil::leaves;

    fn encode(v: &impl serde::Serialize) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).unwrap();
        out
    }

    #[test]
    fn maps_flatten_like_json() {
        let json = serde_json::json!({
            "ENERGY": {"Power": 12.5, "Today": 0.3},
            "POWER": "ON", "ok": true, "n": null, "arr": [1, {"a": 2}], "ts": 1_764_000_000
        });
        let cbor = leaves(&encode(&json), PayloadFormat::Cbor).unwrap();
        let from_json = leaves(
            serde_json::to_string(&json).unwrap().as_bytes(),
            PayloadFormat::Json,
        )
        .unwrap();
        assert_eq!(cbor, from_json);
        assert!(
            cbor.iter().all(|(p, _)| p != "ts"),
            "the timestamp is the sample time"
        );
    }

    #[test]
    fn integer_keys_bytes_and_tags() {
        use ciborium::Value as V;
        let v = V::Map(vec![
            (V::Integer(7.into()), V::Float(1.5)),
            (V::Text("raw".into()), V::Bytes(vec![0x1b, 0x5b, 0x32])),
            (
                V::Text("when".into()),
                V::Tag(1, Box::new(V::Integer(5.into()))),
            ),
            (V::Array(vec![]), V::Integer(1.into())),
        ]);
        let got = leaves(&encode(&v), PayloadFormat::Cbor).unwrap();
        assert_eq!(
            got,
            vec![
                ("7".to_string(), "1.5".to_string()),
                ("raw".into(), "'1b5b32'".into()),
                ("when".into(), "5".into()),
            ]
        );
    }

    #[test]
    fn indefinite_lengths_chunks_and_keys_that_name_nothing() {
        let got = |bytes: &[u8]| leaves(bytes, PayloadFormat::Cbor).unwrap();
        let pairs = crate::decode::testutil::pairs;
        // {_ "a": 1, "s": (_ "hi", "!"), "l": [_ 1, -100]}
        let bytes = [
            0xbf, 0x61, b'a', 0x01, 0x61, b's', 0x7f, 0x62, b'h', b'i', 0x61, b'!', 0xff, 0x61,
            b'l', 0x9f, 0x01, 0x38, 0x63, 0xff, 0xff,
        ];
        assert_eq!(
            got(&bytes),
            pairs(&[("a", "1"), ("s", "'hi!'"), ("l.0", "1"), ("l.1", "-100")])
        );
        // {[1]: {"x": 2}, -3: 4, "k": h'00ff'}: an array key names nothing, its value
        // (a whole map) is read past.
        let bytes = [
            0xa3, 0x81, 0x01, 0xa1, 0x61, b'x', 0x02, 0x22, 0x04, 0x61, b'k', 0x42, 0x00, 0xff,
        ];
        assert_eq!(got(&bytes), pairs(&[("-3", "4"), ("k", "'00ff'")]));
        // A chunk of another kind, a stray break, text that is not UTF-8.
        for bad in [&[0x7f, 0x41, 0x00, 0xff][..], &[0xff], &[0x62, 0xc3, 0x28]] {
            assert!(leaves(bad, PayloadFormat::Cbor).is_err(), "{bad:x?}");
        }
    }

    #[test]
    fn hostile_cbor_is_an_error_not_a_crash() {
        // 10 000 nested arrays.
        let deep = vec![0x81u8; 10_000];
        assert!(matches!(
            leaves(&deep, PayloadFormat::Cbor),
            Err(DecodeError::Binary(_))
        ));
        // An array that claims 2^63 items, a text string that claims 4 GiB.
        for bytes in [
            &[0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
            &[0x7a, 0xff, 0xff, 0xff, 0xff, b'a'][..],
            &[0xff][..],
        ] {
            assert!(leaves(bytes, PayloadFormat::Cbor).is_err(), "{bytes:x?}");
        }
        assert!(matches!(
            leaves(&encode(&f64::NAN), PayloadFormat::Cbor),
            Err(DecodeError::NotFinite(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = leaves(&bytes, PayloadFormat::Cbor);
        }
    }
}
