//! The fleet filter typed after `/`: terms joined by `and` (or just spaces), `or`, and
//! negated by `not` / `!`.
//!
//! - plain text: a case-insensitive substring of the name, fleet or a label value
//! - `/regex/`: a regular expression over the name and label values
//! - `key<20`, `key>=3.5`, `key=north` (or `==`), `key!=offline`: compare a metric, a label,
//!   or one of `status`, `fleet`, `name`, `errors`
//!
//! `and` binds tighter than `or`: `site=north and level_pct<20 or status=offline`. A key no
//! device has, or a status that does not exist, is an error with a suggestion, checked
//! against the fleet at hand ([`Filter::check`]).

use crate::fleet::{Device, FleetState, MetricValue, Status};

#[derive(Debug, Clone)]
enum Term {
    Text(String),
    Regex(regex::Regex),
    Compare { key: String, op: Op, value: String },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A term and whether `not` turned it around.
#[derive(Debug, Clone)]
struct Literal {
    negated: bool,
    term: Term,
}

/// Keys every device has, besides its metrics and labels.
const BUILT_IN_KEYS: [&str; 5] = ["status", "fleet", "name", "device", "errors"];

/// A parsed filter; empty matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Alternatives (`or`), each a list of literals that must all hold (`and`).
    any_of: Vec<Vec<Literal>>,
    pub source: String,
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut any_of = vec![Vec::new()];
        let mut negated = false;
        for word in text.split_whitespace() {
            match word.to_ascii_lowercase().as_str() {
                "and" | "&&" => continue,
                "or" | "||" => {
                    if negated || any_of.last().is_none_or(Vec::is_empty) {
                        return Err("`or` needs a term on each side".into());
                    }
                    any_of.push(Vec::new());
                    continue;
                }
                "not" => {
                    negated = !negated;
                    continue;
                }
                _ => {}
            }
            let (flip, word) = match word.strip_prefix('!') {
                Some(rest) if !rest.is_empty() && !rest.starts_with('=') => (true, rest),
                _ => (false, word),
            };
            let term = parse_term(word)?;
            if let Some(all) = any_of.last_mut() {
                all.push(Literal {
                    negated: negated != flip,
                    term,
                });
            }
            negated = false;
        }
        if negated || (any_of.len() > 1 && any_of.last().is_some_and(Vec::is_empty)) {
            return Err(
                "the filter ends in the middle: `not` or `or` needs a term after it".into(),
            );
        }
        any_of.retain(|all| !all.is_empty());
        Ok(Filter {
            any_of,
            source: text.trim().to_string(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.any_of.is_empty()
    }

    pub fn matches(&self, d: &Device, fleet: &str) -> bool {
        self.any_of.is_empty()
            || self.any_of.iter().any(|all| {
                all.iter()
                    .all(|l| term_matches(&l.term, d, fleet) != l.negated)
            })
    }

    /// Checks the keys and values it compares against what the fleet has: a key no
    /// device reports, or a status that does not exist, is an error that says what is
    /// there instead. An empty fleet checks nothing (nothing is known yet).
    pub fn check(&self, state: &FleetState) -> Result<(), String> {
        if state.devices.is_empty() {
            return Ok(());
        }
        let compared = self.any_of.iter().flatten().filter_map(|l| match &l.term {
            Term::Compare { key, value, .. } => Some((key.as_str(), value.as_str())),
            _ => None,
        });
        for (key, value) in compared {
            if key == "status" {
                let known = [
                    Status::Online,
                    Status::Stale,
                    Status::Offline,
                    Status::Unknown,
                ];
                if !known.iter().any(|s| s.as_str().eq_ignore_ascii_case(value)) {
                    let names: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                    return Err(format!(
                        "no status `{value}` (a status is {}){}",
                        names.join(", "),
                        did_you_mean(value, names.iter().copied())
                    ));
                }
                continue;
            }
            if BUILT_IN_KEYS.contains(&key) || known_key(state, key) {
                continue;
            }
            let keys = state.devices.iter().flat_map(|d| {
                d.metrics
                    .iter()
                    .map(|m| &*m.name)
                    .chain(d.labels.iter().map(|(k, _)| &**k))
            });
            return Err(format!(
                "no metric or label `{key}` on any device{}",
                did_you_mean(key, keys.chain(BUILT_IN_KEYS))
            ));
        }
        Ok(())
    }
}

/// True when some device has `key` as a metric or a label.
fn known_key(state: &FleetState, key: &str) -> bool {
    state
        .devices
        .iter()
        .any(|d| d.label(key).is_some() || d.metric(key).is_some())
}

/// `: did you mean `x`?` for the closest of `candidates`, when one is close enough.
fn did_you_mean<'a>(typed: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let typed = typed.to_lowercase();
    let best = candidates
        .map(|c| {
            let lower = c.to_lowercase();
            // A prefix is the likeliest slip (`level` for `level_pct`).
            let score = if lower.starts_with(&typed) || typed.starts_with(&lower) {
                1.0
            } else {
                strsim::jaro_winkler(&typed, &lower)
            };
            (score, c)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((score, c)) if score >= 0.8 => format!(": did you mean `{c}`?"),
        _ => String::new(),
    }
}

fn parse_term(word: &str) -> Result<Term, String> {
    if word.len() >= 2 && word.starts_with('/') && word.ends_with('/') {
        let re = regex::RegexBuilder::new(&word[1..word.len() - 1])
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("bad regex {word}: {e}"))?;
        return Ok(Term::Regex(re));
    }
    let ops = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("!=", Op::Ne),
        ("==", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("=", Op::Eq),
    ];
    let found = ops
        .iter()
        .filter_map(|(s, op)| word.find(s).map(|i| (i, *s, *op)))
        .min_by_key(|(i, s, _)| (*i, std::cmp::Reverse(s.len())));
    match found {
        Some((i, s, op)) if i > 0 => {
            let value = &word[i + s.len()..];
            if value.is_empty() {
                return Err(format!("`{word}` compares with nothing"));
            }
            if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && value.parse::<f64>().is_err() {
                return Err(format!("`{word}`: {s} needs a number"));
            }
            Ok(Term::Compare {
                key: word[..i].to_string(),
                op,
                value: value.to_string(),
            })
        }
        _ => Ok(Term::Text(word.to_lowercase())),
    }
}

fn term_matches(t: &Term, d: &Device, fleet: &str) -> bool {
    match t {
        Term::Text(s) => {
            d.name.to_lowercase().contains(s)
                || fleet.to_lowercase().contains(s)
                || d.labels.iter().any(|(_, v)| v.to_lowercase().contains(s))
        }
        Term::Regex(re) => re.is_match(&d.name) || d.labels.iter().any(|(_, v)| re.is_match(v)),
        Term::Compare { key, op, value } => {
            let actual: Option<Actual> = match key.as_str() {
                "status" => Some(Actual::Text(d.status.as_str().into())),
                "fleet" => Some(Actual::Text(fleet.into())),
                "name" | "device" => Some(Actual::Text(d.name.to_string())),
                "errors" => Some(Actual::Number(d.decode_errors as f64)),
                _ => d
                    .label(key)
                    .map(|l| Actual::Text(l.to_string()))
                    .or_else(|| {
                        d.metric(key).map(|m| match &m.value {
                            MetricValue::Number(n) => Actual::Number(*n),
                            MetricValue::Bool(b) => Actual::Number(if *b { 1.0 } else { 0.0 }),
                            MetricValue::Text(t) => Actual::Text(t.to_string()),
                        })
                    }),
            };
            // A device without the key never matches a comparison (no data is not a match).
            let Some(actual) = actual else { return false };
            compare(&actual, *op, value)
        }
    }
}

enum Actual {
    Number(f64),
    Text(String),
}

fn compare(actual: &Actual, op: Op, value: &str) -> bool {
    let wanted = value
        .parse::<f64>()
        .ok()
        .or_else(|| crate::decode::bool_word(value).map(|b| if b { 1.0 } else { 0.0 }));
    match (actual, wanted) {
        (Actual::Number(a), Some(w)) => match op {
            Op::Lt => *a < w,
            Op::Le => *a <= w,
            Op::Gt => *a > w,
            Op::Ge => *a >= w,
            Op::Eq => *a == w,
            Op::Ne => *a != w,
        },
        (Actual::Text(a), _) => match op {
            Op::Eq => a.eq_ignore_ascii_case(value),
            Op::Ne => !a.eq_ignore_ascii_case(value),
            _ => false,
        },
        (Actual::Number(_), None) => op == Op::Ne,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::fleet::FleetState;
    use crate::mapping::Mapper;
    use crate::vocab::RawMessage;

    pub(super) fn fleet() -> FleetState {
        let c = Config::parse(
            "[[fleet]]\nname=\"tanks\"\ntopic=\"t/{site}/{device}\"\nformat=\"json\"\n",
            None,
        )
        .unwrap();
        let mut s = FleetState::new(
            Mapper::new(&c.fleets).unwrap(),
            Default::default(),
            &["b".into()],
        );
        for (topic, payload) in [
            ("t/north/tank-01", r#"{"level_pct":12,"pump":"ON"}"#),
            ("t/south/tank-02", r#"{"level_pct":55,"pump":"OFF"}"#),
            ("t/north/pump-03", r#"{"rpm":1200}"#),
        ] {
            s.apply(&RawMessage {
                conn: crate::vocab::ConnId(0),
                topic: topic.as_bytes().to_vec().into(),
                payload: payload.as_bytes().to_vec().into(),
                retain: false,
                at_ms: 1,
            });
        }
        s
    }

    fn names(f: &str) -> Vec<String> {
        let s = fleet();
        let filter = Filter::parse(f).unwrap();
        s.devices
            .iter()
            .filter(|d| filter.matches(d, "tanks"))
            .map(|d| d.name.to_string())
            .collect()
    }

    #[test]
    fn predicates_text_and_regex() {
        assert_eq!(names("level_pct<20"), ["tank-01"]);
        assert_eq!(names("site=north"), ["tank-01", "pump-03"]);
        assert_eq!(names("north level_pct>=12"), ["tank-01"]);
        assert_eq!(names("pump=on"), ["tank-01"]);
        assert_eq!(names("status=online").len(), 3);
        assert_eq!(names("status!=online").len(), 0);
        assert_eq!(names("/^tank-0[12]$/"), ["tank-01", "tank-02"]);
        assert_eq!(names("SOUTH"), ["tank-02"]);
        assert_eq!(names("").len(), 3);
    }

    #[test]
    fn bad_filters_say_why() {
        assert!(
            Filter::parse("level<abc")
                .unwrap_err()
                .contains("needs a number")
        );
        assert!(Filter::parse("/[/").unwrap_err().contains("bad regex"));
        assert!(Filter::parse("x=").unwrap_err().contains("nothing"));
    }
}

#[cfg(test)]
mod language_tests {
    use super::tests::fleet;
    use super::*;
    use crate::mapping::Mapper;

    fn shown(s: &FleetState, text: &str) -> Vec<String> {
        let f = Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        f.check(s).unwrap_or_else(|e| panic!("{text}: {e}"));
        s.devices
            .iter()
            .filter(|d| f.matches(d, "tanks"))
            .map(|d| d.name.to_string())
            .collect()
    }

    fn refused(s: &FleetState, text: &str) -> String {
        match Filter::parse(text).and_then(|f| f.check(s)) {
            Err(e) => e,
            Ok(()) => panic!("{text} was accepted"),
        }
    }

    #[test]
    fn and_or_not_combine_terms() {
        let s = fleet();
        assert_eq!(shown(&s, "site=south and level_pct>50"), ["tank-02"]);
        assert_eq!(
            shown(&s, "site=north level_pct<50"),
            ["tank-01"],
            "spaces are `and`"
        );
        assert_eq!(shown(&s, "!pump"), ["tank-01", "tank-02"]);
        assert_eq!(shown(&s, "not site=north"), ["tank-02"]);
        assert_eq!(
            shown(&s, "level_pct<20 or site==south and rpm>0 or rpm>1000"),
            ["tank-01", "pump-03"],
            "`and` binds tighter than `or`"
        );
        assert_eq!(shown(&s, "status!=offline pump-"), ["pump-03"]);
    }

    #[test]
    fn mistakes_say_what_is_wrong_and_what_was_meant() {
        let s = fleet();
        assert_eq!(
            refused(&s, "level<20"),
            "no metric or label `level` on any device: did you mean `level_pct`?"
        );
        assert_eq!(
            refused(&s, "status=ofline"),
            "no status `ofline` (a status is online, stale, offline, unknown): did you mean `offline`?"
        );
        let bogus = refused(&s, "status=bogus");
        assert!(
            bogus.ends_with("unknown)"),
            "no suggestion when none is close: {bogus}"
        );
        assert!(refused(&s, "sitee=north").contains("did you mean `site`?"));
        assert!(refused(&s, "pole or").contains("needs a term"));
        assert!(refused(&s, "not").contains("needs a term"));
        // Nothing is known before the first device: nothing to check against.
        let empty = FleetState::new(
            Mapper::new(&[]).unwrap_or_else(|e| panic!("{e}")),
            Default::default(),
            &[],
        );
        assert!(
            Filter::parse("level<20")
                .and_then(|f| f.check(&empty))
                .is_ok()
        );
    }
}
