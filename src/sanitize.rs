//! Making device-provided text safe to show.
//!
//! Topics, payloads and values come from untrusted devices. Before any of it reaches a
//! terminal or a log line, control characters (C0, DEL, C1), escape sequences and bidi
//! overrides are replaced by visible escapes, so a topic like `\x1b]0;pwned\x07` can
//! neither retitle the window nor clear the screen.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for characters that must never reach a terminal raw.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Escapes unsafe characters in valid UTF-8 text; borrows when nothing needs escaping.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_char(&mut out, c);
    }
    Cow::Owned(out)
}

/// Escapes arbitrary bytes: invalid UTF-8 shows as `\xNN`, unsafe characters as escapes.
pub fn bytes(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => text(s),
        Err(_) => {
            let mut out = String::with_capacity(b.len() + 8);
            for chunk in b.utf8_chunks() {
                for c in chunk.valid().chars() {
                    push_char(&mut out, c);
                }
                for byte in chunk.invalid() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            Cow::Owned(out)
        }
    }
}

/// Bytes of a binary payload shown as hex before the cut.
pub const HEX_BYTES: usize = 64;

/// A payload as a person can read it: text (escaped) when it is text, else bounded hex
/// (`hex 82 a4 21 … (312 bytes)`) for binary payloads (CBOR, MessagePack, protobuf) and
/// anything else that is not UTF-8 or carries C0 control bytes other than line breaks,
/// tabs and ESC (text with terminal sequences reads better escaped, as `\e[2J`).
pub fn payload(b: &[u8]) -> Cow<'_, str> {
    let binary = |c: char| c < ' ' && !matches!(c, '\n' | '\r' | '\t' | '\u{1b}');
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(binary) => text(s),
        _ => Cow::Owned(hex(b, HEX_BYTES)),
    }
}

/// At most `max` bytes as spaced hex, marked `hex`, with the full length when cut.
pub fn hex(b: &[u8], max: usize) -> String {
    let mut out = String::with_capacity(4 + 3 * b.len().min(max) + 16);
    out.push_str("hex");
    for byte in b.iter().take(max) {
        let _ = write!(out, " {byte:02x}");
    }
    if b.len() > max {
        let _ = write!(out, " … ({} bytes)", b.len());
    }
    out
}

fn push_char(out: &mut String, c: char) {
    if !is_unsafe(c) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        '\t' => write!(out, "\\t"),
        '\u{1b}' => write!(out, "\\e"),
        c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// Shortens already-sanitised text to at most `max` characters, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some(_) => {
            let keep: String = s.chars().take(max.saturating_sub(1)).collect();
            Cow::Owned(keep + "…")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(text("fleet/tanks/tank-01"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(text("a\x1b]0;pwned\x07b"), "a\\e]0;pwned\\x07b");
        assert_eq!(text("\x1b[2J"), "\\e[2J");
        assert_eq!(text("x\u{9b}y"), "x\\x9by");
        assert_eq!(text("ab\u{202e}cd"), "ab\\u{202e}cd");
        assert_eq!(text("l1\nl2"), "l1\\nl2");
    }

    #[test]
    fn invalid_utf8_is_hex_escaped() {
        assert_eq!(bytes(b"ok\xff\xfe!"), "ok\\xff\\xfe!");
        assert_eq!(bytes("µ°C".as_bytes()), "µ°C");
    }

    #[test]
    fn binary_payloads_show_as_bounded_hex() {
        assert_eq!(payload(b"{\"a\":1}\n"), "{\"a\":1}\\n");
        assert_eq!(payload(&[0x82, 0xa4, 0x21]), "hex 82 a4 21");
        // Valid UTF-8, but a control byte: binary (a protobuf tag, a CBOR header).
        assert_eq!(payload(&[0x08, 0x2a]), "hex 08 2a");
        assert_eq!(payload(&[0x00]), "hex 00");
        // A terminal sequence in text stays text, escaped.
        assert_eq!(payload(b"\x1b[2Jred\x7f"), "\\e[2Jred\\x7f");
        let big = payload(&[0xff; 1000]);
        assert!(
            big.ends_with("… (1000 bytes)") && big.len() < 4 + 3 * HEX_BYTES + 20,
            "{big}"
        );
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
