//! Text with `{name}` placeholders: command topics, payloads and `expect`, and alert
//! publish topics (`[hooks] publish_topic`). `{{` and `}}` are literal braces.

use super::params::is_identifier;

/// A text with `{name}` placeholders; `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq)]
pub struct Placeholders {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Lit(String),
    Var(String),
}

impl Placeholders {
    pub fn parse(s: &str) -> Result<Placeholders, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|(_, n)| *n == '{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().is_some_and(|(_, n)| *n == '}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let rest = &s[i + 1..];
                    let end = rest
                        .find('}')
                        .ok_or_else(|| format!("`{{` at column {} is never closed", i + 1))?;
                    let name = &rest[..end];
                    if !is_identifier(name) {
                        return Err(format!(
                            "`{{{name}}}` at column {} is not a placeholder name (write `{{{{` for a brace)",
                            i + 1
                        ));
                    }
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Var(name.to_string()));
                    for _ in 0..=end {
                        chars.next();
                    }
                }
                '}' => {
                    return Err(format!(
                        "`}}` at column {} has no `{{` (write `}}}}` for a brace)",
                        i + 1
                    ));
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Placeholders { pieces })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(v.as_str()),
            Piece::Lit(_) => None,
        })
    }

    /// The placeholder when the text is exactly one, as in `level = "{level}"`.
    pub(super) fn whole_var(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [Piece::Var(v)] => Some(v),
            _ => None,
        }
    }

    /// Fills in every placeholder; `value` says why one cannot be filled.
    pub fn render(
        &self,
        mut value: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(l) => out.push_str(l),
                Piece::Var(v) => out.push_str(&value(v)?),
            }
        }
        Ok(out)
    }

    /// A subscription filter for the topics this template renders to: any level with a
    /// placeholder becomes `+`.
    pub fn filter(&self) -> String {
        let marked = self.render(|_| Ok("\u{0}".into())).unwrap_or_default();
        marked
            .split('/')
            .map(|level| if level.contains('\u{0}') { "+" } else { level })
            .collect::<Vec<_>>()
            .join("/")
    }
}
