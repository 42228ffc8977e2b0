//! How fast the simulator feeds the embedded broker, measured by a subscriber on the same
//! broker in the same run: the figure the ingest benchmark can count on.
//!
//! `cargo bench --bench simulator`; tune with FLEETOP_BENCH_DEVICES (default 10000),
//! FLEETOP_BENCH_RATE (target msg/s, default 200000) and FLEETOP_BENCH_SECS (default 5).
//! Last line: `simulator: N msg/s into the embedded broker (received M msg/s)`.

use fleetop::demo::{EmbeddedBroker, SimOptions, SimStats, run_with_stats};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("simulator bench: cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(bench()) {
        eprintln!("simulator bench: {e}");
        std::process::exit(1);
    }
}

async fn bench() -> Result<(), String> {
    let devices: usize = env("FLEETOP_BENCH_DEVICES", 10_000);
    let rate: f64 = env("FLEETOP_BENCH_RATE", 200_000.0);
    let secs: f64 = env("FLEETOP_BENCH_SECS", 5.0);
    let broker = EmbeddedBroker::start()?;
    let prefix = "bench";

    // The counting subscriber, on the same broker.
    let received = Arc::new(AtomicU64::new(0));
    let mut o = MqttOptions::new("bench-counter", "127.0.0.1", broker.port());
    o.set_max_packet_size(Some(1 << 20));
    // Without a limit, rumqttc preallocates 65,536 in-flight slots (~14 MB) per client.
    o.set_outgoing_inflight_upper_limit(16);
    let (sub, mut events) = AsyncClient::new(o, 64);
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let counter = received.clone();
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let still_measuring = measuring.clone();
    tokio::spawn(async move {
        let mut subscribed = Some(subscribed_tx);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    counter.fetch_add(1, Relaxed);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(tx) = subscribed.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if still_measuring.load(Relaxed) {
                        eprintln!("simulator bench: subscriber stopped: {e}");
                    }
                    return;
                }
            }
        }
    });
    sub.subscribe(format!("{prefix}/#"), QoS::AtMostOnce)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    tokio::time::timeout(Duration::from_secs(10), subscribed_rx)
        .await
        .map_err(|_| "the subscriber got no SUBACK".to_string())?
        .map_err(|_| "the subscriber stopped".to_string())?;

    let opts = SimOptions {
        prefix: prefix.into(),
        seed: 1,
        devices,
        rate: Some(rate),
    };
    let stats = Arc::new(SimStats::default());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let url = broker.url();
    let sim_stats = stats.clone();
    let sim = tokio::spawn(async move { run_with_stats(&url, opts, stop_rx, sim_stats).await });

    // Measure a steady window: skip the first second (connections, first reports).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (p0, r0, t0) = (
        stats.published.load(Relaxed),
        received.load(Relaxed),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let (p1, r1, t1) = (
        stats.published.load(Relaxed),
        received.load(Relaxed),
        Instant::now(),
    );
    measuring.store(false, Relaxed);
    let _ = stop.send(true);
    let report = sim
        .await
        .map_err(|e| format!("simulator task: {e}"))?
        .map_err(|e| e.to_string())?;

    let span = (t1 - t0).as_secs_f64();
    let published = (p1 - p0) as f64 / span;
    let got = (r1 - r0) as f64 / span;
    println!(
        "devices {devices}, target {rate:.0} msg/s, {span:.1} s window; faults {}, reconnects {}, publish errors {}",
        report.faults, report.reconnects, report.publish_errors
    );
    if let Some(peak) = peak_rss() {
        println!("peak RSS of the whole bench process (broker + simulator + subscriber): {peak}");
    }
    println!("simulator: {published:.0} msg/s into the embedded broker (received {got:.0} msg/s)");
    Ok(())
}

/// Peak resident memory, from /proc on Linux.
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_string())
}
