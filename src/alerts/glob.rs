//! Shell-style globs (`*`, `?`) for device names and label values in scopes and silences.
//! A pattern without wildcards is an exact match; no regex, so a pattern can never be slow.

use std::fmt;

/// A compiled glob. `*` matches any run of characters, `?` exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Box<str>,
    literal: bool,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob {
            literal: !pattern.contains(['*', '?']),
            pattern: pattern.into(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Iterative matcher with single-star backtracking: linear-ish, never exponential.
    pub fn matches(&self, text: &str) -> bool {
        if self.literal {
            return *self.pattern == *text;
        }
        let p: Vec<char> = self.pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            match p.get(pi) {
                Some('*') => {
                    star = Some((pi, ti));
                    pi += 1;
                }
                Some(&c) if c == '?' || c == t[ti] => {
                    pi += 1;
                    ti += 1;
                }
                _ => match star {
                    // Let the last star swallow one more character and retry.
                    Some((sp, st)) => {
                        pi = sp + 1;
                        ti = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn stars_and_question_marks() {
        assert!(Glob::new("tank-*").matches("tank-07"));
        assert!(Glob::new("*-07").matches("tank-07"));
        assert!(Glob::new("t?nk-*7").matches("tank-107"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("a*b*c").matches("aXbYbc"));
        assert!(!Glob::new("tank-*").matches("pump-01"));
        assert!(!Glob::new("tank").matches("tank-01"));
        assert!(!Glob::new("a?").matches("a"));
    }
}
