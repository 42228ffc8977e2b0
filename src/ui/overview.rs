//! The fleet overview: per fleet, devices by status; each table metric's min, median and
//! max across the fleet with a distribution bar and how many devices are past an alert
//! threshold; the devices worst off. The cursor is on a fleet; Enter opens its table.

use super::{status_style, status_symbol, titled};
use crate::app::App;
use crate::fleet::{Status, device::format_number};
use crate::sanitize;
use crate::theme::Theme;
use crate::view::CoreView;
use crate::view::overview::{self, FleetSummary, MetricSpread, Trouble};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const NAME_WIDTH: usize = 16;
/// The narrowest value column; wider when a fleet's values need it.
const VALUE_WIDTH: usize = 8;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let fleets = overview::fleets(view);
    let title = format!(
        " Overview · {} fleets · {} devices ",
        fleets.len(),
        view.state.devices.len()
    );
    let block = titled(t, title, true);
    if fleets.is_empty() {
        let p = Paragraph::new(Span::styled("no device has reported yet", t.dim)).block(block);
        frame.render_widget(p, area);
        return;
    }
    let selected = app.overview_selected.min(fleets.len() - 1);
    let blocks: Vec<Vec<Line>> = fleets
        .iter()
        .enumerate()
        .map(|(i, f)| fleet_lines(t, view, f, i == selected, area.width as usize))
        .collect();
    // Scroll by whole fleets so the selected one is on screen, from its top.
    let room = area.height.saturating_sub(1) as usize;
    let mut first = selected;
    let mut used = blocks[selected].len();
    while first > 0 && used + blocks[first - 1].len() <= room {
        first -= 1;
        used += blocks[first].len();
    }
    let lines: Vec<Line> = blocks.into_iter().skip(first).flatten().collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn fleet_lines<'a>(
    t: &Theme,
    view: &CoreView,
    f: &FleetSummary,
    selected: bool,
    width: usize,
) -> Vec<Line<'a>> {
    let [online, stale, offline, unknown] = f.by_status;
    let count = |n: usize, s: Status, word: &str| {
        let style = if n > 0 { status_style(t, s) } else { t.dim };
        Span::styled(format!("  {} {n} {word}", status_symbol(s)), style)
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(if selected { "▶ " } else { "  " }, t.accent),
        Span::styled(
            format!("{} ", sanitize::text(&f.name)),
            if selected { t.selection } else { t.header },
        ),
        Span::styled(format!("· {} devices", f.devices), t.text),
        count(online, Status::Online, "online"),
        count(stale, Status::Stale, "stale"),
        count(offline, Status::Offline, "offline"),
        count(unknown, Status::Unknown, "unknown"),
    ])];
    if f.metrics.is_empty() {
        lines.push(Line::from(Span::styled("    no numeric metric yet", t.dim)));
    } else {
        let texts: Vec<[String; 3]> = f.metrics.iter().map(value_texts).collect();
        let w = texts
            .iter()
            .flatten()
            .map(|s| s.chars().count() + 1)
            .fold(VALUE_WIDTH, usize::max);
        lines.push(Line::from(Span::styled(
            format!(
                "    {:<NAME_WIDTH$}{:>w$}{:>w$}{:>w$}  {:<10}  past a threshold",
                "metric", "min", "p50", "max", "spread"
            ),
            t.dim,
        )));
        let rest = width.saturating_sub(4 + NAME_WIDTH + 3 * w + 14);
        for (m, values) in f.metrics.iter().zip(texts) {
            lines.push(metric_line(t, view, f, m, values, (w, rest)));
        }
    }
    lines.push(worst_line(t, view, &f.worst));
    lines.push(Line::default());
    lines
}

/// Min, median and max with the unit, as short as they read well.
fn value_texts(m: &MetricSpread) -> [String; 3] {
    let unit = sanitize::text(m.unit.as_deref().unwrap_or("")).into_owned();
    [m.min, m.p50, m.max].map(|v| format!("{}{unit}", compact(v)))
}

/// Three decimals at most, fewer as the number grows: `0.125`, `231.3`, `39349`.
fn compact(v: f64) -> String {
    match v.abs() {
        a if a >= 1000.0 => format!("{v:.0}"),
        a if a >= 100.0 => format_number((v * 10.0).round() / 10.0),
        _ => format_number(v),
    }
}

fn metric_line<'a>(
    t: &Theme,
    view: &CoreView,
    f: &FleetSummary,
    m: &MetricSpread,
    [min, p50, max]: [String; 3],
    (w, room): (usize, usize),
) -> Line<'a> {
    let fleet = view.state.mapper.fleets.get(f.fleet as usize);
    let label = fleet
        .and_then(|fl| fl.metric_decl(&m.name))
        .and_then(|d| d.display.clone())
        .unwrap_or_else(|| sanitize::text(&m.name).into_owned());
    let value = |s: String| format!("{s:>w$}");
    let beyond = if m.rules.is_empty() {
        Span::styled("no rule", t.dim)
    } else {
        let rules: Vec<&str> = m.rules.iter().map(|r| &**r).collect();
        let text = format!("{} of {} · {}", m.beyond, m.devices, rules.join(", "));
        Span::styled(
            sanitize::truncate(&text, room).into_owned(),
            if m.beyond > 0 { t.warn } else { t.dim },
        )
    };
    Line::from(vec![
        Span::styled(
            format!(
                "    {:<NAME_WIDTH$}",
                sanitize::truncate(&label, NAME_WIDTH - 1)
            ),
            t.text,
        ),
        Span::styled(value(min), t.text),
        Span::styled(value(p50), t.header),
        Span::styled(value(max), t.text),
        Span::raw("  "),
        Span::styled(bar(&m.bins), t.accent),
        Span::raw("  "),
        beyond,
    ])
}

/// Devices per bucket as block heights; an empty bucket is a space, so gaps show.
fn bar(bins: &[u32; overview::BINS]) -> String {
    let most = bins.iter().copied().max().unwrap_or(0).max(1);
    bins.iter()
        .map(|&n| match n {
            0 => ' ',
            n => {
                BARS[((n as usize * (BARS.len() - 1)).div_ceil(most as usize)).min(BARS.len() - 1)]
            }
        })
        .collect()
}

fn worst_line<'a>(t: &Theme, view: &CoreView, worst: &[Trouble]) -> Line<'a> {
    let mut spans = vec![Span::styled("    worst: ", t.dim)];
    if worst.is_empty() {
        spans.push(Span::styled("none in trouble", t.ok));
        return Line::from(spans);
    }
    for (i, w) in worst.iter().enumerate() {
        let Some(d) = view.state.devices.get(w.device.index()) else {
            continue;
        };
        if i > 0 {
            spans.push(Span::styled(" · ", t.dim));
        }
        spans.push(Span::styled(
            format!("{} ", status_symbol(w.status)),
            status_style(t, w.status),
        ));
        spans.push(Span::styled(
            sanitize::truncate(&sanitize::text(&d.name), 20).into_owned(),
            t.text,
        ));
        let mut why: Vec<String> = Vec::new();
        if let Some(s) = w.severity {
            why.push(format!("!{}", s.as_str()));
        }
        if matches!(w.status, Status::Offline | Status::Stale) {
            why.push(w.status.as_str().into());
        }
        if w.recent_errors {
            why.push("bad payloads".into());
        }
        let style = if w.severity.is_some_and(|s| s.rank() <= 1) {
            t.crit
        } else {
            t.warn
        };
        spans.push(Span::styled(format!(" {}", why.join(", ")), style));
    }
    Line::from(spans)
}
