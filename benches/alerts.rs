//! What alert evaluation costs ingest, on one core with no network: the flood's ~150 B
//! JSON over 10,000 devices through `Engine::apply` (decode, map, apply, evaluate),
//! without rules and with 100 (`fleetop bench ingest --ceiling --rules 100 --devices
//! 10000` measures the same through MQTT). Goal (issue 6): a drop of at most 20 %.
//! `FLEETOP_BENCH_QUICK=1` runs one short pass of each, for callgrind.

use fleetop::bench::{alerts::rules_toml, flood};
use fleetop::config::Config;
use fleetop::engine::Engine;
use fleetop::mapping::Mapper;
use fleetop::source::Clock;
use fleetop::vocab::RawMessage;
use std::time::Instant;

const DEVICES: usize = 10_000;
const RULES: usize = 100;
const T0: i64 = 1_764_000_000_000;

thread_local! {
    /// The bench's clock: message times are real elapsed time, as a flood arrives.
    static ELAPSED: Instant = Instant::now();
}

fn engine(rules: usize) -> Engine {
    let text = format!(
        "[[fleet]]\nname = \"bench-tanks\"\ntopic = \"{}\"\nformat = \"json\"\nexpected_interval = \"10s\"\n{}",
        flood::TEMPLATE,
        rules_toml(rules, "bench-tanks")
    );
    let config = Config::parse(&text, None).expect("bench config");
    let (mut e, _outlets) = Engine::detached(
        Mapper::new(&config.fleets).expect("fleets"),
        config.limits.clone(),
        &["bench".to_string()],
    );
    e.alerts =
        fleetop::engine::alert_book(fleetop::alerts::RuleSet::from_config(&config).expect("rules"));
    e
}

/// Applies `block` cycling from message `from` for `n` messages, each stamped with the
/// time it is applied (as the sources stamp arrivals), ticking every 250 ms as the front
/// ends do.
fn run(e: &mut Engine, block: &[flood::Message], from: usize, n: usize) -> f64 {
    let started = Instant::now();
    let mut ticked = 0;
    for i in from..from + n {
        let m = &block[i % block.len()];
        let at_ms = T0 + ELAPSED.with(|t| t.elapsed().as_millis() as i64);
        e.apply(&RawMessage {
            conn: fleetop::vocab::ConnId(0),
            topic: m.topic.clone(),
            payload: m.payload.clone(),
            retain: false,
            at_ms,
        });
        if at_ms - ticked >= 250 {
            ticked = at_ms;
            e.clock = Clock::Fixed(at_ms);
            e.tick();
            e.drain_alerts();
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let quick = std::env::var_os("FLEETOP_BENCH_QUICK").is_some();
    let block = flood::block_over(u64::MAX, DEVICES);
    let (warm, measured) = if quick {
        (2 * DEVICES, 2 * DEVICES)
    } else {
        (20 * DEVICES, 60 * DEVICES)
    };
    let mut rates = [0.0; 2];
    for (i, rules) in [0, RULES].into_iter().enumerate() {
        let mut e = engine(rules);
        e.alerts.link_changed(fleetop::vocab::ConnId(0), true, T0);
        run(&mut e, &block, 0, warm);
        rates[i] = run(&mut e, &block, warm, measured);
        println!(
            "alerts: {rules:>3} rules x {DEVICES} devices: {:.0} msg/s (decode, map, apply, evaluate) over {measured} messages",
            rates[i]
        );
    }
    println!(
        "alerts: drop {:.1} % with {RULES} rules over {DEVICES} devices (goal <= 20 %)",
        (1.0 - rates[1] / rates[0]) * 100.0
    );
}
