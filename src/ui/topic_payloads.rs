//! The explorer's payload pane: the last payloads of the topic at the cursor, newest
//! first, with age, size and retained flag; JSON pretty-printed, binary as a hex dump,
//! text as it is. Everything is sanitised: device bytes never reach the terminal raw.

use super::titled;
use crate::app::App;
use crate::fleet::{KeptPayload, TopicRecord};
use crate::sanitize;
use crate::view::CoreView;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Bytes a hex dump line shows.
const HEX_WIDTH: usize = 16;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView, path: Option<&str>) {
    let t = &app.theme;
    let records: Vec<&TopicRecord> = path.map_or_else(Vec::new, |p| {
        let records = view.state.topic_stats.records.iter();
        records.filter(|r| &*r.topic == p).collect()
    });
    let mut lines = Vec::new();
    for r in &records {
        let device = r.device.and_then(|d| view.state.devices.get(d.index()));
        let mapped = device.map_or("unmapped".to_string(), |d| {
            format!("→ {}", sanitize::text(&d.name))
        });
        lines.push(Line::from(vec![
            Span::styled(format!("{} · ", view.conn_name(r.conn)), t.dim),
            Span::styled(format!("{} messages · ", r.messages), t.dim),
            Span::styled(mapped, t.ok),
        ]));
        for p in r.payloads() {
            let retained = if p.retained { " · retained" } else { "" };
            let kept = if p.bytes.len() < p.size {
                format!(" ({} kept)", p.bytes.len())
            } else {
                String::new()
            };
            lines.push(Line::from(Span::styled(
                format!(
                    "{} ago · {} B{kept}{retained}",
                    crate::text::age(view.now_ms - p.at_ms),
                    p.size
                ),
                t.header,
            )));
            lines.extend(
                payload_lines(p)
                    .into_iter()
                    .map(|l| Line::from(Span::styled(format!("  {l}"), t.text))),
            );
        }
    }
    if records.is_empty() {
        lines.push(Line::from(Span::styled(
            "a branch: unfold it (Enter, l) and pick a topic to see its last payloads",
            t.dim,
        )));
    }
    let title = match path {
        Some(p) => format!(" {} · last payloads, newest first ", sanitize::text(p)),
        None => " Payloads ".to_string(),
    };
    frame.render_widget(Paragraph::new(lines).block(titled(t, title, false)), area);
}

/// A payload as lines to show: pretty JSON, text, or a hex dump of binary.
pub fn payload_lines(p: &KeptPayload) -> Vec<String> {
    let complete = p.bytes.len() == p.size;
    if complete
        && matches!(p.bytes.first(), Some(b'{' | b'['))
        && let Ok(json) = serde_json::from_slice::<serde_json::Value>(&p.bytes)
        && let Ok(pretty) = serde_json::to_string_pretty(&json)
    {
        return pretty
            .lines()
            .map(|l| sanitize::text(l).into_owned())
            .collect();
    }
    match std::str::from_utf8(&p.bytes) {
        Ok(text) if !is_binary(text) => text
            .lines()
            .map(|l| sanitize::text(l).into_owned())
            .collect(),
        // Cut mid-character by the byte cap: still text, less its last character.
        Err(e) if !complete && e.error_len().is_none() => {
            let text = std::str::from_utf8(&p.bytes[..e.valid_up_to()]).unwrap_or_default();
            text.lines()
                .map(|l| sanitize::text(l).into_owned())
                .collect()
        }
        _ => hex_dump(&p.bytes),
    }
}

/// Text with control characters other than line breaks and tabs reads as binary.
fn is_binary(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// `0000  de ad be ef …  ....` lines: offset, bytes in hex, printable ASCII.
fn hex_dump(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(HEX_WIDTH)
        .enumerate()
        .map(|(i, chunk)| {
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!(
                "{:04x}  {:<w$}  {ascii}",
                i * HEX_WIDTH,
                hex.join(" "),
                w = HEX_WIDTH * 3 - 1
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(bytes: &[u8], size: usize) -> KeptPayload {
        KeptPayload {
            at_ms: 0,
            retained: false,
            size,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn json_is_pretty_printed_and_escaped() {
        let json = br#"{"a":1,"b":"\u001b[2J\u202e"}"#;
        let lines = payload_lines(&kept(json, json.len()));
        assert_eq!(lines[0], "{");
        assert_eq!(lines[1], r#"  "a": 1,"#);
        // JSON's own escape for ESC stays; the bidi override is escaped by us.
        assert!(lines[2].contains("\\u001b[2J\\u{202e}"), "{lines:?}");
        assert!(lines.iter().all(|l| !l.contains('\x1b')));
    }

    #[test]
    fn binary_is_a_hex_dump() {
        let bytes: Vec<u8> = (0u8..20).chain([0xff, b'A']).collect();
        let lines = payload_lines(&kept(&bytes, bytes.len()));
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("0000  00 01 02"), "{}", lines[0]);
        assert!(
            lines[1].starts_with("0010  10 11 12 13 ff 41"),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with("....A"), "{}", lines[1]);
    }

    #[test]
    fn text_and_cut_text_stay_text() {
        assert_eq!(payload_lines(&kept(b"ON", 2)), ["ON"]);
        // `°` cut in half by the byte cap.
        let cut = "temp 21°".as_bytes();
        assert_eq!(
            payload_lines(&kept(&cut[..cut.len() - 1], 100)),
            ["temp 21"]
        );
        // A cut JSON document is shown as the text it is.
        assert_eq!(payload_lines(&kept(br#"{"a":"#, 100)), [r#"{"a":"#]);
        assert_eq!(payload_lines(&kept(b"a\x1b[31m", 7)).len(), 1, "ESC: hex");
    }
}
