//! `fleetop demo` (embedded broker + simulator + fleetop) and `fleetop simulate`.

use super::{Cli, DemoArgs, SimulateArgs, run};
use crate::config::Config;
use crate::demo::{self, EmbeddedBroker, SimOptions};
use crate::engine::Input;
use std::process::ExitCode;
use std::time::Duration;

/// What `simulate` sends to a broker by default: public test brokers throttle above this.
const DEFAULT_PUBLIC_RATE: f64 = 50.0;

pub async fn demo(cli: &Cli, args: &DemoArgs) -> ExitCode {
    if let Err(e) = demo::validate_prefix(&args.prefix) {
        eprintln!("fleetop: --prefix: {e}");
        return ExitCode::from(2);
    }
    if args.print_config {
        print!("{}", demo::demo_config(&args.prefix));
        return ExitCode::SUCCESS;
    }
    let opts = SimOptions {
        prefix: args.prefix.clone(),
        seed: args.seed,
        devices: args.devices,
        rate: None,
    };
    if let Err(e) = opts.validate() {
        eprintln!("fleetop: {e}");
        return ExitCode::from(2);
    }
    let config = match Config::parse(&demo::demo_config(&args.prefix), None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fleetop: the built-in demo config is invalid (a bug): {e}");
            return ExitCode::from(1);
        }
    };
    let broker = match EmbeddedBroker::start() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("fleetop: cannot start the embedded broker: {e}");
            return ExitCode::from(1);
        }
    };
    let mut source = cli.source.clone();
    source.broker = Some(broker.url());
    source.replay = None;
    let mut input = match source.input(&config) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("fleetop: {e}");
            return ExitCode::from(1);
        }
    };
    if let Input::Brokers(specs) = &mut input {
        for s in specs {
            s.name = "embedded".into();
        }
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let url = broker.url();
    let simulator = tokio::spawn(async move { demo::run(&url, opts, stop_rx).await });
    // The embedded broker takes a new port each run: the demo's alert state is its own,
    // by its topic prefix, never a real broker's.
    let place = crate::output::alert_log::Place::named(&format!("demo-{}", args.prefix));
    let ui = args.ui.or(&cli.ui);
    let code = if ui.headless {
        run::headless(&config, input, &place, Duration::from_secs(5)).await
    } else {
        run::live(&config, input, &place, ui.options(&config.ui)).await
    };
    let _ = stop_tx.send(true);
    match tokio::time::timeout(Duration::from_secs(3), simulator).await {
        Ok(Ok(Err(e))) => eprintln!("fleetop: the simulator stopped: {e}"),
        Ok(Err(e)) => eprintln!("fleetop: the simulator failed: {e}"),
        _ => {}
    }
    code
}

pub async fn simulate(cli: &Cli, args: &SimulateArgs) -> ExitCode {
    let Some(url) = cli.source.broker.clone() else {
        eprintln!(
            "fleetop: simulate needs --broker URL (for a local demo with nothing installed, run `fleetop demo`)"
        );
        return ExitCode::from(2);
    };
    if let Err(e) = crate::config::url::BrokerUrl::parse(&url) {
        eprintln!("fleetop: --broker: {e}");
        return ExitCode::from(2);
    }
    let prefix = args.prefix.clone().unwrap_or_else(demo::random_prefix);
    let opts = SimOptions {
        prefix: prefix.clone(),
        seed: args.seed,
        devices: args.devices,
        rate: args.rate,
    };
    let opts = match args.rate {
        Some(_) => opts,
        None => opts.at_most(DEFAULT_PUBLIC_RATE),
    };
    if let Err(e) = opts.validate() {
        eprintln!("fleetop: {e}");
        return ExitCode::from(2);
    }
    let natural = opts.natural_rate();
    let rate = opts.rate.unwrap_or(natural);
    eprintln!(
        "simulating {} devices on {url} under `{prefix}/` at {rate:.0} msg/s (Ctrl-C stops)",
        args.devices
    );
    if rate < natural * 0.99 {
        eprintln!(
            "note: below the fleets' natural {natural:.0} msg/s, devices report less often than \
             their expected interval and will show as stale; raise --rate to avoid that"
        );
    }
    eprintln!(
        "watch it from another machine with:\n  {}",
        demo::watch_hint(&url, &prefix)
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sim = tokio::spawn(async move { demo::run(&url, opts, stop_rx).await });
    tokio::pin!(sim);
    let result = tokio::select! {
        r = &mut sim => r,
        _ = crate::signals::shutdown() => {
            let _ = stop_tx.send(true);
            sim.await
        }
    };
    match result {
        Ok(Ok(report)) => {
            eprintln!(
                "published {} messages, answered {} commands",
                report.published, report.commands_answered
            );
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("fleetop: simulate: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("fleetop: simulate failed: {e}");
            ExitCode::from(1)
        }
    }
}
