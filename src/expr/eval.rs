//! Three-valued evaluation. Anything that cannot be judged (missing metric, empty
//! window, text in arithmetic, NaN, division by zero) becomes "no data" and never fires.

use super::window::window;
use super::{ArithOp, CmpOp, EvalCtx, MetricRef, Node, Truth};
use crate::fleet::{Device, Metric, MetricValue, Status, device::format_number};

#[derive(Debug, Clone, Copy)]
enum Val<'a> {
    Num(f64),
    Str(&'a str),
    Bool(bool),
    None,
}

pub(super) fn truth(n: &Node, d: &Device, ctx: &EvalCtx<'_>) -> Truth {
    match n {
        // Kleene logic with short-circuit: a definite answer wins over "no data".
        Node::And(a, b) => match truth(a, d, ctx) {
            Truth::False => Truth::False,
            ta => match (ta, truth(b, d, ctx)) {
                (_, Truth::False) => Truth::False,
                (Truth::True, Truth::True) => Truth::True,
                _ => Truth::NoData,
            },
        },
        Node::Or(a, b) => match truth(a, d, ctx) {
            Truth::True => Truth::True,
            ta => match (ta, truth(b, d, ctx)) {
                (_, Truth::True) => Truth::True,
                (Truth::False, Truth::False) => Truth::False,
                _ => Truth::NoData,
            },
        },
        Node::Not(a) => match truth(a, d, ctx) {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::NoData => Truth::NoData,
        },
        other => match val(other, d, ctx) {
            Val::Bool(b) => b.into(),
            Val::Num(x) if !x.is_nan() => (x != 0.0).into(),
            _ => Truth::NoData,
        },
    }
}

pub(super) fn value_text(n: &Node, d: &Device, ctx: &EvalCtx<'_>) -> String {
    match val(n, d, ctx) {
        Val::Num(x) => format_number(x),
        Val::Str(s) => crate::sanitize::text(s).into_owned(),
        Val::Bool(b) => if b { "true" } else { "false" }.into(),
        Val::None => "no data".into(),
    }
}

fn val<'a>(n: &'a Node, d: &'a Device, ctx: &EvalCtx<'_>) -> Val<'a> {
    match n {
        Node::Num(x) => Val::Num(*x),
        Node::Str(s) => Val::Str(s),
        Node::Bool(b) => Val::Bool(*b),
        Node::Status => Val::Str(effective_status(d, ctx).as_str()),
        Node::Metric(m) => match metric(m, d, ctx).map(|m| &m.value) {
            Some(MetricValue::Number(x)) => num(*x),
            Some(MetricValue::Bool(b)) => Val::Bool(*b),
            Some(MetricValue::Text(t)) => Val::Str(t),
            None => Val::None,
        },
        Node::Label(k) => d.label(k).map_or(Val::None, Val::Str),
        Node::Window(f, m, ms) => metric(m, d, ctx)
            .and_then(|m| window(*f, m, *ms, ctx.now_ms, ctx.cache))
            .map_or(Val::None, Val::Num),
        Node::Age(m) => match metric(m, d, ctx) {
            Some(m) => {
                let since = ctx.blind.silence_from(m.updated_ms, i64::MAX);
                Val::Num(ctx.now_ms.saturating_sub(since).max(0) as f64 / 1000.0)
            }
            None => Val::None,
        },
        Node::Abs(a) => match number(val(a, d, ctx)) {
            Some(x) => num(x.abs()),
            None => Val::None,
        },
        Node::Neg(a) => match number(val(a, d, ctx)) {
            Some(x) => num(-x),
            None => Val::None,
        },
        Node::Arith(op, a, b) => {
            let (Some(x), Some(y)) = (number(val(a, d, ctx)), number(val(b, d, ctx))) else {
                return Val::None;
            };
            num(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                // x/0 is inf or NaN, which `num` turns into no data.
                ArithOp::Div => x / y,
            })
        }
        Node::Cmp(op, a, b) => compare(*op, val(a, d, ctx), val(b, d, ctx)),
        Node::And(..) | Node::Or(..) | Node::Not(..) => match truth(n, d, ctx) {
            Truth::True => Val::Bool(true),
            Truth::False => Val::Bool(false),
            Truth::NoData => Val::None,
        },
    }
}

/// By slot when the caller resolved them (no name comparisons), else by name.
fn metric<'a>(r: &MetricRef, d: &'a Device, ctx: &EvalCtx<'_>) -> Option<&'a Metric> {
    match ctx.slots.get(r.id as usize) {
        Some(&u32::MAX) => None,
        Some(&slot) => d.metrics.get(slot as usize),
        None => d.metric(&r.name),
    }
}

/// Non-finite numbers (NaN, overflow, x/0) are no data, so they can never fire.
fn num(x: f64) -> Val<'static> {
    if x.is_finite() {
        Val::Num(x)
    } else {
        Val::None
    }
}

fn number(v: Val<'_>) -> Option<f64> {
    match v {
        Val::Num(x) if x.is_finite() => Some(x),
        Val::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

fn compare(op: CmpOp, a: Val<'_>, b: Val<'_>) -> Val<'static> {
    let ord = match (a, b) {
        (Val::Str(x), Val::Str(y)) => {
            return match op {
                CmpOp::Eq => Val::Bool(x == y),
                CmpOp::Ne => Val::Bool(x != y),
                _ => Val::None,
            };
        }
        (Val::Str(_), _) | (_, Val::Str(_)) | (Val::None, _) | (_, Val::None) => {
            return Val::None;
        }
        (x, y) => match (number(x), number(y)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
    };
    // NaN has no ordering: no data, so even `!=` cannot fire on it.
    let Some(ord) = ord else { return Val::None };
    use std::cmp::Ordering::*;
    Val::Bool(match op {
        CmpOp::Lt => ord == Less,
        CmpOp::Le => ord != Greater,
        CmpOp::Gt => ord == Greater,
        CmpOp::Ge => ord != Less,
        CmpOp::Eq => ord == Equal,
        CmpOp::Ne => ord != Equal,
    })
}

/// The device's status at `ctx.now_ms`, where staleness counts from the later of its last
/// live message and the reconnect of its broker link: time fleetop could not see is not
/// the device's fault.
pub fn effective_status(d: &Device, ctx: &EvalCtx<'_>) -> Status {
    d.compute_status(ctx.now_ms, ctx.blind)
}
