//! The topic explorer: every topic seen, as a tree, with message counts and last payloads;
//! unmapped topics are marked so a user sees what to map.

use super::titled;
use crate::app::App;
use crate::app::topics::lines;
use crate::view::CoreView;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Row, Table, TableState};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let all = lines(view.state);
    let height = area.height.saturating_sub(2) as usize;
    let selected = app.topic_selected.min(all.len().saturating_sub(1));
    let offset = (selected / height.max(1)) * height.max(1);
    let rows: Vec<Row> = all
        .iter()
        .skip(offset)
        .take(height)
        .map(|l| {
            let name = format!("{}{}", "  ".repeat(l.depth), l.label);
            let (count, mark) = match (&l.mapped_to, l.messages) {
                (Some(dev), _) => (String::new(), Span::styled(format!("→ {dev}"), t.ok)),
                (None, Some(n)) => (n.to_string(), Span::styled("unmapped", t.warn)),
                (None, None) => (String::new(), Span::raw("")),
            };
            Row::new(vec![
                Span::styled(name, t.text),
                Span::styled(count, t.dim),
                mark,
                Span::styled(l.payload.clone(), t.dim),
            ])
        })
        .collect();
    let title = format!(
        " Topics · {} unmapped · {} mapped devices (t or Esc: back) ",
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
