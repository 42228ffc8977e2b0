//! `fleetop cmd DEVICE COMMAND [k=v…]`: one command for scripts, through the same
//! templates, audit log and tracking as the keyboard. Exit codes are fixed: 0 success,
//! 1 failure, timeout or read-only refusal, 2 bad arguments.

use super::{CmdArgs, SourceArgs};
use crate::commands::{RequestState, parse_args};
use crate::engine::Engine;
use std::process::ExitCode;
use std::time::Duration;
use tokio::time::{Instant, interval, sleep_until};

const TICK: Duration = Duration::from_millis(50);

pub async fn cmd(source: &SourceArgs, a: &CmdArgs) -> ExitCode {
    let bad = |msg: String| {
        eprintln!("fleetop cmd: {msg}");
        ExitCode::from(2)
    };
    let (config, input) = match source.resolve() {
        Ok(x) => x,
        Err(e) => return bad(e),
    };
    let args = match parse_args(a.args.iter().map(String::as_str)) {
        Ok(x) => x,
        Err(e) => return bad(e),
    };
    let set = match crate::commands::CommandSet::from_config(&config) {
        Ok(s) => s,
        Err(e) => return bad(e.0),
    };
    // Parameters of a configured command are checked before connecting: a typo fails at
    // once. Commands a device convention announces are known once the device is seen.
    let checks: Vec<Result<_, String>> = set
        .commands
        .iter()
        .filter(|c| c.name == a.command)
        .map(|c| c.check_args(&args))
        .collect();
    if !checks.iter().any(Result::is_ok)
        && let Some(Err(e)) = checks.into_iter().next()
    {
        return bad(e);
    }
    if source.read_only || config.read_only {
        eprintln!(
            "fleetop cmd: read-only: refused to send `{}` to {} (--read-only or read_only = true)",
            a.command, a.device
        );
        return ExitCode::from(1);
    }
    let mut engine = match Engine::start(&config, input) {
        Ok(e) => e,
        Err(e) => return bad(e),
    };
    engine.keep_audit_log();

    let Some(device) = find_device(&mut engine, &a.device, &a.command, a.find).await else {
        if !(0..engine.conns.len()).any(|i| engine.ever_connected(i)) {
            let why: Vec<String> = engine
                .state
                .connections
                .iter()
                .map(|c| format!("`{}`: {}", c.name, c.state))
                .collect();
            eprintln!("fleetop cmd: could not connect to {}", why.join("; "));
            return ExitCode::from(1);
        }
        return bad(format!(
            "unknown device `{}`: not seen within {:?}; check the name (fleetop snapshot lists devices) or wait longer with --find",
            a.device, a.find
        ));
    };
    let prepared = match engine.prepare(device, &a.command, &args) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let id = match engine.send(prepared, device, &crate::logging::operator()) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("fleetop cmd: {e}");
            return ExitCode::from(1);
        }
    };
    // Without --wait the broker's acknowledgement is enough.
    let done = |s: &RequestState| s.is_final() || (!a.wait && *s == RequestState::Sent);
    let mut ticker = interval(TICK);
    while !engine.request_state(id).is_none_or(done) {
        tokio::select! {
            _ = engine.pump(4096) => {}
            _ = ticker.tick() => engine.tick(),
        }
    }
    engine.pump_ready();
    engine.tick();
    report(&engine, id, a.json)
}

/// Runs the engine until `name` shows up, for at most `wait`.
/// Runs the engine until `name` shows up and takes `command` (a device convention
/// announces its commands with its state, which may come after its first message), for
/// at most `wait`. Past the deadline a device that was seen is returned all the same, so
/// the caller can say what it does take.
async fn find_device(
    engine: &mut Engine,
    name: &str,
    command: &str,
    wait: Duration,
) -> Option<crate::vocab::DeviceId> {
    let deadline = Instant::now() + wait;
    let mut ticker = interval(TICK);
    loop {
        if let Some(d) = engine.state.find_device(name) {
            let takes = engine
                .desk
                .set
                .for_device(engine.state.fleet_name(d), d.facts.as_deref())
                .iter()
                .any(|c| c.name == command);
            if takes || Instant::now() >= deadline {
                return Some(d.id);
            }
        }
        tokio::select! {
            _ = sleep_until(deadline) => {
                return engine.state.find_device(name).map(|d| d.id);
            }
            more = engine.pump(4096) => if !more {
                return engine.state.find_device(name).map(|d| d.id);
            },
            _ = ticker.tick() => engine.tick(),
        }
    }
}

fn report(engine: &Engine, id: crate::commands::RequestId, json: bool) -> ExitCode {
    let Some(r) = engine.desk.tracker.get(id) else {
        return ExitCode::from(1);
    };
    let ok = matches!(r.state, RequestState::Succeeded(_) | RequestState::Sent);
    let broker = engine
        .conns
        .get(r.conn.index())
        .map_or("", |c| c.name.as_str());
    // Without --wait a request may end at the broker's ack: its latency is to there.
    let latency = r
        .latency_ms()
        .or_else(|| r.sent_ms.map(|s| s - r.created_ms));
    if json {
        let v = serde_json::json!({
            "id": r.tag,
            "device": r.device,
            "command": r.command,
            "broker": broker,
            "topic": r.topic,
            "payload": String::from_utf8_lossy(&r.payload),
            "state": r.state.as_str(),
            "reason": r.state.reason(),
            "latency_ms": latency,
            "via": r.wait.describe(),
        });
        println!("{v}");
    } else {
        let took = latency.map(|ms| format!(" in {ms} ms")).unwrap_or_default();
        let why = r
            .state
            .reason()
            .map(|w| format!(": {w}"))
            .unwrap_or_default();
        let line = format!(
            "{} {}: {}{took}{why}",
            r.device,
            r.command,
            r.state.as_str()
        );
        if ok {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
