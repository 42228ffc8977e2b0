//! The topic explorer: every topic seen, as a tree, with message counts and last payloads;
//! unmapped topics are marked so a user sees what to map.

use super::titled;
use crate::app::App;
use crate::app::topics::{entries, lines};
use crate::view::CoreView;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Row, Table, TableState};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let all = lines(entries(view.state), &app.topics.unfolded);
    let height = area.height.saturating_sub(3) as usize;
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
            let count = match (l.branch && !l.unfolded, own.and_then(|o| o.messages)) {
                (true, _) => l.messages.to_string(),
                (false, Some(n)) => n.to_string(),
                (false, None) => String::new(),
            };
            let mark = match own.map(|o| &o.mapped_to) {
                _ if l.branch && !l.unfolded => {
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
                mark,
                Span::styled(payload, t.dim),
            ])
        })
        .collect();
    let title = format!(
        " Topics · {} unmapped · {} mapped devices (Enter l/h unfold/fold, t or Esc: back) ",
        view.state.unmapped.len(),
        view.state.devices.len()
    );
    let table = Table::new(
        rows,
        [
            Constraint::Percentage(40),
            Constraint::Length(7),
            Constraint::Length(18),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["TOPIC", "MSGS", "", "LAST PAYLOAD"]).style(t.header))
    .block(titled(t, title, true))
    .row_highlight_style(t.selection);
    let mut ts = TableState::default();
    if !all.is_empty() {
        ts.select(Some(selected - offset));
    }
    frame.render_stateful_widget(table, area, &mut ts);
}
