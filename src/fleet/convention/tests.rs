use super::super::*;
use crate::conventions::sparkplug::proto as spb_proto;
use bytes::Bytes;
use prost::Message as _;

pub(super) fn state(config: ConventionsConfig) -> FleetState {
    FleetState::new(Mapper::default(), Limits::default(), &["local".to_string()])
        .with_conventions(config)
}

/// The fleets of `toml` plus every convention.
pub(super) fn state_with_fleets(toml: &str) -> FleetState {
    let config = crate::config::Config::parse(toml, None).unwrap();
    FleetState::new(
        Mapper::new(&config.fleets).unwrap(),
        Limits::default(),
        &["local".to_string()],
    )
    .with_conventions(ConventionsConfig::default())
}

pub(super) fn msg(topic: &str, payload: &[u8], at_ms: i64) -> RawMessage {
    RawMessage {
        conn: crate::vocab::ConnId(0),
        topic: Bytes::copy_from_slice(topic.as_bytes()),
        payload: Bytes::copy_from_slice(payload),
        retain: false,
        at_ms,
    }
}

pub(super) fn device<'a>(s: &'a FleetState, name: &str) -> &'a Device {
    s.find_device(name).unwrap_or_else(|| {
        panic!(
            "no device {name}: {:?}",
            s.devices.iter().map(|d| &d.name).collect::<Vec<_>>()
        )
    })
}

pub(super) fn number(d: &Device, metric: &str) -> f64 {
    match d.metric(metric).map(|m| &m.value) {
        Some(MetricValue::Number(n)) => *n,
        other => panic!("{metric} of {}: {other:?}", d.name),
    }
}

/// A line of the fixture, in the recording format (`source::record`), read here so the
/// core's tests need no source: the fixture has text topics only.
#[derive(serde::Deserialize)]
struct Recorded {
    topic: String,
    #[serde(default)]
    retain: bool,
    payload_hex: String,
}

/// Every line of the shared fixture through the fleet state.
fn replay_fixture(s: &mut FleetState) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/mixed-fleet.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    for (i, line) in text.lines().enumerate() {
        let l: Recorded = serde_json::from_str(line).unwrap();
        let payload = hex::decode(&l.payload_hex).unwrap();
        let mut m = msg("", &payload, 1_764_000_000_000 + i as i64 * 10);
        m.topic = Bytes::from(l.topic);
        m.retain = l.retain;
        s.apply(&m);
    }
}

#[test]
fn the_mixed_fleet_becomes_devices_with_no_config() {
    let mut s = state(ConventionsConfig::default());
    replay_fixture(&mut s);
    assert!(
        s.unmapped.is_empty(),
        "{:?}",
        s.unmapped.iter().map(|u| &u.topic).collect::<Vec<_>>()
    );

    let plug = device(&s, "tasmota_plug0");
    assert_eq!(s.fleet_name(plug), "tasmota");
    assert_eq!(plug.status, Status::Online);
    assert!(number(plug, "ENERGY.Power") > 0.0);
    assert!(plug.metric("Time").is_none());
    assert_eq!(device(&s, "tasmota_plug9").status, Status::Offline);

    let shelly = device(&s, "shellyplus1pm-a0");
    assert_eq!(
        (s.fleet_name(shelly), shelly.status),
        ("shelly", Status::Online)
    );
    assert!(number(shelly, "apower") > 100.0);
    assert!(number(shelly, "temperature.tC") > 40.0);
    assert!(
        shelly.metric("id").is_none(),
        "the component id is not a metric"
    );

    let z = device(&s, "kitchen_sensor0");
    assert_eq!((s.fleet_name(z), z.status), ("zigbee2mqtt", Status::Online));
    assert!(number(z, "humidity") > 40.0);
    assert_eq!(s.gateway_of(z).map(|g| &*g.name), Some("zigbee2mqtt"));
    assert_eq!(z.label("gateway"), Some("zigbee2mqtt"));

    let w = device(&s, "weather0");
    assert_eq!((s.fleet_name(w), w.status), ("homie", Status::Online));
    let facts = w.facts.as_ref().unwrap();
    assert_eq!(facts.display_name.as_deref(), Some("Weather station 0"));
    assert!(number(w, "env.temperature") > 5.0);
    assert_eq!(s.unit(w, "env.temperature"), Some("°C"));

    let pump = device(&s, "plant1/edge1/pump1");
    assert_eq!(s.fleet_name(pump), "sparkplug");
    assert_eq!(
        pump.status,
        Status::Offline,
        "the recording ends with its DDEATH"
    );
    assert!(number(pump, "pressure_bar") > 0.0);
    assert!(number(pump, "flow_lpm") > 0.0);
    assert_eq!(
        pump.metric("running").map(|m| &m.value),
        Some(&MetricValue::Bool(true))
    );
    assert_eq!(
        pump.facts
            .as_ref()
            .unwrap()
            .metric("pressure_bar")
            .and_then(|m| m.datatype.as_deref()),
        Some("Double")
    );
    let node = s.gateway_of(pump).unwrap();
    assert_eq!(&*node.name, "plant1/edge1");
    assert_eq!(pump.label("group"), Some("plant1"));
    assert!(
        node.facts.as_ref().unwrap().rebirth_needed.is_some(),
        "the recording has no NBIRTH"
    );
    assert_eq!(s.counters.sparkplug_seq_gaps, 0);

    let tank = device(&s, "tank-00");
    assert_eq!(s.fleet_name(tank), "generic");
    assert!(number(tank, "level_pct") > 0.0);
}

#[test]
fn conventions_turned_off_leave_topics_unmapped_and_fleets_win() {
    let off = ConventionsConfig {
        sparkplug: false,
        homie: false,
        ..ConventionsConfig::default()
    };
    let mut s = state(off);
    replay_fixture(&mut s);
    assert!(s.find_device("plant1/edge1/pump1").is_none());
    assert!(s.find_device("weather0").is_none());
    assert!(s.unmapped.iter().any(|u| u.topic.starts_with("spBv1.0/")));

    // A configured fleet claims its topics before any convention, and the generic
    // fallback is off once fleets are configured.
    let mut s = state_with_fleets(
        "[[fleet]]\nname = \"plugs\"\ntopic = \"tele/{device}/SENSOR\"\nformat = \"json\"\n",
    );
    replay_fixture(&mut s);
    let plug = s
        .devices
        .iter()
        .find(|d| &*d.name == "tasmota_plug0" && s.fleet_name(d) == "plugs")
        .unwrap();
    assert!(number(plug, "ENERGY.Power") > 0.0);
    // The plug's LWT and STATE (Tasmota topics the fleet does not map) land on the same
    // device, whichever came first: no second `tasmota_plug0` in fleet tasmota.
    let plugs: Vec<&Device> = s
        .devices
        .iter()
        .filter(|d| d.name.starts_with("tasmota_plug"))
        .collect();
    let fleets: Vec<(&str, &str)> = plugs.iter().map(|d| (&*d.name, s.fleet_name(d))).collect();
    // plug9 only ever sent its LWT: the fleet never named it.
    assert_eq!(
        fleets,
        [
            ("tasmota_plug0", "plugs"),
            ("tasmota_plug1", "plugs"),
            ("tasmota_plug2", "plugs"),
            ("tasmota_plug9", "tasmota")
        ]
    );
    assert!(
        plug.facts
            .as_ref()
            .is_some_and(|f| f.convention == Convention::Tasmota)
    );
    assert!(s.find_device("tank-00").is_none());
    assert!(
        s.unmapped
            .iter()
            .any(|u| u.topic.starts_with("fleet/tanks/"))
    );
}

pub(super) fn spb_metric(
    name: Option<&str>,
    alias: Option<u64>,
    dt: u32,
    v: spb_proto::Value,
) -> spb_proto::Metric {
    spb_proto::Metric {
        name: name.map(str::to_string),
        alias,
        timestamp: None,
        datatype: Some(dt),
        is_historical: None,
        is_null: None,
        properties: None,
        value: Some(v),
    }
}

pub(super) fn spb_payload(seq: Option<u64>, metrics: Vec<spb_proto::Metric>) -> Vec<u8> {
    spb_proto::Payload {
        timestamp: None,
        metrics,
        seq,
        uuid: None,
    }
    .encode_to_vec()
}

#[test]
fn a_device_the_convention_found_first_joins_the_configured_fleet_that_names_it() {
    let mut s = state_with_fleets(
        "[[fleet]]\nname = \"plugs\"\ntopic = \"tele/{device}/SENSOR\"\nformat = \"json\"\n\
         [[fleet]]\nname = \"tanks\"\ntopic = \"site/tanks/{device}/telemetry\"\n",
    );
    s.apply(&msg("tele/plug1/LWT", b"Online", 1_000));
    assert_eq!(s.fleet_name(device(&s, "plug1")), "tasmota");
    s.apply(&msg(
        "tele/plug1/SENSOR",
        br#"{"ENERGY":{"Power":42}}"#,
        2_000,
    ));
    s.apply(&msg("tele/plug1/STATE", br#"{"POWER":"ON"}"#, 3_000));
    s.apply(&msg("stat/plug1/POWER", b"OFF", 4_000));
    let plug1: Vec<&Device> = s.devices.iter().filter(|d| &*d.name == "plug1").collect();
    assert_eq!(plug1.len(), 1, "{plug1:#?}");
    let d = plug1[0];
    let d_id = d.id;
    assert_eq!(s.fleet_name(d), "plugs");
    assert_eq!(number(d, "ENERGY.Power"), 42.0);
    assert!(d.metric("POWER").is_some());
    assert_eq!(d.status, Status::Online);
    assert_eq!(
        d.expected_interval,
        crate::fleet::DEFAULT_EXPECTED_INTERVAL,
        "the fleet's, not Tasmota's"
    );

    // The other way round: the fleet names it first, its LWT joins it.
    s.apply(&msg(
        "tele/plug2/SENSOR",
        br#"{"ENERGY":{"Power":7}}"#,
        4_000,
    ));
    s.apply(&msg("tele/plug2/LWT", b"Offline", 4_500));
    let plug2: Vec<&Device> = s.devices.iter().filter(|d| &*d.name == "plug2").collect();
    assert_eq!(plug2.len(), 1, "{plug2:#?}");
    assert_eq!(
        (s.fleet_name(plug2[0]), plug2[0].status),
        ("plugs", Status::Offline)
    );
    let joined: Vec<FleetEvent> = s
        .drain_events()
        .filter(|e| matches!(e, FleetEvent::DeviceJoined { .. }))
        .collect();
    assert!(
        matches!(joined[..], [FleetEvent::DeviceJoined { device, from, .. }]
            if device == d_id && s.mapper.fleets[from as usize].name == "tasmota"),
        "{joined:?}"
    );
    let in_use: Vec<&str> = s.fleets_in_use().map(|f| f.name.as_str()).collect();
    assert_eq!(in_use, ["plugs"], "Tasmota's fleet is empty again");

    // Outside a fleet's namespace, the same name is another device.
    s.apply(&msg(
        "site/tanks/kitchen/telemetry",
        br#"{"level":3}"#,
        5_000,
    ));
    s.apply(&msg("zigbee2mqtt/kitchen", br#"{"temperature":21}"#, 5_000));
    let kitchens: Vec<&str> = s
        .devices
        .iter()
        .filter(|d| &*d.name == "kitchen")
        .map(|d| s.fleet_name(d))
        .collect();
    assert_eq!(kitchens, ["tanks", "zigbee2mqtt"]);
}

#[test]
fn ndeath_takes_the_nodes_devices_offline_until_they_are_born_again() {
    use spb_proto::Value as V;
    let mut s = state(ConventionsConfig::default());
    let bd = |v| spb_metric(Some("bdSeq"), None, 4, V::Long(v));
    s.apply(&msg(
        "spBv1.0/g/NBIRTH/n",
        &spb_payload(Some(0), vec![bd(1)]),
        1000,
    ));
    let dbirth = spb_payload(
        Some(1),
        vec![spb_metric(Some("rpm"), Some(1), 7, V::Int(5))],
    );
    s.apply(&msg("spBv1.0/g/DBIRTH/n/d1", &dbirth, 1001));
    s.apply(&msg(
        "spBv1.0/g/DBIRTH/n/d2",
        &spb_payload(Some(2), vec![]),
        1002,
    ));
    let data = spb_payload(Some(3), vec![spb_metric(None, Some(1), 7, V::Int(6))]);
    s.apply(&msg("spBv1.0/g/DDATA/n/d1", &data, 1003));
    assert_eq!(number(device(&s, "g/n/d1"), "rpm"), 6.0);
    assert_eq!(device(&s, "g/n").status, Status::Online);

    s.apply(&msg(
        "spBv1.0/g/NDEATH/n",
        &spb_payload(None, vec![bd(1)]),
        2000,
    ));
    for name in ["g/n", "g/n/d1", "g/n/d2"] {
        assert_eq!(device(&s, name).status, Status::Offline, "{name}");
    }
    s.apply(&msg(
        "spBv1.0/g/NBIRTH/n",
        &spb_payload(Some(0), vec![bd(2)]),
        3000,
    ));
    assert_eq!(device(&s, "g/n").status, Status::Online);
    assert_eq!(
        device(&s, "g/n/d1").status,
        Status::Offline,
        "until its DBIRTH"
    );
    s.apply(&msg("spBv1.0/g/DBIRTH/n/d1", &dbirth, 3001));
    assert_eq!(device(&s, "g/n/d1").status, Status::Online);

    // A gap in seq and an alias never born are counted; the node needs a rebirth.
    let data = spb_payload(Some(9), vec![spb_metric(None, Some(42), 7, V::Int(1))]);
    s.apply(&msg("spBv1.0/g/DDATA/n/d1", &data, 3002));
    assert_eq!(s.counters.sparkplug_seq_gaps, 1);
    assert_eq!(s.counters.sparkplug_unknown_alias, 1);
    let node = device(&s, "g/n").facts.as_ref().unwrap();
    assert!(node.rebirth_needed.is_some());
    assert!(
        node.commands
            .iter()
            .any(|c| &*c.name == "Node Control/Rebirth")
    );

    // A malformed payload is the device's last error, not a panic.
    s.apply(&msg("spBv1.0/g/DDATA/n/d1", b"\x0a\xff\xff\xff\xff", 3003));
    assert!(
        device(&s, "g/n/d1")
            .last_error
            .as_ref()
            .unwrap()
            .message
            .contains("Sparkplug")
    );

    // Host applications' STATE.
    s.apply(&msg(
        "spBv1.0/STATE/scada",
        br#"{"online":true,"timestamp":1}"#,
        3004,
    ));
    assert_eq!(device(&s, "host:scada").status, Status::Online);
}

#[test]
fn bridge_offline_takes_its_devices_and_lists_are_capped() {
    let mut s = FleetState::new(
        Mapper::default(),
        Limits {
            max_devices: 5,
            max_payload_bytes: 64 * 1024,
            ..Limits::default()
        },
        &["local".to_string()],
    )
    .with_conventions(ConventionsConfig::default());
    s.apply(&msg("zigbee2mqtt/bridge/state", b"online", 1));
    s.apply(&msg(
        "zigbee2mqtt/lamp/availability",
        br#"{"state":"online"}"#,
        2,
    ));
    assert_eq!(device(&s, "lamp").status, Status::Online);
    s.apply(&msg(
        "zigbee2mqtt/bridge/state",
        br#"{"state":"offline"}"#,
        3,
    ));
    assert_eq!(device(&s, "lamp").status, Status::Offline);
    s.apply(&msg("zigbee2mqtt/bridge/state", b"online", 4));
    assert_eq!(device(&s, "lamp").status, Status::Online);

    // A huge device list is refused by the payload cap, shown on the bridge.
    let entry = r#"{"friendly_name":"dev","definition":{"exposes":[]}},"#;
    let huge = format!("[{}{{}}]", entry.repeat(10 * 1024 * 1024 / entry.len()));
    s.apply(&msg("zigbee2mqtt/bridge/devices", huge.as_bytes(), 5));
    let bridge = device(&s, "zigbee2mqtt");
    assert!(
        bridge
            .last_error
            .as_ref()
            .unwrap()
            .message
            .contains("max_payload_bytes")
    );
    assert_eq!(s.counters.refused_payload_too_big, 1);

    // A list within the cap makes devices only up to the device cap.
    let list: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"friendly_name":"d{i}","definition":{{"description":"Sensor","exposes":[{{"property":"temperature","unit":"°C","access":1}}]}}}}"#))
        .collect();
    s.apply(&msg(
        "zigbee2mqtt/bridge/devices",
        format!("[{}]", list.join(",")).as_bytes(),
        6,
    ));
    assert_eq!(s.devices.len(), 5);
    assert!(s.counters.refused_device_cap > 0);
    let d0 = device(&s, "d0");
    assert_eq!(s.unit(d0, "temperature"), Some("°C"));
    // Its friendly name is its name; the model's description is not.
    assert_eq!(d0.facts.as_ref().unwrap().display_name, None);
}

#[test]
fn firmware_units_and_homie5_roots() {
    let mut s = state(ConventionsConfig::default());
    let sensor = br#"{"ENERGY":{"Power":[40.5,3],"Total":1.25},"AM2301":{"Temperature":21.5},"TempUnit":"C"}"#;
    s.apply(&msg("tele/plug0/SENSOR", sensor, 1));
    s.apply(&msg(
        "shelly1/status/switch:0",
        br#"{"apower":7.5,"aenergy":{"total":12.0},"temperature":{"tC":40.1}}"#,
        2,
    ));
    let plug = device(&s, "plug0");
    let units = ["ENERGY.Power.1", "ENERGY.Total", "AM2301.Temperature"].map(|m| s.unit(plug, m));
    assert_eq!(units, [Some("W"), Some("kWh"), Some("°C")]);
    let shelly = device(&s, "shelly1");
    let units = ["apower", "aenergy.total", "temperature.tC"].map(|m| s.unit(shelly, m));
    assert_eq!(units, [Some("W"), Some("Wh"), Some("°C")]);

    s.apply(&msg("homie/5/bridge/$state", b"ready", 3));
    s.apply(&msg(
        "homie/5/bulb/$description",
        br#"{"homie":"5.0","root":"bridge","parent":"bridge","nodes":{}}"#,
        4,
    ));
    s.apply(&msg("homie/5/bulb/$state", b"ready", 5));
    let bulb = device(&s, "bulb");
    assert_eq!(s.gateway_of(bulb).map(|g| &*g.name), Some("bridge"));
    s.apply(&msg("homie/5/bridge/$state", b"lost", 6));
    assert_eq!(
        device(&s, "bulb").status,
        Status::Offline,
        "lost with its root"
    );
}

#[test]
fn homie_commands_and_bad_state() {
    let mut s = state(ConventionsConfig::default());
    s.apply(&msg("homie/lamp/light/on/$settable", b"true", 1));
    s.apply(&msg("homie/lamp/$state", b"exploded", 2));
    let lamp = device(&s, "lamp");
    assert_eq!(
        &*lamp.facts.as_ref().unwrap().commands[0].topic,
        "homie/lamp/light/on/set"
    );
    assert!(lamp.last_error.as_ref().unwrap().message.contains("$state"));
    assert_eq!(s.counters.decode_errors, 1);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const TOPICS: &[&str] = &[
        "spBv1.0/g/NBIRTH/n",
        "spBv1.0/g/DDATA/n/d",
        "spBv1.0/g/NDEATH/n",
        "spBv1.0/STATE/h",
        "homie/d/$state",
        "homie/d/n/p",
        "homie/5/d/$description",
        "tele/t/SENSOR",
        "tele/t/LWT",
        "s/status/switch:0",
        "s/events/rpc",
        "zigbee2mqtt/bridge/devices",
        "zigbee2mqtt/z/availability",
        "zigbee2mqtt/z",
        "homeassistant/sensor/x/y/config",
        "a/b/c",
    ];

    proptest! {
        #[test]
        fn arbitrary_payloads_on_convention_topics_never_panic(
            msgs in proptest::collection::vec((0..TOPICS.len(), proptest::collection::vec(any::<u8>(), 0..256)), 1..40)
        ) {
            let mut s = FleetState::new(
                Mapper::default(),
                Limits { max_devices: 8, max_metrics_per_device: 8, ..Limits::default() },
                &["local".to_string()],
            )
            .with_conventions(ConventionsConfig::default());
            for (i, (t, payload)) in msgs.iter().enumerate() {
                s.apply(&msg(TOPICS[*t], payload, i as i64));
            }
            prop_assert!(s.devices.len() <= 8);
            prop_assert!(s.devices.iter().all(|d| d.metrics.len() <= 8));
        }
    }
}

/// With no config, a flood of one-off topics makes guessed devices whose rhythm nobody
/// knows: they are unknown once quiet, not stale (and so raise no `device_stale`), until a
/// device has reported a few times.
#[test]
fn guessed_devices_are_judged_only_after_regular_reports() {
    let mut s = state(ConventionsConfig::default());
    for i in 0..50 {
        s.apply(&msg(&format!("flood/dev-{i}/state"), br#"{"v":1}"#, 1_000));
    }
    assert!(s.devices.len() >= 50, "{} devices", s.devices.len());
    assert!(s.devices.iter().all(|d| d.guessed));
    let regular = "flood/dev-0/state";
    for t in [11_000, 21_000] {
        s.apply(&msg(regular, br#"{"v":2}"#, t));
    }
    s.tick(30 * 60_000);
    let regular = s
        .devices
        .iter()
        .find(|d| d.live_messages == 3)
        .expect("dev-0");
    assert_eq!(regular.status, Status::Stale, "three reports, then silence");
    let [_, stale, _, unknown] = s.status_counts();
    assert_eq!((stale, unknown), (1, s.devices.len() - 1));
}

#[test]
fn sparkplug_data_measures_its_delivery_delay() {
    use spb_proto::Value as V;
    const T0: i64 = 1_764_000_000_000;
    let mut s = state(ConventionsConfig::default());
    let bd = spb_metric(Some("bdSeq"), None, 4, V::Long(1));
    s.apply(&msg(
        "spBv1.0/g/NBIRTH/n",
        &spb_payload(Some(0), vec![bd]),
        T0,
    ));
    let birth = spb_payload(
        Some(1),
        vec![spb_metric(Some("rpm"), Some(1), 7, V::Int(5))],
    );
    s.apply(&msg("spBv1.0/g/DBIRTH/n/d", &birth, T0));
    let mut rpm = spb_metric(None, Some(1), 7, V::Int(6));
    rpm.timestamp = Some((T0 - 5000) as u64);
    s.apply(&msg(
        "spBv1.0/g/DDATA/n/d",
        &spb_payload(Some(2), vec![rpm]),
        T0 + 1000,
    ));
    assert_eq!(number(device(&s, "g/n/d"), "rpm"), 6.0);
    assert_eq!(number(device(&s, "g/n/d"), "delay"), 6.0);
}
