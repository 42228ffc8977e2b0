//! Packs, binary formats and delivery metrics through the fleet state, as messages.

use super::super::*;
use crate::config::Config;
use crate::fleet::testutil::message as msg;

const T0: i64 = 1_764_000_000_000;

/// No `[[fleet]]`: the conventions alone, as fleetop starts with no config.
fn no_config() -> FleetState {
    FleetState::new(Mapper::default(), Limits::default(), &["local".to_string()])
        .with_conventions(ConventionsConfig::default())
}

fn configured(toml: &str) -> FleetState {
    let config = Config::parse(toml, None).unwrap();
    let mapper = Mapper::new(&config.fleets).unwrap();
    FleetState::new(mapper, Limits::default(), &["local".to_string()])
}

fn number(s: &FleetState, device: &str, metric: &str) -> Option<f64> {
    match s.find_device(device)?.metric(metric)?.value {
        MetricValue::Number(n) => Some(n),
        _ => None,
    }
}

#[test]
fn a_pack_with_no_config_makes_devices_by_base_name_with_units() {
    let mut s = no_config();
    let pack = br#"[{"bn":"2001:db8::2/","n":"temperature","u":"Cel","v":25.2},
                    {"n":"humidity","u":"%RH","v":30},
                    {"bn":"2001:db8::1/","n":"temperature","u":"Cel","v":12.3}]"#;
    s.apply(&msg("site/gw-9/senml", pack, T0));
    let a = s.find_device("2001:db8::2").expect("first base name");
    assert_eq!(s.fleet_name(a), "senml");
    assert_eq!(number(&s, "2001:db8::2", "temperature"), Some(25.2));
    assert_eq!(number(&s, "2001:db8::2", "humidity"), Some(30.0));
    assert_eq!(
        number(&s, "2001:db8::2", "delay"),
        None,
        "a pack with no times has no delay"
    );
    assert_eq!(s.unit(a, "humidity"), Some("%RH"));
    let b = s.find_device("2001:db8::1").expect("second base name");
    assert_eq!(s.unit(b, "temperature"), Some("Cel"));
    assert_eq!(b.status, Status::Online);
    assert!(
        s.find_device("gw-9").is_none(),
        "the topic names no device here"
    );
    assert!(s.unmapped.is_empty());
    // Both devices changed: alerts are evaluated for each.
    let ids = [a.id, b.id];
    assert_eq!(s.take_touched(), Some(ids[0]));
    assert_eq!(s.take_also_touched(), vec![ids[1]]);
}

#[test]
fn each_record_keeps_its_own_time_in_history() {
    let mut s = no_config();
    let bt = (T0 / 1000) as f64;
    let pack = format!(
        r#"[{{"bn":"urn:dev:ow:10e2073a0108006:","bt":{bt},"bu":"A","n":"current","t":-2,"v":1.2}},
            {{"n":"current","t":-1,"v":1.3}},{{"n":"current","v":1.4}}]"#
    );
    s.apply(&msg("meters/up", pack.as_bytes(), T0 + 3000));
    let d = s.find_device("urn:dev:ow:10e2073a0108006").unwrap();
    let m = d.metric("current").unwrap();
    let samples: Vec<(i64, f32)> = m.ring.iter().map(|(t, v)| (t, v as f32)).collect();
    assert_eq!(samples, vec![(T0 - 2000, 1.2), (T0 - 1000, 1.3), (T0, 1.4)]);
    assert_eq!(s.unit(d, "current"), Some("A"));
    // Delay is the newest sample's: 3 s.
    assert_eq!(number(&s, "urn:dev:ow:10e2073a0108006", "delay"), Some(3.0));
    assert_eq!(s.unit(d, "delay"), Some("s"));
}

#[test]
fn cbor_packs_and_nameless_devices_take_the_topic() {
    let mut s = no_config();
    // [{0:"t", 2:21.5}] in RFC 8428 section 6 labels: no base name.
    let mut b = vec![0x81, 0xa2, 0x00, 0x61, b't', 0x02, 0xfb];
    b.extend_from_slice(&21.5f64.to_be_bytes());
    s.apply(&msg("site/meter-4/senml", &b, T0));
    assert_eq!(number(&s, "meter-4", "t"), Some(21.5));
}

#[test]
fn a_broken_pack_is_the_devices_error_and_many_devices_are_bounded() {
    let mut s = no_config();
    s.apply(&msg("site/m-1/senml", br#"[{"n":"ok","v":1}]"#, T0));
    s.apply(&msg(
        "site/m-1/senml",
        br#"[{"n":"bad\u001b","v":1}]"#,
        T0 + 1000,
    ));
    let d = s.find_device("m-1").unwrap();
    let e = d.last_error.as_ref().unwrap();
    assert!(e.message.contains("not a SenML name"), "{}", e.message);
    assert_eq!(d.decode_errors, 1);

    let records: Vec<String> = (0..200)
        .map(|i| format!(r#"{{"bn":"d{i}/","n":"x","v":{i}}}"#))
        .collect();
    s.apply(&msg(
        "site/m-2/senml",
        format!("[{}]", records.join(",")).as_bytes(),
        T0,
    ));
    let made = s.devices.iter().filter(|d| d.name.starts_with('d')).count();
    assert_eq!(made, super::MAX_DEVICES_PER_PACK);
    assert!(s.devices.iter().any(|d| {
        d.last_error
            .as_ref()
            .is_some_and(|e| e.message.contains("at most 64 devices"))
    }));
}

#[test]
fn a_senml_fleet_puts_every_record_on_the_topics_device() {
    let mut s = configured(
        "[[fleet]]\nname = \"meters\"\ntopic = \"meters/{device}/up\"\nformat = \"senml\"\n",
    );
    s.apply(&msg(
        "meters/m-7/up",
        br#"[{"bn":"urn:dev:mac:0024befffe804ff1:","n":"energy","u":"kWh","v":5,"s":12}]"#,
        T0,
    ));
    let d = s.find_device("m-7").unwrap();
    assert_eq!(s.fleet_name(d), "meters");
    assert_eq!(number(&s, "m-7", "energy"), Some(5.0));
    assert_eq!(number(&s, "m-7", "energy.sum"), Some(12.0));
    assert_eq!(s.unit(d, "energy.sum"), Some("kWh"));
}

#[test]
fn cbor_and_msgpack_fleets_flatten_maps() {
    let mut s = configured(
        "[[fleet]]\nname = \"c\"\ntopic = \"c/{device}\"\nformat = \"cbor\"\n\
         [[fleet]]\nname = \"m\"\ntopic = \"m/{device}\"\nformat = \"msgpack\"\n",
    );
    let mut cbor = Vec::new();
    let v = serde_json::json!({"env": {"t": 21.5}, "ts": T0 / 1000});
    ciborium::ser::into_writer(&v, &mut cbor).unwrap();
    s.apply(&msg("c/dev-1", &cbor, T0 + 2500));
    assert_eq!(number(&s, "dev-1", "env.t"), Some(21.5));
    assert_eq!(number(&s, "dev-1", "delay"), Some(2.5));
    let mp = rmpv::Value::Map(vec![(rmpv::Value::from("rssi"), rmpv::Value::from(-70))]);
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &mp).unwrap();
    s.apply(&msg("m/dev-2", &bytes, T0));
    assert_eq!(number(&s, "dev-2", "rssi"), Some(-70.0));
    s.apply(&msg("m/dev-2", &[0x82, 0xa4, b'r'], T0 + 1));
    let e = s.find_device("dev-2").unwrap().last_error.as_ref().unwrap();
    assert!(e.message.contains("MessagePack"), "{}", e.message);
}

#[test]
fn a_protobuf_fleet_reads_its_message_type() {
    use prost::Message as _;
    #[derive(Clone, PartialEq, prost::Message)]
    struct Reading {
        #[prost(double, tag = "1")]
        level: f64,
    }
    let dir = tempfile::tempdir().unwrap();
    let proto = dir.path().join("r.proto");
    std::fs::write(
        &proto,
        "syntax = \"proto3\";\npackage t;\nmessage R { double level = 1; }\n",
    )
    .unwrap();
    let mut s = configured(&format!(
        "[[fleet]]\nname = \"p\"\ntopic = \"p/{{device}}\"\nformat = \"protobuf\"\n\
         proto_file = {:?}\nmessage = \"t.R\"\n",
        proto.display().to_string()
    ));
    s.apply(&msg(
        "p/tank-1",
        &Reading { level: 0.75 }.encode_to_vec(),
        T0,
    ));
    assert_eq!(number(&s, "tank-1", "level"), Some(0.75));
}

#[test]
fn jitter_and_delay_are_metrics_of_json_devices_too() {
    let mut s = configured("[[fleet]]\nname = \"j\"\ntopic = \"j/{device}\"\nformat = \"json\"\n");
    for (i, at) in [0, 10_000, 22_000, 32_000].into_iter().enumerate() {
        let ts = (T0 + at) / 1000 - 1;
        let payload = format!(r#"{{"ts":{ts},"v":{i}}}"#);
        s.apply(&msg("j/d", payload.as_bytes(), T0 + at));
    }
    assert_eq!(number(&s, "d", "delay"), Some(1.0));
    // Intervals 10 s, 12 s, 10 s: 2 s, then 2 + (2 - 2)/16.
    assert_eq!(number(&s, "d", "jitter"), Some(2.0));
    // A retained message is no delivery.
    let mut retained = msg("j/d", br#"{"ts":1,"v":9}"#, T0 + 99_000);
    retained.retain = true;
    s.apply(&retained);
    assert_eq!(number(&s, "d", "jitter"), Some(2.0));
}
