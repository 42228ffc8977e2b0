//! Sparkplug as a primary host: fleetop joins after an edge node's NBIRTH (births are not
//! retained), sees only NDATA by alias it cannot place, asks the live node for a rebirth by
//! itself (NCMD `Node Control/Rebirth`, audited), and shows the node's metrics by name once
//! the new NBIRTH comes.

mod common;

use fleetop::config::Protocol;
use fleetop::conventions::sparkplug::proto::{Metric, Payload, Value, datatype};
use fleetop::demo::EmbeddedBroker;
use fleetop::fleet::MetricValue;
use prost::Message as _;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::time::Duration;

fn metric(name: Option<&str>, alias: u64, dt: u32, value: Value) -> Metric {
    Metric {
        name: name.map(str::to_string),
        alias: Some(alias),
        timestamp: None,
        datatype: Some(dt),
        is_historical: None,
        is_null: None,
        properties: None,
        value: Some(value),
    }
}

fn payload(seq: u64, metrics: Vec<Metric>) -> Vec<u8> {
    Payload {
        timestamp: Some(1_764_000_000_000),
        metrics,
        seq: Some(seq),
        uuid: None,
    }
    .encode_to_vec()
}

/// An edge node `plant/edge1`: NDATA by alias every 100 ms; a rebirth request makes it
/// publish its NBIRTH (names, aliases, datatypes). Returns how many rebirths it was asked.
fn edge_node(port: u16) -> tokio::sync::watch::Receiver<u32> {
    let (client, mut events) = AsyncClient::new(MqttOptions::new("edge1", "127.0.0.1", port), 64);
    let (asked_tx, asked) = tokio::sync::watch::channel(0u32);
    tokio::spawn(async move {
        let _ = client
            .subscribe("spBv1.0/plant/NCMD/edge1", QoS::AtLeastOnce)
            .await;
        let mut seq = 1u64;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                ev = events.poll() => match ev {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let Ok(cmd) = Payload::decode(&p.payload[..]) else { continue };
                        let rebirth = cmd.metrics.iter().any(|m| {
                            m.name.as_deref() == Some("Node Control/Rebirth")
                                && m.value == Some(Value::Boolean(true))
                        });
                        if rebirth {
                            asked_tx.send_modify(|n| *n += 1);
                            seq = 0;
                            let birth = payload(0, vec![
                                metric(Some("bdSeq"), 100, datatype::INT64, Value::Long(1)),
                                metric(Some("Node Control/Rebirth"), 101, datatype::BOOLEAN, Value::Boolean(false)),
                                metric(Some("pressure_bar"), 1, datatype::DOUBLE, Value::Double(2.5)),
                                metric(Some("counter"), 2, datatype::UINT64, Value::Long(u64::MAX - 7)),
                            ]);
                            let _ = client
                                .publish("spBv1.0/plant/NBIRTH/edge1", QoS::AtLeastOnce, false, birth)
                                .await;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                },
                _ = tick.tick() => {
                    seq = (seq + 1) % 256;
                    let data = payload(seq, vec![metric(None, 1, datatype::DOUBLE, Value::Double(3.0))]);
                    let _ = client
                        .publish("spBv1.0/plant/NDATA/edge1", QoS::AtMostOnce, false, data)
                        .await;
                }
            }
        }
    });
    asked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joining_host_asks_for_a_rebirth_and_then_shows_the_node() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let asked = edge_node(broker.port());
    // The node was born before fleetop connected: fleetop sees data only.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut engine = common::engine_for(
        "[conventions]\nsparkplug_rebirth_interval = \"2s\"\n",
        &broker.url(),
        Protocol::V5,
    );
    let audit = tempfile::tempdir().expect("tempdir");
    engine
        .desk
        .keep_audit_log(&audit.path().join("audit.jsonl"));
    common::connected(&mut engine).await;
    common::wait_for(&mut engine, "the node's metrics by name", |e| {
        e.state
            .find_device("plant/edge1")
            .and_then(|d| d.metric("pressure_bar"))
            .is_some_and(|m| matches!(m.value, MetricValue::Number(v) if v > 2.0))
    })
    .await;
    let node = engine.state.find_device("plant/edge1").expect("node");
    assert_eq!(
        node.metric("counter").map(|m| m.value.clone()),
        Some(MetricValue::Text("18446744073709551608".into())),
        "UInt64 exact"
    );
    assert!(
        node.facts
            .as_ref()
            .is_some_and(|f| f.rebirth_needed.is_none()),
        "born again"
    );
    // Placed data asks nothing more: one rebirth (rate-limited), not one per message.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..10 {
        engine.pump_ready();
        engine.tick();
    }
    assert_eq!(*asked.borrow(), 1);
    let audit = std::fs::read_to_string(audit.path().join("audit.jsonl")).expect("audit log");
    assert!(
        audit.contains("Node Control/Rebirth") && audit.contains("automatic rebirth"),
        "{audit}"
    );
}
