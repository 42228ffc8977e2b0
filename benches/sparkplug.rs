//! Sparkplug B DDATA decode + apply on one core (issue 8's goal: ≥ 500k metrics/s).
//! 10 edge nodes x 10 devices, each born with 20 metrics (aliases, units); every DDATA
//! carries 10 of them by alias, with timestamps, as Ignition and Tahu edge nodes send.
//! Prints metrics/s and allocations per message after criterion's own report.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use fleetop::config::Limits;
use fleetop::config::conventions::ConventionsConfig;
use fleetop::conventions::sparkplug::proto::{Metric, Payload, Value, datatype};
use fleetop::fleet::FleetState;
use fleetop::mapping::Mapper;
use fleetop::vocab::RawMessage;
use prost::Message as _;
use std::time::Instant;

#[path = "counting.rs"]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const NODES: usize = 10;
const DEVICES_PER_NODE: usize = 10;
const BORN: u64 = 20;
const PER_DATA: u64 = 10;
const BASE_MS: u64 = 1_764_000_000_000;

fn metric(name: Option<String>, alias: u64, at: u64, v: f64) -> Metric {
    Metric {
        name,
        alias: Some(alias),
        timestamp: Some(at),
        datatype: Some(datatype::DOUBLE),
        is_historical: None,
        is_null: None,
        properties: None,
        value: Some(Value::Double(v)),
    }
}

fn raw(topic: String, payload: Vec<u8>, at_ms: i64) -> RawMessage {
    RawMessage {
        conn: fleetop::vocab::ConnId(0),
        topic: Bytes::from(topic),
        payload: Bytes::from(payload),
        retain: false,
        at_ms,
    }
}

/// NBIRTHs and DBIRTHs for the whole plant.
fn births() -> Vec<RawMessage> {
    let mut out = Vec::new();
    for n in 0..NODES {
        let nbirth = Payload {
            timestamp: Some(BASE_MS),
            metrics: vec![Metric {
                name: Some("bdSeq".into()),
                datatype: Some(datatype::INT64),
                value: Some(Value::Long(0)),
                ..metric(None, 0, BASE_MS, 0.0)
            }],
            seq: Some(0),
            uuid: None,
        };
        out.push(raw(
            format!("spBv1.0/plant/NBIRTH/edge{n}"),
            nbirth.encode_to_vec(),
            0,
        ));
        for d in 0..DEVICES_PER_NODE {
            let metrics = (0..BORN)
                .map(|a| metric(Some(format!("line/sensor{a}")), a, BASE_MS, a as f64))
                .collect();
            let dbirth = Payload {
                timestamp: Some(BASE_MS),
                metrics,
                seq: Some(d as u64 + 1),
                uuid: None,
            };
            out.push(raw(
                format!("spBv1.0/plant/DBIRTH/edge{n}/dev{d}"),
                dbirth.encode_to_vec(),
                0,
            ));
        }
    }
    out
}

/// `rounds` DDATA per device, in node order, with each node's seq running on.
fn data(rounds: usize, seq0: u64) -> Vec<RawMessage> {
    let mut out = Vec::new();
    let mut seq = [seq0; NODES];
    for r in 0..rounds {
        for (n, node_seq) in seq.iter_mut().enumerate() {
            for d in 0..DEVICES_PER_NODE {
                let at = BASE_MS + (r as u64 + 1) * 1000;
                let metrics = (0..PER_DATA)
                    .map(|i| {
                        let alias = (i * 2 + r as u64) % BORN;
                        metric(None, alias, at, 20.0 + ((r * 7 + d) % 100) as f64 / 10.0)
                    })
                    .collect();
                let p = Payload {
                    timestamp: Some(at),
                    metrics,
                    seq: Some(*node_seq % 256),
                    uuid: None,
                };
                *node_seq += 1;
                out.push(raw(
                    format!("spBv1.0/plant/DDATA/edge{n}/dev{d}"),
                    p.encode_to_vec(),
                    at as i64,
                ));
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut state = FleetState::new(Mapper::default(), Limits::default(), &["bench".into()])
        .with_conventions(ConventionsConfig::default());
    for m in births() {
        state.apply(&m);
    }
    let seq0 = DEVICES_PER_NODE as u64 + 1;
    // Warm up: every ring past its first growth steps.
    let warm = data(600, seq0);
    for m in &warm {
        state.apply(m);
    }
    let quick = std::env::var_os("FLEETOP_BENCH_QUICK").is_some();
    let batch = data(20, seq0 + 600 * DEVICES_PER_NODE as u64);
    let metrics_per_batch = batch.len() as u64 * PER_DATA;
    let mut group = c.benchmark_group("sparkplug");
    if quick {
        group
            .sample_size(10)
            .warm_up_time(std::time::Duration::from_millis(1))
            .measurement_time(std::time::Duration::from_millis(10));
    }
    group.throughput(Throughput::Elements(metrics_per_batch));
    group.bench_function("ddata_decode_apply_10_metrics_by_alias", |b| {
        b.iter(|| {
            for m in &batch {
                state.apply(m);
            }
        })
    });
    group.finish();

    let long = data(2_000, seq0 + 620 * DEVICES_PER_NODE as u64);
    let gaps_before = state.counters.sparkplug_seq_gaps;
    let before = counting::allocations();
    let started = Instant::now();
    for m in &long {
        state.apply(m);
    }
    let secs = started.elapsed().as_secs_f64();
    let allocs = counting::allocations() - before;
    let metrics = long.len() as f64 * PER_DATA as f64;
    println!(
        "sparkplug: {:.0} metrics/s ({:.0} DDATA msg/s) decode+apply on one core; {:.3} allocations per message; {} seq gaps, {} unknown aliases",
        metrics / secs,
        long.len() as f64 / secs,
        allocs as f64 / long.len() as f64,
        state.counters.sparkplug_seq_gaps - gaps_before,
        state.counters.sparkplug_unknown_alias,
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
