//! Commands of devices fleetop knows by their convention alone, end to end: the recorded
//! traffic of paho-mqtt publishers (`tests/paho/record_*.py`) is retained in the embedded
//! broker, `fleetop cmd` finds the device with no config, checks the value against what
//! the device declared (exit 2, nothing published, when it is out of range) and publishes
//! it in the device's own words.

mod common;

use fleetop::demo::EmbeddedBroker;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// The messages of a fixture of `tests/fixtures`, as (topic, payload).
fn recording(fixture: &str) -> Vec<(String, Vec<u8>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let text = std::fs::read_to_string(path).expect("fixture");
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("fixture line");
            let topic = v["topic"].as_str().expect("topic").to_string();
            let payload = hex::decode(v["payload_hex"].as_str().expect("hex")).expect("hex");
            (topic, payload)
        })
        .collect()
}

/// A broker holding `messages` retained, and a watcher of `filter` on it.
async fn broker_with(
    messages: &[(String, Vec<u8>)],
    filter: &str,
) -> (
    EmbeddedBroker,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    use rumqttc::v5::mqttbytes::QoS;
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let (client, rx) = common::watcher(broker.port(), filter).await;
    for (topic, payload) in messages {
        client
            .publish(topic.as_str(), QoS::AtLeastOnce, true, payload.clone())
            .await
            .expect("publish");
    }
    // The watcher hears its own retained messages back once the broker holds them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    (broker, rx)
}

/// `fleetop cmd --broker <url> <args>`.
async fn cmd(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut v = vec!["cmd".to_string(), "--broker".into(), url.into()];
    v.extend(args.iter().map(|a| a.to_string()));
    common::fleetop(dir, v).await
}

/// The next message the watcher hears on a command topic (`…/command`, `…/set`, `cmnd/…`).
async fn next_command(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) -> (String, String) {
    loop {
        let (topic, payload) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the command arrives")
            .expect("watcher");
        if topic.ends_with("/command") || topic.ends_with("/set") || topic.contains("cmnd/") {
            return (topic, String::from_utf8_lossy(&payload).into_owned());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esphome_commands_are_sent_in_its_words_and_out_of_range_values_are_refused() {
    let (broker, mut rx) = broker_with(&recording("esphome-native.jsonl"), "#").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = broker.url();

    let out = cmd(
        dir.path(),
        &url,
        &["garden-node", "garden_lights.brightness", "value=999"],
    )
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("between 0 and 255"), "{err}");
    let out = cmd(
        dir.path(),
        &url,
        &["site/esp-hvac", "hvac.mode", "value=turbo"],
    )
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("one of off, heat_cool"), "{err}");

    let out = cmd(
        dir.path(),
        &url,
        &["garden-node", "pump_relay", "value=off"],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing of the refused ones was published: the first command heard is this one.
    assert_eq!(
        next_command(&mut rx).await,
        ("garden-node/switch/pump_relay/command".into(), "OFF".into())
    );
    let out = cmd(
        dir.path(),
        &url,
        &["garden-node", "garden_lights.state", "value=on"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        next_command(&mut rx).await,
        (
            "garden-node/light/garden_lights/command".into(),
            r#"{"state":"ON"}"#.into()
        )
    );
}

fn paho_or_skip() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import paho.mqtt.client"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIP described commands: needs python3 with paho-mqtt (`pip install paho-mqtt`)"
        );
    }
    ok
}

/// Zigbee2MQTT exposes, a Tasmota discovery message, Homie `$datatype`/`$format` and Home
/// Assistant number/light configs, from live paho-mqtt devices that answer their
/// commands: every value outside what a device declared is refused with exit 2 and never
/// reaches it; the others succeed on the device's own report of the new state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_keep_to_what_devices_declare_and_succeed_on_their_answer() {
    use std::io::BufRead;
    if !paho_or_skip() {
        return;
    }
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/paho/described_devices.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .arg(broker.port_v311().to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let first = tokio::time::timeout(Duration::from_secs(20), lines.recv())
        .await
        .expect("the devices start");
    assert_eq!(first.as_deref(), Some("ready"), "the paho devices failed");

    let dir = tempfile::tempdir().expect("tempdir");
    let url = broker.url();
    for (device, command, value, says) in [
        ("paho-thermo", "heater.target", "40", "between 5 and 30"),
        ("paho-thermo", "heater.boost", "maybe", "true or false"),
        ("paho-thermo", "heater.mode", "turbo", "one of eco, comfort"),
        ("paho_bulb", "brightness", "999", "between 0 and 254"),
        ("paho_bulb", "state", "BLAH", "true or false"),
        (
            "paho_bulb",
            "effect",
            "disco",
            "one of blink, breathe, okay",
        ),
        ("paho-ha-node", "fan_speed", "70", "between 10 and 60"),
        ("paho_4ch", "POWER2", "maybe", "true or false"),
    ] {
        let value = format!("value={value}");
        let out = cmd(dir.path(), &url, &[device, command, &value]).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{device} {command} {value}: {err}"
        );
        assert!(err.contains(says), "{device} {command} {value}: {err}");
    }
    for (device, command, value, sent) in [
        (
            "paho_bulb",
            "brightness",
            "128",
            r#"zigbee2mqtt/paho_bulb/set {"brightness":128}"#,
        ),
        (
            "paho_bulb",
            "state",
            "on",
            r#"zigbee2mqtt/paho_bulb/set {"state":"ON"}"#,
        ),
        ("paho_4ch", "POWER3", "on", "cmnd/paho_4ch/POWER3 ON"),
        (
            "paho-thermo",
            "heater.target",
            "25",
            "homie/paho-thermo/heater/target/set 25",
        ),
        (
            "paho-thermo",
            "heater.boost",
            "on",
            "homie/paho-thermo/heater/boost/set true",
        ),
        (
            "paho-ha-node",
            "fan_speed",
            "45",
            "paho-ha/fan_speed/set 45",
        ),
        (
            "paho-ha-node",
            "lamp",
            "on",
            r#"paho-ha/lamp/set {"state":"ON"}"#,
        ),
    ] {
        let value = format!("value={value}");
        let out = cmd(
            dir.path(),
            &url,
            &[device, command, &value, "--wait", "--json"],
        )
        .await;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(text.trim())
            .unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(out.status.code(), Some(0), "{device} {command}: {v}");
        assert_eq!(
            (v["state"].as_str(), v["via"].as_str()),
            (Some("succeeded"), Some("state change")),
            "{device} {command}: {v}"
        );
        // What reached the device is this command: none of the refused ones came before.
        let got = tokio::time::timeout(Duration::from_secs(5), lines.recv())
            .await
            .expect("the device heard it");
        assert_eq!(got.as_deref(), Some(format!("got {sent}").as_str()));
    }
    let _ = child.kill();
    let _ = child.wait();
}
