//! The payload decoders side by side on the same reading (12 values, two levels deep):
//! JSON, CBOR, MessagePack, protobuf, and SenML in JSON and CBOR. Each is measured twice:
//! decode alone, and a whole message through the fleet state (route, decode, store,
//! delivery metrics). Prints messages/s and the ratio to JSON measured in the same run.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use fleetop::config::{Config, PayloadFormat};
use fleetop::decode::{self, Scratch, senml};
use fleetop::fleet::FleetState;
use fleetop::mapping::Mapper;
use fleetop::vocab::RawMessage;
use prost::Message as _;
use std::hint::black_box;
use std::time::Instant;

const T0: i64 = 1_764_000_000_000;

const PROTO: &str = r#"
syntax = "proto3";
package bench;
message Energy { double power = 1; double voltage = 2; double current = 3; double today = 4; }
message Env { double temp = 1; double humidity = 2; double pressure = 3; }
message Reading {
  int64 ts = 1; Energy energy = 2; Env env = 3;
  double rssi = 4; double uptime = 5; bool relay = 6; string state = 7; double battery = 8;
}
"#;

#[derive(Clone, PartialEq, prost::Message)]
struct Energy {
    #[prost(double, tag = "1")]
    power: f64,
    #[prost(double, tag = "2")]
    voltage: f64,
    #[prost(double, tag = "3")]
    current: f64,
    #[prost(double, tag = "4")]
    today: f64,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Env {
    #[prost(double, tag = "1")]
    temp: f64,
    #[prost(double, tag = "2")]
    humidity: f64,
    #[prost(double, tag = "3")]
    pressure: f64,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Reading {
    #[prost(int64, tag = "1")]
    ts: i64,
    #[prost(message, optional, tag = "2")]
    energy: Option<Energy>,
    #[prost(message, optional, tag = "3")]
    env: Option<Env>,
    #[prost(double, tag = "4")]
    rssi: f64,
    #[prost(double, tag = "5")]
    uptime: f64,
    #[prost(bool, tag = "6")]
    relay: bool,
    #[prost(string, tag = "7")]
    state: String,
    #[prost(double, tag = "8")]
    battery: f64,
}

fn reading_json() -> serde_json::Value {
    serde_json::json!({
        "ts": T0 / 1000,
        "energy": {"power": 123.4, "voltage": 231.2, "current": 0.534, "today": 1.25},
        "env": {"temp": 21.5, "humidity": 48.2, "pressure": 1013.2},
        "rssi": -67.0, "uptime": 86400.0, "relay": true, "state": "running", "battery": 3.71
    })
}

fn senml_json() -> String {
    let t = T0 / 1000;
    format!(
        r#"[{{"bn":"dev-1:","bt":{t},"n":"energy.power","u":"W","v":123.4}},
            {{"n":"energy.voltage","u":"V","v":231.2}},{{"n":"energy.current","u":"A","v":0.534}},
            {{"n":"energy.today","u":"kWh","v":1.25}},{{"n":"env.temp","u":"Cel","v":21.5}},
            {{"n":"env.humidity","u":"%RH","v":48.2}},{{"n":"env.pressure","u":"hPa","v":1013.2}},
            {{"n":"rssi","u":"dBm","v":-67}},{{"n":"uptime","u":"s","v":86400}},
            {{"n":"relay","vb":true}},{{"n":"state","vs":"running"}},{{"n":"battery","u":"V","v":3.71}}]"#
    )
}

/// SenML JSON's records with RFC 8428 section 6's integer labels.
fn senml_cbor() -> Vec<u8> {
    let records: Vec<serde_json::Value> = serde_json::from_str(&senml_json()).expect("pack");
    let label = |k: &str| match k {
        "bn" => -2,
        "bt" => -3,
        "n" => 0,
        "u" => 1,
        "v" => 2,
        "vs" => 3,
        "vb" => 4,
        _ => 99,
    };
    let pack = ciborium::Value::Array(
        records
            .iter()
            .map(|r| {
                let map = r.as_object().expect("record");
                ciborium::Value::Map(
                    map.iter()
                        .map(|(k, v)| {
                            let v = ciborium::Value::serialized(v).expect("value");
                            (ciborium::Value::Integer(label(k).into()), v)
                        })
                        .collect(),
                )
            })
            .collect(),
    );
    let mut out = Vec::new();
    ciborium::ser::into_writer(&pack, &mut out).expect("cbor");
    out
}

fn to_msgpack(v: &serde_json::Value) -> rmpv::Value {
    use rmpv::Value as V;
    match v {
        serde_json::Value::Null => V::Nil,
        serde_json::Value::Bool(b) => V::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => V::from(i),
            None => V::F64(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => V::from(s.as_str()),
        serde_json::Value::Array(a) => V::Array(a.iter().map(to_msgpack).collect()),
        serde_json::Value::Object(o) => V::Map(
            o.iter()
                .map(|(k, v)| (V::from(k.as_str()), to_msgpack(v)))
                .collect(),
        ),
    }
}

struct Case {
    name: &'static str,
    format: &'static str,
    payload: Vec<u8>,
}

fn cases() -> Vec<Case> {
    let json = reading_json();
    let mut cbor = Vec::new();
    ciborium::ser::into_writer(&json, &mut cbor).expect("cbor");
    let mut msgpack = Vec::new();
    rmpv::encode::write_value(&mut msgpack, &to_msgpack(&json)).expect("msgpack");
    let pb = Reading {
        ts: T0 / 1000,
        energy: Some(Energy {
            power: 123.4,
            voltage: 231.2,
            current: 0.534,
            today: 1.25,
        }),
        env: Some(Env {
            temp: 21.5,
            humidity: 48.2,
            pressure: 1013.2,
        }),
        rssi: -67.0,
        uptime: 86400.0,
        relay: true,
        state: "running".into(),
        battery: 3.71,
    };
    vec![
        Case {
            name: "json",
            format: "json",
            payload: serde_json::to_vec(&json).expect("json"),
        },
        Case {
            name: "cbor",
            format: "cbor",
            payload: cbor,
        },
        Case {
            name: "msgpack",
            format: "msgpack",
            payload: msgpack,
        },
        Case {
            name: "protobuf",
            format: "protobuf",
            payload: pb.encode_to_vec(),
        },
        Case {
            name: "senml-json",
            format: "senml",
            payload: senml_json().into_bytes(),
        },
        Case {
            name: "senml-cbor",
            format: "senml",
            payload: senml_cbor(),
        },
    ]
}

fn state(dir: &std::path::Path) -> FleetState {
    let proto = dir.join("bench.proto");
    std::fs::write(&proto, PROTO).expect("write proto");
    let mut toml = String::new();
    for c in cases() {
        toml.push_str(&format!(
            "[[fleet]]\nname = \"{0}\"\ntopic = \"bench/{0}/{{device}}\"\nformat = \"{1}\"\n",
            c.name, c.format
        ));
        if c.format == "protobuf" {
            toml.push_str(&format!(
                "proto_file = {:?}\nmessage = \"bench.Reading\"\n",
                proto.display().to_string()
            ));
        }
    }
    let config = Config::parse(&toml, None).expect("bench config parses");
    let mapper = Mapper::new(&config.fleets).expect("bench fleets compile");
    FleetState::new(mapper, Default::default(), &["bench".to_string()])
}

fn message(case: &Case, i: i64) -> RawMessage {
    RawMessage {
        conn: fleetop::vocab::ConnId(0),
        topic: Bytes::from(format!("bench/{}/dev-{}", case.name, i % 100)),
        payload: Bytes::from(case.payload.clone()),
        retain: false,
        at_ms: T0 + i * 10,
    }
}

/// Decodes a case's payload as its fleet would, into reusable buffers; the values read.
struct Decoder {
    scratch: Scratch,
    pack: senml::Pack,
    message: prost_reflect::MessageDescriptor,
}

impl Decoder {
    fn decode(&mut self, case: &Case) -> usize {
        let ok = match case.format {
            "json" => decode::decode(&case.payload, PayloadFormat::Json, "v", &mut self.scratch),
            "cbor" => decode::decode(&case.payload, PayloadFormat::Cbor, "v", &mut self.scratch),
            "msgpack" => decode::decode(
                &case.payload,
                PayloadFormat::Msgpack,
                "v",
                &mut self.scratch,
            ),
            "protobuf" => decode::decode_protobuf(&case.payload, &self.message, &mut self.scratch),
            _ => {
                return senml::decode(&case.payload, T0, &mut self.pack)
                    .map_or(0, |()| self.pack.len());
            }
        };
        ok.map_or(0, |()| self.scratch.len())
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = state(dir.path());
    let message_type = s.mapper.fleets[3].proto.clone().expect("protobuf fleet");
    let mut decoder = Decoder {
        scratch: Scratch::default(),
        pack: Default::default(),
        message: message_type,
    };
    let cases = cases();
    for case in &cases {
        // The same 12 values in every format (the timestamp is the sample time).
        assert_eq!(decoder.decode(case), 12, "{}", case.name);
    }
    let mut decode_group = c.benchmark_group("decode");
    decode_group.throughput(Throughput::Elements(1));
    for case in &cases {
        decode_group.bench_function(case.name, |b| {
            b.iter(|| black_box(decoder.decode(black_box(case))))
        });
    }
    decode_group.finish();
    let mut apply_group = c.benchmark_group("apply");
    apply_group.throughput(Throughput::Elements(1));
    for case in &cases {
        let mut i = 0;
        apply_group.bench_function(case.name, |b| {
            b.iter(|| {
                i += 1;
                s.apply(&message(case, i));
            })
        });
    }
    apply_group.finish();

    // The figures, with the ratio to JSON from this same run.
    const N: i64 = 100_000;
    println!(
        "\n{:<12} {:>7} {:>14} {:>9} {:>14} {:>9}",
        "format", "bytes", "decode msg/s", "vs json", "apply msg/s", "vs json"
    );
    let (mut json_decode, mut json_apply) = (0.0, 0.0);
    for case in &cases {
        let start = Instant::now();
        for _ in 0..N {
            black_box(decoder.decode(black_box(case)));
        }
        let decode_rate = N as f64 / start.elapsed().as_secs_f64();
        let msgs: Vec<RawMessage> = (0..N).map(|i| message(case, 1_000_000 + i)).collect();
        let start = Instant::now();
        for m in &msgs {
            s.apply(m);
        }
        let apply_rate = N as f64 / start.elapsed().as_secs_f64();
        if case.name == "json" {
            (json_decode, json_apply) = (decode_rate, apply_rate);
        }
        println!(
            "{:<12} {:>7} {:>14.0} {:>8.2}x {:>14.0} {:>8.2}x",
            case.name,
            case.payload.len(),
            decode_rate,
            decode_rate / json_decode,
            apply_rate,
            apply_rate / json_apply
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
