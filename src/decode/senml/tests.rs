//! The packs of RFC 8428 section 5, in JSON, and in CBOR both as section 6 spells the
//! bytes and as ciborium encodes them.

use super::*;

const NOW_MS: i64 = 1_764_000_000_000;

/// `(device, metric, unit, value, time_ms)` of every record.
type Row = (Option<String>, String, Option<String>, String, i64);

fn rows(payload: &[u8]) -> Result<Vec<Row>, DecodeError> {
    let mut pack = Pack::default();
    decode(payload, NOW_MS, &mut pack)?;
    Ok(pack
        .records()
        .map(|r| {
            let (device, metric) = r.device_and_metric();
            let value = match r.value {
                Some(Value::Number(n)) => format!("{n}"),
                Some(Value::Bool(b)) => format!("{b}"),
                Some(Value::Text(t)) => format!("'{t}'"),
                None => format!("sum {}", r.sum.unwrap_or(f64::NAN)),
            };
            (
                device.map(String::from),
                metric.into(),
                r.unit.map(String::from),
                value,
                r.time_ms,
            )
        })
        .collect())
}

fn row(device: Option<&str>, metric: &str, unit: Option<&str>, value: &str, t: i64) -> Row {
    (
        device.map(String::from),
        metric.into(),
        unit.map(String::from),
        value.into(),
        t,
    )
}

const DEV: &str = "urn:dev:ow:10e2073a01080063";

#[test]
fn single_datapoint_5_1_1() {
    let got = rows(br#"[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]"#).unwrap();
    assert_eq!(
        got,
        vec![row(Some(DEV), "Cel", Some("Cel"), "23.1", NOW_MS)]
    );
}

#[test]
fn multiple_datapoints_5_1_2() {
    let got = rows(
        br#"[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
             {"n":"current","u":"A","v":1.2}]"#,
    )
    .unwrap();
    assert_eq!(
        got,
        vec![
            row(Some(DEV), "voltage", Some("V"), "120.1", NOW_MS),
            row(Some(DEV), "current", Some("A"), "1.2", NOW_MS),
        ]
    );
}

#[test]
fn base_time_and_relative_times_5_1_3() {
    let got = rows(
        br#"[{"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,"bu":"A","bver":5,
              "n":"voltage","u":"V","v":120.1},
             {"n":"current","t":-5,"v":1.2},{"n":"current","t":-4,"v":1.3},
             {"n":"current","t":-3,"v":1.4},{"n":"current","t":-2,"v":1.5},
             {"n":"current","t":-1,"v":1.6},{"n":"current","v":1.7}]"#,
    )
    .unwrap();
    let dev = Some("urn:dev:ow:10e2073a0108006");
    let bt = 1_276_020_076_001;
    let mut want = vec![row(dev, "voltage", Some("V"), "120.1", bt)];
    for (i, v) in ["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"]
        .iter()
        .enumerate()
    {
        want.push(row(
            dev,
            "current",
            Some("A"),
            v,
            bt - 5000 + 1000 * i as i64,
        ));
    }
    assert_eq!(got, want);
}

#[test]
fn nameless_records_are_told_apart_by_unit_5_1_4() {
    let got = rows(
        br#"[{"bn":"urn:dev:ow:10e2073a01080063","bt":1.320067464e+09,"bu":"%RH","v":20},
             {"u":"lon","v":24.30621},{"u":"lat","v":60.07965},
             {"t":60,"v":20.3},{"u":"lon","t":60,"v":24.30622},{"u":"lat","t":60,"v":60.07965},
             {"u":"%EL","t":150,"v":98}]"#,
    )
    .unwrap();
    let bt = 1_320_067_464_000;
    assert_eq!(
        got,
        vec![
            row(Some(DEV), "%RH", Some("%RH"), "20", bt),
            row(Some(DEV), "lon", Some("lon"), "24.30621", bt),
            row(Some(DEV), "lat", Some("lat"), "60.07965", bt),
            row(Some(DEV), "%RH", Some("%RH"), "20.3", bt + 60_000),
            row(Some(DEV), "lon", Some("lon"), "24.30622", bt + 60_000),
            row(Some(DEV), "lat", Some("lat"), "60.07965", bt + 60_000),
            row(Some(DEV), "%EL", Some("%EL"), "98", bt + 150_000),
        ]
    );
}

#[test]
fn data_types_5_1_5() {
    let got = rows(
        br#"[{"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","u":"Cel","v":23.1},
             {"n":"label","vs":"Machine Room"},{"n":"open","vb":false},
             {"n":"nfc-reader","vd":"aGkgCg"}]"#,
    )
    .unwrap();
    assert_eq!(
        got,
        vec![
            row(Some(DEV), "temp", Some("Cel"), "23.1", NOW_MS),
            row(Some(DEV), "label", None, "'Machine Room'", NOW_MS),
            row(Some(DEV), "open", None, "false", NOW_MS),
            row(Some(DEV), "nfc-reader", None, "'aGkgCg'", NOW_MS),
        ]
    );
}

#[test]
fn a_collection_splits_into_devices_by_base_name_5_1_6() {
    let got = rows(
        br#"[{"bn":"2001:db8::2/","bt":1.320078429e+09,"n":"temperature","u":"Cel","v":25.2},
             {"n":"humidity","u":"%RH","v":30},
             {"bn":"2001:db8::1/","n":"temperature","u":"Cel","v":12.3},
             {"n":"humidity","u":"%RH","v":67}]"#,
    )
    .unwrap();
    let t = 1_320_078_429_000;
    assert_eq!(
        got,
        vec![
            row(Some("2001:db8::2"), "temperature", Some("Cel"), "25.2", t),
            row(Some("2001:db8::2"), "humidity", Some("%RH"), "30", t),
            row(Some("2001:db8::1"), "temperature", Some("Cel"), "12.3", t),
            row(Some("2001:db8::1"), "humidity", Some("%RH"), "67", t),
        ]
    );
}

#[test]
fn a_base_only_record_and_names_without_a_device_5_1_7_and_5_1_8() {
    let got = rows(
        br#"[{"bn":"urn:dev:ow:10e2073a01080063:"},{"n":"temp","u":"Cel","v":23.1},
             {"n":"heat","u":"/","v":1},{"n":"fan","u":"/","v":0}]"#,
    )
    .unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[1], row(Some(DEV), "heat", Some("/"), "1", NOW_MS));
    // Lights named by address, no base name: the topic names the device.
    let got = rows(
        br#"[{"bt":1.320078429e+09,"bu":"/","n":"2001:db8::3","v":0.5},
             {"n":"2001:db8::4","v":0.5},{"n":"2001:db8::3","t":0.1,"v":0}]"#,
    )
    .unwrap();
    assert_eq!(
        got[0],
        row(None, "2001:db8::3", Some("/"), "0.5", 1_320_078_429_000)
    );
    assert_eq!(
        got[2],
        row(None, "2001:db8::3", Some("/"), "0", 1_320_078_429_100)
    );
}

#[test]
fn base_value_and_base_sum_add_up() {
    let got = rows(
        br#"[{"bn":"meter-7/","bv":1000,"bs":50,"n":"energy","u":"Wh","v":5,"s":2},
             {"n":"energy","u":"Wh","s":3}]"#,
    )
    .unwrap();
    assert_eq!(got[0].3, "1005");
    assert_eq!(got[1].3, "sum 53");
}

/// RFC 8428 section 6's integer labels, bytes written out by hand: 5.1.2's pack.
#[test]
fn cbor_as_section_6_spells_it() {
    let mut b = vec![0x82, 0xa4, 0x21, 0x78, 0x1c];
    b.extend_from_slice(b"urn:dev:ow:10e2073a01080063:");
    b.extend_from_slice(&[0x00, 0x67]);
    b.extend_from_slice(b"voltage");
    b.extend_from_slice(&[0x01, 0x61, b'V', 0x02, 0xfb]);
    b.extend_from_slice(&120.1f64.to_be_bytes());
    b.extend_from_slice(&[0xa3, 0x00, 0x67]);
    b.extend_from_slice(b"current");
    b.extend_from_slice(&[0x01, 0x61, b'A', 0x02, 0xfb]);
    b.extend_from_slice(&1.2f64.to_be_bytes());
    assert!(looks_like(&b));
    assert_eq!(
        rows(&b).unwrap(),
        rows(
            br#"[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
                  {"n":"current","u":"A","v":1.2}]"#
        )
        .unwrap()
    );
}

/// Every label, encoded by ciborium with its integer form.
#[test]
fn cbor_from_an_encoder_with_every_label() {
    use ciborium::Value as V;
    let int = |i: i64| V::Integer(i.into());
    let text = |s: &str| V::Text(s.into());
    let pack = V::Array(vec![
        V::Map(vec![
            (int(-1), int(10)),
            (int(-2), text("urn:dev:mac:0024befffe804ff1:")),
            (int(-3), V::Float(1.764e9)),
            (int(-4), text("Cel")),
            (int(-5), V::Float(20.0)),
            (int(-6), int(100)),
            (int(0), text("temp")),
            (int(2), V::Float(1.5)),
            (int(7), int(60)),
        ]),
        V::Map(vec![
            (int(0), text("door")),
            (int(4), V::Bool(true)),
            (int(6), int(-10)),
        ]),
        V::Map(vec![(int(0), text("note")), (int(3), text("ok"))]),
        V::Map(vec![
            (int(0), text("blob")),
            (int(8), V::Bytes(vec![0xde, 0xad])),
        ]),
        V::Map(vec![
            (int(0), text("pulses")),
            (int(1), text("count")),
            (int(5), int(7)),
        ]),
    ]);
    let mut bytes = Vec::new();
    ciborium::ser::into_writer(&pack, &mut bytes).unwrap();
    let dev = Some("urn:dev:mac:0024befffe804ff1");
    let t = 1_764_000_000_000;
    assert_eq!(
        rows(&bytes).unwrap(),
        vec![
            row(dev, "temp", Some("Cel"), "21.5", t),
            row(dev, "door", Some("Cel"), "true", t - 10_000),
            row(dev, "note", Some("Cel"), "'ok'", t),
            row(dev, "blob", Some("Cel"), "'dead'", t),
            row(dev, "pulses", Some("count"), "sum 107", t),
        ]
    );
}

#[test]
fn devices_by_rfc_9039_urn_without_a_base_name() {
    assert_eq!(
        device_and_metric("", "urn:dev:ow:264437f5000000ed_humidity", None),
        (Some("urn:dev:ow:264437f5000000ed"), "humidity")
    );
    assert_eq!(
        device_and_metric("", "urn:dev:mac:0024be", Some("V")),
        (Some("urn:dev:mac:0024be"), "V")
    );
    assert_eq!(device_and_metric("", "urn:dev:", None), (None, "urn:dev:"));
    assert_eq!(device_and_metric("", "temp", None), (None, "temp"));
    assert_eq!(
        device_and_metric("dev-1", "", Some("a b")),
        (Some("dev-1"), "value")
    );
}

#[test]
fn invalid_packs_are_refused_whole_with_a_reason() {
    let bad = |p: &[u8], want: &str| match rows(p) {
        Err(e) => assert!(e.to_string().contains(want), "{e} lacks {want}"),
        Ok(r) => panic!("accepted {r:?}"),
    };
    bad(
        br#"[{"n":"a\u001b[2Jb","v":1}]"#,
        "record 1: `a\\e[2Jb` is not a SenML name",
    );
    bad(br#"[{"n":"ok","v":1},{"n":"-x","v":1}]"#, "record 2");
    bad(br#"[{"n":"a","v":1,"vs":"x"}]"#, "more than one of");
    bad(br#"[{"bver":11,"n":"a","v":1}]"#, "version 11");
    bad(
        br#"[{"n":"a","v":1,"crit_":1}]"#,
        "must-understand label `crit_`",
    );
    bad(br#"[{"n":"a"}]"#, "neither a value nor a sum");
    bad(br#"[{"n":"a","v":"1"}]"#, "invalid type");
    bad(br#"{"n":"a","v":1}"#, "pack");
    let long = format!(r#"[{{"bn":"{}","n":"x","v":1}}]"#, "a".repeat(MAX_NAME));
    bad(long.as_bytes(), "at most 256");
    assert!(matches!(rows(b"[]"), Err(DecodeError::NoValues)));
    // NaN and infinity in CBOR (JSON cannot spell them).
    let mut nan = vec![0x81, 0xa2, 0x00, 0x61, b'a', 0x02, 0xfb];
    nan.extend_from_slice(&f64::NAN.to_be_bytes());
    assert!(matches!(rows(&nan), Err(DecodeError::NotFinite(_))));
}

#[test]
fn huge_packs_are_bounded() {
    let record = r#"{"n":"x","v":1},"#;
    let many = format!("[{}{{\"n\":\"x\",\"v\":1}}]", record.repeat(MAX_RECORDS));
    let e = rows(many.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("more than 4096 records"), "{e}");
    let just = format!(
        "[{}{{\"n\":\"x\",\"v\":1}}]",
        record.repeat(MAX_RECORDS - 1)
    );
    assert_eq!(rows(just.as_bytes()).unwrap().len(), MAX_RECORDS);
    // A CBOR array claiming 2^64-1 records, nested arrays far deeper than a pack.
    assert!(rows(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xa0]).is_err());
    assert!(rows(&[0x81; 5000]).is_err());
}

#[test]
fn a_dead_clock_is_taken_as_now_and_relative_times_follow_now() {
    // 1990 is absolute (above 2^28) but not believable.
    assert_eq!(
        rows(br#"[{"n":"a","v":1,"t":631152000}]"#).unwrap()[0].4,
        NOW_MS
    );
    assert_eq!(
        rows(br#"[{"n":"a","v":1,"t":-2.5}]"#).unwrap()[0].4,
        NOW_MS - 2500
    );
}

#[test]
fn what_looks_like_a_pack() {
    assert!(looks_like(b" [ {\"n\":1}]"));
    assert!(!looks_like(b"[1,2]"));
    assert!(!looks_like(b"{\"n\":1}"));
    assert!(looks_like(&[0x82, 0xa1]));
    assert!(!looks_like(&[0x80]));
    assert!(!looks_like(b""));
}

proptest::proptest! {
    #[test]
    fn any_bytes_resolve_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = rows(&bytes);
        let mut cbor = vec![0x81];
        cbor.extend_from_slice(&bytes);
        let _ = rows(&cbor);
    }

    #[test]
    fn hostile_names_never_pass_unescaped(name in "\\PC{0,40}", own in "[\\x00-\\x7f]{0,20}") {
        let pack = serde_json::json!([{"bn": name, "n": own, "v": 1}]).to_string();
        if let Ok(r) = rows(pack.as_bytes()) {
            let (device, metric) = (r[0].0.clone().unwrap_or_default(), r[0].1.clone());
            proptest::prop_assert!(device.chars().chain(metric.chars()).all(|c| !c.is_control()));
        }
    }
}
