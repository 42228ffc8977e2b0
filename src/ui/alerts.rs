//! The alert pane: every alert the book holds, most severe first, then newest, with a
//! symbol and a word per severity (never colour alone), its state and flags, the value
//! now and since when; the selected alert's message, ack and silence underneath.

use super::titled;
use crate::alerts::{Alert, AlertState};
use crate::app::App;
use crate::app::alerts::StateFilter;
use crate::text::age;
use crate::theme::Theme;
use crate::view::CoreView;
use crate::vocab::Severity;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState, Wrap};

/// First table line on screen, below the pane's title and header (for mouse clicks).
pub const TABLE_FIRST_LINE: u16 = 3;

/// A shape per severity, so the level reads without colour (16 colours, mono, NO_COLOR).
pub fn severity_symbol(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "◆",
        Severity::Major => "▲",
        Severity::Minor => "△",
        Severity::Warning => "▽",
        Severity::Info => "·",
    }
}

pub fn severity_style(t: &Theme, s: Severity) -> Style {
    match s {
        Severity::Critical => t.crit,
        Severity::Major => t.offline,
        Severity::Minor | Severity::Warning => t.warn,
        Severity::Info => t.dim,
    }
}

/// Short severity words for narrow columns and the header.
pub fn severity_short(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "crit",
        Severity::Major => "major",
        Severity::Minor => "minor",
        Severity::Warning => "warn",
        Severity::Info => "info",
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(3)]).areas(area);
    table(frame, table_area, app, view);
    detail(frame, detail_area, app, view);
}

fn table(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let book = view.alerts;
    let now = view.now_ms;
    let pane = &app.alerts;
    let wide = area.width >= 110;
    let silences = book.silences().len();
    // A folded head stands for its members; listed members are counted by their head.
    let listed: usize = pane
        .rows
        .iter()
        .map(|r| match (r.members, r.in_group) {
            (0, true) => 0,
            (0, false) => 1,
            (n, _) => n,
        })
        .sum();
    let title = format!(
        " Alerts · {} {} · f filter{} ",
        listed,
        pane.filter.label(),
        match silences {
            0 => String::new(),
            1 => " · 1 silence".into(),
            n => format!(" · {n} silences"),
        }
    );
    let inner_height = area.height.saturating_sub(2) as usize;
    let offset = (pane.selected / inner_height.max(1)) * inner_height.max(1);
    let rows: Vec<Row> = pane
        .rows
        .iter()
        .skip(offset)
        .take(inner_height)
        .filter_map(|r| book.get(r.device, r.rule).map(|a| (a, r)))
        .map(|(a, r)| {
            let sev = severity_style(t, a.severity);
            let state_style = match a.state {
                AlertState::Firing | AlertState::Flapping => sev,
                AlertState::Pending => t.text,
                AlertState::Resolved | AlertState::Inactive => t.dim,
            };
            let (device, flags, value) = if r.members > 0 {
                let open = if pane.unfolded.contains(&r.rule) {
                    "▾"
                } else {
                    "▸"
                };
                let value = format!("worst: {} {}", a.device_name, a.value);
                (
                    format!("{open} {} devices", r.members),
                    String::new(),
                    value,
                )
            } else {
                let indent = if r.in_group { "  " } else { "" };
                let device = format!("{indent}{}", a.device_name);
                (device, flags(a, r.silence.is_some()), a.value.clone())
            };
            let mut cells = vec![
                Span::styled(severity_symbol(a.severity), sev),
                Span::styled(severity_short(a.severity), sev),
                Span::styled(a.rule_name.to_string(), t.text),
                Span::styled(device, t.text),
                Span::styled(a.state.as_str(), state_style),
                Span::styled(flags, t.accent),
                Span::styled(value, t.text),
                Span::styled(since(a, now, wide), t.dim),
            ];
            if wide {
                cells.insert(4, Span::styled(a.fleet.to_string(), t.dim));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(5),
        Constraint::Length(if wide { 20 } else { 14 }),
        Constraint::Length(if wide { 20 } else { 15 }),
        Constraint::Length(8),
        Constraint::Length(if wide { 13 } else { 7 }),
        Constraint::Min(8),
        Constraint::Length(if wide { 14 } else { 5 }),
    ];
    let mut header = vec![
        "", "SEV", "RULE", "DEVICE", "STATE", "FLAGS", "VALUE", "SINCE",
    ];
    if wide {
        widths.insert(4, Constraint::Length(10));
        header.insert(4, "FLEET");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.header))
        .block(titled(t, title, true))
        .row_highlight_style(t.selection)
        .column_spacing(1);
    let mut ts = TableState::default();
    if !pane.rows.is_empty() {
        ts.select(Some(pane.selected - offset));
    }
    frame.render_stateful_widget(table, area, &mut ts);
    if pane.rows.is_empty() {
        let hint = match pane.filter {
            StateFilter::All => "no alerts: every rule is quiet".to_string(),
            f => format!("no {} alerts (f shows the next filter)", f.label()),
        };
        let inner = Rect {
            y: area.y + 2,
            height: 1,
            ..area
        };
        frame.render_widget(Paragraph::new(hint).style(t.dim), inner);
    }
}

/// `ack`, `sil`, `inhib` (wide: the words), so states read without colour.
fn flags(a: &Alert, silenced: bool) -> String {
    let mut f = Vec::new();
    if a.ack.is_some() {
        f.push("ack");
    }
    if silenced {
        f.push("sil");
    }
    if a.inhibited {
        f.push("inh");
    }
    f.join(" ")
}

/// How long the alert has been in its state; wide, also the clock time it entered it.
fn since(a: &Alert, now: i64, wide: bool) -> String {
    let ago = age(now - a.since_ms);
    if !wide {
        return ago;
    }
    format!("{ago:>3} {}", crate::text::clock(a.since_ms))
}

/// The selected alert in words: its message, who acked it, which silence covers it.
fn detail(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let now = view.now_ms;
    let book = view.alerts;
    let Some(a) = app
        .alerts
        .selected_row()
        .and_then(|r| book.get(r.device, r.rule))
    else {
        frame.render_widget(
            Paragraph::new("").block(titled(t, String::new(), false)),
            area,
        );
        return;
    };
    if let Some(r) = app.alerts.selected_row().filter(|r| r.members > 0) {
        let keys = if app.alerts.unfolded.contains(&r.rule) {
            "Enter folds them"
        } else {
            "Enter lists them"
        };
        let text = vec![
            Line::from(Span::styled(
                format!(
                    "{} alerts of {} at once, folded into one row.",
                    r.members, r.rule_name
                ),
                t.text,
            )),
            Line::from(Span::styled(
                format!("{keys} · a acknowledges all of them · S silences the rule"),
                t.dim,
            )),
        ];
        let title = format!(" {} × {} ", r.rule_name, r.members);
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .block(titled(t, title, false)),
            area,
        );
        return;
    }
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("{} {} ", severity_symbol(a.severity), a.severity.as_str()),
            severity_style(t, a.severity),
        ),
        Span::styled(a.message.clone(), t.text),
    ])];
    let mut facts = vec![Span::styled(
        format!("started {} ago", age(now - a.started_ms)),
        t.dim,
    )];
    if let Some(ack) = &a.ack {
        facts.push(Span::styled(
            format!(
                " · acked by {} {} ago{}",
                ack.by,
                age(now - ack.at_ms),
                ack.comment
                    .as_deref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
            t.accent,
        ));
    }
    if let Some(s) = book.silenced_by(a) {
        facts.push(Span::styled(
            format!(
                " · silence {} for {} more by {}: {}",
                s.id,
                age(s.expires_ms - now),
                s.by,
                s.reason
            ),
            t.warn,
        ));
    }
    if a.inhibited {
        facts.push(Span::styled(
            " · inhibited (broker link or gateway down)",
            t.warn,
        ));
    }
    lines.push(Line::from(facts));
    let title = format!(" {} on {} ", a.rule_name, a.device_name);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(titled(t, title, false)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_severity_reads_without_colour() {
        let mono = Theme::monochrome();
        let symbols: std::collections::HashSet<_> =
            Severity::ALL.into_iter().map(severity_symbol).collect();
        assert_eq!(symbols.len(), Severity::ALL.len());
        // Without colour, the two worst still stand out from plain text.
        for s in [Severity::Critical, Severity::Major] {
            assert_ne!(severity_style(&mono, s), mono.text, "{s}");
        }
    }
}
