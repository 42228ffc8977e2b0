//! Typed command parameters: what an operator types is checked before anything is sent.

use crate::config::commands::{ParamConfig, ParamType};

/// Longest `string` parameter unless the config says otherwise.
const DEFAULT_MAX_LEN: usize = 64;

/// A parameter as compiled from config.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamKind,
    pub default: Option<ParamValue>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    Float {
        min: Option<f64>,
        max: Option<f64>,
    },
    Enum(Vec<String>),
    Bool,
    String {
        max_len: usize,
    },
    /// `r,g,b` (0..255 each) or, with `hsv`, `h,s,v` (0..360, 0..100, 0..100): a colour
    /// as Homie devices take it.
    Color {
        hsv: bool,
    },
}

/// A checked value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl ParamValue {
    /// The value as JSON, keeping its type.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ParamValue::Int(i) => (*i).into(),
            ParamValue::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
            }
            ParamValue::Bool(b) => (*b).into(),
            ParamValue::Text(s) => s.clone().into(),
        }
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Text(s) => f.write_str(s),
        }
    }
}

impl ParamSpec {
    /// Compiles a `[[command.param]]`; the error says what is wrong with it.
    pub fn compile(c: &ParamConfig) -> Result<ParamSpec, String> {
        let name = c.name.get_ref().clone();
        if !is_identifier(&name) {
            return Err(format!(
                "parameter name `{name}` must be letters, digits and _ (it is used as {{{name}}})"
            ));
        }
        let whole = |x: Option<f64>, key: &str| -> Result<Option<i64>, String> {
            match x {
                Some(v) if v.fract() != 0.0 || !v.is_finite() => Err(format!(
                    "parameter `{name}`: `{key}` of an int must be a whole number"
                )),
                Some(v) => Ok(Some(v as i64)),
                None => Ok(None),
            }
        };
        let kind = match c.kind {
            ParamType::Int => ParamKind::Int {
                min: whole(c.min, "min")?,
                max: whole(c.max, "max")?,
            },
            ParamType::Float => ParamKind::Float {
                min: c.min,
                max: c.max,
            },
            ParamType::Enum => {
                if c.values.is_empty() {
                    return Err(format!(
                        "parameter `{name}`: an enum needs `values = [...]`"
                    ));
                }
                ParamKind::Enum(c.values.clone())
            }
            ParamType::Bool => ParamKind::Bool,
            ParamType::String => ParamKind::String {
                max_len: c.max_len.unwrap_or(DEFAULT_MAX_LEN),
            },
        };
        if let (Some(lo), Some(hi)) = (c.min, c.max)
            && lo > hi
        {
            return Err(format!("parameter `{name}`: min {lo} is above max {hi}"));
        }
        let mut spec = ParamSpec {
            name,
            kind,
            default: None,
            description: c.description.clone(),
        };
        if let Some(d) = &c.default {
            let text = match d {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            spec.default = Some(
                spec.parse(&text)
                    .map_err(|e| format!("default of parameter `{}`: {e}", spec.name))?,
            );
        }
        Ok(spec)
    }

    /// Checks what an operator typed.
    pub fn parse(&self, input: &str) -> Result<ParamValue, String> {
        let input = input.trim();
        let name = &self.name;
        match &self.kind {
            ParamKind::Int { min, max } => {
                let v: i64 = input
                    .parse()
                    .map_err(|_| format!("{name} must be a whole number, got `{input}`"))?;
                check_range(name, v as f64, min.map(|m| m as f64), max.map(|m| m as f64))?;
                Ok(ParamValue::Int(v))
            }
            ParamKind::Float { min, max } => {
                let v: f64 = input
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite())
                    .ok_or_else(|| format!("{name} must be a number, got `{input}`"))?;
                check_range(name, v, *min, *max)?;
                Ok(ParamValue::Float(v))
            }
            ParamKind::Enum(values) => values
                .iter()
                .find(|v| v.as_str() == input)
                .map(|v| ParamValue::Text(v.clone()))
                .ok_or_else(|| {
                    format!("{name} must be one of {}, got `{input}`", values.join(", "))
                }),
            ParamKind::Bool => match input.to_ascii_lowercase().as_str() {
                "true" | "on" | "yes" | "1" => Ok(ParamValue::Bool(true)),
                "false" | "off" | "no" | "0" => Ok(ParamValue::Bool(false)),
                _ => Err(format!("{name} must be true or false, got `{input}`")),
            },
            ParamKind::Color { hsv } => {
                let limits: [u32; 3] = if *hsv { [360, 100, 100] } else { [255; 3] };
                let what = if *hsv { "h,s,v" } else { "r,g,b" };
                let parts: Vec<&str> = input.split(',').map(str::trim).collect();
                let ok = parts.len() == 3
                    && parts
                        .iter()
                        .zip(limits)
                        .all(|(p, max)| p.parse::<u32>().is_ok_and(|v| v <= max));
                if !ok {
                    return Err(format!(
                        "{name} must be a colour {what} (each at most {}), got `{input}`",
                        limits.map(|l| l.to_string()).join(",")
                    ));
                }
                Ok(ParamValue::Text(parts.join(",")))
            }
            ParamKind::String { max_len } => {
                if input.chars().count() > *max_len {
                    Err(format!("{name} is longer than {max_len} characters"))
                } else if input.chars().any(char::is_control) {
                    Err(format!("{name} must not contain control characters"))
                } else {
                    Ok(ParamValue::Text(input.to_string()))
                }
            }
        }
    }

    /// A short description of what is accepted: `int 0..100`, `one of a, b`.
    pub fn hint(&self) -> String {
        let bound = |v: Option<String>| v.unwrap_or_default();
        match &self.kind {
            ParamKind::Int {
                min: None,
                max: None,
            } => "int".into(),
            ParamKind::Int { min, max } => format!(
                "int {}..{}",
                bound(min.map(|v| v.to_string())),
                bound(max.map(|v| v.to_string()))
            ),
            ParamKind::Float {
                min: None,
                max: None,
            } => "number".into(),
            ParamKind::Float { min, max } => format!(
                "number {}..{}",
                bound(min.map(|v| v.to_string())),
                bound(max.map(|v| v.to_string()))
            ),
            ParamKind::Enum(values) => format!("one of {}", values.join(", ")),
            ParamKind::Bool => "true/false".into(),
            ParamKind::String { max_len } => format!("text, at most {max_len} characters"),
            ParamKind::Color { hsv: true } => "colour h,s,v".into(),
            ParamKind::Color { hsv: false } => "colour r,g,b".into(),
        }
    }
}

fn check_range(name: &str, v: f64, min: Option<f64>, max: Option<f64>) -> Result<(), String> {
    let low = min.is_some_and(|m| v < m);
    let high = max.is_some_and(|m| v > m);
    if low || high {
        let lo = min.map_or("…".into(), |m| m.to_string());
        let hi = max.map_or("…".into(), |m| m.to_string());
        return Err(format!("{name} must be between {lo} and {hi}, got {v}"));
    }
    Ok(())
}

pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> Result<ParamSpec, String> {
        let c: ParamConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        ParamSpec::compile(&c)
    }

    #[test]
    fn ints_are_checked_against_their_range() {
        let p = spec("name = 'level'\ntype = 'int'\nmin = 0\nmax = 100\ndefault = 50").unwrap();
        assert_eq!(p.default, Some(ParamValue::Int(50)));
        assert_eq!(p.parse(" 40 "), Ok(ParamValue::Int(40)));
        assert_eq!(
            p.parse("140").unwrap_err(),
            "level must be between 0 and 100, got 140"
        );
        assert!(p.parse("4.5").unwrap_err().contains("whole number"));
        assert_eq!(p.hint(), "int 0..100");
        assert!(spec("name = 'x'\ntype = 'int'\nmin = 0.5").is_err());
        assert!(spec("name = 'x'\ntype = 'int'\nmin = 5\nmax = 1").is_err());
        assert!(
            spec("name = 'x'\ntype = 'int'\nmax = 10\ndefault = 11")
                .unwrap_err()
                .contains("default")
        );
    }

    #[test]
    fn other_kinds() {
        let f = spec("name = 'sp'\ntype = 'float'\nmin = -1.5").unwrap();
        assert_eq!(f.parse("2.25"), Ok(ParamValue::Float(2.25)));
        assert!(f.parse("NaN").is_err());
        assert!(f.parse("-2").is_err());
        let e = spec("name = 'mode'\ntype = 'enum'\nvalues = ['eco', 'boost']").unwrap();
        assert_eq!(e.parse("eco"), Ok(ParamValue::Text("eco".into())));
        assert!(e.parse("turbo").unwrap_err().contains("one of eco, boost"));
        assert!(spec("name = 'mode'\ntype = 'enum'").is_err());
        let b = spec("name = 'on'\ntype = 'bool'\ndefault = true").unwrap();
        assert_eq!(b.default, Some(ParamValue::Bool(true)));
        assert_eq!(b.parse("OFF"), Ok(ParamValue::Bool(false)));
        let s = spec("name = 'note'\ntype = 'string'\nmax_len = 3").unwrap();
        assert!(s.parse("abcd").is_err());
        assert!(s.parse("a\u{1b}").is_err());
        assert_eq!(s.parse("abc"), Ok(ParamValue::Text("abc".into())));
        assert!(spec("name = 'a b'\ntype = 'bool'").is_err());
    }

    #[test]
    fn colours_are_three_numbers_in_range() {
        let rgb = ParamSpec {
            name: "c".into(),
            kind: ParamKind::Color { hsv: false },
            default: None,
            description: String::new(),
        };
        assert_eq!(
            rgb.parse("255, 0,10"),
            Ok(ParamValue::Text("255,0,10".into()))
        );
        for bad in ["256,0,0", "1,2", "a,b,c", "1,2,3,4", "-1,0,0"] {
            assert!(rgb.parse(bad).unwrap_err().contains("255,255,255"), "{bad}");
        }
        let hsv = ParamSpec {
            kind: ParamKind::Color { hsv: true },
            ..rgb
        };
        assert!(hsv.parse("360,100,100").is_ok());
        assert!(hsv.parse("300,101,0").is_err());
    }

    #[test]
    fn json_keeps_types() {
        assert_eq!(ParamValue::Int(4).to_json(), serde_json::json!(4));
        assert_eq!(ParamValue::Bool(true).to_json(), serde_json::json!(true));
        assert_eq!(
            ParamValue::Text("x\"".into()).to_json(),
            serde_json::json!("x\"")
        );
    }
}
