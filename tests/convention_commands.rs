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
