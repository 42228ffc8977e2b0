//! The fast path against the general walker: where the fast path answers, both must produce
//! the very same leaves (paths, values to the bit, timestamp); where it declines, `decode`
//! must give exactly what the general walker gives, errors included.

use super::{decode, decode_general, fast};
use crate::decode::{Scratch, Value};
use proptest::prelude::*;

/// Everything a walk leaves in the scratch: leaves, timestamp, whether a value was not finite.
type Outcome = (Vec<(String, String)>, Option<i64>, bool);

/// What a walk left in the scratch, numbers by their bits (so `-0.0 != 0.0`).
fn outcome(s: &Scratch) -> Outcome {
    let leaves = s
        .values()
        .map(|(p, v)| {
            let v = match v {
                Value::Number(n) => format!("n{:016x}", n.to_bits()),
                Value::Bool(b) => format!("b{b}"),
                Value::Text(t) => format!("t{t}"),
            };
            (p.to_string(), v)
        })
        .collect();
    (leaves, s.timestamp_ms, s.non_finite)
}

fn general(payload: &[u8]) -> Result<Outcome, String> {
    let mut s = Scratch::default();
    decode_general(payload, &mut s)
        .map(|()| outcome(&s))
        .map_err(|e| e.to_string())
}

#[test]
fn a_payload_the_fast_path_declines_keeps_the_prefix_and_earlier_leaves() {
    let mut s = Scratch::default();
    s.path.push_str("switch:0");
    decode(br#"{"apower":5}"#, &mut s).unwrap();
    s.path.clear();
    s.path.push_str("switch:1");
    // An exponent and an escape: the general walker's work.
    decode(br#"{"apower":1e2,"note":"a\"b"}"#, &mut s).unwrap();
    let names: Vec<String> = s.values().map(|(p, _)| p.to_string()).collect();
    assert_eq!(
        names,
        ["switch:0.apower", "switch:1.apower", "switch:1.note"]
    );
}

/// Whether the fast path took `payload`; panics if any answer differs from the general one.
fn differential(payload: &[u8]) -> bool {
    let reference = general(payload);
    let mut s = Scratch::default();
    let taken = fast::walk(payload, &mut s).is_ok();
    if taken {
        assert_eq!(
            Ok(outcome(&s)),
            reference,
            "fast path differs on {:?}",
            String::from_utf8_lossy(payload)
        );
    }
    let mut s = Scratch::default();
    let combined = decode(payload, &mut s)
        .map(|()| outcome(&s))
        .map_err(|e| e.to_string());
    assert_eq!(
        combined,
        reference,
        "decode differs on {:?}",
        String::from_utf8_lossy(payload)
    );
    taken
}

#[test]
fn the_fast_path_takes_everyday_telemetry() {
    let everyday: &[&str] = &[
        r#"{"seq":12,"level_pct":57.31,"temp_c":14.2,"battery_v":3.71,"rssi":-67,"pump":"ON","flow_lpm":12.5,"pressure_bar":2.04,"valve_open":false,"fw":"2.4.1"}"#,
        r#"{"Time":"2025-11-24T16:00:00","ENERGY":{"Total":12.345,"Power":0,"Voltage":230,"Factor":0.95},"POWER":"OFF"}"#,
        r#"{"ts":1764000000123,"temperature":{"tC":21.5,"tF":70.7},"soil":[0.31,0.28,0.25],"ok":true,"note":null}"#,
        r#"{"timestamp":"2025-11-24T16:00:00Z","unit":"°C","v":-0.0,"n":-12}"#,
        "  {\n  \"a\" : 1 ,\r\n\t\"b\":[ ] , \"c\":{ } }  \n",
        "[1,[2,[3]],{\"x\":0.00000000000001}]",
        "42",
        "\"text\"",
        r#"{"":1,"dup":1,"dup":2}"#,
    ];
    for p in everyday {
        assert!(differential(p.as_bytes()), "declined: {p}");
    }
}

#[test]
fn the_fast_path_declines_what_it_cannot_answer_exactly() {
    let deep_ok = "[".repeat(32) + &"]".repeat(32);
    let deep = "[".repeat(33) + &"]".repeat(33);
    let declined: &[&[u8]] = &[
        br#"{"a":"tab\tescaped"}"#,
        br#"{"a\u0041":1}"#,
        b"{\"a\":\"raw\ttab\"}",
        br#"{"a":1e3}"#,
        br#"{"a":1.5E-3}"#,
        br#"{"a":1234567890123456}"#,
        br#"{"a":0.1234567890123456}"#,
        br#"{"a":01}"#,
        br#"{"a":-}"#,
        br#"{"a":1.}"#,
        br#"{"a":.5}"#,
        br#"{"a":+1}"#,
        br#"{"a":NaN}"#,
        br#"{"a":Infinity}"#,
        br#"{"a":1,}"#,
        br#"{"a":1}x"#,
        br#"{"a":1} {"b":2}"#,
        br#"{"a" 1}"#,
        br#"{a:1}"#,
        br#"{"a":tru}"#,
        br#"{"a":nulll}"#,
        b"{\"a\":\"\xff\"}",
        b"\xef\xbb\xbf{\"a\":1}",
        br#"[1,2"#,
        br#"{"a":[1,]}"#,
        b"   ",
        deep.as_bytes(),
    ];
    for p in declined {
        assert!(!differential(p), "taken: {:?}", String::from_utf8_lossy(p));
    }
    assert!(differential(deep_ok.as_bytes()));
}

#[test]
fn both_agree_on_the_shared_fixture() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/mixed-fleet.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("SKIP: {} is not there", path.display());
        return;
    };
    let mut taken = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let payload = hex::decode(v["payload_hex"].as_str().unwrap()).unwrap();
        if differential(&payload) {
            taken += 1;
        }
    }
    assert!(taken > 0, "the fast path took none of the fixture");
}

/// JSON text with the shapes devices send and the corners a parser gets wrong.
fn json_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (any::<i32>(), 0u32..10).prop_map(|(n, d)| {
            let s = format!("{:0>w$}", n.unsigned_abs(), w = d as usize + 1);
            let (int, frac) = s.split_at(s.len() - d as usize);
            let sign = if n < 0 { "-" } else { "" };
            if d == 0 {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac}")
            }
        }),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        any::<f32>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        Just("-0".to_string()),
        Just("-0.0".to_string()),
        Just("0.000".to_string()),
        Just("999999999999999".to_string()),
        Just("9999999999999999".to_string()),
        Just("99999999999999.9".to_string()),
        Just("1764000000".to_string()),
        Just("1764000000123".to_string()),
    ];
    let string = prop_oneof![
        "[a-zA-Z0-9_ .:-]{0,12}",
        Just("ON".to_string()),
        Just("off".to_string()),
        Just("2025-11-24T16:00:00Z".to_string()),
        any::<String>(),
    ]
    .prop_map(|s| serde_json::to_string(&s).unwrap());
    let leaf = prop_oneof![
        number,
        string,
        Just("true".to_string()),
        Just("false".to_string()),
        Just("null".to_string()),
    ];
    let key = prop_oneof![
        "[a-z_]{1,8}",
        Just("ts".to_string()),
        Just("time".to_string()),
        Just("timestamp".to_string()),
        Just(String::new()),
        any::<String>(),
    ]
    .prop_map(|s| serde_json::to_string(&s).unwrap());
    let ws = prop_oneof![
        4 => Just(""),
        1 => Just(" "),
        1 => Just("\n\t "),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec((key.clone(), inner.clone(), ws.clone()), 0..8).prop_map(
                |members| {
                    let body: Vec<String> = members
                        .iter()
                        .map(|(k, v, w)| format!("{w}{k}{w}:{w}{v}{w}"))
                        .collect();
                    format!("{{{}}}", body.join(","))
                }
            ),
            proptest::collection::vec(inner, 0..6)
                .prop_map(|items| format!("[{}]", items.join(","))),
        ]
    })
}

/// Pieces of JSON and near-JSON, glued at random: mostly malformed payloads.
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(&b"{"[..]),
        Just(&b"}"[..]),
        Just(&b"["[..]),
        Just(&b"]"[..]),
        Just(&b","[..]),
        Just(&b":"[..]),
        Just(&b"\""[..]),
        Just(&b"\"k\""[..]),
        Just(&b"\"ts\""[..]),
        Just(&b"\\"[..]),
        Just(&b"-"[..]),
        Just(&b"0"[..]),
        Just(&b"12"[..]),
        Just(&b"."[..]),
        Just(&b"e"[..]),
        Just(&b"true"[..]),
        Just(&b"nul"[..]),
        Just(&b" "[..]),
        Just(&b"\xc3\xa9"[..]),
        Just(&b"\xff"[..]),
        Just(&b"\x01"[..]),
    ];
    proptest::collection::vec(token, 0..24).prop_map(|ts| ts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn fast_and_general_agree_on_generated_json(text in json_text()) {
        differential(text.as_bytes());
    }

    #[test]
    fn fast_and_general_agree_on_token_soup(bytes in token_soup()) {
        differential(&bytes);
    }

    #[test]
    fn fast_and_general_agree_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        differential(&bytes);
    }
}
