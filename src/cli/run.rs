//! The loops behind the terminal-free commands: snapshot, headless, record, and the plain
//! text view used until the TUI lands.

use super::Format;
use crate::config::Config;
use crate::engine::{Engine, Input};
use crate::output::{headless, snapshot};
use crate::source::record::Line;
use crate::vocab::LinkState;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use tokio::time::{Instant, interval, sleep_until};

/// Events applied per wake-up before time and output get a turn.
const BATCH: usize = 4096;
const TICK: Duration = Duration::from_millis(250);

/// Resolves when the user or the system asks fleetop to stop: Ctrl-C, SIGTERM, SIGHUP.
/// The handlers are installed when this is called, not when first polled: a signal that
/// comes before the first poll must still stop fleetop cleanly (terminal restored).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let streams = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        )
    };
    async move {
        #[cfg(unix)]
        if let (Ok(mut int), Ok(mut term), Ok(mut hup)) = streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// True once every source is a finished replay (live brokers never finish).
fn all_finished(engine: &Engine) -> bool {
    engine
        .state
        .connections
        .iter()
        .all(|c| matches!(c.state, LinkState::Finished | LinkState::Failed(_)))
}

/// Why each connection that never came up did not, or `None` if at least one did.
fn all_unreachable(engine: &Engine, waited: Duration) -> Option<Vec<String>> {
    let reasons: Vec<String> = engine
        .state
        .connections
        .iter()
        .enumerate()
        .filter(|(i, _)| !engine.ever_connected(*i))
        .map(|(i, c)| {
            let url = engine.conns[i]
                .url
                .as_ref()
                .map(|u| format!(" ({u})"))
                .unwrap_or_default();
            match &c.state {
                LinkState::Down { reason, .. } | LinkState::Failed(reason) => {
                    format!("`{}`{url}: {reason}", c.name)
                }
                other => format!("`{}`{url}: still {other} after {waited:?}", c.name),
            }
        })
        .collect();
    (reasons.len() == engine.state.connections.len()).then_some(reasons)
}

fn report_unreachable(reasons: &[String]) -> ExitCode {
    for r in reasons {
        eprintln!("fleetop: could not connect to {r}");
    }
    ExitCode::from(1)
}

/// Starts the engine, or says why not (exit 2: the configuration cannot run).
fn start(config: &Config, input: Input) -> Result<Engine, ExitCode> {
    replay_readable(&input)?;
    Engine::start(config, input).map_err(|e| {
        eprintln!("fleetop: {e}");
        ExitCode::from(2)
    })
}

/// A `--replay` that cannot be read fails before anything starts (exit 2).
fn replay_readable(input: &Input) -> Result<(), ExitCode> {
    match input {
        Input::Replay { path, .. } => crate::source::replay::open_check(path).map_err(|e| {
            eprintln!("fleetop: {e}");
            ExitCode::from(2)
        }),
        Input::Brokers(_) => Ok(()),
    }
}

/// Runs the engine for `wait`, or until every source (a replay) has finished.
async fn collect(engine: &mut Engine, wait: Duration) {
    let deadline = Instant::now() + wait;
    let mut ticker = interval(TICK);
    loop {
        tokio::select! {
            _ = sleep_until(deadline) => break,
            more = engine.pump(BATCH) => if !more { break },
            _ = ticker.tick() => engine.tick(),
        }
        if all_finished(engine) {
            break;
        }
    }
    engine.pump_ready();
    engine.tick();
}

/// Starts the engine and collects for `wait`; exit 1 with reasons if no broker was reachable.
async fn collected(config: &Config, input: Input, wait: Duration) -> Result<Engine, ExitCode> {
    let mut engine = start(config, input)?;
    collect(&mut engine, wait).await;
    match all_unreachable(&engine, wait) {
        Some(reasons) => Err(report_unreachable(&reasons)),
        None => Ok(engine),
    }
}

/// Connect, collect for `wait`, print; exit 1 with reasons if no broker was reachable.
pub async fn snapshot(config: &Config, input: Input, wait: Duration, format: Format) -> ExitCode {
    let engine = match collected(config, input, wait).await {
        Ok(e) => e,
        Err(code) => return code,
    };
    let snap = snapshot::build(&engine);
    let text = match format {
        Format::Table => snapshot::table(&snap),
        Format::Json => serde_json::to_string_pretty(&snap).unwrap_or_default() + "\n",
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// `fleetop discover`: listen for `wait`, then the conventions found and a config snippet.
pub async fn discover(config: &Config, input: Input, wait: Duration, format: Format) -> ExitCode {
    let engine = match collected(config, input, wait).await {
        Ok(e) => e,
        Err(code) => return code,
    };
    let found = crate::output::discover::build(&engine.state);
    let source = engine
        .conns
        .iter()
        .map(|c| c.url.clone().unwrap_or_else(|| c.name.clone()))
        .collect::<Vec<_>>()
        .join(", ");
    let text = match format {
        Format::Table => crate::output::discover::text(&found, &source),
        Format::Json => serde_json::to_string_pretty(&found).unwrap_or_default() + "\n",
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// `fleetop check`: collect for `wait`, then one summary line and a Nagios exit code:
/// 0 OK, 1 warning (minor/warning alerts), 2 critical (critical/major), 3 unknown (no broker).
pub async fn check(config: &Config, input: Input, wait: Duration) -> ExitCode {
    if let Err(code) = replay_readable(&input) {
        return code;
    }
    let mut engine = match Engine::start(config, input) {
        Ok(e) => e,
        Err(e) => {
            println!("UNKNOWN: {e}");
            return ExitCode::from(3);
        }
    };
    // Silences set in the UI apply to check too; check itself records nothing.
    if let Some(path) = crate::output::alert_log::AlertLog::default_path()
        && let Ok(text) = std::fs::read_to_string(path)
    {
        let now = engine.clock.now_ms();
        engine
            .alerts
            .restore(crate::alerts::parse_log(&text).0, now);
    }
    collect(&mut engine, wait).await;
    if let Some(reasons) = all_unreachable(&engine, wait) {
        println!("UNKNOWN: could not connect to {}", reasons.join("; "));
        return ExitCode::from(3);
    }
    let summary = crate::alerts::check_summary(&engine.alerts);
    println!("{}", summary.line);
    ExitCode::from(summary.code)
}

/// NDJSON events until stopped (or until a replay ends).
pub async fn headless(config: &Config, input: Input, stats_every: Duration) -> ExitCode {
    let mut engine = match start(config, input) {
        Ok(e) => e,
        Err(code) => return code,
    };
    engine.keep_alert_log();
    engine.keep_audit_log();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut ticker = interval(TICK);
    let mut next_stats = Instant::now() + stats_every;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let mut finished = false;
        tokio::select! {
            _ = &mut stop => finished = true,
            more = engine.pump(BATCH) => if !more { finished = true },
            _ = ticker.tick() => {
                engine.tick();
                if Instant::now() >= next_stats {
                    next_stats += stats_every;
                    let _ = writeln!(out, "{}", headless::stats(&engine));
                }
            }
        }
        if all_finished(&engine) {
            engine.pump_ready();
            engine.tick();
            finished = true;
        }
        let events: Vec<_> = engine.state.drain_events().collect();
        let mut lines: Vec<_> = events
            .iter()
            .map(|ev| headless::event(&engine, ev))
            .collect();
        lines.extend(engine.drain_alerts().iter().map(headless::alert));
        let now = engine.clock.now_ms();
        lines.extend(
            engine
                .drain_hook_reports()
                .iter()
                .map(|m| headless::hook(m, now)),
        );
        for line in lines {
            if writeln!(out, "{line}").is_err() {
                return ExitCode::SUCCESS; // the reader went away (e.g. `| head`)
            }
        }
        if finished {
            let _ = writeln!(out, "{}", headless::stats(&engine));
            let _ = out.flush();
            if let Some(reasons) = all_unreachable(&engine, Duration::ZERO) {
                return report_unreachable(&reasons);
            }
            return ExitCode::SUCCESS;
        }
        if out.flush().is_err() {
            return ExitCode::SUCCESS;
        }
    }
}

/// Raw traffic to `out`, one message a line, until stopped.
pub async fn record(config: &Config, input: Input, path: &Path) -> ExitCode {
    let file = match std::fs::File::create(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fleetop: cannot create {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::BufWriter::new(file);
    let mut engine = match start(config, input) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let several = engine.conns.len() > 1;
    let names: Vec<String> = engine.conns.iter().map(|c| c.name.clone()).collect();
    let mut ticker = interval(Duration::from_secs(1));
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut written = 0u64;
    eprintln!("recording to {} (Ctrl-C to stop)", path.display());
    loop {
        tokio::select! {
            _ = &mut stop => break,
            ev = engine.next_event() => {
                let Some(ev) = ev else { break };
                if let crate::source::SourceEvent::Message(m) = &ev {
                    let broker = several.then(|| names[m.conn as usize].as_str());
                    let line = Line::from_message(m, broker);
                    if serde_json::to_writer(&mut out, &line).is_err() || out.write_all(b"\n").is_err() {
                        eprintln!("fleetop: cannot write {}", path.display());
                        return ExitCode::from(1);
                    }
                    written += 1;
                }
                engine.handle(ev);
            }
            _ = ticker.tick() => {
                engine.tick();
                let _ = out.flush();
                for ev in engine.state.drain_events() {
                    if let crate::fleet::FleetEvent::LinkChanged { state, .. } = ev {
                        eprintln!("broker: {state}");
                    }
                }
            }
        }
        if all_finished(&engine) {
            break;
        }
    }
    if out.flush().is_err() {
        eprintln!("fleetop: cannot write {}", path.display());
        return ExitCode::from(1);
    }
    if let Some(reasons) = all_unreachable(&engine, Duration::ZERO) {
        return report_unreachable(&reasons);
    }
    eprintln!("recorded {written} messages to {}", path.display());
    ExitCode::SUCCESS
}

/// The terminal UI; without a terminal, says what to use instead.
pub async fn live(config: &Config, input: Input, options: crate::tui::TuiOptions) -> ExitCode {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprintln!(
            "fleetop: the live view needs a terminal; for scripts use --headless (NDJSON) or `fleetop snapshot`"
        );
        return ExitCode::from(2);
    }
    let mut engine = match start(config, input) {
        Ok(e) => e,
        Err(code) => return code,
    };
    engine.keep_alert_log();
    engine.keep_audit_log();
    match crate::tui::run(engine, options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleetop: {e}");
            ExitCode::from(1)
        }
    }
}
