//! The device view: every metric with value, age and trend; a chart of the selected metric
//! over 1m/10m/1h/24h; gauges for declared ranges; device facts and the last payload.

use super::{status_style, status_symbol, titled, widgets};
use crate::app::App;
use crate::fleet::{Device, Metric};
use crate::sanitize;
use crate::text::age;
use crate::view::CoreView;
use crate::vocab::DeviceId;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Chart, Dataset, GraphType, LineGauge, Paragraph, Row, Table, TableState, Wrap,
};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView, id: DeviceId) {
    let Some(d) = view.state.devices.get(id.index()) else {
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(48), Constraint::Percentage(52)])
            .spacing(1)
            .areas(area);
    let [chart_area, gauge_area, info_area] = Layout::vertical([
        Constraint::Percentage(50),
        Constraint::Length(2),
        Constraint::Min(4),
    ])
    .areas(right);
    metrics(frame, left, app, view, d);
    let fleet = view.state.mapper.fleets.get(d.fleet as usize);
    if let Some(m) = d.metrics.get(app.metric) {
        chart(frame, chart_area, app, view, d, m);
        if let Some(r) = widgets::ratio(m, fleet) {
            let gauge = LineGauge::default()
                .block(titled(
                    &app.theme,
                    format!(" {} ", widgets::metric_label(m, fleet)),
                    false,
                ))
                .filled_style(app.theme.accent)
                .unfilled_style(app.theme.dim)
                .label(format!("{:>5.1}%", r * 100.0))
                .ratio(r);
            frame.render_widget(gauge, gauge_area);
        }
    }
    info(frame, info_area, app, view, d);
}

fn metrics(frame: &mut Frame, area: Rect, app: &App, view: &CoreView, d: &Device) {
    let t = &app.theme;
    let now = view.now_ms;
    let fleet = view.state.mapper.fleets.get(d.fleet as usize);
    let title = format!(
        " {} {} · {} · {} metrics ",
        status_symbol(d.status),
        sanitize::truncate(&sanitize::text(&d.name), 30),
        d.status,
        d.metrics.len()
    );
    let spark_width = if app.slow_link { 0 } else { 14 };
    let height = area.height.saturating_sub(2) as usize;
    let offset = (app.metric / height.max(1)) * height.max(1);
    let rows: Vec<Row> = d
        .metrics
        .iter()
        .skip(offset)
        .take(height)
        .map(|m| {
            let value_style = view
                .alerts
                .metric_severity(d.id, &m.name)
                .map_or(t.accent, |s| super::alerts::severity_style(t, s));
            let mut cells = vec![
                Span::styled(widgets::metric_label(m, fleet), t.text),
                Span::styled(widgets::value_with_unit(m, d, fleet), value_style),
                Span::styled(age(now - m.updated_ms), t.dim),
            ];
            if spark_width > 0 {
                cells.push(Span::styled(widgets::sparkline(m, spark_width), t.accent));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Min(12),
        Constraint::Length(14),
        Constraint::Length(4),
    ];
    if spark_width > 0 {
        widths.push(Constraint::Length(spark_width as u16));
    }
    let table = Table::new(rows, widths)
        .block(titled(t, title, true).title_style(status_style(t, d.status)))
        .row_highlight_style(t.selection);
    let mut ts = TableState::default();
    if !d.metrics.is_empty() {
        ts.select(Some(app.metric.saturating_sub(offset)));
    }
    frame.render_stateful_widget(table, area, &mut ts);
}

/// Points of a metric over the window: the coarse tier (means) where the ring no longer
/// reaches, then the ring's own samples.
fn points(m: &Metric, from_ms: i64) -> Vec<(f64, f64)> {
    let ring_start = m.ring.iter().next().map_or(i64::MAX, |(t, _)| t);
    let coarse = m
        .coarse
        .buckets()
        .map(|b| (i64::from(b.minute) * 60_000 + 30_000, f64::from(b.mean)))
        .filter(|(t, _)| *t >= from_ms && *t < ring_start);
    let ring = m.ring.iter().filter(|(t, _)| *t >= from_ms);
    coarse
        .chain(ring)
        .map(|(t, v)| ((t - from_ms) as f64 / 1000.0, v))
        .collect()
}

fn chart(frame: &mut Frame, area: Rect, app: &App, view: &CoreView, d: &Device, m: &Metric) {
    let t = &app.theme;
    let fleet = view.state.mapper.fleets.get(d.fleet as usize);
    let now = view.now_ms;
    let window = app.window.millis();
    let data = points(m, now - window);
    let (lo, hi, sum) = data.iter().fold(
        (f64::INFINITY, f64::NEG_INFINITY, 0.0),
        |(lo, hi, s), &(_, v)| (lo.min(v), hi.max(v), s + v),
    );
    let title = if data.is_empty() {
        format!(
            " {} · {} · no samples in this window (w changes it) ",
            widgets::metric_label(m, fleet),
            app.window.label()
        )
    } else {
        format!(
            " {} · {} · min {} max {} mean {} ",
            widgets::metric_label(m, fleet),
            app.window.label(),
            crate::fleet::device::format_number(lo),
            crate::fleet::device::format_number(hi),
            crate::fleet::device::format_number(sum / data.len() as f64)
        )
    };
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else if lo.is_finite() {
        (lo - 1.0, lo + 1.0)
    } else {
        (0.0, 1.0)
    };
    let secs = window as f64 / 1000.0;
    let dataset = Dataset::default()
        .marker(if app.slow_link {
            Marker::Dot
        } else {
            Marker::Braille
        })
        .graph_type(GraphType::Line)
        .style(t.accent)
        .data(&data);
    let chart = Chart::new(vec![dataset])
        .block(titled(t, title, false))
        .x_axis(
            Axis::default()
                .bounds([0.0, secs])
                .style(t.dim)
                .labels([format!("-{}", app.window.label()), "now".to_string()]),
        )
        .y_axis(Axis::default().bounds([lo, hi]).style(t.dim).labels([
            crate::fleet::device::format_number(lo),
            crate::fleet::device::format_number(hi),
        ]));
    frame.render_widget(chart, area);
}

fn info(frame: &mut Frame, area: Rect, app: &App, view: &CoreView, d: &Device) {
    let t = &app.theme;
    let s = view.state;
    let now = view.now_ms;
    let broker = s
        .connections
        .get(d.conn.index())
        .map_or("?", |c| c.name.as_str());
    let labels: Vec<String> = d
        .labels
        .iter()
        .map(|(k, v)| format!("{}={}", sanitize::text(k), sanitize::text(v)))
        .collect();
    let mut lines = vec![
        Line::from(vec![
            Span::styled("fleet ", t.dim),
            Span::styled(s.fleet_name(d).to_string(), t.text),
            Span::styled("  broker ", t.dim),
            Span::styled(sanitize::text(broker).into_owned(), t.text),
            Span::styled("  labels ", t.dim),
            Span::styled(labels.join(" "), t.text),
        ]),
        Line::from(vec![
            Span::styled("seen ", t.dim),
            Span::styled(format!("{} ago", age(now - d.last_seen_ms)), t.text),
            Span::styled("  messages ", t.dim),
            Span::styled(d.messages.to_string(), t.text),
            Span::styled("  decode errors ", t.dim),
            Span::styled(
                d.decode_errors.to_string(),
                if d.decode_errors > 0 { t.warn } else { t.text },
            ),
        ]),
    ];
    for topic in d.topics.iter().take(3) {
        lines.push(Line::from(vec![
            Span::styled("topic ", t.dim),
            Span::styled(sanitize::text(topic).into_owned(), t.text),
        ]));
    }
    if let Some(e) = &d.last_error {
        lines.push(Line::from(vec![
            Span::styled("last error ", t.dim),
            Span::styled(
                format!(
                    "{} ago: {} (on {})",
                    age(now - e.at_ms),
                    sanitize::text(&e.message),
                    sanitize::text(&e.topic)
                ),
                t.warn,
            ),
        ]));
    }
    let recent: Vec<&crate::commands::Request> = view
        .tracker
        .recent()
        .filter(|r| r.device_id == Some(d.id))
        .take(3)
        .collect();
    if !recent.is_empty() {
        lines.push(Line::from(Span::styled("last commands", t.dim)));
        lines.extend(recent.into_iter().map(|r| super::command_line(t, r, false)));
    }
    lines.push(Line::from(Span::styled("last payload", t.dim)));
    for l in pretty_payload(&d.last_payload).lines().take(40) {
        lines.push(Line::from(Span::styled(l.to_string(), t.text)));
    }
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(titled(t, " Device ".into(), false));
    frame.render_widget(p, area);
}

/// Pretty JSON when it parses, else text with escapes or bounded hex for binary; never
/// raw control characters.
pub fn pretty_payload(bytes: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => serde_json::to_string_pretty(&v)
            .unwrap_or_default()
            .lines()
            .map(|l| sanitize::text(l).into_owned())
            .collect::<Vec<_>>()
            .join("\n"),
        Err(_) => sanitize::payload(bytes).into_owned(),
    }
}
