//! The expression language over a device: alert rules' `when` and `clear`, and a
//! command's `expect` (the reply that confirms it). A core module of its own so each
//! user imports it, not one another.
//!
//! ```text
//! level_pct < 15 and label("site") == "north"
//! avg(air.temp_c, 5m) > 30 or rate(flow, 1m) > 2.5
//! changes(pressure, 30m) == 0          # a stuck sensor
//! age(level_pct) > 10m or status == "stale"
//! ```
//!
//! Parsed and type-checked once at config load, so a typo fails loading with a column
//! instead of surfacing at 3 a.m. Evaluation is three-valued: a metric the device lacks,
//! an empty window, text where a number is needed, or NaN give [`Truth::NoData`], which
//! never fires, so a rule that does not apply to a device stays quiet instead of erroring
//! once per message. A duration outside a window reads as seconds (`age(x) > 10m`).
//! Window functions may lag by 1/30 of their window (see `window.rs`); comparisons of
//! current values are exact on every message. `status` is the device's status; a metric whose name is a keyword or not an
//! identifier is written `metric("status")` or `avg("flow-rate", 5m)`.

mod eval;
pub use eval::effective_status;
pub(crate) use window::Stamp;
pub use window::WindowCache;
mod lex;
mod parse;
mod window;

use crate::fleet::Device;

/// Longest expression accepted; a condition is a line, not a program.
pub const MAX_EXPR_LEN: usize = 4096;
/// Deepest nesting accepted, so a hostile config cannot overflow the stack.
pub const MAX_DEPTH: usize = 64;
/// Longest window: the coarse history keeps 24 hours.
pub const MAX_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// The outcome of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    /// Missing metric, empty window, wrong type or NaN: neither fires nor clears.
    NoData,
}

impl Truth {
    pub fn is_true(self) -> bool {
        self == Truth::True
    }
}

impl From<bool> for Truth {
    fn from(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }
}

/// A parse or type error; `column` counts characters from 1 within the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ExprError {
    /// Byte offset into the expression, for mapping back into a config file.
    pub offset: usize,
    pub column: usize,
    pub message: String,
}

impl ExprError {
    pub(crate) fn at(src: &str, offset: usize, message: impl Into<String>) -> ExprError {
        let offset = offset.min(src.len());
        let column = src.get(..offset).map_or(offset, |s| s.chars().count()) + 1;
        ExprError {
            offset,
            column,
            message: message.into(),
        }
    }
}

/// What evaluation needs besides the device: the time, since when the device's broker
/// link has been up (staleness and `age()` never count time fleetop could not see), and
/// the device's window cache, if it has one.
#[derive(Debug, Clone, Copy)]
pub struct EvalCtx<'a> {
    pub now_ms: i64,
    /// When fleetop last could not see the device's broker link.
    pub blind: crate::vocab::Blind,
    pub cache: Option<&'a WindowCache>,
    /// Per linked metric id, the device's metric index (`u32::MAX`: absent); empty to
    /// look metrics up by name.
    pub slots: &'a [u32],
}

impl EvalCtx<'_> {
    pub fn at(now_ms: i64) -> EvalCtx<'static> {
        EvalCtx {
            now_ms,
            blind: crate::vocab::Blind::NEVER,
            cache: None,
            slots: &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowFn {
    Avg,
    Min,
    Max,
    Delta,
    Rate,
    Changes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A metric named in a condition, with its id in the rule set once linked (so a device
/// finds it by index instead of comparing names).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetricRef {
    pub(crate) name: Box<str>,
    pub(crate) id: u32,
}

impl MetricRef {
    pub(crate) const UNLINKED: u32 = u32::MAX;

    pub(crate) fn new(name: Box<str>) -> MetricRef {
        MetricRef {
            name,
            id: Self::UNLINKED,
        }
    }
}

/// The syntax tree; built only by the parser, so every tree is well-typed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Num(f64),
    Str(Box<str>),
    Bool(bool),
    Status,
    Metric(MetricRef),
    Label(Box<str>),
    Window(WindowFn, MetricRef, i64),
    Age(MetricRef),
    Abs(Box<Node>),
    Neg(Box<Node>),
    Arith(ArithOp, Box<Node>, Box<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    source: Box<str>,
    root: Node,
    /// The left side of the first comparison: what "the value" of an alert is.
    probe: Option<Node>,
    metrics: Vec<Box<str>>,
    time_dependent: bool,
    reads_liveness: bool,
    reads_status: bool,
}

impl Expr {
    /// Parses and type-checks a condition.
    pub fn parse(src: &str) -> Result<Expr, ExprError> {
        if src.len() > MAX_EXPR_LEN {
            return Err(ExprError::at(
                src,
                MAX_EXPR_LEN,
                format!("expression longer than {MAX_EXPR_LEN} bytes"),
            ));
        }
        let root = parse::parse(src)?;
        let mut e = Expr {
            source: src.into(),
            probe: first_comparison_lhs(&root).cloned(),
            root,
            metrics: Vec::new(),
            time_dependent: false,
            reads_liveness: false,
            reads_status: false,
        };
        let mut metrics = Vec::new();
        walk(&e.root, &mut |n| match n {
            Node::Metric(m) | Node::Age(m) | Node::Window(_, m, _) => {
                if !metrics.contains(&m.name) {
                    metrics.push(m.name.clone());
                }
                if matches!(n, Node::Age(_) | Node::Window(..)) {
                    e.time_dependent = true;
                }
                if matches!(n, Node::Age(_)) {
                    e.reads_liveness = true;
                }
            }
            Node::Status => {
                e.time_dependent = true;
                e.reads_liveness = true;
                e.reads_status = true;
            }
            _ => {}
        });
        e.metrics = metrics;
        Ok(e)
    }

    /// The condition as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Metric names the condition reads, for incremental evaluation: a message that
    /// touches none of them cannot change a pure-value condition.
    pub fn metrics(&self) -> &[Box<str>] {
        &self.metrics
    }

    /// True when the outcome can change with time alone (windows, `age`, `status`), so a
    /// tick must re-evaluate it even without new messages.
    pub fn time_dependent(&self) -> bool {
        self.time_dependent
    }

    /// True when it reads `status` or `age()`: a liveness condition, inhibited like the
    /// built-in offline/stale rules while the broker link is down.
    pub fn reads_liveness(&self) -> bool {
        self.reads_liveness
    }

    /// True when it reads the device's `status`, which a message can change without
    /// touching any metric.
    pub fn reads_status(&self) -> bool {
        self.reads_status
    }

    /// Gives every metric reference its id in the rule set (see [`EvalCtx::slots`]).
    pub(crate) fn link(&mut self, id_of: &mut impl FnMut(&str) -> u32) {
        link(&mut self.root, id_of);
        if let Some(p) = &mut self.probe {
            link(p, id_of);
        }
    }

    /// Evaluates the condition against a device.
    pub fn eval(&self, d: &Device, ctx: &EvalCtx<'_>) -> Truth {
        eval::truth(&self.root, d, ctx)
    }

    /// The alert's value now, as text: the left side of the first comparison (or the whole
    /// condition's truth when there is none). Device text is sanitised.
    pub fn value_text(&self, d: &Device, ctx: &EvalCtx<'_>) -> String {
        match &self.probe {
            Some(n) => eval::value_text(n, d, ctx),
            None => match self.eval(d, ctx) {
                Truth::True => "true".into(),
                Truth::False => "false".into(),
                Truth::NoData => "no data".into(),
            },
        }
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

fn walk(n: &Node, f: &mut impl FnMut(&Node)) {
    f(n);
    match n {
        Node::Abs(a) | Node::Neg(a) | Node::Not(a) => walk(a, f),
        Node::Arith(_, a, b) | Node::Cmp(_, a, b) | Node::And(a, b) | Node::Or(a, b) => {
            walk(a, f);
            walk(b, f);
        }
        _ => {}
    }
}

fn link(n: &mut Node, id_of: &mut impl FnMut(&str) -> u32) {
    match n {
        Node::Metric(m) | Node::Age(m) | Node::Window(_, m, _) => m.id = id_of(&m.name),
        Node::Abs(a) | Node::Neg(a) | Node::Not(a) => link(a, id_of),
        Node::Arith(_, a, b) | Node::Cmp(_, a, b) | Node::And(a, b) | Node::Or(a, b) => {
            link(a, id_of);
            link(b, id_of);
        }
        _ => {}
    }
}

fn first_comparison_lhs(n: &Node) -> Option<&Node> {
    match n {
        Node::Cmp(_, a, _) => Some(a),
        Node::Not(a) => first_comparison_lhs(a),
        Node::And(a, b) | Node::Or(a, b) => {
            first_comparison_lhs(a).or_else(|| first_comparison_lhs(b))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
