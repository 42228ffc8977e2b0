//! MessagePack payloads: maps become metrics the way JSON objects do (nested keys joined
//! with dots, array items by index). Integer keys name a level by their number; binary
//! and extension values show as bounded hex. Read borrowed from the payload, with the
//! nesting bounded.

use super::nest::{self, MAX_DEPTH};
use super::{DecodeError, Leaf, Scratch};
use rmpv::ValueRef;

/// Decodes one MessagePack value and appends its leaves to `scratch`.
pub fn decode(payload: &[u8], scratch: &mut Scratch) -> Result<(), DecodeError> {
    let mut input = payload;
    let value = rmpv::decode::read_value_ref_with_max_depth(&mut input, MAX_DEPTH)
        .map_err(|e| DecodeError::Binary(format!("malformed MessagePack: {e}")))?;
    walk(&value, scratch);
    Ok(())
}

fn walk(value: &ValueRef<'_>, scratch: &mut Scratch) {
    match value {
        ValueRef::Integer(i) => {
            let n = i
                .as_i64()
                .map(|n| n as f64)
                .or_else(|| i.as_u64().map(|n| n as f64));
            if let Some(n) = n {
                scratch.push(Leaf::Number(n));
            }
        }
        ValueRef::F32(f) => scratch.push(Leaf::Number(f64::from(*f))),
        ValueRef::F64(f) => scratch.push(Leaf::Number(*f)),
        ValueRef::Boolean(b) => scratch.push(Leaf::Bool(*b)),
        ValueRef::String(s) => match s.as_str() {
            Some(t) => scratch.push_str(t),
            None => hex(s.as_bytes(), scratch),
        },
        ValueRef::Binary(b) => hex(b, scratch),
        ValueRef::Ext(_, b) => hex(b, scratch),
        ValueRef::Nil => {}
        ValueRef::Array(items) => {
            let base = scratch.path.len();
            for (i, item) in items.iter().enumerate() {
                nest::enter_index(&mut scratch.path, base, i);
                walk(item, scratch);
            }
            scratch.path.truncate(base);
        }
        ValueRef::Map(entries) => {
            let base = scratch.path.len();
            for (k, v) in entries {
                let key = match k {
                    ValueRef::String(s) => s.as_str().map(std::borrow::Cow::Borrowed),
                    ValueRef::Integer(i) => Some(i.to_string().into()),
                    ValueRef::Boolean(b) => Some(if *b { "true" } else { "false" }.into()),
                    _ => None,
                };
                if let Some(key) = key {
                    nest::enter_key(&mut scratch.path, base, &key);
                    walk(v, scratch);
                }
            }
            scratch.path.truncate(base);
        }
    }
}

fn hex(bytes: &[u8], scratch: &mut Scratch) {
    let mut text = String::new();
    nest::hex_text(bytes, &mut text);
    scratch.push_text(&text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PayloadFormat;
    use crate::decode::testutil::leaves;

    fn encode(v: &rmpv::Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    }

    fn from_json(j: &serde_json::Value) -> rmpv::Value {
        use rmpv::Value as V;
        match j {
            serde_json::Value::Null => V::Nil,
            serde_json::Value::Bool(b) => V::Boolean(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => V::from(i),
                None => V::F64(n.as_f64().unwrap_or_default()),
            },
            serde_json::Value::String(s) => V::from(s.as_str()),
            serde_json::Value::Array(a) => V::Array(a.iter().map(from_json).collect()),
            serde_json::Value::Object(o) => V::Map(
                o.iter()
                    .map(|(k, v)| (V::from(k.as_str()), from_json(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn maps_flatten_like_json() {
        let json = serde_json::json!({
            "ENERGY": {"Power": 12.5, "Today": 0.3},
            "POWER": "ON", "ok": true, "n": null, "arr": [1, {"a": 2}], "ts": 1_764_000_000
        });
        let got = leaves(&encode(&from_json(&json)), PayloadFormat::Msgpack).unwrap();
        let want = leaves(
            serde_json::to_string(&json).unwrap().as_bytes(),
            PayloadFormat::Json,
        )
        .unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn integer_keys_and_binary() {
        use rmpv::Value as V;
        let v = V::Map(vec![
            (V::from(3), V::F32(0.5)),
            (V::from("blob"), V::Binary(vec![0x1b, 0x00])),
        ]);
        assert_eq!(
            leaves(&encode(&v), PayloadFormat::Msgpack).unwrap(),
            vec![
                ("3".to_string(), "0.5".to_string()),
                ("blob".into(), "'1b00'".into())
            ]
        );
    }

    #[test]
    fn hostile_msgpack_is_an_error_not_a_crash() {
        let deep = vec![0x91u8; 10_000];
        assert!(matches!(
            leaves(&deep, PayloadFormat::Msgpack),
            Err(DecodeError::Binary(_))
        ));
        // An array of 2^32-1 items, a string of 4 GiB, with nothing behind them.
        for bytes in [
            &[0xdd, 0xff, 0xff, 0xff, 0xff][..],
            &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'][..],
        ] {
            assert!(leaves(bytes, PayloadFormat::Msgpack).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = leaves(&bytes, PayloadFormat::Msgpack);
        }
    }
}
