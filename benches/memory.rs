//! Memory for 10,000 devices × 10 metrics with full history rings (512 samples each).
//! Goal (issue 3): ≤ 256 MB RSS. Prints RSS and the bytes per sample it implies.

use bytes::Bytes;
use fleetop::vocab::RawMessage;

#[path = "common.rs"]
mod common;

const DEVICES: usize = 10_000;

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let before = rss_kib().unwrap_or(0);
    let limits = fleetop::config::Limits::default();
    let samples = limits.history;
    let mut state = common::state(limits);
    let mut payload = String::with_capacity(256);
    let mut topics: Vec<Bytes> = (0..DEVICES)
        .map(|d| Bytes::from(format!("bench/tanks/dev-{d:05}/telemetry")))
        .collect();
    for seq in 0..samples as u64 {
        for (d, topic) in topics.iter_mut().enumerate() {
            payload.clear();
            // Ten metrics of sensor-like values: a few decimals, drifting and noisy.
            let base = (d % 97) as f64;
            let n = |k: u64| ((seq * (k + 3) + d as u64 * 7) % 1000) as f64;
            use std::fmt::Write as _;
            let _ = write!(
                payload,
                r#"{{"level_pct":{:.1},"temp_c":{:.1},"battery_v":{:.2},"rssi":-{},"flow_lpm":{:.1},"pressure_bar":{:.2},"ph":{:.2},"turbidity":{:.1},"pump":{},"uptime_s":{}}}"#,
                base / 2.0 + n(1) / 100.0,
                10.0 + n(2) / 50.0,
                3.5 + n(3) / 2000.0,
                50 + (n(4) as u64) % 40,
                n(5) / 10.0,
                1.0 + n(6) / 500.0,
                6.5 + n(7) / 1000.0,
                n(8) / 20.0,
                seq % 7 < 3,
                seq * 30,
            );
            state.apply(&RawMessage {
                conn: fleetop::vocab::ConnId(0),
                topic: topic.clone(),
                payload: Bytes::copy_from_slice(payload.as_bytes()),
                retain: false,
                at_ms: 1_764_000_000_000 + seq as i64 * 30_000 + d as i64,
            });
        }
    }
    let after = rss_kib().unwrap_or(0);
    let metrics: usize = state.devices.iter().map(|d| d.metrics.len()).sum();
    let full = state
        .devices
        .iter()
        .flat_map(|d| &d.metrics)
        .filter(|m| m.ring.len() == samples)
        .count();
    let ring_bytes: usize = state
        .devices
        .iter()
        .flat_map(|d| &d.metrics)
        .map(|m| m.ring.heap_bytes())
        .sum();
    let coarse_bytes: usize = state
        .devices
        .iter()
        .flat_map(|d| &d.metrics)
        .map(|m| m.coarse.heap_bytes())
        .sum();
    println!(
        "memory: {} devices, {} metrics ({} with full {}-sample rings), {} samples",
        state.devices.len(),
        metrics,
        full,
        samples,
        metrics * samples
    );
    println!(
        "memory: rings {:.1} MB ({:.2} bytes/sample), coarse tier {:.1} MB",
        ring_bytes as f64 / 1e6,
        ring_bytes as f64 / (metrics * samples) as f64,
        coarse_bytes as f64 / 1e6
    );
    println!(
        "memory: RSS {:.1} MB (process start {:.1} MB); goal ≤ 256 MB",
        after as f64 / 1024.0,
        before as f64 / 1024.0
    );
}
