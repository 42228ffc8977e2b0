//! The demo's vans on the map: fleetop connected to the embedded broker with the demo's
//! config sees them report positions, and at least one moves (its trail grows).
//!
//! Waits are liveness bounds (`common::wait_for` gives up after 15 s), never timing
//! assertions.

mod common;

use fleetop::demo::{EmbeddedBroker, SimOptions, demo_config, run};
use fleetop::view::position;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_vans_report_positions_and_move() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let prefix = common::unique_prefix("map");
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let opts = SimOptions {
        prefix: prefix.clone(),
        seed: 7,
        devices: 40,
        rate: None,
    };
    let url = broker.url();
    let sim = tokio::spawn(async move { run(&url, opts, stop_rx).await });
    let config = fleetop::config::Config::parse(&demo_config(&prefix), None).expect("config");
    let source = fleetop::cli::SourceArgs {
        broker: Some(broker.url()),
        ..Default::default()
    };
    let input = source.input(&config).expect("input");
    let mut engine = fleetop::engine::Engine::start(&config, input).expect("engine");
    common::connected(&mut engine).await;
    let vans = |e: &fleetop::engine::Engine| {
        e.state
            .devices
            .iter()
            .filter(|d| e.state.fleet_name(d) == "vehicles")
            .filter(|d| position::position(d).is_some())
            .count()
    };
    common::wait_for(&mut engine, "vans with a position", |e| vans(e) > 0).await;
    common::wait_for(&mut engine, "a van that moved", |e| {
        e.state
            .devices
            .iter()
            .any(|d| position::trail(d, 10).len() >= 2)
    })
    .await;
    // Every position the map would draw is a valid fix near the depot (Munich).
    for d in &engine.state.devices {
        if let Some(p) = position::position(d) {
            assert_eq!(engine.state.fleet_name(d), "vehicles", "{}", d.name);
            assert!(
                (47.5..48.8).contains(&p.lat) && (10.8..12.4).contains(&p.lon),
                "{p:?}"
            );
        }
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), sim).await;
}
