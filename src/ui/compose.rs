//! The command dialog over the current view: palette, parameters with their checks, the
//! exact topic and payload, and what confirming takes.

use crate::app::compose::{Composer, Stage};
use crate::app::{App, CommandOp};
use crate::sanitize;
use crate::view::CoreView;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView, c: &Composer) {
    let t = &app.theme;
    let state = view.state;
    let set = &app.commands;
    let name_of = |id: &crate::vocab::DeviceId| {
        state
            .devices
            .get(id.index())
            .map_or_else(String::new, |d| sanitize::text(&d.name).into_owned())
    };
    let who = match (c.targets.as_slice(), c.chosen) {
        ([], _) => "no device".into(),
        ([one], crate::app::compose::Chosen::AtHand) => name_of(one),
        ([one], crate::app::compose::Chosen::Marked) => format!("{} (marked)", name_of(one)),
        (many, crate::app::compose::Chosen::Marked) => format!("{} marked devices", many.len()),
        (many, _) => format!("{} devices the filter shows", many.len()),
    };
    let mut lines: Vec<Line> = Vec::new();
    let title = match &c.stage {
        Stage::Pick { query, .. } => {
            lines.push(Line::from(vec![
                Span::styled("> ", t.accent),
                Span::styled(sanitize::text(query).into_owned(), t.text),
                Span::styled("▏", t.accent),
            ]));
            let choices = c.choices(set, state);
            let sel = c.pick_index(&choices);
            for (i, cmd) in choices.iter().enumerate() {
                let mut spans = vec![
                    Span::styled(if i == sel { "▶ " } else { "  " }, t.accent),
                    Span::styled(cmd.usage(), if i == sel { t.selection } else { t.text }),
                ];
                if cmd.dangerous {
                    spans.push(Span::styled("  ⚠ dangerous", t.warn));
                }
                if !cmd.description.is_empty() {
                    spans.push(Span::styled(format!("  {}", cmd.description), t.dim));
                }
                lines.push(Line::from(spans));
            }
            if choices.is_empty() {
                lines.push(Line::from(Span::styled("no command matches", t.dim)));
            }
            format!(" Command for {who} ")
        }
        Stage::Params {
            command,
            fields,
            focus,
        } => {
            let template = c.template(set, state, command);
            let mut all_valid = true;
            for (i, f) in fields.iter().enumerate() {
                let spec = template.as_ref().and_then(|tpl| tpl.param(&f.name));
                let check = spec.map(|p| p.parse(&f.text));
                let mut spans = vec![
                    Span::styled(if i == *focus { "▶ " } else { "  " }, t.accent),
                    Span::styled(format!("{} = ", f.name), t.header),
                    Span::styled(sanitize::text(&f.text).into_owned(), t.text),
                ];
                if i == *focus {
                    spans.push(Span::styled("▏", t.accent));
                }
                match check {
                    Some(Err(e)) => {
                        all_valid = false;
                        spans.push(Span::styled(format!("  ✗ {e}"), t.crit))
                    }
                    Some(Ok(_)) => spans.push(Span::styled("  ✓", t.ok)),
                    None => {}
                }
                if let Some(p) = spec {
                    spans.push(Span::styled(format!("  ({})", p.hint()), t.dim));
                }
                lines.push(Line::from(spans));
            }
            // A field's own error says it already; the preview needs valid fields.
            if all_valid {
                preview(&mut lines, app, view, c);
            }
            lines.push(Line::from(Span::styled(
                "Enter sends · ↑↓/Tab move · Esc cancels",
                t.dim,
            )));
            format!(" {} → {who} ", sanitize::text(command))
        }
        Stage::Confirm { command, .. } => {
            preview(&mut lines, app, view, c);
            match c.needed(set, state) {
                Some(need) => {
                    let why = if c.bulk() {
                        let fleets = match c.fleets(state) {
                            1 => String::new(),
                            n => format!(" in {n} fleets"),
                        };
                        format!(
                            "This goes to {} devices{fleets}. Type `{need}` to confirm:",
                            c.targets.len()
                        )
                    } else {
                        format!("Dangerous command. Type the device name ({need}) to confirm:")
                    };
                    lines.push(Line::from(Span::styled(why, t.warn)));
                    if let Stage::Confirm { typed, .. } = &c.stage {
                        lines.push(Line::from(vec![
                            Span::styled("> ", t.accent),
                            Span::styled(sanitize::text(typed).into_owned(), t.text),
                            Span::styled("▏", t.accent),
                        ]));
                    }
                }
                None => lines.push(Line::from(Span::styled(
                    "Enter sends · Esc cancels",
                    t.accent,
                ))),
            }
            format!(" {} → {who} ", sanitize::text(command))
        }
        Stage::Publish { op, typed } => {
            if let CommandOp::Publish {
                topic,
                payload,
                qos,
                retain,
                ..
            } = &**op
            {
                let conn = op.publish_conn(state);
                let broker = view
                    .conns
                    .get(conn.index())
                    .map_or("?", |b| b.name.as_str());
                lines.push(kv(app, "broker", broker));
                lines.push(kv(app, "topic", &sanitize::text(topic)));
                lines.push(kv(app, "payload", &sanitize::text(payload)));
                lines.push(kv(
                    app,
                    "qos",
                    &format!("{qos}{}", if *retain { ", RETAINED" } else { "" }),
                ));
                match c.needed(set, state) {
                    Some(need) => {
                        lines.push(Line::from(Span::styled(
                            format!(
                                "Retained: every later subscriber gets it. Type {need} to confirm:"
                            ),
                            t.warn,
                        )));
                        lines.push(Line::from(vec![
                            Span::styled("> ", t.accent),
                            Span::styled(sanitize::text(typed).into_owned(), t.text),
                        ]));
                    }
                    None => lines.push(Line::from(Span::styled(
                        "Enter publishes · Esc cancels",
                        t.accent,
                    ))),
                }
            }
            " Publish ".into()
        }
    };
    let width = area.width.min(96);
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 3,
        width,
        height,
    };
    let body = Paragraph::new(lines).wrap(Wrap { trim: false }).block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(t.accent)
            .title(Span::styled(title, t.header)),
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(body, popup);
}

fn kv<'a>(app: &App, k: &str, v: &str) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{k:>8}: "), app.theme.dim),
        Span::styled(v.to_string(), app.theme.text),
    ])
}

/// The exact topic and payload, or why the command cannot be sent as typed.
fn preview(lines: &mut Vec<Line>, app: &App, view: &CoreView, c: &Composer) {
    match c.preview(&app.commands, view.state) {
        Some(Ok((topic, payload))) => {
            lines.push(Line::from(""));
            lines.push(kv(app, "topic", &sanitize::text(&topic)));
            lines.push(kv(app, "payload", &sanitize::text(&payload)));
            if c.bulk() {
                lines.push(Line::from(Span::styled(
                    format!(
                        "         (for the first device; {} in all, at most {} a second)",
                        c.targets.len(),
                        view.bulk_rate
                    ),
                    app.theme.dim,
                )));
            }
            lines.push(Line::from(""));
        }
        Some(Err(e)) => lines.push(Line::from(Span::styled(format!("✗ {e}"), app.theme.crit))),
        None => {}
    }
}
