//! The simulator against real sockets: the embedded broker (every run) and Mosquitto at
//! 127.0.0.1:1883 (skipped, with the reason printed, when it is not there).
//!
//! Waits are liveness bounds ("give up after 30 s"), never timing assertions.

use fleetop::config::Config;
use fleetop::demo::sim::faults::FaultPlan;
use fleetop::demo::sim::layout::Layout;
use fleetop::demo::{EmbeddedBroker, SimOptions, demo_config, run};
use fleetop::mapping::{Classified, Mapper};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Upper bound for anything the tests wait for; reaching it is a failure, not a measurement.
const PATIENCE: Duration = Duration::from_secs(30);

/// A received message.
#[derive(Debug, Clone)]
struct Got {
    topic: String,
    payload: String,
    correlation: Option<Vec<u8>>,
}

/// An MQTT 5 client that hands every publish it receives to a channel.
struct Watcher {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Got>,
}

impl Watcher {
    async fn connect(host: &str, port: u16, filters: &[String]) -> Watcher {
        let id = format!("demo-test-{}", fastrand::u64(..));
        let mut o = MqttOptions::new(id, host, port);
        o.set_max_packet_size(Some(1 << 20));
        // Without a limit, rumqttc preallocates 65,536 in-flight slots (~14 MB) per client.
        o.set_outgoing_inflight_upper_limit(64);
        let (client, mut events) = AsyncClient::new(o, 1024);
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, mut ready_rx) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let got = Got {
                            topic: String::from_utf8_lossy(&p.topic).into_owned(),
                            payload: String::from_utf8_lossy(&p.payload).into_owned(),
                            correlation: p
                                .properties
                                .and_then(|pr| pr.correlation_data)
                                .map(|c| c.to_vec()),
                        };
                        if tx.send(got).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.try_send(());
                    }
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("watcher connection ended: {e}");
                        return;
                    }
                }
            }
        });
        for f in filters {
            client
                .subscribe(f.clone(), QoS::AtLeastOnce)
                .await
                .expect("subscribe");
            tokio::time::timeout(PATIENCE, ready_rx.recv())
                .await
                .expect("suback in time");
        }
        Watcher { client, rx }
    }

    /// Receives until `done` says so; panics with `what` if that takes longer than PATIENCE.
    async fn until(&mut self, what: &str, mut done: impl FnMut(&Got) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(got)) => {
                    if done(&got) {
                        return;
                    }
                }
                Ok(None) => panic!("watcher closed while waiting for {what}"),
                Err(_) => panic!("gave up waiting for {what}"),
            }
        }
    }
}

/// A running simulation.
struct Sim {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<fleetop::demo::SimReport>>,
}

fn simulate(url: String, prefix: &str, devices: usize, seed: u64) -> Sim {
    simulate_at(url, prefix, devices, seed, None)
}

fn simulate_at(url: String, prefix: &str, devices: usize, seed: u64, rate: Option<f64>) -> Sim {
    let (stop, stop_rx) = watch::channel(false);
    let opts = SimOptions {
        prefix: prefix.into(),
        seed,
        devices,
        rate,
    };
    let task = tokio::spawn(async move { run(&url, opts, stop_rx).await });
    Sim { stop, task }
}

impl Sim {
    async fn finish(self) -> fleetop::demo::SimReport {
        let _ = self.stop.send(true);
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("simulator stops in time")
            .expect("simulator task")
            .expect("simulator ran")
    }
}

fn mapper(prefix: &str) -> Mapper {
    let config = Config::parse(&demo_config(prefix), None).expect("demo config parses");
    Mapper::from_config(&config).expect("demo config compiles")
}

/// Waits until every fleet has sent telemetry the demo config maps, and availability too.
async fn five_fleets(w: &mut Watcher, prefix: &str) {
    let mapper = mapper(prefix);
    let mut fleets = HashSet::new();
    let mut availability = HashSet::new();
    let mut decoded = 0;
    let mut unmapped = Vec::new();
    w.until("telemetry from all five fleets", |got| {
        match mapper.classify("any", &got.topic) {
            Classified::Telemetry { fleet, .. } => {
                fleets.insert(mapper.fleets[fleet as usize].name.clone());
                let format = mapper.fleets[fleet as usize].format;
                let metric = got.topic.rsplit('/').next().unwrap_or_default();
                let mut scratch = fleetop::decode::Scratch::default();
                if fleetop::decode::decode(got.payload.as_bytes(), format, metric, &mut scratch)
                    .is_ok()
                {
                    decoded += 1;
                }
            }
            Classified::Availability { fleet, .. } => {
                availability.insert(mapper.fleets[fleet as usize].name.clone());
            }
            Classified::Unmapped => unmapped.push(got.topic.clone()),
        }
        fleets.len() == 5 && availability.len() >= 3
    })
    .await;
    assert!(
        unmapped.is_empty(),
        "topics the demo config does not map: {unmapped:?}"
    );
    assert!(decoded > 5, "telemetry should mostly decode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_five_fleets_publish_topics_the_demo_config_maps() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let prefix = "t-fleets";
    let mut w = Watcher::connect("127.0.0.1", broker.port(), &[format!("{prefix}/#")]).await;
    let sim = simulate(broker.url(), prefix, 60, 7);
    five_fleets(&mut w, prefix).await;
    let report = sim.finish().await;
    assert!(report.published > 20, "{report:?}");
    assert_eq!(report.devices, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_faults_reach_the_wire() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let prefix = "t-faults";
    let mapper = mapper(prefix);
    let mut w = Watcher::connect("127.0.0.1", broker.port(), &[format!("{prefix}/#")]).await;
    // A fast clock (about 100x): the first six faults, one of each kind, come within about
    // 80 simulated seconds, and more follow.
    let sim = simulate_at(broker.url(), prefix, 200, 4, Some(3_000.0));
    let (mut gateway_will, mut device_offline, mut malformed) = (false, false, false);
    w.until(
        "a gateway's last will, a device going offline and a malformed message",
        |g| {
            if g.payload == "offline" {
                match mapper.classify("any", &g.topic) {
                    Classified::Availability {
                        target: fleetop::mapping::AvailabilityTarget::Group(_),
                        ..
                    } => gateway_will = true,
                    Classified::Availability { .. } => device_offline = true,
                    _ => {}
                }
            }
            if g.payload.starts_with('{')
                && serde_json::from_str::<serde_json::Value>(&g.payload).is_err()
            {
                malformed = true;
            }
            gateway_will && device_offline && malformed
        },
    )
    .await;
    let report = sim.finish().await;
    assert!(report.faults >= 6, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_round_trip_over_mqtt5_with_correlation_data() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let prefix = "t-cmd5";
    let reply_to = format!("{prefix}-replies/me");
    let mut w = Watcher::connect(
        "127.0.0.1",
        broker.port(),
        &[reply_to.clone(), format!("{prefix}/poles/+/+/dim")],
    )
    .await;
    let sim = simulate(broker.url(), prefix, 100, 3);
    // Wait until the poles report: the simulator is subscribed by then.
    w.until("a pole report", |g| g.topic.ends_with("/dim"))
        .await;
    // Several poles, since a few commands are lost by design.
    let poles: Vec<String> = (1..=6).map(|i| format!("pole-{i:03}")).collect();
    for (i, pole) in poles.iter().enumerate() {
        let props = PublishProperties {
            response_topic: Some(reply_to.clone()),
            correlation_data: Some(format!("corr-{i}").into_bytes().into()),
            ..Default::default()
        };
        w.client
            .publish_with_properties(
                format!("{prefix}/cmd/poles/{pole}"),
                QoS::AtLeastOnce,
                false,
                format!(r#"{{"cmd":"light-dim","level":40,"id":"{i}"}}"#),
                props,
            )
            .await
            .expect("publish command");
    }
    let mut dimmed_to_40 = HashSet::new();
    let mut ok_reply_from = None;
    w.until("an answered light-dim whose effect shows", |g| {
        if g.topic.ends_with("/dim") && g.payload == "40" {
            dimmed_to_40.insert(
                g.topic
                    .split('/')
                    .nth_back(1)
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        if g.topic == reply_to {
            let v: serde_json::Value = serde_json::from_str(&g.payload).expect("reply is JSON");
            let id = v["id"].as_str().expect("id echoed").to_string();
            let corr = g.correlation.clone().expect("correlation data comes back");
            assert_eq!(
                corr,
                format!("corr-{id}").into_bytes(),
                "correlation matches the id"
            );
            assert_eq!(v["cmd"], "light-dim");
            if v["ok"] == true {
                ok_reply_from = v["device"].as_str().map(str::to_string);
            } else {
                assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
            }
        }
        ok_reply_from
            .as_ref()
            .is_some_and(|d| dimmed_to_40.contains(d))
    })
    .await;
    let report = sim.finish().await;
    assert!(report.commands_received >= 6, "{report:?}");
    assert!(report.commands_answered >= 1, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_from_mqtt311_clients_are_answered_on_the_reply_topic() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let prefix = "t-cmd311";
    // A 3.1.1 client on the 3.1.1 listener: no properties, so replies go to <topic>/reply.
    let mut o = rumqttc::MqttOptions::new("demo-test-311", "127.0.0.1", broker.port_v311());
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = rumqttc::AsyncClient::new(o, 64);
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = ev {
                let _ = tx.send((p.topic, String::from_utf8_lossy(&p.payload).into_owned()));
            }
        }
    });
    client
        .subscribe(format!("{prefix}/cmd/+/+/reply"), rumqttc::QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    client
        .subscribe(
            format!("{prefix}/vehicles/+/telemetry"),
            rumqttc::QoS::AtMostOnce,
        )
        .await
        .expect("subscribe");
    let sim = simulate(broker.url(), prefix, 100, 11);
    let deadline = Instant::now() + PATIENCE;
    // Wait for the vans to report: the simulator is listening by then.
    while !next(&mut rx, deadline).await.0.contains("/vehicles/") {}
    for i in 1..=5 {
        client
            .publish(
                format!("{prefix}/cmd/vehicles/van-{i:02}"),
                rumqttc::QoS::AtLeastOnce,
                false,
                format!(r#"{{"cmd":"reboot","id":"r{i}"}}"#),
            )
            .await
            .expect("publish command");
    }
    loop {
        let (topic, payload) = next(&mut rx, deadline).await;
        if !topic.ends_with("/reply") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&payload).expect("reply is JSON");
        let device = v["device"].as_str().expect("device named");
        assert_eq!(topic, format!("{prefix}/cmd/vehicles/{device}/reply"));
        assert_eq!(
            v["id"],
            format!("r{}", &device[4..].trim_start_matches('0'))
        );
        break;
    }
    sim.finish().await;
}

async fn next(
    rx: &mut mpsc::UnboundedReceiver<(String, String)>,
    deadline: Instant,
) -> (String, String) {
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::timeout(left, rx.recv())
        .await
        .expect("gave up waiting for a reply")
        .expect("client closed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_and_unreachable_brokers_fail_with_a_reason() {
    let (_stop, stop_rx) = watch::channel(false);
    let zero = SimOptions {
        devices: 0,
        ..SimOptions::default()
    };
    let e = run("mqtt://127.0.0.1:1", zero, stop_rx.clone())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("--devices"), "{e}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let e = run(&url, SimOptions::default(), stop_rx.clone())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot connect"), "{e}");

    let e = run("carrier-pigeon://x", SimOptions::default(), stop_rx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("scheme"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_when_asked_even_after_the_broker_is_gone() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let prefix = "t-gone";
    let mut w = Watcher::connect("127.0.0.1", broker.port(), &[format!("{prefix}/#")]).await;
    // Fast enough to fill the publisher's queue once nobody reads it.
    let sim = simulate_at(broker.url(), prefix, 2_000, 5, Some(50_000.0));
    w.until("the first reports", |g| g.topic.ends_with("/telemetry"))
        .await;
    drop(w);
    drop(broker);
    let report = sim.finish().await;
    assert!(report.published > 0, "{report:?}");
}

#[test]
fn same_seed_same_ids_and_fault_schedule() {
    let ids = |seed| {
        Layout::new(seed, 300)
            .devices
            .into_iter()
            .map(|d| d.id)
            .collect::<Vec<_>>()
    };
    let faults = |seed| {
        let layout = Layout::new(seed, 300);
        let mut plan = FaultPlan::new(seed, &layout);
        (0..40).map(|_| plan.next_fault()).collect::<Vec<_>>()
    };
    assert_eq!(ids(5), ids(5));
    assert_eq!(faults(5), faults(5));
    assert_ne!(faults(5), faults(6));
    let counts: HashMap<&str, usize> = ids(5).iter().fold(HashMap::new(), |mut m, id| {
        let kind = ["tank-", "pole-", "wx-", "meter-", "van-"]
            .into_iter()
            .find(|k| id.starts_with(k))
            .expect("id names its kind");
        *m.entry(kind).or_default() += 1;
        m
    });
    assert_eq!(counts.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_interop() {
    if std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], 1883).into(), Duration::from_secs(1))
        .is_err()
    {
        println!(
            "skipping mosquitto_interop: nothing listens on 127.0.0.1:1883 (start Mosquitto to run it)"
        );
        return;
    }
    let prefix = fleetop::demo::random_prefix();
    let mut w = Watcher::connect("127.0.0.1", 1883, &[format!("{prefix}/#")]).await;
    let sim = simulate("mqtt://127.0.0.1:1883".into(), &prefix, 40, 21);
    five_fleets(&mut w, &prefix).await;
    let report = sim.finish().await;
    assert!(report.published > 10, "{report:?}");
    drop(w);

    // The simulator cleared what it retained: a new subscriber gets nothing retained.
    let mut late = Watcher::connect("127.0.0.1", 1883, &[format!("{prefix}/#")]).await;
    let retained = tokio::time::timeout(Duration::from_millis(500), late.rx.recv()).await;
    assert!(
        !matches!(retained, Ok(Some(ref g)) if !g.payload.is_empty()),
        "left retained on the broker: {retained:?}"
    );
}
