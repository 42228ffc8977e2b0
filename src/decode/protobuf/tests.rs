use super::*;
use crate::decode::testutil::{pairs, strings};
use prost::Message as _;

const PROTO: &str = r#"
syntax = "proto3";
package meters.v1;
import "google/protobuf/timestamp.proto";

enum State { STATE_UNKNOWN = 0; RUNNING = 1; FAULT = 2; }

message Phase { double voltage = 1; double current = 2; }

message Reading {
  google.protobuf.Timestamp ts = 1;
  float temperature = 2;
  uint32 pulses = 3;
  bool relay = 4;
  State state = 5;
  repeated Phase phases = 6;
  map<string, double> extra = 7;
  bytes raw = 8;
  string note = 9;
}
"#;

/// The same schema, as prost's own derive encodes it: bytes fleetop's decoder did not make.
#[derive(Clone, PartialEq, prost::Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Phase {
    #[prost(double, tag = "1")]
    voltage: f64,
    #[prost(double, tag = "2")]
    current: f64,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Reading {
    #[prost(message, optional, tag = "1")]
    ts: Option<Timestamp>,
    #[prost(float, tag = "2")]
    temperature: f32,
    #[prost(uint32, tag = "3")]
    pulses: u32,
    #[prost(bool, tag = "4")]
    relay: bool,
    #[prost(int32, tag = "5")]
    state: i32,
    #[prost(message, repeated, tag = "6")]
    phases: Vec<Phase>,
    #[prost(btree_map = "string, double", tag = "7")]
    extra: std::collections::BTreeMap<String, f64>,
    #[prost(bytes = "vec", tag = "8")]
    raw: Vec<u8>,
    #[prost(string, tag = "9")]
    note: String,
}

fn schema(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meter.proto");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn fields_become_metrics_with_the_timestamp_as_sample_time() {
    let (_dir, path) = schema(PROTO);
    let message = compile(&path, "meters.v1.Reading").unwrap();
    let reading = Reading {
        ts: Some(Timestamp {
            seconds: 1_764_000_000,
            nanos: 250_000_000,
        }),
        temperature: 21.5,
        pulses: 7,
        relay: true,
        state: 2,
        phases: vec![
            Phase {
                voltage: 230.1,
                current: 1.5,
            },
            Phase {
                voltage: 229.0,
                current: 0.0,
            },
        ],
        extra: [("b".to_string(), 2.0), ("a".to_string(), 1.0)]
            .into_iter()
            .collect(),
        raw: vec![0x1b, 0x5b],
        note: "ok\u{1b}[2J".into(),
    };
    let mut s = Scratch::default();
    decode(&reading.encode_to_vec(), &message, &mut s).unwrap();
    assert_eq!(s.timestamp_ms, Some(1_764_000_000_250));
    assert_eq!(
        strings(&s),
        pairs(&[
            ("temperature", "21.5"),
            ("pulses", "7"),
            ("relay", "true"),
            ("state", "'FAULT'"),
            ("phases.0.voltage", "230.1"),
            ("phases.0.current", "1.5"),
            ("phases.1.voltage", "229"),
            ("extra.a", "1"),
            ("extra.b", "2"),
            ("raw", "'1b5b'"),
            ("note", "'ok\u{1b}[2J'"),
        ])
    );
}

#[test]
fn bytes_that_do_not_match_are_errors() {
    let (_dir, path) = schema(PROTO);
    let message = compile(&path, "meters.v1.Reading").unwrap();
    let mut s = Scratch::default();
    // A field 2 (float) sent as a length-delimited string of 200 bytes with 3 present.
    for bad in [
        &[0x12, 0xc8, 0x01, 1, 2, 3][..],
        &[0xff; 16][..],
        b"{\"temperature\":1}",
    ] {
        assert!(
            matches!(decode(bad, &message, &mut s), Err(DecodeError::Binary(_))),
            "{bad:?}"
        );
    }
    // 200 nested Phase-less messages: prost's recursion limit, not a stack overflow.
    let mut deep = Vec::new();
    for _ in 0..200 {
        let mut outer = vec![0x32];
        prost::encoding::encode_varint(deep.len() as u64, &mut outer);
        outer.extend_from_slice(&deep);
        deep = outer;
    }
    let _ = decode(&deep, &message, &mut s);
}

#[test]
fn a_bad_proto_says_file_line_and_what_to_do() {
    let (_dir, path) = schema("syntax = \"proto3\";\nmessage A {\n  int32 x = 1\n}\n");
    let e = compile(&path, "A").unwrap_err();
    assert!(e.contains("meter.proto:4:"), "{e}");
    assert!(e.contains("fix the .proto"), "{e}");

    let (_dir, path) = schema(PROTO);
    let e = compile(&path, "Reading").unwrap_err();
    assert!(
        e.contains("no message `Reading`") && e.contains("meters.v1.Reading"),
        "{e}"
    );

    let e = compile(Path::new("/nonexistent/x.proto"), "A").unwrap_err();
    assert!(e.contains("x.proto") && e.contains("check the path"), "{e}");

    let (_dir, path) = schema("syntax = \"proto3\";\nimport \"missing.proto\";\n");
    let e = compile(&path, "A").unwrap_err();
    assert!(
        e.contains("meter.proto:2:") && e.contains("missing.proto"),
        "{e}"
    );
}

proptest::proptest! {
    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        use std::sync::OnceLock;
        static MESSAGE: OnceLock<MessageDescriptor> = OnceLock::new();
        let message = MESSAGE.get_or_init(|| {
            let (dir, path) = schema(PROTO);
            let m = compile(&path, "meters.v1.Reading").unwrap();
            drop(dir);
            m
        });
        let mut s = Scratch::default();
        let _ = decode(&bytes, message, &mut s);
    }
}
