//! Home Assistant value templates through a real Jinja engine (minijinja), sandboxed: a
//! template is an expression (`{{ value | float * 0.1 }}`, `{{ value_json.a.b | round(1) }}`,
//! `{{ (value | from_json).t if value_json is defined else 0 }}`) or `{% if %}` blocks of
//! them, rendered with only `value` and `value_json` in scope and only the filters and
//! tests value templates use. A device controls both the template and the payload, so
//! what a render may cost is bounded before and while it runs:
//!
//! - refused when compiled: names other than `value` and `value_json`, `__` attributes,
//!   longer than [`MAX_SOURCE`], any tag but `if`/`elif`/`else`/
//!   `endif` (no loops, `set`, macros, includes: nothing accumulates), the `~`
//!   concatenation, more than one `*`, or a `*` without a number literal of at most
//!   [`MAX_FACTOR`] beside it (Jinja repeats a string multiplied by a number);
//! - while rendering: payloads over [`MAX_INPUT`], [`FUEL`] instructions, output over
//!   [`MAX_OUTPUT`].
//!
//! A refused template, and an error while rendering, are shown as the device's error.

use minijinja::{Environment, Error, ErrorKind, Value};

/// Characters of a template.
pub const MAX_SOURCE: usize = 1024;
/// Bytes of a payload a template reads.
pub const MAX_INPUT: usize = 16 * 1024;
/// Bytes a render may produce.
pub const MAX_OUTPUT: usize = 4 * 1024;
/// Instructions a render may run.
pub const FUEL: u64 = 2_000;
/// The largest number a `*` may multiply by.
pub const MAX_FACTOR: f64 = 1000.0;
/// JSON nesting `from_json` follows.
const MAX_JSON_DEPTH: usize = 32;

/// A template that passed the checks and compiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jinja {
    source: Box<str>,
}

impl Jinja {
    /// Checks and compiles `source`; the error says what was refused.
    pub fn compile(source: &str) -> Result<Jinja, String> {
        if source.chars().count() > MAX_SOURCE {
            return Err(format!("longer than {MAX_SOURCE} characters"));
        }
        check_tags(source)?;
        check_operators(source)?;
        let unknown = ENV
            .with(|env| {
                env.template_from_str(source)
                    .map(|t| t.undeclared_variables(false))
            })
            .map_err(|e| describe(&e))?;
        if let Some(name) = unknown
            .iter()
            .find(|n| !matches!(n.as_str(), "value" | "value_json"))
        {
            return Err(format!(
                "`{}` is not known: a value template reads value and value_json",
                crate::sanitize::truncate(&crate::sanitize::text(name), 30)
            ));
        }
        Ok(Jinja {
            source: source.into(),
        })
    }

    /// Renders the template for a state payload: `value` is its text, `value_json` its
    /// JSON (undefined when it is not JSON).
    pub fn render(&self, payload: &[u8]) -> Result<String, String> {
        if payload.len() > MAX_INPUT {
            return Err(format!(
                "payload of {} bytes is more than a template reads ({MAX_INPUT})",
                payload.len()
            ));
        }
        let text = String::from_utf8_lossy(payload);
        let json = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .map(|j| from_json(&j, 0));
        let ctx = match json {
            Some(j) => Value::from_pairs([("value", Value::from(&*text)), ("value_json", j)]),
            None => Value::from_pairs([("value", Value::from(&*text))]),
        };
        let out = ENV
            .with(|env| {
                env.template_from_str(&self.source)
                    .and_then(|t| t.render(ctx))
            })
            .map_err(|e| describe(&e))?;
        if out.len() > MAX_OUTPUT {
            return Err(format!("rendered more than {MAX_OUTPUT} bytes"));
        }
        Ok(out.trim().to_string())
    }
}

thread_local! {
    /// The sandbox: no globals, the filters and tests value templates use.
    static ENV: Environment<'static> = sandbox();
}

fn sandbox() -> Environment<'static> {
    use minijinja::{filters, tests};
    let mut env = Environment::empty();
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(16);
    env.add_filter("float", filters::float);
    env.add_filter("int", filters::int);
    env.add_filter("round", filters::round);
    env.add_filter("default", filters::default);
    env.add_filter("d", filters::default);
    env.add_filter("abs", filters::abs);
    env.add_filter("lower", filters::lower);
    env.add_filter("upper", filters::upper);
    env.add_filter("trim", filters::trim);
    env.add_filter("string", filters::string);
    env.add_filter("bool", filters::bool);
    env.add_filter("from_json", |s: &str| -> Result<Value, Error> {
        serde_json::from_str::<serde_json::Value>(s)
            .map(|j| from_json(&j, 0))
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("from_json: {e}")))
    });
    env.add_test("defined", tests::is_defined);
    env.add_test("undefined", tests::is_undefined);
    env.add_test("none", tests::is_none);
    env.add_test("number", tests::is_number);
    env.add_test("string", tests::is_string);
    env
}

/// A JSON document as a template value (deeper levels than [`MAX_JSON_DEPTH`] are none).
fn from_json(j: &serde_json::Value, depth: usize) -> Value {
    use serde_json::Value as J;
    if depth > MAX_JSON_DEPTH {
        return Value::from(());
    }
    match j {
        J::Null => Value::from(()),
        J::Bool(b) => Value::from(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::from(i),
            (_, Some(u), _) => Value::from(u),
            (_, _, Some(f)) => Value::from(f),
            _ => Value::from(()),
        },
        J::String(s) => Value::from(s.as_str()),
        J::Array(a) => a.iter().map(|v| from_json(v, depth + 1)).collect(),
        J::Object(m) => {
            Value::from_pairs(m.iter().map(|(k, v)| (k.as_str(), from_json(v, depth + 1))))
        }
    }
}

/// The error a person reads: what minijinja said, without the template dump.
fn describe(e: &Error) -> String {
    match e.kind() {
        ErrorKind::OutOfFuel => format!("ran more than {FUEL} instructions"),
        _ => match e.detail() {
            Some(detail) => format!("{}: {detail}", e.kind()),
            None => e.kind().to_string(),
        },
    }
}

/// Only `if`/`elif`/`else`/`endif` tags: a loop or a `set` could build a value bigger
/// with each step.
fn check_tags(source: &str) -> Result<(), String> {
    let mut rest = source;
    while let Some(at) = rest.find("{%") {
        let tag = rest[at + 2..].trim_start_matches(['-', '+']).trim_start();
        let word: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !matches!(word.as_str(), "if" | "elif" | "else" | "endif") {
            return Err(format!(
                "`{{% {word} %}}` is not evaluated: only expressions and if blocks are"
            ));
        }
        rest = &rest[at + 2..];
    }
    Ok(())
}

/// No `~`, and at most one `*`, beside a number literal of at most [`MAX_FACTOR`],
/// outside string literals.
fn check_operators(source: &str) -> Result<(), String> {
    let code = without_strings(source);
    if code.contains("__") {
        return Err("`__` names are not evaluated".into());
    }
    if code.contains('~') {
        return Err("the `~` concatenation is not evaluated".into());
    }
    let stars: Vec<usize> = code
        .match_indices('*')
        .map(|(i, _)| i)
        .filter(|&i| !code[i + 1..].starts_with('*') && !code[..i].ends_with('*'))
        .collect();
    if code.contains("**") {
        return Err("`**` is not evaluated".into());
    }
    match stars[..] {
        [] => Ok(()),
        [at] => {
            let literal = |s: &str| {
                s.parse::<f64>()
                    .is_ok_and(|v| v.is_finite() && v.abs() <= MAX_FACTOR)
            };
            let before: String = code[..at]
                .trim_end()
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let after: String = code[at + 1..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if literal(&before) || literal(&after) {
                Ok(())
            } else {
                Err(format!(
                    "`*` is evaluated only beside a number of at most {MAX_FACTOR}"
                ))
            }
        }
        _ => Err("more than one `*` is not evaluated".into()),
    }
}

/// `source` with the contents of string literals blanked, so operators inside them do not
/// count.
fn without_strings(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                    out.push(c);
                    continue;
                }
                out.push(' ');
            }
            None => {
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, payload: &str) -> Result<String, String> {
        Jinja::compile(template)?.render(payload.as_bytes())
    }

    #[test]
    fn filters_arithmetic_tests_and_from_json() {
        assert_eq!(
            render("{{ value | float * 0.1 }}", "215").as_deref(),
            Ok("21.5")
        );
        assert_eq!(render("{{ value | int }}", "42").as_deref(), Ok("42"));
        assert_eq!(
            render(
                "{{ (value_json.t | float / 10) | round(1) }}",
                r#"{"t":"215"}"#
            )
            .as_deref(),
            Ok("21.5")
        );
        assert_eq!(
            render("{{ value_json.x | default(7) }}", r#"{"y":1}"#).as_deref(),
            Ok("7")
        );
        assert_eq!(render("{{ value | float(0) }}", "n/a").as_deref(), Ok("0"));
        assert_eq!(
            render(
                "{% if value_json is defined %}{{ value_json.a }}{% else %}none{% endif %}",
                "text"
            )
            .as_deref(),
            Ok("none")
        );
        assert_eq!(
            render("{{ (value | from_json).a.b }}", r#"{"a":{"b":3}}"#).as_deref(),
            Ok("3")
        );
        assert_eq!(
            render("{{ 'on' if value_json.s == 1 else 'off' }}", r#"{"s":1}"#).as_deref(),
            Ok("on")
        );
        assert!(
            render("{{ value | float }}", "n/a").is_err(),
            "no default: an error"
        );
    }

    #[test]
    fn hostile_templates_are_refused_before_they_run() {
        for (template, says) in [
            (
                "{% for i in value %}{{ i }}{% endfor %}",
                "`{% for %}` is not evaluated",
            ),
            ("{% set x = value %}{{ x }}", "`{% set %}`"),
            ("{% macro m() %}{% endmacro %}", "`{% macro %}`"),
            ("{{ value ~ value }}", "`~`"),
            ("{{ value * 100000000 }}", "at most 1000"),
            ("{{ value * value }}", "beside a number"),
            ("{{ value * 2 * 2 }}", "more than one"),
            ("{{ value ** 99 }}", "`**`"),
            ("{{ range(10) }}", "`range` is not known"),
            ("{{ namespace() }}", "`namespace` is not known"),
            ("{{ states('sensor.x') }}", "`states` is not known"),
            ("{{ cycler.__init__.__globals__.os }}", "`__`"),
            ("{{ ''.__class__.__mro__ }}", "`__`"),
            ("{{ value | replace('a', 'b') }}", "unknown filter"),
            ("{{ value", "syntax error"),
        ] {
            let e = Jinja::compile(template)
                .and_then(|j| j.render(b"x"))
                .unwrap_err();
            assert!(e.contains(says), "{template}: {e}");
        }
        let long = format!("{{{{ value }}}}{}", " ".repeat(MAX_SOURCE));
        assert!(Jinja::compile(&long).unwrap_err().contains("longer"));
        // Operators inside strings are text.
        assert_eq!(render("{{ 'a*b~c' }}", "x").as_deref(), Ok("a*b~c"));
    }

    #[test]
    fn what_a_render_may_cost_is_bounded() {
        let j = Jinja::compile("{{ value }}").unwrap();
        assert!(
            j.render(&vec![b'1'; MAX_INPUT + 1])
                .unwrap_err()
                .contains("more than")
        );
        let big = "x".repeat(MAX_INPUT / 2);
        let e = Jinja::compile("{{ value * 1000 }}")
            .unwrap()
            .render(big.as_bytes())
            .unwrap_err();
        assert!(e.contains("more than"), "{e}");
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(
            render("{{ value_json is defined }}", &deep).is_ok(),
            "bounded depth"
        );
    }
}
