//! CBOR (RFC 8949) payloads: maps become metrics the way JSON objects do (nested keys
//! joined with dots, array items by index). Integer keys name a level by their number;
//! byte strings show as bounded hex; tag 1 (epoch time) and tag 0 (RFC 3339 text) under a
//! timestamp key are the sample time, like JSON's.

use super::nest::{self, MAX_DEPTH};
use super::{DecodeError, Leaf, Scratch};
use ciborium::Value;

/// Decodes one CBOR data item and appends its leaves to `scratch`.
pub fn decode(payload: &[u8], scratch: &mut Scratch) -> Result<(), DecodeError> {
    let value = read(payload)?;
    walk(&value, scratch);
    Ok(())
}

/// One CBOR data item, nesting at most [`MAX_DEPTH`] deep.
pub fn read(payload: &[u8]) -> Result<Value, DecodeError> {
    ciborium::de::from_reader_with_recursion_limit(payload, MAX_DEPTH)
        .map_err(|e| DecodeError::Binary(format!("malformed CBOR: {}", describe(&e))))
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

fn walk(value: &Value, scratch: &mut Scratch) {
    match value {
        Value::Integer(i) => scratch.push(Leaf::Number(i128::from(*i) as f64)),
        Value::Float(f) => scratch.push(Leaf::Number(*f)),
        Value::Bool(b) => scratch.push(Leaf::Bool(*b)),
        Value::Text(t) => scratch.push_str(t),
        Value::Bytes(b) => {
            let mut hex = String::new();
            nest::hex_text(b, &mut hex);
            scratch.push_text(&hex);
        }
        Value::Null => {}
        Value::Tag(_, inner) => walk(inner, scratch),
        Value::Array(items) => {
            let base = scratch.path.len();
            for (i, item) in items.iter().enumerate() {
                nest::enter_index(&mut scratch.path, base, i);
                walk(item, scratch);
            }
            scratch.path.truncate(base);
        }
        Value::Map(entries) => {
            let base = scratch.path.len();
            for (k, v) in entries {
                if let Some(key) = key_text(k) {
                    nest::enter_key(&mut scratch.path, base, &key);
                    walk(v, scratch);
                }
            }
            scratch.path.truncate(base);
        }
        // `Value` is non-exhaustive: what a newer ciborium adds is skipped, not guessed.
        _ => {}
    }
}

/// A map key as a path level: text as is, integers by number; other keys (maps, arrays,
/// floats) name no metric and are skipped.
fn key_text(key: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match key {
        Value::Text(t) => Some(t.as_str().into()),
        Value::Integer(i) => Some(i128::from(*i).to_string().into()),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
        _ => None,
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
