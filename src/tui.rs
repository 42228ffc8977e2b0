//! The terminal edge: raw mode and the alternate screen, restored on every way out (q,
//! Ctrl-C, panic, SIGTERM, SIGHUP); events in, frames out, at most `fps` frames a second,
//! and only when something visible changed.

use crate::app::{App, CommandOp, Effect, View, keys};
use crate::engine::Engine;
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{Event, EventStream, KeyEventKind};
use ratatui::crossterm::{cursor, event, execute, terminal};
use ratatui::{Terminal, TerminalOptions, Viewport};
use std::io::{BufWriter, Write};
use std::time::Duration;
use tokio::time::{Instant, interval};

/// Options for the live view.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub fps: f64,
    pub slow_link: bool,
    pub theme: Option<String>,
    /// Ring the bell on a new critical alert.
    pub bell: bool,
}

type Backend = CrosstermBackend<BufWriter<std::io::Stdout>>;

/// Puts the terminal back as it was. Safe to call more than once.
pub fn restore() {
    let _ = terminal::disable_raw_mode();
    let mut out = std::io::stdout();
    let _ = execute!(
        out,
        event::DisableMouseCapture,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = out.flush();
}

fn setup(mouse: bool) -> std::io::Result<Terminal<Backend>> {
    terminal::enable_raw_mode()?;
    let mut out = std::io::stdout();
    execute!(out, terminal::EnterAlternateScreen, cursor::Hide)?;
    if mouse {
        execute!(out, event::EnableMouseCapture)?;
    }
    // A panic must not leave the user's shell in raw mode.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    // Buffered: one write per frame, which matters over SSH.
    let backend = CrosstermBackend::new(BufWriter::with_capacity(64 * 1024, std::io::stdout()));
    Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fullscreen,
        },
    )
}

/// Runs the live view until the user quits or a signal arrives.
pub async fn run(mut engine: Engine, options: TuiOptions) -> Result<(), String> {
    let theme = crate::ui::theme::Theme::initial(options.theme.as_deref(), options.slow_link)?;
    let mut app = App::new(theme, options.slow_link);
    app.commands = std::sync::Arc::new(engine.desk.set.clone());
    app.read_only = engine.desk.read_only();
    app.bell = options.bell;
    // Signal handlers first: a SIGTERM right after the screen is taken must still restore it.
    let stop = crate::cli::run::shutdown_signal();
    let mut term =
        setup(!options.slow_link).map_err(|e| format!("cannot set up the terminal: {e}"))?;
    let result = event_loop(&mut term, &mut engine, &mut app, &options, stop).await;
    restore();
    result
}

async fn event_loop(
    term: &mut Terminal<Backend>,
    engine: &mut Engine,
    app: &mut App,
    options: &TuiOptions,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let fps = if options.slow_link {
        options.fps.min(1.0)
    } else {
        options.fps
    }
    .clamp(0.2, 30.0);
    let frame_every = Duration::from_secs_f64(1.0 / fps);
    let mut frames = interval(frame_every);
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut ticks = interval(Duration::from_millis(250));
    let mut input = EventStream::new();
    tokio::pin!(stop);
    let mut dirty = true;
    let mut last_draw = Instant::now();
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(()),
            more = engine.pump(4096) => {
                if !more {
                    // Every source ended (a replay): keep showing what it left.
                    tokio::time::sleep(frame_every).await;
                }
                dirty = true;
            }
            ev = input.next() => match ev {
                Some(Ok(ev)) => {
                    handle_input(ev, app, engine);
                    if app.quit {
                        return Ok(());
                    }
                    // Keys feel instant: draw now rather than at the next frame tick.
                    draw(term, app, engine, dirty)?;
                    last_draw = Instant::now();
                    dirty = false;
                }
                Some(Err(e)) => return Err(format!("terminal input failed: {e}")),
                None => return Ok(()),
            },
            _ = ticks.tick() => engine.tick(),
            _ = frames.tick() => {
                // Ages on screen change once a second even with no traffic.
                if dirty || last_draw.elapsed() >= Duration::from_secs(1) {
                    draw(term, app, engine, dirty)?;
                    last_draw = Instant::now();
                    dirty = false;
                }
            }
        }
    }
}

fn handle_input(ev: Event, app: &mut App, engine: &mut Engine) {
    let action = match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => keys::action_for(app, k),
        Event::Mouse(m) if app.view == View::Fleet => {
            keys::mouse_action(m, crate::ui::fleet::TABLE_FIRST_LINE)
        }
        Event::Mouse(m) if app.view == View::Alerts => {
            keys::mouse_action(m, crate::ui::alerts::TABLE_FIRST_LINE)
        }
        Event::Resize(..) => None,
        _ => None,
    };
    if let Some(action) = action {
        for effect in app.update(action, &engine.state) {
            carry_out(effect, app, engine);
        }
    }
}

fn carry_out(effect: Effect, app: &mut App, engine: &mut Engine) {
    match effect {
        Effect::Alert(op) => {
            app.message = Some(match engine.alert_op(&op, &crate::logging::operator()) {
                Ok(m) => m,
                Err(e) => e,
            });
        }
        Effect::Command(op) => app.message = Some(send_command(op, engine)),
        Effect::Copy(text) => {
            // OSC 52: the terminal (even across SSH) puts it on the local clipboard.
            let encoded = base64(text.as_bytes());
            let mut out = std::io::stdout();
            let _ = write!(out, "\x1b]52;c;{encoded}\x07");
            let _ = out.flush();
        }
        Effect::Bell => {
            let mut out = std::io::stdout();
            let _ = out.write_all(b"\x07");
            let _ = out.flush();
        }
        Effect::Write { path, contents } => {
            if let Err(e) = std::fs::write(&path, contents) {
                app.message = Some(format!("cannot write {path}: {e}"));
            }
        }
        Effect::LoadTheme(name) => app.theme_loaded(crate::ui::theme::Theme::load(&name)),
    }
}

/// Hands a command to the engine; the message says what happened, for the status bar.
fn send_command(op: CommandOp, engine: &mut Engine) -> String {
    let by = crate::logging::operator();
    match op {
        CommandOp::Send {
            devices,
            command,
            args,
        } => {
            let mut prepared = Vec::with_capacity(devices.len());
            for d in &devices {
                match engine.prepare(*d, &command, &args) {
                    Ok(p) => prepared.push((p, *d)),
                    Err(e) => return format!("nothing sent: {e}"),
                }
            }
            if let [(p, d)] = prepared.as_slice() {
                let device = crate::sanitize::text(&p.device).into_owned();
                return match engine.send(p.clone(), *d, &by) {
                    Ok(_) => format!("{command} sent to {device}; its result shows in Commands"),
                    Err(e) => e,
                };
            }
            let n = prepared.len();
            match engine.send_bulk(prepared, &by) {
                Ok(_) => format!(
                    "{command} queued for {n} devices, at most {} a second",
                    engine.desk.bulk_rate()
                ),
                Err(e) => format!("nothing sent: {e}"),
            }
        }
        CommandOp::Publish {
            ref topic,
            ref payload,
            qos,
            retain,
            ..
        } => {
            let conn = op.publish_conn(&engine.state);
            match engine.publish_raw(conn, topic, payload.as_bytes(), qos, retain, &by) {
                Ok(_) => format!("published to {}", crate::sanitize::text(topic)),
                Err(e) => e,
            }
        }
    }
}

/// Draws a frame. The table's rows (filter, sort, group over every device) are rebuilt
/// only when messages arrived or statuses/alerts changed, not when only ages tick.
fn draw(
    term: &mut Terminal<Backend>,
    app: &mut App,
    engine: &mut Engine,
    messages_arrived: bool,
) -> Result<(), String> {
    let events: Vec<_> = engine.state.drain_events().collect();
    for ev in &events {
        app.observe(&engine.state, ev);
    }
    let transitions = engine.drain_alerts();
    for t in &transitions {
        app.observe_alert(t);
    }
    let now = engine.clock.now_ms();
    for report in engine.drain_hook_reports() {
        app.observe_hook(report, now);
    }
    if let Some(bell) = app.bell_for(&transitions) {
        carry_out(bell, app, engine);
    }
    if messages_arrived || !events.is_empty() || !transitions.is_empty() {
        app.fleet_changed();
    }
    app.refresh(&engine.state);
    app.refresh_alerts(&engine.alerts);
    let size = term.size().map_err(|e| e.to_string())?;
    app.page = size.height.saturating_sub(12).max(1) as usize;
    // Synchronized output: the terminal shows the frame whole, never half-drawn.
    let _ = execute!(term.backend_mut(), terminal::BeginSynchronizedUpdate);
    term.draw(|f| crate::ui::draw(f, app, engine))
        .map_err(|e| format!("drawing failed: {e}"))?;
    let _ = execute!(term.backend_mut(), terminal::EndSynchronizedUpdate);
    Ok(())
}

/// Standard base64 for OSC 52.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(super::base64(b"hello"), "aGVsbG8=");
        assert_eq!(super::base64(b"hi!"), "aGkh");
        assert_eq!(super::base64(b"a"), "YQ==");
    }
}
