//! The topic explorer: every topic seen, as a tree, with message counts and last payloads;
//! unmapped topics are marked so a user sees what to map.

use super::titled;
use crate::app::App;
use crate::app::topics::{entries, lines};
use crate::view::CoreView;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Row, Table, TableState};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let all = lines(entries(view.state), &app.topics);
    // The table over the payload pane of the topic at the cursor.
    let [area, pane] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Min(4)]).areas(area);
    let height = area.height.saturating_sub(2) as usize;
    let selected = app.topics.cursor_index(&all);
    let offset = (selected / height.max(1)) * height.max(1);
    let rows: Vec<Row> = all
        .iter()
        .skip(offset)
        .take(height)
        .map(|l| {
            let marker = match (l.branch, l.unfolded) {
                (false, _) => "  ",
                (true, false) => "▸ ",
                (true, true) => "▾ ",
            };
            let name = format!("{}{marker}{}", "  ".repeat(l.depth), l.label);
            let own = l.own.as_ref();
            let folded = l.branch && !l.unfolded;
            // A folded branch speaks for everything under it; an open one only for itself.
            let (count, rate) = match (folded, own) {
                (true, _) => (l.messages.to_string(), l.rate),
                (false, Some(o)) => (o.messages.to_string(), o.rate),
                (false, None) => (String::new(), 0.0),
            };
            let age = match own {
                Some(o) if !folded => {
                    let r = if o.retained { " R" } else { "" };
                    format!("{}{r}", crate::text::age(view.now_ms - o.last_ms))
                }
                _ => String::new(),
            };
            let mark = match own.map(|o| &o.mapped_to) {
                _ if folded => {
                    let s = if l.topics == 1 { "" } else { "s" };
                    Span::styled(format!("{} topic{s}", l.topics), t.dim)
                }
                Some(Some(dev)) => Span::styled(format!("→ {dev}"), t.ok),
                Some(None) => Span::styled("unmapped", t.warn),
                None => Span::raw(""),
            };
            let payload = own.map(|o| o.payload.clone()).unwrap_or_default();
            Row::new(vec![
                Span::styled(name, t.text),
                Span::styled(count, t.dim),
                Span::styled(per_second(rate), t.dim),
                Span::styled(age, t.dim),
                mark,
                Span::styled(payload, t.dim),
            ])
        })
        .collect();
    let title = match app.topics.search.as_str() {
        "" => format!(
            " Topics · {} unmapped · {} mapped devices ",
            view.state.unmapped.len(),
            view.state.devices.len()
        ),
        search => format!(
            " Topics matching `{}` · {} lines (Esc clears) ",
            crate::sanitize::text(search),
            all.len()
        ),
    };
    let table = Table::new(
        rows,
        [
            Constraint::Percentage(35),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(16),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["TOPIC", "MSGS", "RATE", "AGE", "", "LAST PAYLOAD"]).style(t.header))
    .block(titled(t, title, true))
    .row_highlight_style(t.selection);
    let mut ts = TableState::default();
    if !all.is_empty() {
        ts.select(Some(selected - offset));
    }
    frame.render_stateful_widget(table, area, &mut ts);
    let at = all.get(selected).filter(|l| l.own.is_some());
    super::topic_payloads::draw(frame, pane, app, view, at.map(|l| l.path.as_str()));
}

/// A rate, short: `12/s`, `0.5/s`, `3/m` below one every ten seconds, nothing for none.
fn per_second(rate: f64) -> String {
    match rate {
        r if r <= 0.0 => String::new(),
        r if r >= 10.0 => format!("{r:.0}/s"),
        r if r >= 0.1 => format!("{r:.1}/s"),
        r => format!("{:.0}/m", r * 60.0),
    }
}
