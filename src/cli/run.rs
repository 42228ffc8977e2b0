//! The loops behind the terminal-free commands: snapshot, headless, record, and the plain
//! text view used until the TUI lands.

use super::Format;
use crate::config::Config;
use crate::engine::{Engine, Input, Running};
use crate::output::alert_log::Place;
use crate::output::stream::{self, LineStream};
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
/// How long a finished stream waits for its reader to take the last lines.
const FINISH_PATIENCE: Duration = Duration::from_secs(5);

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

/// Where this run's acks, silences and alert log belong: its brokers (or recording) and
/// its config file.
pub fn place_of(config: &Config, input: &Input) -> Place {
    let sources: Vec<String> = match input {
        Input::Brokers(specs) => specs.iter().map(|s| s.url.to_string()).collect(),
        Input::Replay { path, .. } => vec![format!("replay:{}", path.display())],
    };
    Place::watching(&sources, config.origin.path.as_deref())
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

/// How long to collect: a live broker for `wait`; a recording whole, whatever `wait`
/// says (a snapshot of 17 % of an incident would be a wrong answer, not a quick one).
fn patience(input: &Input, wait: Duration) -> Option<Duration> {
    (!matches!(input, Input::Replay { .. })).then_some(wait)
}

/// Runs the engine for `wait`, or until every source has ended and all it sent is applied.
async fn collect(engine: &mut Engine, wait: Option<Duration>) {
    let deadline = wait.map(|w| Instant::now() + w);
    let mut ticker = interval(TICK);
    loop {
        tokio::select! {
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => break,
            more = engine.pump(BATCH) => if !more { break },
            _ = ticker.tick() => engine.tick(),
        }
        if deadline.is_some() && all_finished(engine) {
            break;
        }
    }
    engine.pump_ready();
    engine.tick();
}

/// Starts the engine and collects for `wait`; exit 1 with reasons if no broker was reachable.
async fn collected(config: &Config, input: Input, wait: Duration) -> Result<Engine, ExitCode> {
    let patience = patience(&input, wait);
    let mut engine = start(config, input)?;
    collect(&mut engine, patience).await;
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
    let snap = snapshot::build(&engine.view());
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

/// `fleetop check`: collect for `wait` (by default what the rules' `for` needs, see
/// [`crate::alerts::default_wait`]), then one summary line and a Nagios exit code:
/// 0 OK, 1 warning (minor/warning alerts), 2 critical (critical/major), 3 unknown (no broker).
pub async fn check(config: &Config, input: Input, wait: Option<Duration>) -> ExitCode {
    // The wait comes from the compiled rules; what it means (a recording is read whole)
    // from the input, which the engine takes.
    if let Err(code) = replay_readable(&input) {
        return code;
    }
    let kind = input.clone();
    let mut engine = match Engine::start(config, input) {
        Ok(e) => e,
        Err(e) => {
            println!("UNKNOWN: {e}");
            return ExitCode::from(3);
        }
    };
    // Silences set in the UI for the same brokers and config apply to check too; check
    // itself records nothing.
    if let Some(path) = place_of(config, &kind).log_path()
        && let Ok(text) = std::fs::read_to_string(path)
    {
        let now = engine.clock.now_ms();
        engine.alerts.restore(
            crate::alerts::parse_log(&text).0,
            now,
            crate::alerts::Resume::OperatorState,
        );
    }
    let wait = wait.unwrap_or_else(|| crate::alerts::default_wait(engine.alerts.rules()));
    collect(&mut engine, patience(&kind, wait)).await;
    if let Some(reasons) = all_unreachable(&engine, wait) {
        println!("UNKNOWN: could not connect to {}", reasons.join("; "));
        return ExitCode::from(3);
    }
    let summary = crate::alerts::check_summary(&engine.alerts);
    println!("{}", summary.line);
    ExitCode::from(summary.code)
}

/// NDJSON events until stopped (or until a replay ends). The core runs on its own; this
/// loop takes what it produced a few times a second and queues the lines for a writer
/// thread, so a consumer that stops reading costs lines (counted and said), never data.
pub async fn headless(
    config: &Config,
    input: Input,
    place: &Place,
    stats_every: Duration,
) -> ExitCode {
    let mut engine = match start(config, input) {
        Ok(e) => e,
        Err(code) => return code,
    };
    engine.keep_known_devices(place);
    engine.keep_alert_log(place);
    engine.keep_audit_log();
    let core = Running::spawn(engine);
    let mut out = match LineStream::start(std::io::stdout(), stream::QUEUE_LINES) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("fleetop: cannot start the output writer: {e}");
            return ExitCode::from(1);
        }
    };
    let mut ticker = interval(TICK);
    let mut next_stats = Instant::now() + stats_every;
    let stop = crate::signals::shutdown();
    tokio::pin!(stop);
    loop {
        let mut finished = false;
        tokio::select! {
            _ = &mut stop => finished = true,
            _ = ticker.tick() => {}
        }
        // Read before taking the lines: once drained, everything the sources sent is in.
        let drained = core.drained();
        let (lines, now) = {
            let mut engine = core.lock();
            if drained {
                engine.tick();
                engine.settle();
                finished = true;
            }
            let feed = engine.take_feed();
            let events: Vec<_> = engine.state.drain_events().collect();
            let view = engine.view();
            let mut lines: Vec<String> = events
                .iter()
                .map(|ev| headless::event(&view, ev).to_string())
                .collect();
            lines.extend(
                feed.transitions
                    .iter()
                    .map(|t| headless::alert(t).to_string()),
            );
            lines.extend(
                feed.hook_reports
                    .iter()
                    .map(|m| headless::hook(m, view.now_ms).to_string()),
            );
            if finished || Instant::now() >= next_stats {
                next_stats += stats_every;
                lines.push(headless::stats(&view).to_string());
            }
            (lines, view.now_ms)
        };
        for line in lines {
            if !out.line(line, |n| headless::output_dropped(n, now).to_string()) {
                return ExitCode::SUCCESS; // the reader went away (e.g. `| head`)
            }
        }
        if finished {
            out.finish(FINISH_PATIENCE);
            if let Some(reasons) = all_unreachable(&core.lock(), Duration::ZERO) {
                return report_unreachable(&reasons);
            }
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
    let stop = crate::signals::shutdown();
    tokio::pin!(stop);
    let mut written = 0u64;
    eprintln!("recording to {} (Ctrl-C to stop)", path.display());
    loop {
        tokio::select! {
            _ = &mut stop => break,
            ev = engine.next_event() => {
                let Some(ev) = ev else { break };
                if let crate::source::SourceEvent::Message(m) = &ev {
                    let broker = several.then(|| names[m.conn.index()].as_str());
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
pub async fn live(
    config: &Config,
    input: Input,
    place: &Place,
    options: crate::tui::TuiOptions,
) -> ExitCode {
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
    engine.keep_known_devices(place);
    engine.keep_alert_log(place);
    engine.keep_audit_log();
    match crate::tui::run(engine, options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleetop: {e}");
            ExitCode::from(1)
        }
    }
}
