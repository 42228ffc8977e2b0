//! Payload formats end to end over the embedded broker: a SenML pack published with no
//! config appears as devices with units, in JSON and in CBOR (ciborium's bytes); CBOR,
//! MessagePack and protobuf fleets (prost's bytes, the user's .proto compiled at start);
//! and the delivery delay as a metric an alert rule fires on.

mod common;

use fleetop::config::Protocol;
use fleetop::demo::EmbeddedBroker;
use fleetop::fleet::MetricValue;
use rumqttc::v5::mqttbytes::QoS;

fn number(engine: &fleetop::engine::Engine, device: &str, metric: &str) -> Option<f64> {
    match engine.state.find_device(device)?.metric(metric)?.value {
        MetricValue::Number(n) => Some(n),
        _ => None,
    }
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_senml_pack_with_no_config_appears_as_devices_with_units() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let (client, _rx) = common::watcher(broker.port(), "nothing/here").await;
    let mut engine = common::engine_for("", &broker.url(), Protocol::V5);
    common::connected(&mut engine).await;
    let json = r#"[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
                   {"n":"current","u":"A","v":1.2}]"#;
    client
        .publish("site-1/gw/senml", QoS::AtLeastOnce, false, json)
        .await
        .expect("publish");
    use ciborium::Value as V;
    let cbor_pack = V::Array(vec![V::Map(vec![
        (
            V::Integer((-2).into()),
            V::Text("urn:dev:mac:0024befffe804ff1:".into()),
        ),
        (V::Integer(0.into()), V::Text("temp".into())),
        (V::Integer(1.into()), V::Text("Cel".into())),
        (V::Integer(2.into()), V::Float(23.5)),
    ])]);
    let mut cbor = Vec::new();
    ciborium::ser::into_writer(&cbor_pack, &mut cbor).expect("encode");
    client
        .publish("site-1/gw/senml-cbor", QoS::AtLeastOnce, false, cbor)
        .await
        .expect("publish");
    common::wait_for(&mut engine, "both packs' devices", |e| {
        number(e, "urn:dev:ow:10e2073a01080063", "current").is_some()
            && number(e, "urn:dev:mac:0024befffe804ff1", "temp").is_some()
    })
    .await;
    let s = &engine.state;
    let d = s
        .find_device("urn:dev:ow:10e2073a01080063")
        .expect("device");
    assert_eq!(s.fleet_name(d), "senml");
    assert_eq!(s.unit(d, "voltage"), Some("V"));
    assert_eq!(s.unit(d, "current"), Some("A"));
    assert_eq!(
        number(&engine, "urn:dev:ow:10e2073a01080063", "voltage"),
        Some(120.1)
    );
    let c = s
        .find_device("urn:dev:mac:0024befffe804ff1")
        .expect("device");
    assert_eq!(s.unit(c, "temp"), Some("Cel"));
    assert_eq!(s.counters.decode_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_fleets_decode_and_a_late_sample_fires_delay_rule() {
    use prost::Message as _;
    #[derive(Clone, PartialEq, prost::Message)]
    struct Reading {
        #[prost(double, tag = "1")]
        level: f64,
        #[prost(int64, tag = "2")]
        ts: i64,
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let proto = dir.path().join("tank.proto");
    std::fs::write(
        &proto,
        "syntax = \"proto3\";\npackage tank.v1;\nmessage Reading { double level = 1; int64 ts = 2; }\n",
    )
    .expect("write proto");
    let config = format!(
        r#"
[[fleet]]
name = "pb"
topic = "fmt-pb/{{device}}"
format = "protobuf"
proto_file = {:?}
message = "tank.v1.Reading"

[[fleet]]
name = "cb"
topic = "fmt-cbor/{{device}}"
format = "cbor"

[[fleet]]
name = "mp"
topic = "fmt-mp/{{device}}"
format = "msgpack"

[[alert]]
name = "late"
when = "delay > 30"
severity = "warning"
"#,
        proto.display().to_string()
    );
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let (client, _rx) = common::watcher(broker.port(), "nothing/here").await;
    let mut engine = common::engine_for(&config, &broker.url(), Protocol::V5);
    common::connected(&mut engine).await;

    // Sampled two minutes before it is sent: a gateway that buffered it.
    let late = (now_s() - 120.0) as i64;
    let pb = Reading {
        level: 0.42,
        ts: late,
    }
    .encode_to_vec();
    client
        .publish("fmt-pb/tank-1", QoS::AtLeastOnce, false, pb)
        .await
        .expect("publish");
    let mut cbor = Vec::new();
    ciborium::ser::into_writer(&serde_json::json!({"env": {"t": 4.5}}), &mut cbor).expect("cbor");
    client
        .publish("fmt-cbor/node-1", QoS::AtLeastOnce, false, cbor)
        .await
        .expect("publish");
    let mut mp = Vec::new();
    let v = rmpv::Value::Map(vec![(rmpv::Value::from("rssi"), rmpv::Value::from(-71))]);
    rmpv::encode::write_value(&mut mp, &v).expect("msgpack");
    client
        .publish("fmt-mp/node-2", QoS::AtLeastOnce, false, mp)
        .await
        .expect("publish");

    common::wait_for(&mut engine, "every fleet's device", |e| {
        number(e, "tank-1", "level").is_some()
            && number(e, "node-1", "env.t").is_some()
            && number(e, "node-2", "rssi").is_some()
    })
    .await;
    assert_eq!(number(&engine, "tank-1", "level"), Some(0.42));
    assert_eq!(number(&engine, "node-1", "env.t"), Some(4.5));
    assert_eq!(number(&engine, "node-2", "rssi"), Some(-71.0));
    let delay = number(&engine, "tank-1", "delay").expect("a delay");
    assert!((119.0..130.0).contains(&delay), "{delay}");
    assert!(
        number(&engine, "node-1", "delay").is_none(),
        "no timestamp, no delay"
    );
    common::wait_for(&mut engine, "the delay alert", |e| {
        e.alerts
            .active()
            .iter()
            .any(|a| &*a.rule_name == "late" && &*a.device_name == "tank-1")
    })
    .await;
}
