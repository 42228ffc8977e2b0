use super::*;
use crate::config::Config;
use bytes::Bytes;

const CONFIG: &str = r#"
[[fleet]]
name = "tanks"
topic = "tanks/{site}/{gateway}/{device}/telemetry"
format = "json"
expected_interval = "10s"
[[fleet.availability]]
topic = "tanks/{site}/{gateway}/{device}/status"
[[fleet.availability]]
topic = "tanks/{site}/{gateway}/status"

[[fleet.metric]]
name = "level_pct"
unit = "%"

[[fleet]]
name = "plain"
topic = "plain/{device}/{metric}"
"#;

fn state_with(limits: Limits) -> FleetState {
    let config = Config::parse(CONFIG, None).unwrap();
    let mapper = Mapper::new(&config.fleets).unwrap();
    FleetState::new(mapper, limits, &["local".to_string()])
}

fn state() -> FleetState {
    state_with(Limits::default())
}

fn msg(topic: &str, payload: &[u8], at_ms: i64) -> RawMessage {
    RawMessage {
        conn: crate::vocab::ConnId(0),
        topic: Bytes::copy_from_slice(topic.as_bytes()),
        payload: Bytes::copy_from_slice(payload),
        retain: false,
        at_ms,
    }
}

const T0: i64 = 1_764_000_000_000;
const TANK: &str = "tanks/north/gw-1/tank-01/telemetry";

#[test]
fn telemetry_creates_device_with_labels_and_metrics() {
    let mut s = state();
    s.apply(&msg(TANK, br#"{"level_pct":57.5,"pump":"ON"}"#, T0));
    let d = s.find_device("tank-01").unwrap();
    assert_eq!(s.fleet_name(d), "tanks");
    assert_eq!(d.label("site"), Some("north"));
    assert_eq!(d.label("gateway"), Some("gw-1"));
    assert_eq!(d.status, Status::Online);
    assert_eq!(
        d.metric("level_pct").unwrap().value,
        MetricValue::Number(57.5)
    );
    assert_eq!(d.metric("pump").unwrap().value, MetricValue::Bool(true));
    let events: Vec<_> = s.drain_events().collect();
    assert!(matches!(
        events[0],
        FleetEvent::DeviceAppeared {
            device: crate::vocab::DeviceId(0),
            ..
        }
    ));
    assert!(matches!(
        events[1],
        FleetEvent::StatusChanged {
            to: Status::Online,
            ..
        }
    ));
}

#[test]
fn history_follows_messages_and_payload_timestamps() {
    let mut s = state();
    for i in 0..5 {
        s.apply(&msg(
            TANK,
            format!(r#"{{"level_pct":{i}}}"#).as_bytes(),
            T0 + i * 1000,
        ));
    }
    s.apply(&msg(TANK, br#"{"level_pct":9,"ts":1764000100}"#, T0 + 6000));
    let m = s
        .find_device("tank-01")
        .unwrap()
        .metric("level_pct")
        .unwrap();
    let samples: Vec<_> = m.ring.iter().collect();
    assert_eq!(samples.len(), 6);
    assert_eq!(samples[5], (1_764_000_100_000, 9.0));
    assert_eq!(m.updated_ms, 1_764_000_100_000);
}

#[test]
fn metric_from_topic_level() {
    let mut s = state();
    s.apply(&msg("plain/p1/temp", b"21.5", T0));
    s.apply(&msg("plain/p1/state", b"OFF", T0));
    let d = s.find_device("p1").unwrap();
    assert_eq!(d.metric("temp").unwrap().value, MetricValue::Number(21.5));
    assert_eq!(d.metric("state").unwrap().value, MetricValue::Bool(false));
    assert_eq!(d.topics.len(), 2);
}

#[test]
fn bad_payloads_count_as_decode_errors_and_keep_the_device() {
    let mut s = state();
    s.apply(&msg(TANK, br#"{"level_pct":50}"#, T0));
    for bad in [&b"{oops"[..], b"", b"\xff\xfe", b"[[[[1]]]]]"] {
        s.apply(&msg(TANK, bad, T0 + 1));
    }
    let d = s.find_device("tank-01").unwrap();
    assert_eq!(d.decode_errors, 4);
    assert_eq!(s.counters.decode_errors, 4);
    assert!(d.last_error.as_ref().unwrap().message.contains("JSON"));
    assert_eq!(
        d.metric("level_pct").unwrap().value,
        MetricValue::Number(50.0)
    );
}

#[test]
fn devices_with_errors_count_devices_with_recent_ones_only() {
    let mut s = state();
    let other = "tanks/north/gw-1/tank-02/telemetry";
    for i in 0..24 {
        s.apply(&msg(TANK, b"{not json", T0 + i));
    }
    s.apply(&msg(other, b"{not json", T0 + 5 * 60_000));
    assert_eq!(s.counters.decode_errors, 25);
    assert_eq!(s.devices_with_recent_errors(T0 + 5 * 60_000), 2);
    // Ten minutes after its last bad payload, tank-01 no longer counts.
    assert_eq!(s.devices_with_recent_errors(T0 + 10 * 60_000 + 24), 1);
    assert_eq!(s.devices_with_recent_errors(T0 + 16 * 60_000), 0);
}

#[test]
fn caps_refuse_and_count() {
    let mut s = state_with(Limits {
        max_devices: 1,
        max_metrics_per_device: 2,
        max_topic_len: 64,
        max_payload_bytes: 32,
        max_unmapped_topics: 1,
        ..Limits::default()
    });
    s.apply(&msg(TANK, br#"{"a":1,"b":2,"c":3}"#, T0));
    assert_eq!(s.counters.refused_metric_cap, 1);
    assert!(
        s.devices[0]
            .last_error
            .as_ref()
            .unwrap()
            .message
            .contains("max_metrics_per_device")
    );
    s.apply(&msg("tanks/north/gw-1/tank-02/telemetry", b"{}", T0));
    assert_eq!(s.counters.refused_device_cap, 1);
    s.apply(&msg(TANK, &[b' '; 40], T0));
    assert_eq!(s.counters.refused_payload_too_big, 1);
    s.apply(&msg(&"x/".repeat(40), b"1", T0));
    assert_eq!(s.counters.refused_topic_too_long, 1);
    s.apply(&msg("u/1", b"1", T0));
    s.apply(&msg("u/2", b"1", T0));
    assert_eq!(s.unmapped.len(), 1);
    assert_eq!(s.counters.refused_unmapped_cap, 1);
    assert_eq!(s.devices.len(), 1);
}

#[test]
fn stale_after_twice_expected_interval_then_online_again() {
    let mut s = state();
    s.apply(&msg(TANK, br#"{"level_pct":50}"#, T0));
    s.tick(T0 + 20_000);
    assert_eq!(s.devices[0].status, Status::Online);
    s.tick(T0 + 20_001);
    assert_eq!(s.devices[0].status, Status::Stale);
    s.apply(&msg(TANK, br#"{"level_pct":51}"#, T0 + 30_000));
    assert_eq!(s.devices[0].status, Status::Online);
}

#[test]
fn staleness_counts_from_a_gateways_return() {
    let mut s = state();
    s.apply(&msg(TANK, br#"{"level_pct":50}"#, T0));
    s.apply(&msg("tanks/north/gw-1/status", b"offline", T0 + 1_000));
    // Back after a long outage: not stale at once, only after twice the interval.
    let back = T0 + 600_000;
    s.apply(&msg("tanks/north/gw-1/status", b"online", back));
    s.tick(back + 1_000);
    assert_eq!(s.find_device("tank-01").unwrap().status, Status::Online);
    s.tick(back + 25_000);
    assert_eq!(s.find_device("tank-01").unwrap().status, Status::Stale);
    // A repeated "online" from a gateway that never went away vouches for nothing.
    s.apply(&msg("tanks/north/gw-1/status", b"online", back + 30_000));
    s.tick(back + 31_000);
    assert_eq!(s.find_device("tank-01").unwrap().status, Status::Stale);
}

#[test]
fn lwt_and_gateway_take_devices_offline() {
    let mut s = state();
    s.apply(&msg(TANK, br#"{"level_pct":50}"#, T0));
    s.apply(&msg(
        "tanks/north/gw-2/tank-09/telemetry",
        br#"{"level_pct":5}"#,
        T0,
    ));
    s.apply(&msg("tanks/north/gw-1/tank-01/status", b"offline", T0 + 1));
    assert_eq!(s.find_device("tank-01").unwrap().status, Status::Offline);
    s.apply(&msg("tanks/north/gw-1/tank-01/status", b"online", T0 + 2));
    assert_eq!(s.find_device("tank-01").unwrap().status, Status::Online);

    s.apply(&msg("tanks/north/gw-1/status", b"offline", T0 + 3));
    assert_eq!(s.find_device("tank-01").unwrap().status, Status::Offline);
    assert_eq!(s.find_device("tank-09").unwrap().status, Status::Online);
    // A device first seen behind a gateway that is down starts offline.
    s.apply(&msg(
        "tanks/north/gw-1/tank-02/telemetry",
        br#"{"level_pct":1}"#,
        T0 + 4,
    ));
    assert_eq!(s.find_device("tank-02").unwrap().status, Status::Offline);
    s.apply(&msg("tanks/north/gw-1/status", b"online", T0 + 5));
    assert_eq!(s.find_device("tank-01").unwrap().status, Status::Online);
    assert_eq!(s.find_device("tank-02").unwrap().status, Status::Online);
}

#[test]
fn retained_only_data_is_unknown() {
    let mut s = state();
    let mut m = msg(TANK, br#"{"level_pct":50}"#, T0);
    m.retain = true;
    s.apply(&m);
    assert_eq!(s.devices[0].status, Status::Unknown);
    let mut a = msg(
        "tanks/north/gw-1/tank-01/status",
        br#"{"state":"online"}"#,
        T0,
    );
    a.retain = true;
    s.apply(&a);
    assert_eq!(s.devices[0].status, Status::Online);
}

#[test]
fn unmapped_topics_are_listed_with_counts() {
    let mut s = state();
    s.apply(&msg("zigbee2mqtt/lamp", br#"{"state":"ON"}"#, T0));
    s.apply(&msg("zigbee2mqtt/lamp", br#"{"state":"OFF"}"#, T0 + 1));
    assert_eq!(s.unmapped.len(), 1);
    assert_eq!(s.unmapped[0].messages, 2);
    assert_eq!(s.unmapped[0].last_payload, br#"{"state":"OFF"}"#);
    assert_eq!(s.counters.unmapped_messages, 2);
}

#[test]
fn hostile_topics_are_refused_or_kept_escaped() {
    let mut s = state();
    s.apply(&msg(
        "tanks/north/gw-1/tank\x1b[2J/telemetry",
        b"{\"a\":1}",
        T0,
    ));
    assert_eq!(s.counters.refused_bad_topic, 1);
    assert!(s.devices.is_empty());
    let mut bad = msg("x", b"1", T0);
    bad.topic = Bytes::from_static(b"a/\xff");
    s.apply(&bad);
    assert_eq!(s.counters.refused_bad_topic, 2);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(topic in proptest::collection::vec(any::<u8>(), 0..80),
                                       payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut s = state();
            let mut m = msg("", &payload, T0);
            m.topic = Bytes::from(topic);
            s.apply(&m);
            s.apply(&msg(TANK, &payload, T0));
            s.apply(&msg("plain/d/m", &payload, T0));
            s.tick(T0 + 1_000_000);
        }

        #[test]
        fn arbitrary_json_never_panics(json in "[\\[\\]{}\":,0-9a-z.eE+-]{0,200}") {
            let mut s = state();
            s.apply(&msg(TANK, json.as_bytes(), T0));
        }
    }
}

#[test]
fn the_per_minute_tier_is_held_to_its_memory_budget() {
    let mut s = state_with(Limits {
        history: 2,
        ..Limits::default()
    });
    // Ten minutes of samples, a ring of two: minutes spill into the coarse tier.
    for i in 0..20 {
        s.apply(&msg(TANK, br#"{"level_pct":50}"#, T0 + i * 30_000));
    }
    s.tick(T0 + 600_000);
    let minutes = |s: &FleetState| s.find_device("tank-01").unwrap().metrics[0].coarse.len();
    assert!(minutes(&s) >= 8, "{}", minutes(&s));
    assert_eq!(s.counters.coarse_trims, 0, "64 MiB holds this easily");
    // No budget at all: the next check cuts every metric back.
    s.limits.coarse_memory_mb = 0;
    s.tick(T0 + 620_000);
    assert_eq!(minutes(&s), 0);
    assert_eq!(s.counters.coarse_trims, 1);
}

mod shapes {
    use super::*;
    use proptest::prelude::*;

    const KEYS: &[&str] = &["a", "b", "ts", "time", "n\":{\"x", "a.b"];
    const VALUES: &[&str] = &[
        "1",
        "-2.5",
        "0.125",
        "1764000000",
        "1764000000123",
        "1864000000",
        "\"2025-11-24T16:00:00Z\"",
        "\"yesterday\"",
        "\"ON\"",
        "\"off\"",
        "\"txt\"",
        "\"t\u{e9}\"",
        "\"\\u0041\"",
        "\"\u{1}\"",
        "true",
        "false",
        "null",
        "1e3",
        "01",
        "-",
        "99999999999999999",
        "{\"x\":1}",
        "[1,2]",
        "[]",
    ];
    const OTHERS: &[&[u8]] = &[
        b"",
        b"{}",
        b"{\"a\":",
        b"\"a\xff\"",
        b"[1, {\"a\": 2}]",
        b"7",
    ];

    /// A payload from a key template and value choices; `None` for one of the others.
    fn payload(keys: &[(usize, bool)], values: &[usize], other: Option<usize>) -> Vec<u8> {
        if let Some(o) = other {
            return OTHERS[o % OTHERS.len()].to_vec();
        }
        let mut p = b"{".to_vec();
        for (i, &(k, spaced)) in keys.iter().enumerate() {
            if i > 0 {
                p.extend_from_slice(if spaced { b", " } else { b"," });
            }
            let v = VALUES[values[i % values.len()] % VALUES.len()];
            p.extend_from_slice(format!("\"{}\":{v}", KEYS[k % KEYS.len()]).as_bytes());
            if KEYS[k % KEYS.len()].contains('{') {
                p.push(b'}');
            }
        }
        if keys.len() == 2 && values.first() == Some(&0) {
            p.extend_from_slice(b"\xff");
        }
        // Invalid UTF-8 inside a string value, where a learned shape has a value.
        if let Some(i) = p.windows(3).position(|w| w == b"txt")
            && values.get(1) == Some(&1)
        {
            p[i + 1] = 0xff;
        }
        p.push(b'}');
        p
    }

    fn state(max_metrics: usize, use_shapes: bool) -> FleetState {
        let mut s = state_with(Limits {
            max_metrics_per_device: max_metrics,
            history: 4,
            ..Limits::default()
        });
        s.use_shapes = use_shapes;
        s
    }

    /// No config: the conventions, and the generic fallback for plain JSON topics.
    fn no_config(max_metrics: usize, use_shapes: bool) -> FleetState {
        let limits = Limits {
            max_metrics_per_device: max_metrics,
            history: 4,
            ..Limits::default()
        };
        let mut s = FleetState::new(Mapper::new(&[]).unwrap(), limits, &["local".to_string()])
            .with_conventions(crate::config::conventions::ConventionsConfig::default());
        s.use_shapes = use_shapes;
        s
    }

    /// Key templates: which keys a payload has, in which order, spaced or not.
    fn templates() -> impl Strategy<Value = Vec<Vec<(usize, bool)>>> {
        proptest::collection::vec(
            proptest::collection::vec((0..KEYS.len(), any::<bool>()), 1..5),
            1..4,
        )
    }

    /// Messages: device, template, value choices, and now and then another payload.
    type Plays = Vec<(usize, usize, Vec<usize>, Option<usize>)>;

    fn plays() -> impl Strategy<Value = Plays> {
        proptest::collection::vec(
            (
                0..3usize,
                0..4usize,
                proptest::collection::vec(prop_oneof![4 => 0..4usize, 1 => 0..VALUES.len()], 5),
                proptest::option::weighted(0.1, 0..OTHERS.len()),
            ),
            1..60,
        )
    }

    /// Feeds the same messages to both states, device `d` on `topic(d)`.
    fn play(
        mut states: [&mut FleetState; 2],
        templates: &[Vec<(usize, bool)>],
        plays: &Plays,
        topic: impl Fn(usize) -> String,
    ) {
        for (i, (device, template, values, other)) in plays.iter().enumerate() {
            let keys = &templates[template % templates.len()];
            let m = msg(
                &topic(*device),
                &payload(keys, values, *other),
                T0 + 1000 * i as i64,
            );
            for s in states.iter_mut() {
                s.apply(&m);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn shapes_change_nothing_but_speed(
            templates in templates(),
            plays in plays(),
            max_metrics in prop_oneof![Just(3usize), Just(256)],
        ) {
            let mut with = state(max_metrics, true);
            let mut without = state(max_metrics, false);
            play([&mut with, &mut without], &templates, &plays, |d| {
                format!("tanks/north/gw-1/tank-{d}/telemetry")
            });
            prop_assert_eq!(format!("{:?}", with.devices), format!("{:?}", without.devices));
            prop_assert_eq!(&with.counters, &without.counters);
        }

        #[test]
        fn shapes_change_nothing_for_guessed_devices_either(
            templates in templates(),
            plays in plays(),
            max_metrics in prop_oneof![Just(3usize), Just(256)],
        ) {
            // The generic path reads a resolved topic through its shape; without shapes,
            // through the convention decoder: the devices must come out the same.
            let mut with = no_config(max_metrics, true);
            let mut without = no_config(max_metrics, false);
            play([&mut with, &mut without], &templates, &plays, |d| {
                format!("site/north/tank-{d}/telemetry")
            });
            // The same errors at the same times; the wording may differ (the fast path
            // says an empty payload is likely a retained message being cleared).
            let seen = |s: &FleetState| -> Vec<String> {
                s.devices
                    .iter()
                    .map(|d| {
                        let mut d = d.clone();
                        if let Some(e) = &mut d.last_error {
                            e.message.clear();
                        }
                        format!("{d:?}")
                    })
                    .collect()
            };
            prop_assert_eq!(seen(&with), seen(&without));
            prop_assert_eq!(&with.counters, &without.counters);
        }
    }

    #[test]
    fn a_guessed_devices_repeated_shape_is_read_through_the_cache() {
        let mut s = no_config(256, true);
        let topic = "site/north/tank-7/telemetry";
        s.apply(&msg(
            topic,
            br#"{"device":"tank-7","level_pct":57.5,"pump":"ON"}"#,
            T0,
        ));
        assert!(
            s.shapes[0].is_learned(),
            "the convention decoder taught the shape"
        );
        s.apply(&msg(
            topic,
            br#"{"device":"tank-7","level_pct":58,"pump":"idle"}"#,
            T0 + 1000,
        ));
        let d = s.find_device("tank-7").unwrap();
        assert_eq!(
            d.metric("level_pct").unwrap().value,
            MetricValue::Number(58.0)
        );
        assert_eq!(
            d.metric("pump").unwrap().value,
            MetricValue::Text("idle".into())
        );
        assert_eq!((d.messages, d.metrics.len()), (2, 3));
        // Another shape goes through the decoder and is learnt in its turn.
        s.apply(&msg(topic, br#"{"level_pct":59}"#, T0 + 2000));
        let d = s.find_device("tank-7").unwrap();
        assert_eq!(
            d.metric("level_pct").unwrap().value,
            MetricValue::Number(59.0)
        );
        assert_eq!(d.messages, 3);
        assert!(s.shapes[0].is_learned());
    }

    #[test]
    fn a_repeated_shape_is_read_through_the_cache() {
        let mut s = state(256, true);
        s.apply(&msg(
            TANK,
            br#"{"level_pct":57.5,"pump":"ON","ts":1764000000}"#,
            T0,
        ));
        assert!(s.shapes[0].is_learned());
        s.apply(&msg(
            TANK,
            br#"{"level_pct":58,"pump":"idle","ts":1764000001}"#,
            T0 + 1000,
        ));
        let d = s.find_device("tank-01").unwrap();
        assert_eq!(
            d.metric("level_pct").unwrap().value,
            MetricValue::Number(58.0)
        );
        assert_eq!(
            d.metric("pump").unwrap().value,
            MetricValue::Text("idle".into())
        );
        assert_eq!(d.metric("level_pct").unwrap().updated_ms, T0 + 1000);
        assert!(d.metric("ts").is_none());
        // Another key order is another shape: read by the walker, then learned.
        s.apply(&msg(TANK, br#"{"pump":"OFF","level_pct":59}"#, T0 + 2000));
        let d = s.find_device("tank-01").unwrap();
        assert_eq!(d.metric("pump").unwrap().value, MetricValue::Bool(false));
        let names: Vec<&str> = d.metrics.iter().map(|m| &*m.name).collect();
        assert_eq!(names, ["level_pct", "pump", "delay", "jitter"]);
        assert!(s.shapes[0].is_learned());
        // A malformed payload in the learned skeleton's place is still a counted error.
        s.apply(&msg(TANK, br#"{"pump":"OFF","level_pct":5x}"#, T0 + 3000));
        assert_eq!(s.find_device("tank-01").unwrap().decode_errors, 1);
    }
}
