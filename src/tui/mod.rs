//! The terminal edge: raw mode and the alternate screen, restored on every way out (q,
//! Ctrl-C, panic, SIGTERM, SIGHUP); keys in, frames out, at most `fps` frames a second and
//! only when something visible changed.
//!
//! The core runs on its own task ([`Running`]); this loop only reads it. A frame is
//! rendered into memory under the core's lock and written to the terminal by a thread of
//! its own after the lock is let go, so a terminal that stops reading costs frames, never
//! messages, alert evaluations or hooks.

mod effects;
mod sgr16;
mod writer;

use crate::app::{App, View, keys};
use crate::engine::{Engine, Running};
use crate::theme::Palette;
use futures_util::{FutureExt, StreamExt};
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{Event, EventStream, KeyEventKind};
use ratatui::crossterm::{cursor, event, execute, terminal};
use ratatui::{Terminal, TerminalOptions, Viewport};
use std::io::Write;
use std::time::Duration;
use tokio::time::{Instant, interval};
use writer::{FrameBuf, TtyWriter};

/// Options for the live view.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub fps: f64,
    pub slow_link: bool,
    pub theme: Option<String>,
    /// Ring the bell on a new critical alert.
    pub bell: bool,
    /// The view it starts in (`--view`).
    pub view: View,
}

/// Frames are rendered into memory, then handed to the terminal writer whole.
type Backend = CrosstermBackend<FrameBuf>;

/// How long quitting waits for a terminal that stopped reading before it gives up on it.
const RESTORE_PATIENCE: Duration = Duration::from_secs(2);

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

/// Restores the terminal without hanging on one that does not read: raw mode is a
/// termios call and always goes; the escape sequences get [`RESTORE_PATIENCE`].
fn restore_patiently(tty: &TtyWriter) {
    let _ = terminal::disable_raw_mode();
    if !tty.settle(RESTORE_PATIENCE) {
        return;
    }
    let (done, wait) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("fleetop-restore".into())
        .spawn(move || {
            restore();
            let _ = done.send(());
        });
    if spawned.is_ok() {
        let _ = wait.recv_timeout(RESTORE_PATIENCE);
    }
}

fn setup(mouse: bool, frames: FrameBuf) -> std::io::Result<Terminal<Backend>> {
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
    Terminal::with_options(
        CrosstermBackend::new(frames),
        TerminalOptions {
            viewport: Viewport::Fullscreen,
        },
    )
}

/// The terminal: ratatui's buffers and the thread that writes frames out.
struct Screen {
    term: Terminal<Backend>,
    frames: FrameBuf,
    tty: TtyWriter,
}

/// Runs the live view until the user quits or a signal arrives.
pub async fn run(engine: Engine, options: TuiOptions) -> Result<(), String> {
    // A slow link gets 16 colours whatever the terminal can do: short escape sequences.
    let palette = if options.slow_link {
        Palette::Ansi16
    } else {
        Palette::detect(
            std::env::var("COLORTERM").ok().as_deref(),
            std::env::var("TERM").ok().as_deref(),
        )
    };
    let theme = crate::theme::Theme::initial(options.theme.as_deref(), palette)?;
    let mut app = App::new(theme, options.slow_link);
    app.palette = palette;
    app.commands = std::sync::Arc::new(engine.desk.set.clone());
    app.read_only = engine.desk.read_only();
    app.bell = options.bell;
    app.open_view(options.view);
    // Signal handlers first: a SIGTERM right after the screen is taken must still restore it.
    let stop = crate::signals::shutdown();
    let core = Running::spawn(engine);
    let frames = FrameBuf::default();
    let term = setup(!options.slow_link, frames.clone())
        .map_err(|e| format!("cannot set up the terminal: {e}"))?;
    let tty = TtyWriter::start(std::io::stdout())
        .map_err(|e| format!("cannot start the terminal writer: {e}"))?;
    let mut screen = Screen { term, frames, tty };
    let result = event_loop(&mut screen, &core, &mut app, &options, stop).await;
    restore_patiently(&screen.tty);
    if screen.tty.skipped() > 0 {
        tracing::info!(
            frames = screen.tty.skipped(),
            "frames skipped while the terminal was not reading"
        );
    }
    result
}

async fn event_loop(
    screen: &mut Screen,
    core: &Running,
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
    let mut frames = interval(Duration::from_secs_f64(1.0 / fps));
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut input = EventStream::new();
    tokio::pin!(stop);
    let mut dirty = true;
    let mut last_draw = Instant::now();
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(()),
            ev = input.next() => match ev {
                Some(Ok(ev)) => {
                    {
                        let mut engine = core.lock();
                        handle_input(ev, app, &mut engine, &mut screen.tty);
                        // A paste or a held key: take every key already waiting before
                        // drawing, so N keys cost one frame, not N.
                        while !app.quit {
                            match input.next().now_or_never() {
                                Some(Some(Ok(ev))) => handle_input(ev, app, &mut engine, &mut screen.tty),
                                _ => break,
                            }
                        }
                    }
                    if app.quit {
                        return Ok(());
                    }
                    // Keys feel instant: draw now rather than at the next frame tick.
                    dirty |= core.take_changed();
                    if frame(screen, core, app, dirty)? {
                        last_draw = Instant::now();
                        dirty = false;
                    }
                }
                Some(Err(e)) => return Err(format!("terminal input failed: {e}")),
                None => return Ok(()),
            },
            _ = frames.tick() => {
                dirty |= core.take_changed();
                // Ages on screen change once a second even with no traffic.
                if (dirty || last_draw.elapsed() >= Duration::from_secs(1))
                    && frame(screen, core, app, dirty)?
                {
                    last_draw = Instant::now();
                    dirty = false;
                }
            }
        }
    }
}

fn handle_input(ev: Event, app: &mut App, engine: &mut Engine, tty: &mut TtyWriter) {
    let action = match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => keys::action_for(app, k),
        Event::Mouse(m) if app.view == View::Fleet => {
            keys::mouse_action(m, crate::ui::fleet::TABLE_FIRST_LINE)
        }
        Event::Mouse(m) if app.view == View::Alerts => {
            keys::mouse_action(m, crate::ui::alerts::TABLE_FIRST_LINE)
        }
        _ => None,
    };
    if let Some(action) = action {
        for effect in app.update(action, &engine.state) {
            effects::carry_out(effect, app, engine, tty);
        }
    }
}

/// Brings the app up to date with the core and, if the terminal has taken the last
/// frame, renders a new one and hands it over; true if it did. The table's rows (filter,
/// sort, group over every device) are rebuilt only when messages arrived or
/// statuses/alerts changed, not when only ages tick.
fn frame(
    screen: &mut Screen,
    core: &Running,
    app: &mut App,
    messages_arrived: bool,
) -> Result<bool, String> {
    let mut engine = core.lock();
    // The app keeps up with events even while the terminal is stuck: the events pane is
    // whole when it comes back.
    let events: Vec<_> = engine.state.drain_events().collect();
    for ev in &events {
        app.observe(&engine.state, ev);
    }
    let feed = engine.take_feed();
    for t in &feed.transitions {
        app.observe_alert(t);
    }
    let now = engine.clock.now_ms();
    for report in feed.hook_reports {
        app.observe_hook(report, now);
    }
    if let Some(bell) = app.bell_for(&feed.transitions) {
        effects::carry_out(bell, app, &mut engine, &mut screen.tty);
    }
    if messages_arrived || !events.is_empty() || !feed.transitions.is_empty() {
        app.fleet_changed();
    }
    if !screen.tty.idle() {
        screen.tty.skip();
        return Ok(false);
    }
    // Alerts first: the table sorts alerting devices to the top.
    app.refresh_alerts(&engine.alerts);
    app.refresh(&engine.state);
    let size = screen.term.size().map_err(|e| e.to_string())?;
    app.page = size.height.saturating_sub(12).max(1) as usize;
    // Synchronized output: the terminal shows the frame whole, never half-drawn.
    let view = engine.view();
    let term = &mut screen.term;
    let _ = execute!(term.backend_mut(), terminal::BeginSynchronizedUpdate);
    term.draw(|f| crate::ui::draw(f, app, &view))
        .map_err(|e| format!("drawing failed: {e}"))?;
    let _ = execute!(term.backend_mut(), terminal::EndSynchronizedUpdate);
    drop(engine);
    let frame = screen.frames.take();
    screen.tty.send(if app.palette == Palette::Ansi16 {
        sgr16::rewrite(&frame)
    } else {
        frame
    });
    Ok(true)
}
