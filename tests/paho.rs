//! Interop with a client library fleetop did not write: Python's paho-mqtt publishes
//! Tasmota, Shelly and Zigbee2MQTT traffic (with a real last will) into the embedded broker.
//! Skips, saying why, when python3 or paho-mqtt is missing (`pip install paho-mqtt`).

mod common;

use fleetop::config::Protocol;
use fleetop::demo::EmbeddedBroker;
use fleetop::fleet::{MetricValue, Status};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn paho_or_skip() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import paho.mqtt.client"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP paho interop: needs python3 with paho-mqtt (`pip install paho-mqtt`)");
    }
    ok
}

fn number(e: &fleetop::engine::Engine, device: &str, metric: &str) -> Option<f64> {
    match e.state.find_device(device)?.metric(metric)?.value {
        MetricValue::Number(n) => Some(n),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_published_conventions_become_devices_and_a_last_will_takes_one_offline() {
    if !paho_or_skip() {
        return;
    }
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let mut engine = common::engine_for("", &broker.url_v311(), Protocol::V311);
    common::connected(&mut engine).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/paho/publish.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(broker.port_v311().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        line
    })
    .await
    .expect("reader");
    assert_eq!(line.trim(), "published", "the paho publisher failed");

    common::wait_for(&mut engine, "paho devices", |e| {
        number(e, "paho_plug", "ENERGY.Power") == Some(42.5)
            && number(e, "shellyplus1pm-paho", "apower") == Some(12.5)
            && number(e, "paho_sensor", "humidity") == Some(51.5)
    })
    .await;
    for d in ["paho_plug", "shellyplus1pm-paho", "paho_sensor"] {
        assert_eq!(
            engine.state.find_device(d).map(|d| d.status),
            Some(Status::Online),
            "{d}"
        );
    }
    let sensor = engine.state.find_device("paho_sensor").expect("sensor");
    assert_eq!(engine.state.fleet_name(sensor), "zigbee2mqtt");
    assert_eq!(
        engine.state.gateway_of(sensor).map(|g| &*g.name),
        Some("zigbee2mqtt")
    );

    // The connection drops without DISCONNECT: the broker publishes the plug's will.
    child.kill().expect("kill publisher");
    let _ = child.wait();
    common::wait_for(&mut engine, "the plug's last will", |e| {
        e.state
            .find_device("paho_plug")
            .is_some_and(|d| d.status == Status::Offline)
    })
    .await;
}
