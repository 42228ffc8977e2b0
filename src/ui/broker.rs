//! The broker pane (`b`, `:broker`): per connection, what its broker says about itself on
//! `$SYS` (connected clients, messages a second in and out, what it dropped for all its
//! clients) beside what fleetop itself saw; and the short form the header shows.

use super::titled;
use crate::app::App;
use crate::broker::{BrokerHealth, Flavour};
use crate::fleet::Connection;
use crate::sanitize;
use crate::text::age;
use crate::theme::Theme;
use crate::view::CoreView;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// `12 clients ↓3.1 ↑5/s` for the header, when the broker said any of it.
pub fn summary(h: &BrokerHealth) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(n) = h.clients() {
        parts.push(format!("{n} clients"));
    }
    match (h.received_per_s(), h.sent_per_s()) {
        (None, None) => {}
        (rx, tx) => parts.push(format!("↓{} ↑{}/s", rate(rx), rate(tx))),
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// `3.1`, `250`, `?` for a rate the broker did not give.
fn rate(r: Option<f64>) -> String {
    match r {
        None => "?".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => crate::fleet::device::format_number((v * 10.0).round() / 10.0),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let conns = &view.state.connections;
    let mut lines: Vec<Line> = Vec::new();
    for (i, c) in conns.iter().enumerate() {
        let url = view.conns.get(i).and_then(|l| l.url.as_deref());
        lines.extend(connection_lines(t, c, url, view.now_ms));
        lines.push(Line::default());
    }
    lines.push(Line::from(Span::styled(
        "Figures from the broker's $SYS topics (Mosquitto; EMQX per node, summed; HiveMQ's \
         $SYS plugin), read on a connection of their own. A broker that publishes none, or \
         refuses them to fleetop (ACL, AWS IoT, rumqttd), shows none.",
        t.dim,
    )));
    let title = format!(" Brokers · {} (b or Esc: back) ", conns.len());
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(titled(t, title, true)),
        area,
    );
}

fn connection_lines<'a>(
    t: &Theme,
    c: &Connection,
    url: Option<&str>,
    now_ms: i64,
) -> Vec<Line<'a>> {
    let h = &c.broker;
    let link_style = match c.state {
        crate::vocab::LinkState::Connected | crate::vocab::LinkState::Replaying => t.ok,
        crate::vocab::LinkState::Connecting => t.warn,
        _ => t.crit,
    };
    let mut head = vec![
        Span::styled(format!("{} ", sanitize::text(&c.name)), t.header),
        Span::styled(c.state.to_string(), link_style),
    ];
    if let Some(u) = url {
        head.push(Span::styled(format!("  {}", sanitize::text(u)), t.dim));
    }
    let mut lines = vec![Line::from(head)];
    let row = |label: &str, value: String, style| {
        Line::from(vec![
            Span::styled(format!("  {label:<12}"), t.dim),
            Span::styled(value, style),
        ])
    };
    let ours = format!(
        "{} in · {} dropped in fleetop's queue",
        super::plural(c.messages as usize, "message"),
        c.dropped
    );
    let ours_style = if c.dropped > 0 { t.crit } else { t.text };
    let Some(updated) = h.updated_ms else {
        lines.push(row("$SYS", "no figures from this broker".into(), t.dim));
        lines.push(row("fleetop", ours, ours_style));
        return lines;
    };
    let mut what = match h.flavour {
        Flavour::Emqx => format!("EMQX, {} nodes", h.nodes()),
        other => other.as_str().to_string(),
    };
    if let Some(v) = &h.version {
        what.push_str(&format!(" · {v}"));
    }
    what.push_str(&format!(" · updated {} ago", age(now_ms - updated)));
    lines.push(row("broker", what, t.text));
    let known = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    lines.push(row(
        "clients",
        known(h.clients().map(|n| n.to_string())),
        t.text,
    ));
    lines.push(row(
        "received",
        known(
            h.received_per_s()
                .map(|r| format!("{} msg/s", rate(Some(r)))),
        ),
        t.text,
    ));
    lines.push(row(
        "sent",
        known(h.sent_per_s().map(|r| format!("{} msg/s", rate(Some(r))))),
        t.text,
    ));
    let dropped = h.dropped();
    // Mosquitto first publishes its counter once it is non-zero.
    let none_yet = match h.flavour {
        Flavour::Mosquitto => "none reported (Mosquitto reports it once non-zero)",
        _ => "—",
    };
    lines.push(row(
        "dropped",
        dropped.map_or_else(
            || none_yet.to_string(),
            |n| format!("{n} by the broker, for all its clients"),
        ),
        if dropped.is_some_and(|n| n > 0) {
            t.warn
        } else {
            t.text
        },
    ));
    lines.push(row("fleetop", ours, ours_style));
    lines
}
