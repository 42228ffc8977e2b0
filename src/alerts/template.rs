//! Alert message templates: `{device} level {level_pct}% at {site}`.
//!
//! Parsed once at load (an unclosed brace is a config error with a column); filled from
//! the alert's own fields, then the device's metrics, then its labels. Everything a
//! device provided is sanitised, since messages reach terminals, logs and hooks.

use crate::expr::ExprError;
use crate::fleet::Device;
use crate::sanitize;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(Box<str>),
    Var(Box<str>),
}

/// A compiled message template. `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    source: Box<str>,
    parts: Vec<Part>,
}

/// The alert's own fields, which placeholders name before metrics and labels.
#[derive(Debug, Clone, Copy)]
pub struct TemplateVars<'a> {
    pub rule: &'a str,
    pub fleet: &'a str,
    pub severity: &'a str,
    pub value: &'a str,
    pub status: &'a str,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, ExprError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = src.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let rest = &src[i + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(ExprError::at(
                            src,
                            i,
                            "`{` is not closed; write `{{` for a literal brace",
                        ));
                    };
                    let name = rest[..end].trim();
                    if name.is_empty() || name.contains('{') {
                        return Err(ExprError::at(
                            src,
                            i,
                            "expected a name between `{` and `}`, such as `{device}`",
                        ));
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit).into()));
                    }
                    parts.push(Part::Var(name.into()));
                    // Skip the name and the closing brace.
                    while chars.next_if(|&(j, _)| j <= i + 1 + end).is_some() {}
                }
                '}' => {
                    return Err(ExprError::at(
                        src,
                        i,
                        "`}` without `{`; write `}}` for a literal brace",
                    ));
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit.into()));
        }
        Ok(Template {
            source: src.into(),
            parts,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Fills the template; an unknown name shows as `?` rather than failing, since a
    /// device may simply not have sent that metric yet.
    pub fn render(&self, vars: &TemplateVars<'_>, d: &Device) -> String {
        let mut out = String::with_capacity(self.source.len() + 16);
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(name) => match &**name {
                    "device" => out.push_str(&sanitize::text(&d.name)),
                    "rule" => out.push_str(&sanitize::text(vars.rule)),
                    "fleet" => out.push_str(&sanitize::text(vars.fleet)),
                    "severity" => out.push_str(vars.severity),
                    "value" => out.push_str(vars.value),
                    "status" => out.push_str(vars.status),
                    other => {
                        if let Some(m) = d.metric(other) {
                            // MetricValue's Display sanitises text values.
                            let _ = write!(out, "{}", m.value);
                        } else if let Some(l) = d.label(other) {
                            out.push_str(&sanitize::text(l));
                        } else {
                            out.push('?');
                        }
                    }
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::testutil::device;

    fn vars() -> TemplateVars<'static> {
        TemplateVars {
            rule: "low_level",
            fleet: "tanks",
            severity: "critical",
            value: "12",
            status: "online",
        }
    }

    #[test]
    fn fills_device_metrics_and_labels() {
        let mut d = device("tank-07", &[("level_pct", 12.5)]);
        d.labels.push(("site".into(), "north\x1b[2J".into()));
        let t = Template::parse("{device} level {level_pct}% at {site} ({severity}, {nope}) {{x}}")
            .unwrap();
        assert_eq!(
            t.render(&vars(), &d),
            "tank-07 level 12.5% at north\\e[2J (critical, ?) {x}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..Default::default()
        })]
        #[test]
        fn any_template_parses_or_errors_and_renders(src in "\\PC{0,40}") {
            if let Ok(t) = Template::parse(&src) {
                let _ = t.render(&vars(), &device("d", &[("m", 1.0)]));
            }
        }
    }

    #[test]
    fn unclosed_braces_have_columns() {
        let e = Template::parse("level {level_pct").unwrap_err();
        assert_eq!(e.column, 7);
        let e = Template::parse("a } b").unwrap_err();
        assert_eq!(e.column, 3);
        assert!(Template::parse("{}").is_err());
    }
}
