//! The fleet filter typed after `/`: words that must all match.
//!
//! - plain text: a case-insensitive substring of the name, fleet or a label value
//! - `/regex/`: a regular expression over the name and label values
//! - `key<20`, `key>=3.5`, `key=north`, `key!=offline`: compare a metric, a label, or one of
//!   `status`, `fleet`, `name`, `errors`

use crate::fleet::{Device, MetricValue};

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

/// A parsed filter; empty matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    terms: Vec<Term>,
    pub source: String,
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            if word.len() >= 2 && word.starts_with('/') && word.ends_with('/') {
                let re = regex::RegexBuilder::new(&word[1..word.len() - 1])
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("bad regex {word}: {e}"))?;
                terms.push(Term::Regex(re));
                continue;
            }
            let ops = [
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("!=", Op::Ne),
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
                    if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge)
                        && value.parse::<f64>().is_err()
                    {
                        return Err(format!("`{word}`: {s} needs a number"));
                    }
                    terms.push(Term::Compare {
                        key: word[..i].to_string(),
                        op,
                        value: value.to_string(),
                    });
                }
                _ => terms.push(Term::Text(word.to_lowercase())),
            }
        }
        Ok(Filter {
            terms,
            source: text.trim().to_string(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, d: &Device, fleet: &str) -> bool {
        self.terms.iter().all(|t| term_matches(t, d, fleet))
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

    fn fleet() -> FleetState {
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
