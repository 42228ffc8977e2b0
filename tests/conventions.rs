//! Device conventions end to end: the shared mixed-fleet recording (bytes from paho-mqtt and
//! mqtt-spb-wrapper publishers) through `--replay` with no fleets configured.

mod common;

use serde_json::Value;
use std::process::Command;

fn snapshot(config: &str) -> Value {
    let args = ["snapshot", "--format", "json", "--wait", "20s"];
    let out = common::replay(config, &common::fixture("mixed-fleet.jsonl"), &args);
    serde_json::from_slice(common::succeeded(&out)).expect("snapshot is JSON")
}

fn device<'a>(snap: &'a Value, id: &str) -> &'a Value {
    snap["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("no device {id} in {snap:#}"))
}

fn number(d: &Value, metric: &str) -> f64 {
    d["metrics"][metric]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("{metric} of {d:#}"))
}

#[test]
fn every_convention_of_the_recording_shows_devices_with_no_config() {
    let snap = snapshot("");
    assert_eq!(snap["unmapped_topics"], 0, "{snap:#}");
    assert_eq!(snap["counters"]["decode_errors"], 0);

    for i in 0..3 {
        let plug = device(&snap, &format!("tasmota_plug{i}"));
        assert_eq!(
            (&plug["fleet"], &plug["status"]),
            (&"tasmota".into(), &"online".into())
        );
        assert!(number(plug, "ENERGY.Power") > 0.0);
        assert!(number(plug, "ENERGY.Voltage") > 200.0);
    }
    assert_eq!(device(&snap, "tasmota_plug9")["status"], "offline");

    let shelly = device(&snap, "shellyplus1pm-a1");
    assert_eq!(
        (&shelly["fleet"], &shelly["status"]),
        (&"shelly".into(), &"online".into())
    );
    assert!(number(shelly, "apower") > 100.0);
    assert!(number(shelly, "temperature.tC") > 40.0);
    assert_eq!(shelly["metrics"]["output"]["value"], true);
    assert!(
        shelly["commands"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["topic"] == "shellyplus1pm-a1/rpc"))
    );

    let z = device(&snap, "kitchen_sensor2");
    assert_eq!(
        (&z["fleet"], &z["status"]),
        (&"zigbee2mqtt".into(), &"online".into())
    );
    assert_eq!(z["gateway"], "zigbee2mqtt");
    assert!(number(z, "humidity") > 40.0);
    assert!(number(z, "temperature") > 20.0);

    let w = device(&snap, "weather1");
    assert_eq!(
        (&w["fleet"], &w["status"]),
        (&"homie".into(), &"online".into())
    );
    assert_eq!(w["name"], "Weather station 1");
    assert!(number(w, "env.temperature") > 5.0);
    assert_eq!(w["metrics"]["env.temperature"]["unit"], "°C");
    assert_eq!(w["metrics"]["env.temperature"]["datatype"], "float");
    assert!(number(w, "env.humidity") > 50.0);

    let pump = device(&snap, "plant1/edge1/pump1");
    assert_eq!(pump["fleet"], "sparkplug");
    assert_eq!(
        pump["status"], "offline",
        "the recording ends with its DDEATH"
    );
    assert_eq!(pump["gateway"], "plant1/edge1");
    assert_eq!(pump["labels"]["group"], "plant1");
    assert!(number(pump, "pressure_bar") > 2.0);
    assert!(number(pump, "flow_lpm") > 100.0);
    assert_eq!(pump["metrics"]["running"]["value"], true);
    assert_eq!(pump["metrics"]["flow_lpm"]["datatype"], "Double");
    let node = device(&snap, "plant1/edge1");
    assert!(
        node["rebirth_needed"].is_string(),
        "DBIRTH without an NBIRTH: {node:#}"
    );
    assert_eq!(snap["counters"]["sparkplug_before_birth"], 1);

    let tank = device(&snap, "tank-01");
    assert_eq!(
        (&tank["fleet"], &tank["status"]),
        (&"generic".into(), &"online".into())
    );
    assert!(number(tank, "level_pct") > 0.0);
}

#[test]
fn configured_fleets_win_and_conventions_can_be_turned_off() {
    let snap = snapshot(
        "[[fleet]]\nname = \"tanks\"\ntopic = \"fleet/tanks/{device}/telemetry\"\n\
         [conventions]\nhomie = false\n",
    );
    assert_eq!(device(&snap, "tank-00")["fleet"], "tanks");
    assert_eq!(device(&snap, "tasmota_plug0")["fleet"], "tasmota");
    let devices = snap["devices"].as_array().expect("devices");
    assert!(
        devices
            .iter()
            .all(|d| d["fleet"] != "homie" && d["fleet"] != "generic")
    );
    let unmapped = snap["unmapped"].as_array().expect("unmapped");
    assert!(
        unmapped
            .iter()
            .any(|u| u["topic"] == "homie/weather0/$state")
    );
}

/// With a `[[fleet]]` configured, fleetop subscribes to the fleets' and the conventions'
/// topics, not `#`. The state topic a Home Assistant discovery message names (ESPHome's
/// `<node>/sensor/<object>/state`, outside every filter) is subscribed once the message
/// arrives, and its retained value reaches the device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_state_topics_are_followed_when_fleets_are_configured() {
    let broker = fleetop::demo::EmbeddedBroker::start().expect("embedded broker starts");
    let (client, mut events) = rumqttc::AsyncClient::new(
        rumqttc::MqttOptions::new("ha-publisher", "127.0.0.1", broker.port_v311()),
        16,
    );
    let config = serde_json::json!({
        "name": "Temperature",
        "state_topic": "garden-node/sensor/temperature/state",
        "unit_of_measurement": "°C",
        "device": { "identifiers": ["garden-node"], "name": "Garden node" }
    });
    let retained = [
        (
            "homeassistant/sensor/garden-node/temperature/config",
            config.to_string(),
        ),
        ("garden-node/sensor/temperature/state", "21.5".to_string()),
    ];
    for (topic, payload) in retained {
        client
            .publish(topic, rumqttc::QoS::AtLeastOnce, true, payload)
            .await
            .expect("publish");
    }
    // Both QoS 1 publishes acknowledged: the broker holds them as retained.
    let mut acked = 0;
    while acked < 2 {
        match events.poll().await.expect("publisher connection") {
            rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) => acked += 1,
            _ => continue,
        }
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("fleetop.toml");
    std::fs::write(
        &cfg,
        "[[fleet]]\nname = \"tanks\"\ntopic = \"site/tanks/{device}/telemetry\"\n",
    )
    .expect("write config");
    let url = broker.url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_fleetop"))
            .args(["snapshot", "--format", "json", "--wait", "3s", "--config"])
            .arg(&cfg)
            .args(["--broker", &url])
            .env("XDG_STATE_HOME", cfg.parent().expect("dir"))
            .output()
            .expect("run fleetop")
    })
    .await
    .expect("snapshot ran");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap: Value = serde_json::from_slice(&out.stdout).expect("snapshot is JSON");
    let node = device(&snap, "garden-node");
    assert_eq!(node["fleet"], "homeassistant", "{node:#}");
    assert_eq!(number(node, "temperature"), 21.5, "{node:#}");
}
