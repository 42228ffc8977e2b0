//! Tokens of the condition language, each with its byte offset for error columns.

use super::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Num(f64),
    /// A duration literal such as `5m`, in milliseconds.
    Dur(i64),
    Str(String),
    Ident(String),
    LParen,
    RParen,
    Comma,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Plus,
    Minus,
    Star,
    Slash,
    And,
    Or,
    Not,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Num(n) => format!("number `{n}`"),
            Tok::Dur(_) => "a duration".into(),
            Tok::Str(s) => format!("text \"{}\"", crate::sanitize::text(s)),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Le => "`<=`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Ge => "`>=`".into(),
            Tok::Eq => "`==`".into(),
            Tok::Ne => "`!=`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Star => "`*`".into(),
            Tok::Slash => "`/`".into(),
            Tok::And => "`and`".into(),
            Tok::Or => "`or`".into(),
            Tok::Not => "`not`".into(),
            Tok::Eof => "the end of the expression".into(),
        }
    }
}

/// Splits `src` into tokens; the last one is always `Eof`.
pub(super) fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let two = |s: &[u8]| b[i..].starts_with(s);
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b',' => Tok::Comma,
            b'+' => Tok::Plus,
            b'-' => Tok::Minus,
            b'*' => Tok::Star,
            b'/' => Tok::Slash,
            b'<' if two(b"<=") => Tok::Le,
            b'<' => Tok::Lt,
            b'>' if two(b">=") => Tok::Ge,
            b'>' => Tok::Gt,
            b'=' if two(b"==") => Tok::Eq,
            b'=' => {
                return Err(ExprError::at(
                    src,
                    i,
                    "use `==` to compare (a single `=` is not an operator)",
                ));
            }
            b'!' if two(b"!=") => Tok::Ne,
            b'!' => Tok::Not,
            b'&' if two(b"&&") => Tok::And,
            b'|' if two(b"||") => Tok::Or,
            b'"' | b'\'' => {
                let (s, end) = string(src, i)?;
                out.push((Tok::Str(s), start));
                i = end;
                continue;
            }
            b'0'..=b'9' | b'.' => {
                let (tok, end) = number(src, i)?;
                out.push((tok, start));
                i = end;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = b[i..]
                    .iter()
                    .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_' || c == b'.'))
                    .map_or(b.len(), |p| i + p);
                let word = &src[i..end];
                let tok = match word {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    _ => Tok::Ident(word.to_string()),
                };
                out.push((tok, start));
                i = end;
                continue;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(ExprError::at(
                    src,
                    i,
                    format!("unexpected character `{}`", ch.escape_debug()),
                ));
            }
        };
        i += match tok {
            Tok::Le | Tok::Ge | Tok::Eq | Tok::Ne | Tok::And | Tok::Or => 2,
            _ => 1,
        };
        out.push((tok, start));
    }
    out.push((Tok::Eof, b.len()));
    Ok(out)
}

/// A quoted string starting at `start` (either quote); returns it and the offset past it.
fn string(src: &str, start: usize) -> Result<(String, usize), ExprError> {
    let quote = src.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((j, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, start + 1 + j + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('\\' | '"' | '\''))) => out.push(e),
                _ => {
                    return Err(ExprError::at(
                        src,
                        start + 1 + j,
                        "unknown escape: only \\\\, \\\" and \\' are allowed in text",
                    ));
                }
            },
            c => out.push(c),
        }
    }
    Err(ExprError::at(
        src,
        start,
        format!("text starting here has no closing {quote}"),
    ))
}

/// A number (`12`, `0.5`, `1e3`) or a duration (`5m`, `1h30m`, `500ms`).
fn number(src: &str, start: usize) -> Result<(Tok, usize), ExprError> {
    let b = src.as_bytes();
    let mut i = start;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    // An exponent is a number; any other letter makes this a duration.
    let exp = i < b.len()
        && (b[i] == b'e' || b[i] == b'E')
        && b.get(i + 1)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'-' || *c == b'+');
    if exp {
        i += 2;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    } else if i < b.len() && b[i].is_ascii_alphabetic() {
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let text = &src[start..i];
        let d = crate::config::duration::parse(text).map_err(|e| ExprError::at(src, start, e))?;
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        return Ok((Tok::Dur(ms), i));
    }
    let text = &src[start..i];
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((Tok::Num(n), i)),
        _ => Err(ExprError::at(
            src,
            start,
            format!("`{text}` is not a number"),
        )),
    }
}
