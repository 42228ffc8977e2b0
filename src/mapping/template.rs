//! Topic templates: `fleet/tanks/{device}/telemetry`, `{site}/poles/{device}/{sensor}`.
//!
//! A `{name}` fills one whole topic level. `{device}` identifies the device, `{metric}` names
//! the metric, any other name becomes a label. Templates match topics level by level and turn
//! into MQTT subscription filters by replacing each variable with `+`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Literal(String),
    Var(String),
}

/// A parsed topic template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicTemplate {
    levels: Vec<Level>,
    source: String,
}

/// Variables captured from a topic, in template order.
pub type Captures<'t> = Vec<(&'t str, &'t str)>;

impl TopicTemplate {
    /// `{device}`: one level naming the device.
    pub fn device_only() -> TopicTemplate {
        TopicTemplate {
            levels: vec![Level::Var("device".into())],
            source: "{device}".into(),
        }
    }

    pub fn parse(s: &str) -> Result<TopicTemplate, String> {
        if s.is_empty() {
            return Err("the topic template is empty".into());
        }
        if s.contains(['+', '#']) {
            return Err(format!(
                "`{s}` contains an MQTT wildcard; use named levels such as {{device}} instead of + and #"
            ));
        }
        let mut levels = Vec::new();
        let mut seen = Vec::new();
        for part in s.split('/') {
            if let Some(inner) = part.strip_prefix('{') {
                let name = inner.strip_suffix('}').ok_or_else(|| {
                    format!(
                        "`{part}` in `{s}`: a variable must fill a whole level, like `{{device}}`"
                    )
                })?;
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!(
                        "`{part}` in `{s}`: variable names use letters, digits and _"
                    ));
                }
                if seen.contains(&name) {
                    return Err(format!("`{{{name}}}` appears twice in `{s}`"));
                }
                seen.push(name);
                levels.push(Level::Var(name.to_string()));
            } else if part.contains(['{', '}']) {
                return Err(format!(
                    "`{part}` in `{s}`: a variable must fill a whole level, like `{{device}}`"
                ));
            } else {
                levels.push(Level::Literal(part.to_string()));
            }
        }
        Ok(TopicTemplate {
            levels,
            source: s.to_string(),
        })
    }

    /// Fails unless the template names the device.
    pub fn require_device(self) -> Result<TopicTemplate, String> {
        if self.has_var("device") {
            Ok(self)
        } else {
            Err(format!(
                "`{}` has no {{device}} level; fleetop needs it to tell devices apart",
                self.source
            ))
        }
    }

    pub fn has_var(&self, name: &str) -> bool {
        self.vars().any(|v| v == name)
    }

    /// Variable names in order.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.levels.iter().filter_map(|l| match l {
            Level::Var(v) => Some(v.as_str()),
            Level::Literal(_) => None,
        })
    }

    /// The MQTT filter that receives every topic this template matches.
    pub fn filter(&self) -> String {
        let parts: Vec<&str> = self
            .levels
            .iter()
            .map(|l| match l {
                Level::Literal(s) => s.as_str(),
                Level::Var(_) => "+",
            })
            .collect();
        parts.join("/")
    }

    /// Matches a topic; variables capture non-empty levels.
    pub fn captures<'t>(&'t self, topic: &'t str) -> Option<Captures<'t>> {
        let mut caps = Vec::new();
        let mut parts = topic.split('/');
        for level in &self.levels {
            let part = parts.next()?;
            match level {
                Level::Literal(l) if l == part => {}
                Level::Literal(_) => return None,
                Level::Var(_) if part.is_empty() => return None,
                Level::Var(name) => caps.push((name.as_str(), part)),
            }
        }
        if parts.next().is_some() {
            return None;
        }
        Some(caps)
    }

    /// Fills the template; `lookup` gives each variable's value.
    pub fn render<'a>(
        &self,
        mut lookup: impl FnMut(&str) -> Option<&'a str>,
    ) -> Result<String, String> {
        let mut out = String::new();
        for (i, level) in self.levels.iter().enumerate() {
            if i > 0 {
                out.push('/');
            }
            match level {
                Level::Literal(s) => out.push_str(s),
                Level::Var(name) => out.push_str(lookup(name).ok_or_else(|| {
                    format!(
                        "`{}` needs {{{name}}}, which this device does not have",
                        self.source
                    )
                })?),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for TopicTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_only_is_the_parsed_template() {
        assert_eq!(
            TopicTemplate::device_only(),
            TopicTemplate::parse("{device}").unwrap()
        );
    }

    #[test]
    fn matches_and_captures_named_levels() {
        let t = TopicTemplate::parse("{site}/poles/{device}/{sensor}").unwrap();
        assert_eq!(t.filter(), "+/poles/+/+");
        let caps = t.captures("north/poles/pole-017/pm25").unwrap();
        assert_eq!(
            caps,
            vec![
                ("site", "north"),
                ("device", "pole-017"),
                ("sensor", "pm25")
            ]
        );
        assert!(t.captures("north/poles/pole-017").is_none());
        assert!(t.captures("north/poles/pole-017/pm25/x").is_none());
        assert!(t.captures("north/lamps/pole-017/pm25").is_none());
        assert!(t.captures("north/poles//pm25").is_none());
    }

    #[test]
    fn refuses_partial_levels_wildcards_and_repeats() {
        assert!(TopicTemplate::parse("a/tank-{device}").is_err());
        assert!(
            TopicTemplate::parse("a/+/b")
                .unwrap_err()
                .contains("wildcard")
        );
        assert!(TopicTemplate::parse("{device}/{device}").is_err());
        assert!(TopicTemplate::parse("a/{}").is_err());
        assert!(
            TopicTemplate::parse("a/b")
                .unwrap()
                .require_device()
                .is_err()
        );
    }

    #[test]
    fn renders_with_values() {
        let t = TopicTemplate::parse("cmd/{site}/{device}").unwrap();
        let s = t
            .render(|v| match v {
                "site" => Some("north"),
                "device" => Some("p1"),
                _ => None,
            })
            .unwrap();
        assert_eq!(s, "cmd/north/p1");
        assert!(t.render(|_| None).unwrap_err().contains("{site}"));
    }
}
