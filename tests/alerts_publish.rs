//! Alert transitions published to an MQTT topic (`[hooks] publish_topic`), through the
//! embedded broker, read back by a plain subscriber; and nothing with --read-only.

mod common;

use fleetop::config::Protocol;
use fleetop::demo::EmbeddedBroker;
use rumqttc::v5::mqttbytes::QoS;
use std::time::Duration;

const CONFIG: &str = r#"
[[fleet]]
name = "tanks"
topic = "pub-test/{device}"
format = "json"

[[alert]]
name = "tank_low"
fleet = "tanks"
when = "level_pct < 15"
severity = "critical"

[hooks]
publish_topic = "pub-test-alerts/{severity}/{rule}/{device}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firing_alerts_are_published_as_json() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let (client, mut rx) = common::watcher(broker.port(), "pub-test-alerts/#").await;
    let mut engine = common::engine_for(CONFIG, &broker.url(), Protocol::V5);
    common::connected(&mut engine).await;
    client
        .publish(
            "pub-test/tank-7",
            QoS::AtLeastOnce,
            false,
            r#"{"level_pct":9}"#,
        )
        .await
        .expect("publish");
    let got = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            engine.pump_ready();
            engine.tick();
            engine.drain_alerts();
            if let Ok(m) = rx.try_recv() {
                return m;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), engine.pump(64)).await;
        }
    })
    .await
    .expect("the firing alert is published");
    assert_eq!(got.0, "pub-test-alerts/critical/tank_low/tank-7");
    let v: serde_json::Value = serde_json::from_slice(&got.1).expect("JSON");
    assert_eq!(
        (v["type"].as_str(), v["to"].as_str()),
        (Some("alert"), Some("firing")),
        "{v}"
    );
}

#[test]
fn a_bad_publish_topic_fails_config_loading() {
    let bad = CONFIG.replace("{severity}", "{colour}");
    let rules = |text: &str| {
        let config = fleetop::config::Config::parse(text, None).expect("the schema is fine");
        fleetop::alerts::RuleSet::from_config(&config)
    };
    let e = rules(&bad).err().map(|e| e.0).unwrap_or_default();
    assert!(e.contains("{colour}"), "{e}");
    let bad = CONFIG.replace("pub-test-alerts/", "pub-test-alerts/#/");
    assert!(rules(&bad).is_err());
}
