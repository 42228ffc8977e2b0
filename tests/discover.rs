//! `fleetop discover`: the mixed-fleet recording published into the embedded broker, seen
//! by fleetop with no config; and the command's output on a replay.

mod common;

use fleetop::config::Protocol;
use fleetop::demo::EmbeddedBroker;

/// Publishes every message of the shared recording, retained flags as recorded.
async fn publish_fixture(port: u16) {
    let mut o =
        rumqttc::MqttOptions::new(format!("fixture-{}", fastrand::u32(..)), "127.0.0.1", port);
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = rumqttc::AsyncClient::new(o, 256);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let text = std::fs::read_to_string(common::fixture("mixed-fleet.jsonl")).expect("fixture");
    for line in text.lines() {
        let l = fleetop::source::record::Line::parse(line).expect("fixture line");
        client
            .publish(
                String::from_utf8(l.topic_bytes().expect("topic")).expect("utf-8 topic"),
                rumqttc::QoS::AtLeastOnce,
                l.retain,
                l.payload().expect("payload"),
            )
            .await
            .expect("publish");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_every_convention_published_into_the_embedded_broker() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let mut engine = common::engine_for("", &broker.url_v311(), Protocol::V311);
    common::connected(&mut engine).await;
    publish_fixture(broker.port_v311()).await;
    common::wait_for(&mut engine, "the whole recording", |e| {
        e.state
            .find_device("plant1/edge1/pump1")
            .is_some_and(|d| d.status == fleetop::fleet::Status::Offline)
            && e.state
                .find_device("tank-02")
                // Its three payload metrics, besides fleetop's own delay and jitter.
                .is_some_and(|d| {
                    let own = |m: &&fleetop::fleet::Metric| {
                        fleetop::fleet::delivery::unit(&m.name).is_some()
                    };
                    d.metrics.iter().filter(|m| !own(m)).count() == 3
                })
    })
    .await;
    let found = fleetop::output::discover::build(&engine.state);
    let counts: Vec<(&str, usize)> = found
        .conventions
        .iter()
        .map(|f| (f.convention.name(), f.devices))
        .collect();
    assert_eq!(
        counts,
        [
            ("sparkplug", 2),
            ("homie", 3),
            ("zigbee2mqtt", 4),
            ("tasmota", 4),
            ("shelly", 3),
            ("generic", 3)
        ]
    );
    assert!(
        found
            .snippet
            .contains("topic = \"fleet/tanks/{device}/telemetry\""),
        "{}",
        found.snippet
    );
    // What discover suggests is a config fleetop accepts, and it then maps those devices.
    let config = fleetop::config::Config::parse(&found.snippet, None).expect("snippet parses");
    fleetop::mapping::Mapper::from_config(&config).expect("snippet's fleets compile");
    assert_eq!(config.fleets[0].name, "tanks");
}

#[test]
fn discover_prints_conventions_and_a_config_snippet() {
    let recording = common::fixture("mixed-fleet.jsonl");
    let out = common::replay("", &recording, &["discover", "--wait", "20s"]);
    let text = String::from_utf8_lossy(common::succeeded(&out));
    for c in [
        "sparkplug",
        "homie",
        "zigbee2mqtt",
        "tasmota",
        "shelly",
        "generic",
    ] {
        assert!(text.contains(&format!("  {c} ")), "{c} in {text}");
    }
    assert!(text.contains("[[fleet]]"), "{text}");
}
