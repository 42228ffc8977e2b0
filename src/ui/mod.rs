//! Drawing: one function per view, fed an [`App`] and the fleet. Nothing here changes
//! state; every device-provided string passes through [`crate::sanitize`] first.

pub mod alerts;
pub mod broker;
pub mod compose;
pub mod device;
pub mod fleet;
pub mod map;
pub mod overview;
pub mod topic_payloads;
pub mod topics;
pub mod widgets;

use crate::app::{App, Mode, View, keys};
use crate::fleet::Status;
use crate::theme::Theme;
use crate::view::CoreView;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Table};

/// The smallest screen fleetop draws on.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Status as a symbol and a word: never colour alone.
pub fn status_symbol(s: Status) -> &'static str {
    match s {
        Status::Online => "●",
        Status::Stale => "◐",
        Status::Offline => "○",
        Status::Unknown => "?",
    }
}

pub fn status_style(theme: &Theme, s: Status) -> Style {
    match s {
        Status::Online => theme.ok,
        Status::Stale => theme.stale,
        Status::Offline => theme.offline,
        Status::Unknown => theme.unknown,
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App, view: &CoreView) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "terminal too small: {}×{}, fleetop needs {MIN_WIDTH}×{MIN_HEIGHT} (q quits)",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(msg).style(app.theme.warn), area);
        return;
    }
    let [head, body, bar] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    header(frame, head, app, view);
    match app.view {
        View::Fleet => fleet::draw(frame, body, app, view),
        View::Device(id) => device::draw(frame, body, app, view, id),
        View::Topics => topics::draw(frame, body, app, view),
        View::Alerts => alerts::draw(frame, body, app, view),
        View::Map => map::draw(frame, body, app, view),
        View::Overview => overview::draw(frame, body, app, view),
        View::Broker => broker::draw(frame, body, app, view),
    }
    bottom_bar(frame, bar, app, view);
    if app.mode == Mode::Help {
        help(frame, body, app);
    }
    if let Mode::Compose(c) = &app.mode {
        compose::draw(frame, body, app, view, c);
    }
}

fn header(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let s = view.state;
    let [online, stale, offline, unknown] = s.status_counts();
    let mut spans = vec![
        Span::styled("fleetop ", t.header),
        Span::styled(format!("{} dev ", s.devices.len()), t.text),
        Span::styled(format!("● {online} "), t.ok),
        Span::styled(
            format!("◐ {stale} "),
            if stale > 0 { t.stale } else { t.dim },
        ),
        Span::styled(
            format!("○ {offline} "),
            if offline > 0 { t.offline } else { t.dim },
        ),
        Span::styled(format!("? {unknown} "), t.dim),
        Span::styled(format!("│ {:.0} msg/s ", view.msg_rate), t.text),
    ];
    alert_spans(&mut spans, app, view);
    let dropped = view.dropped;
    if dropped > 0 {
        spans.push(Span::styled(format!("{dropped} dropped "), t.crit));
    }
    // Loss outside fleetop, where the broker counts it (Mosquitto's $SYS, all clients).
    let broker_dropped: u64 = view
        .state
        .connections
        .iter()
        .filter_map(|c| c.broker.dropped())
        .sum();
    if broker_dropped > 0 {
        spans.push(Span::styled(
            format!("broker dropped {broker_dropped} "),
            t.warn,
        ));
    }
    let bad = s.devices_with_recent_errors(view.now_ms);
    if bad > 0 {
        let minutes = crate::fleet::RECENT_ERRORS.as_secs() / 60;
        spans.push(Span::styled(
            format!("{bad} dev bad payloads ({minutes}m) "),
            t.warn,
        ));
    }
    for c in &s.connections {
        let style = match c.state {
            crate::vocab::LinkState::Connected
            | crate::vocab::LinkState::Replaying
            | crate::vocab::LinkState::Finished => t.ok,
            crate::vocab::LinkState::Connecting => t.warn,
            _ => t.crit,
        };
        spans.push(Span::styled("│ ", t.dim));
        spans.push(Span::styled(
            format!(
                "{}: {}",
                crate::sanitize::truncate(&c.name, 24),
                link_text(c, view.now_ms)
            ),
            style,
        ));
        if let Some(figures) = broker::summary(&c.broker) {
            spans.push(Span::styled(format!(" · {figures}"), t.dim));
        }
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The raised alerts: unhandled ones by severity (what needs someone), then those already
/// acked, silenced or held. While a link is down it says so, with what it holds: statuses
/// stay as they were and liveness alerts wait for the reconnect.
fn alert_spans(spans: &mut Vec<Span<'static>>, app: &App, view: &CoreView) {
    use crate::vocab::Severity;
    let t = &app.theme;
    let tally = view.alerts.tally();
    let blind = view
        .state
        .connections
        .iter()
        .filter(|c| c.is_blind())
        .count();
    if tally.is_empty() && blind == 0 {
        return;
    }
    spans.push(Span::styled("│ ", t.dim));
    if blind > 0 {
        spans.push(Span::styled(
            format!(
                "{} down: statuses and {} held ",
                plural(blind, "link"),
                plural(tally.held, "alert")
            ),
            t.crit,
        ));
    }
    for sev in Severity::ALL {
        let n = tally.unhandled[sev.rank()];
        if n > 0 {
            let style = if sev.rank() <= 1 { t.crit } else { t.warn };
            let short = match sev {
                Severity::Critical => "crit",
                Severity::Major => "maj",
                Severity::Minor => "min",
                Severity::Warning => "warn",
                Severity::Info => "info",
            };
            spans.push(Span::styled(format!("!{n} {short} "), style));
        }
    }
    for (n, what) in [(tally.acked, "acked"), (tally.silenced, "silenced")] {
        if n > 0 {
            spans.push(Span::styled(format!("{n} {what} "), t.dim));
        }
    }
    if tally.held > 0 && blind == 0 {
        // Held by an offline gateway: the gateway's own alert speaks for them.
        spans.push(Span::styled(format!("{} held ", tally.held), t.dim));
    }
}

/// `1 alert`, `3 alerts`.
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `down: reason, retry in 0.4s` counted down from when it was said.
fn link_text(c: &crate::fleet::Connection, now_ms: i64) -> String {
    match &c.state {
        crate::vocab::LinkState::Down { reason, retry_in } => {
            let left = (retry_in.as_millis() as i64 - (now_ms - c.since_ms)).max(0);
            format!(
                "down: {}, retry in {}",
                crate::sanitize::truncate(reason, 40),
                crate::text::Delay(std::time::Duration::from_millis(left as u64))
            )
        }
        other => other.to_string(),
    }
}

/// A prompt's text with its cursor: the character under it reversed, or a bar at the end.
fn prompt_spans(
    prompt: &crate::app::prompt::Prompt,
    t: &crate::theme::Theme,
) -> Vec<Span<'static>> {
    let text = prompt.text();
    let at = text
        .char_indices()
        .nth(prompt.cursor())
        .map_or(text.len(), |(i, _)| i);
    let (before, after) = text.split_at(at);
    let mut rest = after.chars();
    let under = rest.next();
    let shown = |s: &str| crate::sanitize::text(s).into_owned();
    let mut spans = vec![Span::styled(shown(before), t.text)];
    match under {
        Some(c) => {
            spans.push(Span::styled(shown(&c.to_string()), t.selection));
            spans.push(Span::styled(shown(rest.as_str()), t.text));
        }
        None => spans.push(Span::styled("▏", t.accent)),
    }
    spans
}

fn bottom_bar(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let line = match &app.mode {
        Mode::Filter(prompt) => {
            let mut spans = vec![Span::styled("/", t.accent)];
            spans.extend(prompt_spans(prompt, t));
            spans.push(match &app.filter_error {
                Some(e) => Span::styled(format!("   {e}"), t.warn),
                None if app.view == View::Topics => Span::styled(
                    "   search topics: part of a path, any case · Enter keep · Esc clear",
                    t.dim,
                ),
                None => Span::styled(
                    "   Enter apply · Esc cancel · text /regex/ level_pct<20 and status=offline, or, not",
                    t.dim,
                ),
            });
            Line::from(spans)
        }
        Mode::Command(prompt) => {
            let mut spans = vec![Span::styled(":", t.accent)];
            spans.extend(prompt_spans(prompt, t));
            // A silence says what it would cover before Enter sets it.
            if let Some(args) = prompt.text().strip_prefix("silence ") {
                let matchers = crate::alerts::matchers_so_far(args);
                if !matchers.is_empty() {
                    let n = view.alerts.count_matching(&matchers);
                    spans.push(Span::styled(
                        format!("   matches {} ", plural(n, "active alert")),
                        if n > 0 { t.warn } else { t.dim },
                    ));
                }
            }
            spans.push(Span::styled(
                match &app.command_hint {
                    Some(hint) => format!("   {hint}"),
                    None => "   Tab complete · Enter run · Esc cancel".into(),
                },
                t.dim,
            ));
            Line::from(spans)
        }
        _ => match &app.message {
            Some(m) => Line::from(Span::styled(m.clone(), t.warn)),
            None => {
                let mut spans = Vec::new();
                // The filter comes first: on a narrow terminal the hints are cut, not it.
                if !app.filter.is_empty() {
                    spans.push(Span::styled(
                        format!("filter: {}  ", crate::sanitize::text(&app.filter.source)),
                        t.warn,
                    ));
                }
                // `?` and `q` always show: the other hints give way, whole, when the
                // terminal is narrow, rather than cutting the way out off the end.
                let width = |(key, what): &(&str, &str)| {
                    key.chars().count() + what.chars().count() + usize::from(!what.is_empty()) + 2
                };
                let hints = keys::hints(app);
                let (last, rest): (Vec<_>, Vec<_>) = hints
                    .into_iter()
                    .partition(|(key, _)| matches!(*key, "?" | "q"));
                let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
                let mut room = (area.width as usize)
                    .saturating_sub(used + last.iter().map(width).sum::<usize>());
                let shown = rest.into_iter().take_while(|h| {
                    let fits = width(h) <= room;
                    room = room.saturating_sub(width(h));
                    fits
                });
                for (key, what) in shown.chain(last) {
                    spans.push(Span::styled(key, t.accent));
                    if !what.is_empty() {
                        spans.push(Span::styled(format!(" {what}"), t.dim));
                    }
                    spans.push(Span::raw("  "));
                }
                Line::from(spans)
            }
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn help(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let keys = keys::help(app);
    let height = (keys.len() as u16 + 2).min(area.height);
    let width = area.width.min(90);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let rows = keys
        .into_iter()
        .map(|(k, v)| Row::new([Span::styled(k, t.accent), Span::styled(v, t.text)]));
    let table = Table::new(rows, [Constraint::Length(20), Constraint::Min(10)]).block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(t.border)
            .title(Span::styled(" keys (any key closes) ", t.header)),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(table, popup);
}

/// One request as a line: time, device, command, state, latency, reason.
pub fn command_line<'a>(t: &Theme, r: &crate::commands::Request, with_device: bool) -> Line<'a> {
    use crate::commands::RequestState as S;
    let time = crate::text::clock(r.created_ms);
    let (sym, style) = match &r.state {
        S::Succeeded(_) => ("✓", t.ok),
        S::Failed(_) => ("✗", t.crit),
        S::TimedOut => ("⌛", t.warn),
        S::Queued | S::Pending | S::Sent => ("…", t.accent),
    };
    let what = if r.device.is_empty() {
        format!("publish {}", crate::sanitize::text(&r.topic))
    } else if with_device {
        format!("{} {}", crate::sanitize::text(&r.device), r.command)
    } else {
        r.command.clone()
    };
    let mut spans = vec![
        Span::styled(format!("{time} "), t.dim),
        Span::styled(format!("{sym} "), style),
        Span::styled(what, t.text),
        Span::styled(format!(" {}", r.state.as_str()), style),
    ];
    if let Some(ms) = r.latency_ms() {
        spans.push(Span::styled(format!(" {ms}ms"), t.dim));
    }
    if let Some(reason) = r.state.reason() {
        spans.push(Span::styled(format!(" · {reason}"), t.dim));
    }
    Line::from(spans)
}

/// A block with a title in the theme's style; `focused` brightens it.
pub fn titled<'a>(theme: &Theme, title: String, focused: bool) -> Block<'a> {
    let border = if focused {
        theme.accent.remove_modifier(Modifier::BOLD)
    } else {
        theme.border
    };
    Block::default()
        .borders(Borders::TOP)
        .border_style(border)
        .title(Span::styled(
            title,
            if focused { theme.accent } else { theme.header },
        ))
}
