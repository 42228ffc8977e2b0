//! The `[[alert]]` table. The keys `name`, `fleet`, `when`, `clear`, `for`, `severity`
//! and `message` are fixed: scripts and shared configs rely on them.
//!
//! ```toml
//! [[alert]]
//! name = "low_level"
//! fleet = "tanks"
//! labels = { site = "north" }      # all must match; values may use * and ?
//! device = "tank-*"
//! when = "level_pct < 15"
//! clear = "level_pct > 20"         # hysteresis; default: not `when`
//! for = "2m"
//! keep_firing_for = "5m"
//! severity = "critical"
//! message = "{device} level {level_pct}% at {site}"
//!
//! [[alert]]                        # tune a built-in rule: its name, no `when`
//! name = "device_stale"
//! enabled = false
//! ```

use super::Origin;
use super::duration;
use super::hooks::{Argv, argv_opt};
use crate::vocab::Severity;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Spanned;

/// One `[[alert]]` entry: a rule, or settings for a built-in rule of the same name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleConfig {
    pub name: Spanned<String>,
    /// Only devices of this fleet (by `[[fleet]] name`).
    pub fleet: Option<Spanned<String>>,
    /// Label matchers; every one must match. Values are globs.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Only devices whose name matches this glob.
    pub device: Option<String>,
    /// The raise condition; absent only when tuning a built-in rule.
    pub when: Option<Spanned<String>>,
    /// The clear condition (hysteresis); default: `not (when)`.
    pub clear: Option<Spanned<String>>,
    /// Pending until the condition has held this long.
    #[serde(
        default,
        rename = "for",
        deserialize_with = "duration::deserialize_opt_allowing_zero"
    )]
    pub for_: Option<Duration>,
    /// Keep firing this long after the clear condition holds.
    #[serde(default, deserialize_with = "duration::deserialize_opt_allowing_zero")]
    pub keep_firing_for: Option<Duration>,
    pub severity: Option<Severity>,
    pub message: Option<Spanned<String>>,
    /// `false` turns a rule (notably a built-in one) off.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `decode_errors` only: how long a new decode error keeps the alert raised.
    #[serde(default, deserialize_with = "duration::deserialize_opt_allowing_zero")]
    pub window: Option<Duration>,
    /// Flapping damping: this many transitions within `flap_window` mark the alert
    /// flapping (0 turns damping off).
    pub flap_flips: Option<u32>,
    #[serde(default, deserialize_with = "duration::deserialize_opt_allowing_zero")]
    pub flap_window: Option<Duration>,
    /// Run when the alert starts firing: an argv array, the alert as JSON on stdin.
    #[serde(default, deserialize_with = "argv_opt")]
    pub on_fire: Option<Argv>,
    /// Run when the alert resolves.
    #[serde(default, deserialize_with = "argv_opt")]
    pub on_resolve: Option<Argv>,
    /// Kill a hook still running after this long (default: `[hooks] timeout`, 10 s).
    #[serde(default, deserialize_with = "duration::deserialize_opt_allowing_zero")]
    pub hook_timeout: Option<Duration>,
}

fn yes() -> bool {
    true
}

/// `file:line:column` of byte `offset` inside a TOML string value spanning `span`, so an
/// expression error points at the character, not just the key. Falls back to the start
/// of the string when escapes make the mapping uncertain.
pub fn locate_in_string(origin: &Origin, span: std::ops::Range<usize>, offset: usize) -> String {
    let raw = origin.text.get(span.clone()).unwrap_or("");
    let skip = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        3 + usize::from(raw[3..].starts_with('\n')) + usize::from(raw[3..].starts_with("\r\n")) * 2
    } else {
        1
    };
    let body = raw.get(skip..).unwrap_or("");
    let literal = raw.starts_with('\'');
    let exact = body
        .get(..offset)
        .is_some_and(|prefix| literal || !prefix.contains('\\'));
    let at = if exact {
        span.start + skip + offset
    } else {
        span.start
    };
    origin.locate(at..at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        alert: Vec<AlertRuleConfig>,
    }

    #[test]
    fn reads_the_fixed_keys() {
        let text = r#"
[[alert]]
name = "low_level"
fleet = "tanks"
labels = { site = "north" }
when = "level_pct < 15"
clear = "level_pct > 20"
for = "2m"
severity = "critical"
message = "{device} low"
"#;
        let doc: Doc = toml::from_str(text).unwrap();
        let a = &doc.alert[0];
        assert_eq!(a.for_, Some(Duration::from_secs(120)));
        assert_eq!(a.severity, Some(Severity::Critical));
        assert_eq!(a.labels["site"], "north");
        assert!(a.enabled);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let e = toml::from_str::<Doc>("[[alert]]\nname = \"x\"\nwhen = \"a > 1\"\nfour = \"1m\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("four"), "{e}");
        let e = toml::from_str::<Doc>("[[alert]]\nname = \"x\"\nseverity = \"dire\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("critical"), "{e}");
    }

    #[test]
    fn locates_a_column_inside_the_string() {
        let text = "[[alert]]\nname = \"x\"\nwhen = \"a >> 1\"\n";
        let doc: Doc = toml::from_str(text).unwrap();
        let origin = Origin {
            path: Some("f.toml".into()),
            text: text.into(),
        };
        let span = doc.alert[0].when.as_ref().map(|w| w.span()).unwrap_or(0..0);
        assert_eq!(locate_in_string(&origin, span, 3), "f.toml:3:12");
    }
}
