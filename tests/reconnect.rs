//! A broker that goes away and comes back: fleetop says so, retries, reconnects and
//! resubscribes. The broker is Mosquitto behind a loopback proxy the test can cut.

mod common;

use fleetop::commands::RequestState;
use fleetop::config::Protocol;
use fleetop::vocab::LinkState;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Forwards a free loopback port to Mosquitto while `up` is set; cutting it drops every
/// connection and refuses new ones.
async fn proxy(up: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            if !up.load(Ordering::SeqCst) {
                continue; // dropped: the client sees the connection close
            }
            let up = up.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(common::MOSQUITTO).await else {
                    return;
                };
                let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                tokio::pin!(copy);
                loop {
                    tokio::select! {
                        _ = &mut copy => return,
                        _ = tokio::time::sleep(Duration::from_millis(50)) => {
                            if !up.load(Ordering::SeqCst) {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_gone_and_back_reconnects_and_resubscribes() {
    if !common::mosquitto_or_skip("broker_gone_and_back_reconnects_and_resubscribes") {
        return;
    }
    let up = Arc::new(AtomicBool::new(true));
    let port = proxy(up.clone()).await;
    let prefix = common::unique_prefix("reconnect");
    let config = format!(
        "[[fleet]]\nname = \"tanks\"\ntopic = \"{prefix}/{{device}}\"\nformat = \"json\"\n\
         [[command]]\nname = \"poke\"\ntopic = \"{prefix}-cmd/{{device}}\"\npayload = \"poke\"\n"
    );
    let mut engine = common::engine_for(&config, &format!("mqtt://127.0.0.1:{port}"), Protocol::V5);
    common::connected(&mut engine).await;

    let publish = |device: &'static str| {
        let topic = format!("{prefix}/{device}");
        async move {
            let mut o =
                rumqttc::MqttOptions::new(format!("pub-{}", fastrand::u32(..)), "127.0.0.1", 1883);
            o.set_keep_alive(Duration::from_secs(5));
            let (c, mut ev) = rumqttc::AsyncClient::new(o, 16);
            c.publish(
                topic,
                rumqttc::QoS::AtLeastOnce,
                false,
                r#"{"level_pct":5}"#,
            )
            .await
            .expect("publish");
            for _ in 0..6 {
                let _ = tokio::time::timeout(Duration::from_millis(200), ev.poll()).await;
            }
        }
    };
    publish("before").await;
    common::wait_for(&mut engine, "first message", |e| {
        e.state.find_device("before").is_some()
    })
    .await;

    up.store(false, Ordering::SeqCst);
    common::wait_for(&mut engine, "link down with a reason", |e| {
        matches!(e.state.connections[0].state, LinkState::Down { .. })
    })
    .await;
    if let LinkState::Down { reason, retry_in } = &engine.state.connections[0].state {
        assert!(!reason.is_empty());
        assert!(*retry_in <= Duration::from_secs(30));
    }

    // A command while the broker is unreachable fails at once with the reason and is
    // never queued: a watcher on the command topic sees nothing after the reconnect.
    let (watch, mut watch_events) = rumqttc::AsyncClient::new(
        rumqttc::MqttOptions::new(format!("watch-{}", fastrand::u32(..)), "127.0.0.1", 1883),
        16,
    );
    watch
        .subscribe(format!("{prefix}-cmd/#"), rumqttc::QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let audit = tempfile::tempdir().expect("tempdir");
    engine
        .desk
        .keep_audit_log(&audit.path().join("audit.jsonl"));
    let device = engine.state.find_device("before").expect("device").id;
    let poke = engine.prepare(device, "poke", &[]).expect("prepare");
    let id = engine
        .send(poke, device, "test@host")
        .expect("audited and tried");
    let state = engine.request_state(id).cloned();
    assert!(
        matches!(&state, Some(RequestState::Failed(why)) if why.contains("not connected")),
        "{state:?}"
    );

    up.store(true, Ordering::SeqCst);
    common::wait_for(&mut engine, "reconnected", |e| {
        e.state.connections[0].state == LinkState::Connected
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Ok(ev)) = tokio::time::timeout_at(deadline, watch_events.poll()).await {
        if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = ev {
            panic!("a command went out after the reconnect: {}", p.topic);
        }
    }
    // The watcher works: a command sent now arrives, once.
    let poke = engine.prepare(device, "poke", &[]).expect("prepare");
    engine.send(poke, device, "test@host").expect("sent");
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) =
                watch_events.poll().await
            {
                return p.payload;
            }
        }
    })
    .await
    .expect("the command sent after the reconnect arrives");
    assert_eq!(&got[..], b"poke");
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish("after").await;
    common::wait_for(&mut engine, "message after reconnect (resubscribed)", |e| {
        e.state.find_device("after").is_some()
    })
    .await;
}
