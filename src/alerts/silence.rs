//! Silences: matchers over an alert's labels, fleet, device, rule and severity, with an
//! expiry and a reason. A silenced alert still changes state (the log keeps the truth);
//! it is only kept out of counts, `check`, the bell and hooks.
//!
//! The `:silence` command form: `site=north device=tank-* 2h "pump maintenance"`.

use super::glob::Glob;
use super::machine::Alert;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// `key=glob` or `key!=glob`. The keys `device`, `fleet`, `rule` (or `alertname`) and
/// `severity` name the alert's fields; any other key is a label, a missing label
/// reading as empty (as in Alertmanager).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub key: Box<str>,
    pub negated: bool,
    pub value: Glob,
}

impl Matcher {
    pub fn parse(s: &str) -> Result<Matcher, String> {
        let (key, value, negated) = match s.split_once("!=") {
            Some((k, v)) => (k, v, true),
            None => match s.split_once('=') {
                Some((k, v)) => (k, v, false),
                None => {
                    return Err(format!(
                        "`{s}` is not a matcher; write key=value or key!=value"
                    ));
                }
            },
        };
        let key = key.trim();
        let ok = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(format!("`{key}` is not a label name"));
        }
        Ok(Matcher {
            key: key.into(),
            negated,
            value: Glob::new(value.trim()),
        })
    }

    pub fn matches(&self, a: &Alert) -> bool {
        let field = match &*self.key {
            "device" => &*a.device_name,
            "fleet" => &*a.fleet,
            "rule" | "alertname" => &*a.rule_name,
            "severity" => a.severity.as_str(),
            label => a
                .labels
                .iter()
                .find(|(k, _)| &**k == label)
                .map_or("", |(_, v)| &**v),
        };
        self.value.matches(field) != self.negated
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.negated { "!=" } else { "=" };
        write!(f, "{}{op}{}", self.key, self.value)
    }
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Matcher, D::Error> {
        let s = String::deserialize(d)?;
        Matcher::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: u64,
    pub matchers: Vec<Matcher>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub reason: String,
    /// `user@host`.
    pub by: String,
}

impl Silence {
    /// All matchers must match, and the silence must not have expired.
    pub fn covers(&self, a: &Alert, now_ms: i64) -> bool {
        now_ms < self.expires_ms && self.matches(a)
    }

    /// All matchers match, whether or not the silence is still in force.
    pub fn matches(&self, a: &Alert) -> bool {
        self.matchers.iter().all(|m| m.matches(a))
    }
}

/// A parsed `:silence` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceRequest {
    pub matchers: Vec<Matcher>,
    pub duration_ms: i64,
    pub reason: String,
}

/// Parses `site=north 2h "pump maintenance"`: matchers, one duration, and a reason
/// (quoted, or the remaining words). A reason is required so the next person on shift
/// knows why alerts are quiet.
pub fn parse_silence_command(args: &str) -> Result<SilenceRequest, String> {
    let mut matchers = Vec::new();
    let mut duration = None;
    let mut reason = Vec::new();
    for (word, quoted) in words(args) {
        if quoted {
            reason.push(word);
        } else if word.contains('=') {
            matchers.push(Matcher::parse(&word)?);
        } else if duration.is_none()
            && let Ok(d) = crate::config::duration::parse_positive(&word)
        {
            duration = Some(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        } else {
            reason.push(word);
        }
    }
    let usage = "usage: :silence key=value... DURATION \"reason\", e.g. :silence site=north 2h \"pump maintenance\"";
    if matchers.is_empty() {
        return Err(format!("a silence needs at least one matcher; {usage}"));
    }
    let Some(duration_ms) = duration else {
        return Err(format!("a silence needs a duration such as 2h; {usage}"));
    };
    let reason = crate::sanitize::text(reason.join(" ").trim()).into_owned();
    if reason.is_empty() {
        return Err(format!("a silence needs a reason; {usage}"));
    }
    Ok(SilenceRequest {
        matchers,
        duration_ms,
        reason,
    })
}

/// The matchers of a `:silence` line being typed, as far as they parse: enough to tell
/// the operator what the silence would cover before it is set.
pub fn matchers_so_far(args: &str) -> Vec<Matcher> {
    words(args)
        .into_iter()
        .filter(|(w, quoted)| !quoted && w.contains('='))
        .filter_map(|(w, _)| Matcher::parse(&w).ok())
        .collect()
}

/// Splits on whitespace, keeping "double" or 'single' quoted runs together.
fn words(s: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '\'' {
            chars.next();
            let w: String = chars.by_ref().take_while(|&x| x != c).collect();
            out.push((w, true));
        } else {
            let mut w = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() {
                    break;
                }
                w.push(x);
                chars.next();
            }
            out.push((w, false));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_command_form() {
        let r =
            parse_silence_command("site=north device!=tank-0* 2h \"pump maintenance\"").unwrap();
        assert_eq!(r.matchers.len(), 2);
        assert_eq!(r.matchers[1].to_string(), "device!=tank-0*");
        assert_eq!(r.duration_ms, 7_200_000);
        assert_eq!(r.reason, "pump maintenance");
        let r = parse_silence_command("rule=low_level 30m new pump").unwrap();
        assert_eq!(r.reason, "new pump");
    }

    #[test]
    fn refuses_incomplete_silences() {
        assert!(
            parse_silence_command("2h \"x\"")
                .unwrap_err()
                .contains("matcher")
        );
        assert!(
            parse_silence_command("site=north \"x\"")
                .unwrap_err()
                .contains("duration")
        );
        assert!(
            parse_silence_command("site=north 2h")
                .unwrap_err()
                .contains("reason")
        );
        assert!(Matcher::parse("si te=x").is_err());
    }
}
