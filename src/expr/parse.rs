//! Recursive-descent parser with a small type check, so mistakes such as comparing text
//! with a number, or `status == "ofline"`, fail at load with a column.
//!
//! ```text
//! or   := and (("or" | "||") and)*
//! and  := not (("and" | "&&") not)*
//! not  := ("not" | "!") not | cmp
//! cmp  := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
//! sum  := prod (("+" | "-") prod)*
//! prod := unary (("*" | "/") unary)*
//! unary:= "-" unary | primary
//! primary := number | duration | "text" | true | false | status | metric
//!          | name "(" args ")" | "(" or ")"
//! ```

use super::lex::{Tok, lex};
use super::{ArithOp, CmpOp, ExprError, MAX_DEPTH, MAX_WINDOW_MS, MetricRef, Node, WindowFn};

/// Static type of a subexpression; `Any` is a metric, whose type only the device knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Num,
    Str,
    Bool,
    Any,
}

struct Typed {
    node: Node,
    ty: Ty,
    at: usize,
}

const FUNCTIONS: &str = "avg, min, max, delta, rate, changes, age, label, metric, abs";
const STATUSES: [&str; 4] = ["online", "stale", "offline", "unknown"];

pub(super) fn parse(src: &str) -> Result<Node, ExprError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    if p.peek() == &Tok::Eof {
        return Err(p.err(0, "the condition is empty"));
    }
    let t = p.or()?;
    if p.peek() != &Tok::Eof {
        let what = p.peek().describe();
        return Err(p.err(
            p.offset(),
            format!("unexpected {what}; expected `and`, `or` or the end"),
        ));
    }
    match t.ty {
        Ty::Str => Err(p.err(t.at, "a condition must be true or false, not text")),
        Ty::Num => Err(p.err(
            t.at,
            "a condition must be true or false: compare this number, e.g. `... > 0`",
        )),
        Ty::Bool | Ty::Any => Ok(t.node),
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::Eof, |t| &t.0)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.src.len(), |t| t.1)
    }

    fn bump(&mut self) -> (Tok, usize) {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .unwrap_or((Tok::Eof, self.src.len()));
        self.pos += 1;
        t
    }

    fn err(&self, at: usize, msg: impl Into<String>) -> ExprError {
        ExprError::at(self.src, at, msg)
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<usize, ExprError> {
        if self.peek() == want {
            return Ok(self.bump().1);
        }
        let got = self.peek().describe();
        Err(self.err(self.offset(), format!("expected {what}, found {got}")))
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(
                self.offset(),
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Typed, ExprError> {
        let mut l = self.and()?;
        while self.peek() == &Tok::Or {
            self.bump();
            let r = self.and()?;
            self.logical(&l, "or")?;
            self.logical(&r, "or")?;
            l = Typed {
                at: l.at,
                node: Node::Or(Box::new(l.node), Box::new(r.node)),
                ty: Ty::Bool,
            };
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Typed, ExprError> {
        let mut l = self.not()?;
        while self.peek() == &Tok::And {
            self.bump();
            let r = self.not()?;
            self.logical(&l, "and")?;
            self.logical(&r, "and")?;
            l = Typed {
                at: l.at,
                node: Node::And(Box::new(l.node), Box::new(r.node)),
                ty: Ty::Bool,
            };
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Typed, ExprError> {
        if self.peek() != &Tok::Not {
            return self.cmp();
        }
        let at = self.bump().1;
        self.enter()?;
        let inner = self.not()?;
        self.depth -= 1;
        self.logical(&inner, "not")?;
        Ok(Typed {
            at,
            node: Node::Not(Box::new(inner.node)),
            ty: Ty::Bool,
        })
    }

    fn logical(&self, t: &Typed, op: &str) -> Result<(), ExprError> {
        match t.ty {
            Ty::Str => Err(self.err(
                t.at,
                format!("`{op}` needs conditions; text is neither true nor false"),
            )),
            _ => Ok(()),
        }
    }

    fn cmp(&mut self) -> Result<Typed, ExprError> {
        let l = self.sum()?;
        let op = match self.peek() {
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Eq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            _ => return Ok(l),
        };
        let op_at = self.bump().1;
        let r = self.sum()?;
        let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
        for side in [&l, &r] {
            if ordering && side.ty == Ty::Str {
                return Err(self.err(side.at, "text can only be compared with `==` or `!=`"));
            }
        }
        let mixed = |a: Ty, b: Ty| a == Ty::Str && matches!(b, Ty::Num | Ty::Bool);
        if mixed(l.ty, r.ty) || mixed(r.ty, l.ty) {
            return Err(self.err(
                op_at,
                "this compares text with a number; quote both or neither",
            ));
        }
        for (a, b) in [(&l, &r), (&r, &l)] {
            if let (Node::Status, Node::Str(s)) = (&a.node, &b.node)
                && !STATUSES.contains(&&**s)
            {
                return Err(self.err(
                    b.at,
                    format!("status is one of \"online\", \"stale\", \"offline\", \"unknown\", not \"{}\"", crate::sanitize::text(s)),
                ));
            }
        }
        if matches!(
            self.peek(),
            Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge | Tok::Eq | Tok::Ne
        ) {
            return Err(self.err(
                self.offset(),
                "comparisons do not chain; write `a < b and b < c`",
            ));
        }
        Ok(Typed {
            at: l.at,
            node: Node::Cmp(op, Box::new(l.node), Box::new(r.node)),
            ty: Ty::Bool,
        })
    }

    fn sum(&mut self) -> Result<Typed, ExprError> {
        let mut l = self.prod()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => ArithOp::Add,
                Tok::Minus => ArithOp::Sub,
                _ => return Ok(l),
            };
            l = self.arith(l, op, Self::prod)?;
        }
    }

    fn prod(&mut self) -> Result<Typed, ExprError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => ArithOp::Mul,
                Tok::Slash => ArithOp::Div,
                _ => return Ok(l),
            };
            l = self.arith(l, op, Self::unary)?;
        }
    }

    fn arith(
        &mut self,
        l: Typed,
        op: ArithOp,
        next: fn(&mut Self) -> Result<Typed, ExprError>,
    ) -> Result<Typed, ExprError> {
        self.bump();
        let r = next(self)?;
        for side in [&l, &r] {
            if side.ty == Ty::Str {
                return Err(self.err(side.at, "arithmetic needs numbers; this is text"));
            }
        }
        Ok(Typed {
            at: l.at,
            node: Node::Arith(op, Box::new(l.node), Box::new(r.node)),
            ty: Ty::Num,
        })
    }

    fn unary(&mut self) -> Result<Typed, ExprError> {
        if self.peek() != &Tok::Minus {
            return self.primary();
        }
        let at = self.bump().1;
        self.enter()?;
        let inner = self.unary()?;
        self.depth -= 1;
        if inner.ty == Ty::Str {
            return Err(self.err(inner.at, "cannot negate text"));
        }
        Ok(Typed {
            at,
            node: Node::Neg(Box::new(inner.node)),
            ty: Ty::Num,
        })
    }

    fn primary(&mut self) -> Result<Typed, ExprError> {
        let (tok, at) = self.bump();
        let typed = |node, ty| Ok(Typed { node, ty, at });
        match tok {
            Tok::Num(n) => typed(Node::Num(n), Ty::Num),
            // A duration outside a window reads as seconds: `age(x) > 10m`.
            Tok::Dur(ms) => typed(Node::Num(ms as f64 / 1000.0), Ty::Num),
            Tok::Str(s) => typed(Node::Str(s.into()), Ty::Str),
            Tok::LParen => {
                self.enter()?;
                let inner = self.or()?;
                self.depth -= 1;
                self.expect(&Tok::RParen, "`)`")?;
                Ok(Typed { at, ..inner })
            }
            Tok::Ident(name) if self.peek() == &Tok::LParen => self.call(&name, at),
            Tok::Ident(name) => match name.as_str() {
                "true" => typed(Node::Bool(true), Ty::Bool),
                "false" => typed(Node::Bool(false), Ty::Bool),
                "status" => typed(Node::Status, Ty::Str),
                _ => typed(Node::Metric(MetricRef::new(name.into())), Ty::Any),
            },
            other => Err(self.err(
                at,
                format!(
                    "expected a metric, number, text or `(`, found {}",
                    other.describe()
                ),
            )),
        }
    }

    fn call(&mut self, name: &str, at: usize) -> Result<Typed, ExprError> {
        self.bump(); // `(`
        self.enter()?;
        let typed = |node, ty| Typed { node, ty, at };
        let window = match name {
            "avg" => Some(WindowFn::Avg),
            "min" => Some(WindowFn::Min),
            "max" => Some(WindowFn::Max),
            "delta" => Some(WindowFn::Delta),
            "rate" => Some(WindowFn::Rate),
            "changes" => Some(WindowFn::Changes),
            _ => None,
        };
        let out = match (name, window) {
            (_, Some(f)) => {
                let metric = self.metric_arg(name)?;
                self.expect(
                    &Tok::Comma,
                    &format!("`,` and a window, as in `{name}(m, 5m)`"),
                )?;
                let (tok, wat) = self.bump();
                let ms = match tok {
                    Tok::Dur(ms) if ms > 0 && ms <= MAX_WINDOW_MS => ms,
                    Tok::Dur(_) => {
                        return Err(self.err(
                            wat,
                            "a window must be longer than zero and at most 24h (the history kept)",
                        ));
                    }
                    other => {
                        return Err(self.err(
                            wat,
                            format!("expected a window such as `5m`, found {}", other.describe()),
                        ));
                    }
                };
                typed(Node::Window(f, MetricRef::new(metric), ms), Ty::Num)
            }
            ("age", _) => typed(Node::Age(MetricRef::new(self.metric_arg(name)?)), Ty::Num),
            ("metric", _) => typed(
                Node::Metric(MetricRef::new(self.metric_arg(name)?)),
                Ty::Any,
            ),
            ("label", _) => match self.bump() {
                (Tok::Str(s), _) => typed(Node::Label(s.into()), Ty::Str),
                (Tok::Ident(s), _) => typed(Node::Label(s.into()), Ty::Str),
                (other, a) => {
                    return Err(self.err(
                        a,
                        format!(
                            "expected a label name such as \"site\", found {}",
                            other.describe()
                        ),
                    ));
                }
            },
            ("abs", _) => {
                let inner = self.or()?;
                if inner.ty == Ty::Str {
                    return Err(self.err(inner.at, "abs() needs a number"));
                }
                typed(Node::Abs(Box::new(inner.node)), Ty::Num)
            }
            _ => {
                return Err(self.err(at, format!("unknown function `{name}`; known: {FUNCTIONS}")));
            }
        };
        self.expect(&Tok::RParen, &format!("`)` to close `{name}(`"))?;
        self.depth -= 1;
        Ok(out)
    }

    /// A metric argument: a name, or quoted text for names that are not identifiers.
    fn metric_arg(&mut self, func: &str) -> Result<Box<str>, ExprError> {
        match self.bump() {
            (Tok::Ident(s), _) => Ok(s.into()),
            (Tok::Str(s), _) => Ok(s.into()),
            (other, at) => Err(self.err(
                at,
                format!(
                    "`{func}` needs a metric name first, found {}",
                    other.describe()
                ),
            )),
        }
    }
}
