//! Decode + map + apply of ~150-byte JSON telemetry over 1,000 devices, on one core.
//! Goal (issue 3): ≥ 1 M msg/s, and no allocation per message once topics are known.
//! Prints msg/s and allocations per message after criterion's own report.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use fleetop::vocab::RawMessage;
use std::time::Instant;

#[path = "common.rs"]
mod common;

#[path = "counting.rs"]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const DEVICES: usize = 1_000;

/// One message for `device`, sample `seq`, about 150 bytes of JSON with 1–2 decimals.
fn message(device: usize, seq: u64, at_ms: i64) -> RawMessage {
    let level = 20.0 + ((seq * 7 + device as u64) % 600) as f64 / 10.0;
    let payload = format!(
        r#"{{"level_pct":{level:.1},"temp_c":{:.1},"battery_v":{:.2},"rssi":-{},"pump":"{}","flow_lpm":{:.1},"seq":{seq}}}"#,
        12.0 + (seq % 40) as f64 / 10.0,
        3.60 + (seq % 10) as f64 / 100.0,
        60 + seq % 30,
        if seq % 20 < 10 { "ON" } else { "OFF" },
        (seq % 100) as f64 / 4.0,
    );
    RawMessage {
        conn: fleetop::vocab::ConnId(0),
        topic: Bytes::from(format!("bench/tanks/dev-{device:04}/telemetry")),
        payload: Bytes::from(payload),
        retain: false,
        at_ms,
    }
}

const BATCH: usize = 10_000;

fn messages(n: usize, start_seq: u64) -> Vec<fleetop::vocab::RawMessage> {
    (0..n)
        .map(|i| {
            let seq = start_seq + (i / DEVICES) as u64;
            message(i % DEVICES, seq, 1_764_000_000_000 + seq as i64 * 1000)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut state = common::state(Default::default());
    // Warm up: every topic known, every ring past its first growth steps.
    for m in messages(DEVICES * 600, 0) {
        state.apply(&m);
    }
    // FLEETOP_BENCH_QUICK=1 skips criterion's sampling (for profilers such as callgrind).
    let quick = std::env::var_os("FLEETOP_BENCH_QUICK").is_some();
    let batch = messages(BATCH, 600);
    let mut group = c.benchmark_group("ingest");
    if quick {
        group
            .sample_size(10)
            .warm_up_time(std::time::Duration::from_millis(1));
        group.measurement_time(std::time::Duration::from_millis(10));
    }
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("decode_map_apply_150B_json_1000_devices", |b| {
        b.iter(|| {
            for m in &batch {
                state.apply(m);
            }
        })
    });
    group.finish();

    // A plain figure to quote: msg/s over a few seconds, and allocations per message.
    let long = messages(DEVICES * 200, 10_000);
    let before = counting::allocations();
    let started = Instant::now();
    for m in &long {
        state.apply(m);
    }
    let secs = started.elapsed().as_secs_f64();
    let allocs = counting::allocations() - before;
    println!(
        "pipeline: {:.0} msg/s decode+map+apply on one core; {:.4} allocations per message ({} in {} messages, ring growth included)",
        long.len() as f64 / secs,
        allocs as f64 / long.len() as f64,
        allocs,
        long.len()
    );
}

/// The same flood through the engine every front end runs: the connection's outlet and
/// mailbox, decode + map + apply, and the alert rules each message can affect.
fn engine_figure() {
    let (mut engine, outlets) = common::engine(Default::default());
    let feed = |engine: &mut fleetop::engine::Engine, batch: Vec<RawMessage>| {
        // Handed over as a connection does: in bursts of what its socket had ready.
        let mut burst = Vec::with_capacity(256);
        for chunk in batch.chunks(4096) {
            for m in chunk {
                burst.push(m.clone());
                if burst.len() == burst.capacity() {
                    outlets[0].offer(&mut burst);
                }
            }
            outlets[0].offer(&mut burst);
            engine.pump_ready();
        }
    };
    feed(&mut engine, messages(DEVICES * 600, 0));
    let long = messages(DEVICES * 200, 10_000);
    let n = long.len();
    let before = counting::allocations();
    let started = Instant::now();
    feed(&mut engine, long);
    let secs = started.elapsed().as_secs_f64();
    let allocs = counting::allocations() - before;
    println!(
        "engine: {:.0} msg/s outlet + mailbox + decode+map+apply + alert rules on one core; {:.4} allocations per message ({} dropped)",
        n as f64 / secs,
        allocs as f64 / n as f64,
        engine.dropped()
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    engine_figure();
    Criterion::default().configure_from_args().final_summary();
}
