//! `fleetop bench ingest`: fleetop's whole pipeline against `mosquitto_sub` on the same
//! flood. With `--broker`, both subscribe to a real broker that a publisher floods; with
//! `--ceiling`, each gets its own loopback stand-in that streams pre-encoded packets, so
//! the subscriber is the bottleneck. The last line is fixed; scripts parse it.

use super::{IngestArgs, SourceArgs};
use crate::bench::flood::{self, FILTER, Mqtt};
use crate::bench::mosquitto::{self, MosquittoSub};
use crate::bench::pipeline::{self, Pipeline};
use crate::bench::publisher::{PROBE_TOPIC, Publisher};
use crate::bench::standin::{Prepared, StandIn};
use crate::bench::{Outcome, Tally, bare, describe, human, peak_rss, summary};
use crate::config::url::{BrokerUrl, Scheme};
use crate::config::{Config, Protocol};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// A subscriber that has received nothing new for this long has received all it will.
const IDLE: Duration = Duration::from_secs(3);
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

pub async fn ingest(source: &SourceArgs, args: &IngestArgs) -> ExitCode {
    let IngestArgs {
        messages,
        ceiling,
        rules,
        devices,
        rounds,
        steady,
        seconds,
    } = *args;
    if messages == 0 || devices == 0 {
        eprintln!("fleetop: bench ingest: --messages and --devices must be at least 1");
        return ExitCode::from(2);
    }
    if rules > 0 && !ceiling {
        eprintln!("fleetop: bench ingest: --rules measures against the stand-in: add --ceiling");
        return ExitCode::from(2);
    }
    let run = if let Some(rate) = steady {
        steady_run(source, rate, seconds).await
    } else if rules > 0 {
        alerts_run(source, messages, rules, devices, rounds).await
    } else if devices != flood::DEVICES {
        Err("--devices applies to the --rules run".into())
    } else if ceiling {
        ceiling_run(source, messages, rounds).await
    } else {
        broker_run(source, messages).await
    };
    match run {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fleetop: bench ingest: {e}");
            ExitCode::from(1)
        }
    }
}

/// Longest a subscriber may take for `n` messages before the bench gives up on it: a
/// safety net for a stream that trickles; a stream that stops is noticed after [`IDLE`].
fn limit_for(n: u64) -> Duration {
    Duration::from_secs(60 + n / 5_000)
}

fn header(n: u64, block: &[flood::Message], to: &str) {
    println!(
        "bench ingest: {n} messages over {} devices, {:.0} B JSON on average, QoS 0, {to}",
        flood::DEVICES.min(n as usize),
        flood::mean_payload(block)
    );
    if let Some(m) = block.first() {
        println!(
            "  e.g. {} {}",
            String::from_utf8_lossy(&m.topic),
            String::from_utf8_lossy(&m.payload)
        );
    }
}

/// Finds and starts mosquitto_sub, or says why the reference is missing.
fn reference(host: &str, port: u16) -> Option<MosquittoSub> {
    let Some(program) = mosquitto::find() else {
        println!(
            "mosquitto_sub is not on PATH: measuring fleetop alone \
             (install mosquitto-clients for the reference figure)"
        );
        return None;
    };
    match MosquittoSub::spawn(&program, host, port, FILTER) {
        Ok(s) => Some(s),
        Err(e) => {
            println!("mosquitto_sub cannot be measured here ({e}): measuring fleetop alone");
            None
        }
    }
}

fn fleetop_line(p: &Pipeline, n: u64, what: &str) {
    let t = &p.tally;
    let got = p.applied() + p.dropped();
    let verb = if p.is_transport_only() {
        "taken off the queue"
    } else {
        "applied"
    };
    println!(
        "fleetop {what}: got {got} of {n} ({verb} {}, queue drops {}), {verb} at {} msg/s over {:.2} s",
        p.applied(),
        p.dropped(),
        t.rate().map_or("?".into(), human),
        t.secs()
    );
}

fn reference_line(t: &Tally, n: u64) {
    println!(
        "mosquitto_sub: got {} of {n}, {} msg/s over {:.2} s",
        t.count,
        t.rate().map_or("?".into(), human),
        t.secs()
    );
}

// ---------------------------------------------------------------------------------------
// Through a real broker.

/// The `--steady` run: a broker URL checked like the flood's, then [`steady::run`].
async fn steady_run(source: &SourceArgs, rate: f64, secs: u64) -> Result<String, String> {
    let url_text = source
        .broker
        .clone()
        .ok_or("--steady measures through a broker: pass --broker mqtt://host:1883")?;
    let url = BrokerUrl::parse(&url_text).map_err(|e| format!("--broker: {e}"))?;
    if url.scheme != Scheme::Mqtt || !rate.is_finite() || rate <= 0.0 || secs == 0 {
        return Err(
            "--steady needs an mqtt:// --broker, a rate above 0 and --seconds of 1 or more".into(),
        );
    }
    if url.username.is_some() {
        return Err(
            "--steady runs its subscribers without credentials: use a local broker that needs none"
                .into(),
        );
    }
    crate::bench::steady::run(&url.host, url.port, &url_text, None, rate, secs).await
}

async fn broker_run(source: &SourceArgs, n: u64) -> Result<String, String> {
    let url_text = source.broker.clone().ok_or(
        "pass --broker mqtt://host:1883 to flood a broker, or --ceiling for the loopback stand-in",
    )?;
    let url = BrokerUrl::parse(&url_text).map_err(|e| format!("--broker: {e}"))?;
    if url.scheme != Scheme::Mqtt {
        return Err(
            "the flood publisher and mosquitto_sub are run over plain TCP: \
                    use an mqtt:// URL"
                .into(),
        );
    }
    let block = Arc::new(flood::block(n));
    header(n, &block, &format!("through {url_text}"));

    let mut pipeline = start_pipeline(source, &url_text, &pipeline::config("")?)?;
    pipeline.connected(CONNECT_LIMIT).await?;
    println!(
        "fleetop: whole pipeline (MQTT {}, fleet {} as json: decode, map, apply with history), \
         subscribed to {FILTER}",
        pipeline.protocol,
        flood::TEMPLATE
    );
    let mut sub = reference(&url.host, url.port);
    if let Some(s) = &sub {
        println!(
            "mosquitto_sub: `{}` (pid {}), messages counted from its write(2) calls in /proc/{}/io",
            s.command, s.pid, s.pid
        );
    }
    let publisher =
        Publisher::connect(&url.host, url.port, pipeline.credentials.clone(), block).await?;
    wait_ready(&mut pipeline, &mut sub, &publisher).await?;

    println!("flooding: one rumqttc publisher (MQTT 3.1.1, QoS 0) on its own thread");
    pipeline.rebase();
    if let Some(s) = &sub {
        s.rebase();
    }
    let mut done = publisher.flood(n);
    let started = Instant::now();
    let mut next_report = started + Duration::from_secs(1);
    let mut published = None;
    let mut quiet_since = Instant::now();
    let mut last_seen = (0, 0);
    loop {
        pipeline.pump_for(Duration::from_millis(20)).await;
        if published.is_none()
            && let Ok(r) = done.try_recv()
        {
            let p = r?;
            println!(
                "published {} in {:.2} s ({} msg/s offered to the broker)",
                p.messages,
                p.secs,
                human(p.messages as f64 / p.secs.max(1e-9))
            );
            published = Some(p);
        }
        let f = pipeline.applied() + pipeline.dropped();
        let m = sub.as_ref().map_or(0, |s| s.tally().count);
        if Instant::now() >= next_report {
            next_report = Instant::now() + Duration::from_secs(1);
            println!(
                "  {:>4.1} s: published {}, fleetop {} (queue drops {}){}",
                started.elapsed().as_secs_f64(),
                publisher.sent.load(Ordering::Relaxed),
                pipeline.applied(),
                pipeline.dropped(),
                sub.as_ref()
                    .map_or(String::new(), |_| format!(", mosquitto_sub {m}"))
            );
        }
        if f >= n && (sub.is_none() || m >= n) {
            break;
        }
        if (f, m) != last_seen {
            last_seen = (f, m);
            quiet_since = Instant::now();
        } else if published.is_some() && quiet_since.elapsed() >= IDLE {
            println!(
                "nothing more arrived for {} s: the broker dropped the rest",
                IDLE.as_secs()
            );
            break;
        }
        if started.elapsed() >= limit_for(n) {
            println!("giving up after {} s", limit_for(n).as_secs());
            break;
        }
        if let Some(s) = &mut sub
            && let Some(why) = s.exited().await
        {
            println!("{why}");
            break;
        }
    }
    fleetop_line(&pipeline, n, "whole pipeline");
    let got = pipeline.applied() + pipeline.dropped();
    let (reference, sub_got) = match sub {
        Some(s) => {
            let t = s.stop().await;
            reference_line(&t, n);
            (t.rate(), Some(t.count))
        }
        None => (None, None),
    };
    let lost = |got: u64| n.saturating_sub(got);
    if lost(got) > 0 || sub_got.is_some_and(|g| lost(g) > 0) {
        println!(
            "not delivered by the broker (it may drop QoS 0 for slow subscribers): fleetop {}{}",
            lost(got),
            sub_got.map_or(String::new(), |g| format!(", mosquitto_sub {}", lost(g)))
        );
    }
    Ok(summary(pipeline.outcome(n), reference))
}

/// Publishes probes until both subscribers have seen one, so neither misses the flood's
/// start; then lets stragglers arrive before the counts are zeroed.
async fn wait_ready(
    pipeline: &mut Pipeline,
    sub: &mut Option<MosquittoSub>,
    publisher: &Publisher,
) -> Result<(), String> {
    let started = Instant::now();
    // mosquitto_sub's first two writes are its CONNECT and SUBSCRIBE; any write after
    // that is a message it printed.
    let mut sub_base = None;
    loop {
        publisher.probe();
        pipeline.pump_for(Duration::from_millis(100)).await;
        let fleetop_ready = pipeline.applied() > 0;
        let sub_ready = match sub {
            None => true,
            Some(s) => {
                if let Some(why) = s.exited().await {
                    return Err(why);
                }
                let w = s.writes();
                match sub_base {
                    None if w >= 2 => {
                        sub_base = Some(w);
                        false
                    }
                    Some(b) => w > b,
                    None => false,
                }
            }
        };
        if fleetop_ready && sub_ready {
            break;
        }
        if started.elapsed() >= CONNECT_LIMIT {
            return Err(format!(
                "the subscribers did not see a probe on {PROBE_TOPIC} within {} s \
                 (fleetop: {}, mosquitto_sub: {})",
                CONNECT_LIMIT.as_secs(),
                if fleetop_ready { "ready" } else { "nothing" },
                if sub_ready { "ready" } else { "nothing" },
            ));
        }
    }
    pipeline.pump_for(Duration::from_millis(300)).await;
    println!(
        "subscribed: {} saw a probe on {PROBE_TOPIC} after {:.1} s",
        if sub.is_some() {
            "fleetop and mosquitto_sub"
        } else {
            "fleetop"
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Against loopback stand-ins.

async fn ceiling_run(source: &SourceArgs, n: u64, rounds: u32) -> Result<String, String> {
    if source.broker.is_some() {
        println!("(--ceiling uses its own loopback stand-in broker; --broker is ignored)");
    }
    let block = flood::block(n);
    header(n, &block, "from a loopback stand-in broker");
    let prepared = Arc::new(Prepared::new(&block));
    drop(block);
    println!(
        "  each subscriber gets its own stand-in: it answers CONNECT and SUBSCRIBE, then writes \
         {} pre-encoded PUBLISH packets in 256 KiB chunks ({:.0} MB for MQTT 3.1.1)",
        n,
        prepared.v311.wire_bytes(n) as f64 / 1e6
    );

    println!("rumqttc bare event loop (a client that only counts Publish events):");
    for mqtt in [Mqtt::V311, Mqtt::V5] {
        let stand_in = StandIn::start(prepared.clone(), n, false)?;
        let task = tokio::spawn(bare::count(stand_in.addr, mqtt, n, limit_for(n)));
        let tally = task
            .await
            .map_err(|e| format!("bare rumqttc task: {e}"))??;
        let served = stand_in.finish()?;
        println!(
            "  {mqtt:<10}: {} msg/s over {:.2} s (stand-in wrote {:.0} MB in {:.2} s)",
            tally.rate().map_or("?".into(), human),
            tally.secs(),
            served.bytes as f64 / 1e6,
            served.writing.as_secs_f64()
        );
    }

    // The user's protocol (MQTT 5 unless --protocol says otherwise) is the headline; the
    // other one is shown for comparison. Users run fleetop both ways: with a [[fleet]]
    // and with no config at all (conventions and the generic fallback find the devices).
    let other = match source.protocol {
        Protocol::V5 => Protocol::V311,
        Protocol::V311 => Protocol::V5,
    };
    let setups = [
        ("with a [[fleet]]", pipeline::config("")?),
        ("no config", Config::parse("", None).map_err(|e| e.0)?),
    ];
    let mut best_of: [Option<Outcome>; 2] = [None; 2];
    let mut reference = None;
    let mut mosquitto_sub_missing = false;
    for round in 1..=rounds {
        if rounds > 1 {
            println!("round {round} of {rounds}:");
        }
        for (i, (what, config)) in setups.iter().enumerate() {
            let run = pipeline_on_stand_in(source, &prepared, n, false, config, what).await?;
            best_of[i] = Some(best_of[i].map_or(run, |b| b.better(run)));
        }
        if round == 1 {
            let alt = SourceArgs {
                protocol: other,
                ..source.clone()
            };
            let (what, config) = &setups[0];
            if let Err(e) = pipeline_on_stand_in(&alt, &prepared, n, false, config, what).await {
                println!("fleetop (MQTT {other}): {e}");
            }
            // The same connection task and queue with nothing applied: where the queue,
            // not the core, would be the limit.
            if let Err(e) = pipeline_on_stand_in(source, &prepared, n, true, config, what).await {
                println!("fleetop transport only: {e}");
            }
        }
        if mosquitto_sub_missing {
            continue;
        }
        match mosquitto_on_stand_in(&prepared, n).await {
            Ok(Some(rate)) => reference = best(reference, Some(rate)),
            Ok(None) => mosquitto_sub_missing = true,
            Err(e) => println!("mosquitto_sub: {e}"),
        }
    }
    let [Some(configured), Some(bare_config)] = best_of else {
        return Err("no round ran".into());
    };
    for ((what, _), run) in setups.iter().zip([configured, bare_config]) {
        println!(
            "best of {rounds} round(s), fleetop (MQTT {}, {what}): {}",
            source.protocol,
            describe(run)
        );
    }
    println!(
        "best of {rounds} round(s), mosquitto_sub: {}",
        reference.map_or("n/a".into(), |r| format!("{} msg/s", human(r)))
    );
    println!("peak RSS of this process: {}", peak_rss());
    // The headline is the worse of the two setups: what every user gets at least.
    Ok(summary(configured.worse(bare_config), reference))
}

/// The better of two measured rates.
fn best(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// fleetop's pipeline on `url` with the user's connection flags (protocol, credentials,
/// TLS) and `config`'s fleets and rules.
fn start_pipeline(source: &SourceArgs, url: &str, config: &Config) -> Result<Pipeline, String> {
    let args = SourceArgs {
        broker: Some(url.to_string()),
        config: None,
        replay: None,
        subscribe: Vec::new(),
        ..source.clone()
    };
    Pipeline::start(config, args.input(config)?, source.protocol)
}

/// fleetop's whole pipeline (or, `transport_only`, its connection task and queue) against
/// its own stand-in, set up as `config` (`what` says how, for the report); returns what
/// it applied and how fast.
async fn pipeline_on_stand_in(
    source: &SourceArgs,
    prepared: &Arc<Prepared>,
    n: u64,
    transport_only: bool,
    config: &Config,
    what: &str,
) -> Result<Outcome, String> {
    let stand_in = StandIn::start(prepared.clone(), n, false)?;
    let mut pipeline = start_pipeline(source, &stand_in.url(), config)?;
    if transport_only {
        pipeline.transport_only();
    }
    let stopped = pipeline.run_until(n, IDLE, limit_for(n)).await;
    let served = stand_in.finish();
    let kind = if transport_only {
        "connection task + queue only, nothing applied"
    } else {
        "whole pipeline"
    };
    fleetop_line(
        &pipeline,
        n,
        &format!("{kind} (MQTT {}, {what})", pipeline.protocol),
    );
    if let Some(why) = stopped {
        println!("  stopped early: {why}");
    }
    if let Err(e) = served {
        println!("  stand-in: {e}");
    }
    Ok(pipeline.outcome(n))
}

/// The whole pipeline on the stand-in's flood over `devices` devices, without rules and
/// with `rules` rules, alternately (`rounds` times each, best of each: the machine's noise
/// hits both); the last line is the drop in msg/s that evaluating the rules costs.
async fn alerts_run(
    source: &SourceArgs,
    n: u64,
    rules: usize,
    devices: usize,
    rounds: u32,
) -> Result<String, String> {
    if source.broker.is_some() {
        println!("(--ceiling uses its own loopback stand-in broker; --broker is ignored)");
    }
    let block = flood::block_over(n, devices);
    println!(
        "bench ingest --rules: {n} messages over {devices} devices, {:.0} B JSON on average, \
         QoS 0, from a loopback stand-in broker",
        flood::mean_payload(&block)
    );
    let prepared = Arc::new(Prepared::new(&block));
    drop(block);
    let rules_toml = crate::bench::alerts::rules_toml(rules, pipeline::FLEET);
    println!(
        "  {rules} rules (+ the built-ins) over level_pct, temp_c, battery_v, rssi, flow_lpm, \
         pump: thresholds, hysteresis, for, avg/delta/rate/max windows, globs"
    );
    let mut fastest = [None::<f64>; 2];
    for round in 1..=rounds {
        for (i, alerts) in ["", rules_toml.as_str()].into_iter().enumerate() {
            println!(
                "round {round}, {}:",
                if i == 0 {
                    "no rules".to_string()
                } else {
                    format!("{rules} rules")
                }
            );
            let config = pipeline::config(alerts)?;
            let run =
                pipeline_on_stand_in(source, &prepared, n, false, &config, "a [[fleet]]").await?;
            fastest[i] = best(fastest[i], run.rate);
        }
    }
    let (Some(without), Some(with)) = (fastest[0], fastest[1]) else {
        return Err("a run measured no rate".into());
    };
    let drop_pct = (1.0 - with / without) * 100.0;
    Ok(format!(
        "alerts: {rules} rules x {devices} devices: {} msg/s vs {} msg/s without rules, drop {drop_pct:.1} % (goal <= 20 %)",
        human(with),
        human(without)
    ))
}

/// mosquitto_sub against its own stand-in; `Ok(None)` when it is not installed.
async fn mosquitto_on_stand_in(prepared: &Arc<Prepared>, n: u64) -> Result<Option<f64>, String> {
    let mut stand_in = StandIn::start(prepared.clone(), n, true)?;
    let Some(mut sub) = reference(&stand_in.addr.ip().to_string(), stand_in.addr.port()) else {
        return Ok(None);
    };
    println!(
        "mosquitto_sub: `{}` (pid {}), messages counted from its write(2) calls in /proc/{}/io",
        sub.command, sub.pid, sub.pid
    );
    stand_in.subscribed(CONNECT_LIMIT).await?;
    // Its CONNECT and SUBSCRIBE were writes too: let the sampler see them, then count
    // from there.
    tokio::time::sleep(Duration::from_millis(50)).await;
    sub.rebase();
    stand_in.go();
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let got = sub.tally().count;
        if got >= n {
            break;
        }
        if got != last {
            last = got;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= IDLE + IDLE {
            println!("  nothing more for {} s", (IDLE + IDLE).as_secs());
            break;
        }
        if let Some(e) = sub.error() {
            println!("  {e}");
            break;
        }
        if let Some(why) = sub.exited().await {
            println!("  {why}");
            break;
        }
        if started.elapsed() >= limit_for(n) {
            println!("  giving up after {} s", limit_for(n).as_secs());
            break;
        }
    }
    let tally = sub.stop().await;
    reference_line(&tally, n);
    let _ = stand_in.finish();
    Ok(tally.rate())
}
