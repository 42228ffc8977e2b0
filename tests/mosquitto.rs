//! Interop with a real Mosquitto at 127.0.0.1:1883 (skipped with a reason when absent):
//! MQTT 5 and 3.1.1, retained messages, and the LWT of a client that dies.

mod common;

use fleetop::config::Protocol;
use fleetop::fleet::{MetricValue, Status};
use std::time::Duration;

fn config(prefix: &str) -> String {
    format!(
        r#"
[[fleet]]
name = "tanks"
topic = "{prefix}/tanks/{{device}}/telemetry"
format = "json"
[[fleet.availability]]
topic = "{prefix}/tanks/{{device}}/status"
"#
    )
}

async fn publisher(
    id: &str,
    will: Option<(String, &str)>,
) -> (rumqttc::AsyncClient, tokio::task::JoinHandle<()>) {
    let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", 1883);
    o.set_keep_alive(Duration::from_secs(5));
    if let Some((topic, payload)) = will {
        o.set_last_will(rumqttc::LastWill::new(
            topic,
            payload,
            rumqttc::QoS::AtLeastOnce,
            false,
        ));
    }
    let (client, mut events) = rumqttc::AsyncClient::new(o, 64);
    let task = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    (client, task)
}

async fn interop(protocol: Protocol) {
    let prefix = common::unique_prefix("interop");
    let (client, task) = publisher(&format!("pub-{}", fastrand::u32(..)), None).await;
    // A retained message published before fleetop connects: data, but no proof of life.
    client
        .publish(
            format!("{prefix}/tanks/t-ret/telemetry"),
            rumqttc::QoS::AtLeastOnce,
            true,
            r#"{"level_pct":40}"#,
        )
        .await
        .expect("publish");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut engine = common::engine_for(&config(&prefix), "mqtt://127.0.0.1:1883", protocol);
    common::connected(&mut engine).await;
    common::wait_for(&mut engine, "retained device", |e| {
        e.state.find_device("t-ret").is_some()
    })
    .await;
    assert_eq!(
        engine.state.find_device("t-ret").map(|d| d.status),
        Some(Status::Unknown)
    );

    client
        .publish(
            format!("{prefix}/tanks/t-live/telemetry"),
            rumqttc::QoS::AtMostOnce,
            false,
            r#"{"level_pct":12.5,"pump":"ON"}"#,
        )
        .await
        .expect("publish");
    common::wait_for(&mut engine, "live device", |e| {
        e.state
            .find_device("t-live")
            .is_some_and(|d| d.status == Status::Online)
    })
    .await;
    let d = engine.state.find_device("t-live").expect("device");
    assert_eq!(
        d.metric("level_pct").map(|m| m.value.clone()),
        Some(MetricValue::Number(12.5))
    );
    assert_eq!(
        d.metric("pump").map(|m| m.value.clone()),
        Some(MetricValue::Bool(true))
    );

    // A device whose connection dies without DISCONNECT: the broker publishes its will.
    let will_topic = format!("{prefix}/tanks/t-lwt/status");
    let (dying, dying_task) = publisher(
        &format!("dev-{}", fastrand::u32(..)),
        Some((will_topic, "offline")),
    )
    .await;
    dying
        .publish(
            format!("{prefix}/tanks/t-lwt/telemetry"),
            rumqttc::QoS::AtLeastOnce,
            false,
            r#"{"level_pct":70}"#,
        )
        .await
        .expect("publish");
    common::wait_for(&mut engine, "lwt device online", |e| {
        e.state
            .find_device("t-lwt")
            .is_some_and(|d| d.status == Status::Online)
    })
    .await;
    dying_task.abort();
    drop(dying);
    common::wait_for(&mut engine, "lwt device offline", |e| {
        e.state
            .find_device("t-lwt")
            .is_some_and(|d| d.status == Status::Offline)
    })
    .await;

    // Clean up the retained message.
    let _ = client
        .publish(
            format!("{prefix}/tanks/t-ret/telemetry"),
            rumqttc::QoS::AtLeastOnce,
            true,
            "",
        )
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    task.abort();
}

#[tokio::test]
async fn mqtt5_interop_with_mosquitto() {
    if common::mosquitto_or_skip("mqtt5_interop_with_mosquitto") {
        interop(Protocol::V5).await;
    }
}

#[tokio::test]
async fn mqtt311_interop_with_mosquitto() {
    if common::mosquitto_or_skip("mqtt311_interop_with_mosquitto") {
        interop(Protocol::V311).await;
    }
}

#[test]
fn snapshot_exits_1_with_a_reason_when_the_broker_is_unreachable() {
    // Port 9 on loopback: nothing listens there.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(["snapshot", "--broker", "mqtt://127.0.0.1:9", "--wait", "1s"])
        .output()
        .expect("run fleetop");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not connect") && err.contains("connection refused"),
        "{err}"
    );
}

#[test]
fn snapshot_against_mosquitto_prints_the_fleet() {
    if !common::mosquitto_or_skip("snapshot_against_mosquitto_prints_the_fleet") {
        return;
    }
    let prefix = common::unique_prefix("snap");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("f.toml");
    std::fs::write(&cfg, config(&prefix)).expect("write");
    // A retained reading is there when the snapshot connects.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (c, t) = publisher(&format!("snap-{}", fastrand::u32(..)), None).await;
        c.publish(
            format!("{prefix}/tanks/s1/telemetry"),
            rumqttc::QoS::AtLeastOnce,
            true,
            r#"{"level_pct":33}"#,
        )
        .await
        .expect("publish");
        tokio::time::sleep(Duration::from_millis(300)).await;
        t.abort();
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args([
            "snapshot",
            "--broker",
            "mqtt://127.0.0.1:1883",
            "--wait",
            "1s",
            "--format",
            "json",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .expect("run fleetop");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(snap["devices"][0]["id"], "s1");
    assert_eq!(snap["devices"][0]["metrics"]["level_pct"]["value"], 33.0);
    assert_eq!(snap["connections"][0]["state"], "connected");
    rt.block_on(async {
        let (c, t) = publisher(&format!("snap-{}", fastrand::u32(..)), None).await;
        let _ = c
            .publish(
                format!("{prefix}/tanks/s1/telemetry"),
                rumqttc::QoS::AtLeastOnce,
                true,
                "",
            )
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        t.abort();
    });
}

/// A core stalled for four keepalives while Mosquitto floods the connection: the link
/// stays up (the pings still go out, so Mosquitto does not time fleetop out at 1.5
/// keepalives), nothing read is dropped, and what Mosquitto had to shed for the stalled
/// client shows as its own drop counter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_core_keeps_the_link_and_shows_what_mosquitto_dropped() {
    if !common::mosquitto_or_skip("a_stalled_core_keeps_the_link_and_shows_what_mosquitto_dropped")
    {
        return;
    }
    let prefix = common::unique_prefix("stall");
    let mut engine = watching_mosquitto(
        &prefix,
        "[limits]\nqueue = 256\n",
        "protocol = \"3.1.1\"\nkeepalive = \"1s\"\n",
    )
    .await;
    // Whatever Mosquitto counted before (its retained value, if it has dropped before).
    engine.pump_ready();
    let before = engine.state.connections[0].broker.dropped().unwrap_or(0);

    // 30 MB of QoS 0, more than the sockets between Mosquitto and fleetop hold, so that
    // Mosquitto's queue for the stalled client overflows.
    let (client, task) = publisher(&format!("flood-{}", fastrand::u32(..)), None).await;
    let payload = vec![b'x'; 1024];
    let flood = tokio::spawn(async move {
        for i in 0..30_000u32 {
            let topic = format!("{prefix}/flood/d{}/raw", i % 10);
            if client
                .publish(topic, rumqttc::QoS::AtMostOnce, false, payload.clone())
                .await
                .is_err()
            {
                break;
            }
        }
        client
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    let client = flood.await.expect("flood");

    let mut events = Vec::new();
    common::wait_for(&mut engine, "Mosquitto's drop counter to grow", |e| {
        e.state.connections[0]
            .broker
            .dropped()
            .is_some_and(|n| n > before)
    })
    .await;
    events.extend(engine.state.drain_events());
    let downs: Vec<_> = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                fleetop::fleet::FleetEvent::LinkChanged {
                    state: fleetop::vocab::LinkState::Down { .. },
                    ..
                }
            )
        })
        .collect();
    assert!(downs.is_empty(), "the link went down: {downs:?}");
    assert_eq!(engine.dropped(), 0, "fleetop dropped nothing it read");
    assert!(
        engine.state.devices.is_empty(),
        "the broker's counter is no device"
    );
    drop(client);
    task.abort();
}

/// Mosquitto's `$SYS` figures reach the connection's broker health: its version, the
/// clients connected (at least fleetop's two), and its message loads as rates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_says_how_many_clients_and_messages_it_has() {
    if !common::mosquitto_or_skip("mosquitto_says_how_many_clients_and_messages_it_has") {
        return;
    }
    let prefix = common::unique_prefix("sys");
    let mut engine = watching_mosquitto(&prefix, "", "").await;
    // Retained, so figures come as soon as the stats connection subscribes; those count
    // the clients of the last `sys_interval` (10 s by default), fleetop's two once it
    // publishes again.
    common::wait_for(
        &mut engine,
        "Mosquitto's $SYS figures counting fleetop",
        |e| {
            let h = &e.state.connections[0].broker;
            h.clients().is_some_and(|n| n >= 2)
                && h.received_per_s().is_some()
                && h.sent_per_s().is_some()
        },
    )
    .await;
    let h = &engine.state.connections[0].broker;
    assert_eq!(h.flavour, fleetop::broker::Flavour::Mosquitto, "{h:?}");
    assert!(
        h.version
            .as_deref()
            .is_some_and(|v| v.starts_with("mosquitto version")),
        "{h:?}"
    );
    assert!(h.received_per_s().is_some_and(|r| r >= 0.0), "{h:?}");
    let screen = fleetop::ui::broker::summary(h).expect("a summary");
    assert!(screen.contains("clients ↓"), "{screen}");
    // `fleetop snapshot` says the same.
    let snap = fleetop::output::snapshot::build(&engine.view());
    let c = &snap.connections[0];
    assert!(c.broker_clients.is_some_and(|n| n >= 2), "{c:?}");
    assert!(
        c.broker_received_per_s.is_some() && c.broker_sent_per_s.is_some(),
        "{c:?}"
    );
}

/// An engine watching `prefix/#` on Mosquitto, read-only and connected, with `head` before
/// the `[[broker]]` table and `broker` keys inside it.
async fn watching_mosquitto(prefix: &str, head: &str, broker: &str) -> fleetop::engine::Engine {
    let text = format!(
        "{head}[[broker]]\nname = \"mosquitto\"\nurl = \"mqtt://{}\"\n{broker}\
         subscribe = [\"{prefix}/#\"]\n",
        common::MOSQUITTO
    );
    let config = fleetop::config::Config::parse(&text, None).expect("config");
    let spec = fleetop::source::mqtt::ConnectionSpec::from_config(
        &config.brokers[0],
        vec![(format!("{prefix}/#"), 0)],
        true,
    )
    .expect("spec");
    let mut engine =
        fleetop::engine::Engine::start(&config, fleetop::engine::Input::Brokers(vec![spec]))
            .expect("engine");
    common::connected(&mut engine).await;
    engine
}
