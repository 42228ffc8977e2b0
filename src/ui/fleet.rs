//! The fleet view: the device table and the events pane.

use super::{status_style, status_symbol, titled, widgets};
use crate::app::rows::Row as TableRow;
use crate::app::{App, Pane};
use crate::sanitize;
use crate::text::age;
use crate::view::CoreView;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let events_height = if area.height >= 30 { 9 } else { 6 };
    let [table_area, events_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(events_height)]).areas(area);
    table(frame, table_area, app, view);
    let [events_area, commands_area] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
            .spacing(1)
            .areas(events_area);
    events(frame, events_area, app);
    commands(frame, commands_area, app, view);
}

/// Requests sent to devices: newest first, with state, latency and the device's reason.
fn commands(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let tracker = &view.tracker;
    let open = tracker.open_count();
    let mut title = if app.read_only {
        " Commands · read-only".to_string()
    } else if open > 0 {
        format!(" Commands · {open} open")
    } else {
        " Commands".to_string()
    };
    // Replies matching no request of ours (or answering one twice) are counted, not shown.
    let stray = tracker.unknown_replies + tracker.duplicate_replies;
    if stray > 0 {
        title.push_str(&format!(" · {stray} stray replies"));
    }
    title.push(' ');
    let height = area.height.saturating_sub(1) as usize;
    let lines: Vec<Line> = tracker
        .recent()
        .take(height)
        .map(|r| super::command_line(t, r, true))
        .collect();
    let body = if lines.is_empty() {
        let hint = if app.read_only {
            "read-only: nothing is published"
        } else {
            "none sent yet · c on a device"
        };
        Paragraph::new(Span::styled(hint, t.dim))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(body.block(titled(t, title, false)), area);
}

/// First table line on screen, below its header (for mouse clicks).
pub const TABLE_FIRST_LINE: u16 = 3;

fn table(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let state = view.state;
    let now = view.now_ms;
    let wide = area.width >= 110;
    let marked = if app.marked.is_empty() {
        String::new()
    } else {
        format!(" · {} marked", app.marked.len())
    };
    let title = format!(
        " Fleet · {} shown{marked} · sort {}{} · group {} ",
        app.rows
            .iter()
            .filter(|r| matches!(r, TableRow::Device(_)))
            .count(),
        app.sort.label(),
        if app.descending { " ↓" } else { "" },
        app.group.label()
    );
    let block = titled(t, title, app.pane == Pane::Main);
    let inner_height = area.height.saturating_sub(2) as usize;
    // Only the visible window of rows is built: the table scrolls at 10,000 devices.
    let offset = (app.selected / inner_height.max(1)) * inner_height.max(1);
    let visible = app.rows.iter().skip(offset).take(inner_height);
    let spark_width = if app.slow_link {
        0
    } else if wide {
        12
    } else {
        8
    };
    let rows: Vec<Row> = visible
        .map(|r| match r {
            TableRow::Group {
                key,
                devices,
                counts,
                collapsed,
            } => Row::new(vec![
                Span::styled(if *collapsed { "▸" } else { "▾" }, t.accent),
                Span::styled(format!("{} ({devices})", sanitize::text(key)), t.header),
                Span::raw(""),
                Span::raw(""),
                Span::raw(""),
                Span::styled(
                    format!(
                        "● {} online  ◐ {} stale  ○ {} offline  ? {}",
                        counts[0], counts[1], counts[2], counts[3]
                    ),
                    t.dim,
                ),
            ]),
            TableRow::Device(id) => {
                let d = &state.devices[(*id).index()];
                let fleet = state.mapper.fleets.get(d.fleet as usize);
                let labels: Vec<String> = d
                    .labels
                    .iter()
                    .map(|(_, v)| sanitize::text(v).into_owned())
                    .collect();
                let key = widgets::key_metrics(d, fleet, if wide { 3 } else { 2 });
                let metrics_sep = if wide { "  " } else { " " };
                // A metric a raised alert reads is drawn in that alert's severity.
                let mut metrics = Vec::with_capacity(key.len() * 2);
                for (i, m) in key.iter().enumerate() {
                    if i > 0 {
                        metrics.push(Span::raw(metrics_sep));
                    }
                    let style = view
                        .alerts
                        .metric_severity(*id, &m.name)
                        .map_or(t.text, |s| super::alerts::severity_style(t, s));
                    let text = format!(
                        "{} {}",
                        widgets::metric_label(m, fleet),
                        widgets::value_with_unit(m, d, fleet)
                    );
                    metrics.push(Span::styled(text, style));
                }
                let spark = key
                    .first()
                    .filter(|_| spark_width > 0)
                    .map(|m| widgets::sparkline(m, spark_width))
                    .unwrap_or_default();
                // Errors stand out while recent (the header's window), then fade.
                let errors = match d.decode_errors {
                    0 => Span::styled("", t.dim),
                    n if d.has_recent_error(now) => Span::styled(n.to_string(), t.warn),
                    n => Span::styled(n.to_string(), t.dim),
                };
                // The status glyph always shows (offline, stale and unknown look apart); the
                // worst raised alert adds `!` beside it, in its severity's colour.
                let alert = match view.alerts.worst_for(*id) {
                    Some(sev) if sev.rank() <= 1 => Span::styled("!", t.crit),
                    Some(_) => Span::styled("!", t.warn),
                    None => Span::raw(" "),
                };
                let mark = Line::from(vec![
                    Span::styled(status_symbol(d.status), status_style(t, d.status)),
                    alert,
                ]);
                let name = if app.marked.contains(id) {
                    Span::styled(format!("+{}", sanitize::text(&d.name)), t.accent)
                } else {
                    Span::styled(sanitize::text(&d.name).into_owned(), t.text)
                };
                let mut cells = vec![
                    Cell::from(mark),
                    name.into(),
                    Span::styled(fleet.map_or("?", |f| f.name.as_str()).to_string(), t.dim).into(),
                    Span::styled(labels.join("/"), t.dim).into(),
                    Span::styled(age(now - d.last_seen_ms), t.text).into(),
                    Line::from(metrics).into(),
                ];
                if spark_width > 0 {
                    cells.push(Span::styled(spark, t.accent).into());
                }
                cells.push(errors.into());
                Row::new(cells)
            }
        })
        .collect();
    let fleet_width = state
        .fleets_in_use()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 10) as u16;
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Length(if wide { 20 } else { 15 }),
        Constraint::Length(fleet_width),
        Constraint::Length(if wide { 16 } else { 7 }),
        Constraint::Length(4),
        Constraint::Min(20),
    ];
    if spark_width > 0 {
        widths.push(Constraint::Length(spark_width as u16));
    }
    widths.push(Constraint::Length(3));
    let mut header = vec!["", "DEVICE", "FLEET", "LABELS", "SEEN", "METRICS"];
    if spark_width > 0 {
        header.push("TREND");
    }
    header.push("ERR");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.header))
        .block(block)
        .row_highlight_style(t.selection)
        .column_spacing(1);
    let mut ts = TableState::default();
    if !app.rows.is_empty() {
        ts.select(Some(app.selected - offset));
    }
    frame.render_stateful_widget(table, area, &mut ts);
    if app.rows.is_empty() {
        let hint = if state.devices.is_empty() {
            if state.unmapped.is_empty() {
                "waiting for messages…".to_string()
            } else {
                format!(
                    "no devices yet: {} topics seen, none mapped to a fleet — press t to see them",
                    state.unmapped.len()
                )
            }
        } else {
            "no device matches the filter (Esc clears it)".to_string()
        };
        let inner = Rect {
            y: area.y + 2,
            height: 1,
            ..area
        };
        frame.render_widget(Paragraph::new(hint).style(t.dim), inner);
    }
}

fn events(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let focused = app.pane == Pane::Events;
    let block = titled(t, format!(" Events · {} ", app.events.len()), focused);
    let height = area.height.saturating_sub(1) as usize;
    let offset = if focused {
        app.event_selected.saturating_sub(height.saturating_sub(1))
    } else {
        0
    };
    let lines: Vec<Line> = app
        .events
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, e)| {
            let time = crate::text::clock(e.at_ms);
            let (sym, style) = match (e.severity, e.status) {
                (Some(sev), _) => ("!", if sev.rank() <= 1 { t.crit } else { t.warn }),
                (None, Some(s)) => (status_symbol(s), status_style(t, s)),
                (None, None) => ("⇄", t.accent),
            };
            let line = Line::from(vec![
                Span::styled(format!("{time} "), t.dim),
                Span::styled(format!("{sym} "), style),
                Span::styled(e.text.clone(), t.text),
            ]);
            if focused && i == app.event_selected {
                line.style(t.selection)
            } else {
                line
            }
        })
        .collect();
    let body = if lines.is_empty() {
        Paragraph::new(Span::styled("no status changes yet", t.dim))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(body.block(block), area);
}
