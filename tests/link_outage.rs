//! fleetop's own link going down is not the devices' fault: a broker stopped and another
//! started in its place under a running fleetop. Through the outage no device goes stale,
//! and after the reconnect staleness counts from the reconnect.
//!
//! fleetop connects to a loopback proxy that forwards to whichever embedded broker runs
//! now, so the second broker can stand where the first one stood (embedded brokers take a
//! free port each).

mod common;

use fleetop::config::Protocol;
use fleetop::demo::EmbeddedBroker;
use fleetop::fleet::{FleetEvent, Status};
use fleetop::vocab::LinkState;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Forwards a free loopback port to 127.0.0.1:`target` (no broker while it is 0): a
/// connection accepted with no broker behind it is closed at once.
async fn proxy(target: Arc<AtomicU16>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let port = target.load(Ordering::SeqCst);
            if port == 0 {
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    port
}

/// One live message on `topic`, straight to the MQTT 3.1.1 listener at `port`.
async fn publish(port: u16, topic: String) {
    let mut o = rumqttc::MqttOptions::new(format!("pub-{}", fastrand::u32(..)), "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(5));
    let (c, mut ev) = rumqttc::AsyncClient::new(o, 16);
    c.publish(
        topic,
        rumqttc::QoS::AtLeastOnce,
        false,
        r#"{"level_pct":50}"#,
    )
    .await
    .expect("publish");
    for _ in 0..6 {
        let _ = tokio::time::timeout(Duration::from_millis(200), ev.poll()).await;
    }
}

fn start_broker() -> EmbeddedBroker {
    tokio::task::block_in_place(|| EmbeddedBroker::start().expect("embedded broker starts"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restarted_under_fleetop_leaves_the_fleet_status_alone() {
    let first = start_broker();
    let target = Arc::new(AtomicU16::new(first.port()));
    let port = proxy(target.clone()).await;
    // Stale after 2 × 1 s without a message; the outage below lasts longer than that.
    let config = "[[fleet]]\nname = \"tanks\"\ntopic = \"tanks/{device}\"\nformat = \"json\"\n\
                  expected_interval = \"1s\"\n";
    let mut engine = common::engine_for(config, &format!("mqtt://127.0.0.1:{port}"), Protocol::V5);
    common::connected(&mut engine).await;
    publish(first.port_v311(), "tanks/tank-01".into()).await;
    common::wait_for(&mut engine, "tank-01 online", |e| {
        e.state
            .find_device("tank-01")
            .is_some_and(|d| d.status == Status::Online)
    })
    .await;

    engine.state.drain_events().for_each(drop);
    target.store(0, Ordering::SeqCst);
    tokio::task::block_in_place(|| drop(first));
    common::wait_for(&mut engine, "link down", |e| {
        matches!(e.state.connections[0].state, LinkState::Down { .. })
    })
    .await;
    let mut statuses = Vec::new();
    let outage_ends = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < outage_ends {
        engine.pump_ready();
        engine.tick();
        statuses.extend(engine.state.drain_events().filter_map(status_change));
        assert!(engine.state.connections[0].is_blind());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses, [], "no status changes while fleetop is blind");
    let stale_alerts = engine
        .alerts
        .alerts()
        .filter(|a| &*a.rule_name == "device_stale")
        .count();
    assert_eq!(stale_alerts, 0);

    let second = start_broker();
    target.store(second.port(), Ordering::SeqCst);
    common::wait_for(&mut engine, "reconnected", |e| {
        e.state.connections[0].state == LinkState::Connected
    })
    .await;
    let reconnected_at = engine.state.connections[0]
        .up_since_ms
        .expect("the link came up");
    let d = engine.state.find_device("tank-01").expect("still known");
    assert_eq!(d.status, Status::Online, "not stale at the reconnect");
    common::wait_for(
        &mut engine,
        "tank-01 stale, silent since the reconnect",
        |e| {
            e.state
                .find_device("tank-01")
                .is_some_and(|d| d.status == Status::Stale)
        },
    )
    .await;
    statuses.extend(engine.state.drain_events().filter_map(status_change));
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    let (_, stale_at) = statuses[0];
    assert!(
        stale_at - reconnected_at > 2_000,
        "stale {} ms after the reconnect; staleness counts from there",
        stale_at - reconnected_at
    );
    drop(engine);
    tokio::task::block_in_place(|| drop(second));
}

fn status_change(e: FleetEvent) -> Option<(Status, i64)> {
    match e {
        FleetEvent::StatusChanged { to, at_ms, .. } => Some((to, at_ms)),
        _ => None,
    }
}
