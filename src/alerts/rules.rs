//! Compiled rules: scope, conditions, timing, severity and message, checked once at load.

use super::builtin::{Builtin, BuiltinFacts, ms};
use super::glob::Glob;
use super::hooks::{HookRun, Hooks};
use super::template::{Template, TemplateVars};
use super::transition::Transition;
use crate::config::alerts::{AlertRuleConfig, locate_in_string};
use crate::config::hooks::HooksConfig;
use crate::config::{Config, ConfigError, Origin};
use crate::expr::{EvalCtx, Expr, ExprError, Truth, effective_status};
use crate::fleet::Device;
use crate::mapping::FleetIdx;
use crate::vocab::Severity;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Index of a rule in its [`RuleSet`].
pub type RuleIdx = u32;

/// Default flapping damping: this many transitions within the window.
pub const DEFAULT_FLAP_FLIPS: u32 = 8;
pub const DEFAULT_FLAP_WINDOW: Duration = Duration::from_secs(10 * 60);

/// A rule configuration problem, already located as `file:line:column: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

/// Which devices a rule applies to.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub fleet: Option<FleetIdx>,
    pub labels: Vec<(Box<str>, Glob)>,
    pub device: Option<Glob>,
}

impl Scope {
    pub fn matches(&self, d: &Device) -> bool {
        self.device.as_ref().is_none_or(|g| g.matches(&d.name))
            && self.matches_labels(d.fleet, &d.labels)
    }

    /// The fleet and label part alone: what a gateway (a group of devices) is judged by.
    pub fn matches_labels(&self, fleet: FleetIdx, labels: &[(Box<str>, Box<str>)]) -> bool {
        self.fleet.is_none_or(|f| f == fleet)
            && self.labels.iter().all(|(k, g)| {
                labels
                    .iter()
                    .find(|(lk, _)| lk == k)
                    .is_some_and(|(_, v)| g.matches(v))
            })
    }
}

#[derive(Debug, Clone)]
pub enum Condition {
    /// Boxed: an expression is large next to a built-in.
    Expr {
        when: Box<Expr>,
        clear: Option<Box<Expr>>,
    },
    Builtin(Builtin),
}

/// Flapping damping: `flips` transitions within `window_ms` mark an alert flapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlapPolicy {
    pub flips: u32,
    pub window_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: Arc<str>,
    pub scope: Scope,
    pub condition: Condition,
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    pub severity: Severity,
    pub message: Template,
    pub flap: FlapPolicy,
    pub hooks: Hooks,
    liveness: bool,
    time_dependent: bool,
}

impl Rule {
    /// Liveness rules (offline, stale, or reading `status`/`age`) are inhibited while
    /// the device's broker link is down or its gateway is offline.
    pub fn is_liveness(&self) -> bool {
        self.liveness
    }

    /// True when time alone can change the outcome; ticks re-evaluate these.
    pub fn time_dependent(&self) -> bool {
        self.time_dependent
    }

    pub fn builtin(&self) -> Option<Builtin> {
        match self.condition {
            Condition::Builtin(b) => Some(b),
            Condition::Expr { .. } => None,
        }
    }

    /// Metric names the rule reads (empty for built-ins).
    pub fn metrics(&self) -> Vec<&str> {
        match &self.condition {
            Condition::Expr { when, clear } => {
                let mut v: Vec<&str> = when.metrics().iter().map(|m| &**m).collect();
                for m in clear.iter().flat_map(|c| c.metrics()) {
                    if !v.contains(&&**m) {
                        v.push(m);
                    }
                }
                v
            }
            Condition::Builtin(_) => Vec::new(),
        }
    }

    /// True when the rule reads `metric` (in `when` or `clear`).
    pub fn reads(&self, metric: &str) -> bool {
        match &self.condition {
            Condition::Expr { when, clear } => std::iter::once(when)
                .chain(clear)
                .any(|e| e.metrics().iter().any(|m| &**m == metric)),
            Condition::Builtin(_) => false,
        }
    }

    pub fn raise(&self, d: &Device, ctx: &EvalCtx<'_>, facts: &BuiltinFacts) -> Truth {
        match &self.condition {
            Condition::Expr { when, .. } => when.eval(d, ctx),
            Condition::Builtin(b) => b.raise(d, ctx, facts),
        }
    }

    /// The clear condition; by default the negation of `when` (so "no data" stays "no
    /// data" and never clears).
    pub fn clear(&self, d: &Device, ctx: &EvalCtx<'_>, facts: &BuiltinFacts) -> Truth {
        let negate = |t: Truth| match t {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::NoData => Truth::NoData,
        };
        match &self.condition {
            Condition::Expr {
                clear: Some(clear), ..
            } => clear.eval(d, ctx),
            _ => negate(self.raise(d, ctx, facts)),
        }
    }

    pub fn value_text(&self, d: &Device, ctx: &EvalCtx<'_>) -> String {
        match &self.condition {
            Condition::Expr { when, .. } => when.value_text(d, ctx),
            Condition::Builtin(b) => b.value_text(d, ctx),
        }
    }

    pub fn message(&self, d: &Device, ctx: &EvalCtx<'_>, fleet: &str, value: &str) -> String {
        let vars = TemplateVars {
            rule: &self.name,
            fleet,
            severity: self.severity.as_str(),
            value,
            status: effective_status(d, ctx).as_str(),
        };
        self.message.render(&vars, d)
    }
}

/// Every rule in force, plus the fleet names that scopes and alerts refer to, and an
/// index from metric names to the rules that read them, so a message re-evaluates only
/// what it can change.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    fleets: Vec<Arc<str>>,
    metric_ids: HashMap<Box<str>, u32>,
    readers: Vec<Vec<RuleIdx>>,
    /// Rules any message may change: built-ins, and conditions reading `status` or no
    /// metric at all.
    always: Vec<RuleIdx>,
}

impl RuleSet {
    /// The config's alert rules, compiled against its fleets, with the `[hooks]` defaults
    /// and publish settings checked and applied (errors at file:line:column).
    pub fn from_config(config: &Config) -> Result<RuleSet, ConfigError> {
        let fleets = crate::mapping::fleet_names(&config.fleets);
        let rules = RuleSet::compile(&config.alerts, &fleets, &config.origin)
            .map_err(|e| ConfigError(e.to_string()))?;
        super::hooks::AlertPublish::check(&config.hooks)
            .map_err(|e| ConfigError(format!("{}: {e}", config.origin.name())))?;
        Ok(rules.with_hook_defaults(&config.hooks))
    }

    /// Compiles `[[alert]]` entries over the given fleets (indexed by `FleetIdx`), adding
    /// the built-in rules the entries do not turn off. Errors name `file:line:column`.
    pub fn compile(
        configs: &[AlertRuleConfig],
        fleets: &[&str],
        origin: &Origin,
    ) -> Result<RuleSet, RuleError> {
        let mut set = RuleSet {
            rules: Vec::new(),
            fleets: fleets.iter().map(|&f| Arc::from(f)).collect(),
            ..RuleSet::default()
        };
        let mut seen = std::collections::HashSet::new();
        for c in configs {
            let name = c.name.get_ref().as_str();
            let at = |msg: String| RuleError(format!("{}: {msg}", origin.locate(c.name.span())));
            if !seen.insert(name) {
                return Err(at(format!(
                    "alert name `{name}` is used twice; names must be unique"
                )));
            }
            if name.is_empty() || name.chars().any(char::is_control) {
                return Err(at("alert `name` must be non-empty printable text".into()));
            }
            if let Some(rule) = compile_one(c, fleets, origin)? {
                set.rules.push(rule);
            }
        }
        for b in Builtin::NAMES {
            if !seen.contains(b)
                && let Some(b) = Builtin::by_name(b, None)
            {
                set.rules.push(builtin_rule(b, Scope::default()));
            }
        }
        if set.rules.len() > RuleIdx::MAX as usize {
            return Err(RuleError("too many [[alert]] rules".into()));
        }
        set.index();
        Ok(set)
    }

    /// Builds the metric index and links each condition's metric references to it.
    fn index(&mut self) {
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let r = i as RuleIdx;
            let names: Vec<Box<str>> = rule.metrics().into_iter().map(Into::into).collect();
            let status = match &rule.condition {
                Condition::Expr { when, clear } => {
                    when.reads_status() || clear.as_ref().is_some_and(|c| c.reads_status())
                }
                Condition::Builtin(_) => true,
            };
            if status || names.is_empty() {
                self.always.push(r);
            }
            for m in names {
                let next = self.readers.len() as u32;
                let id = *self.metric_ids.entry(m).or_insert(next);
                if id == next {
                    self.readers.push(Vec::new());
                }
                self.readers[id as usize].push(r);
            }
            if let Condition::Expr { when, clear } = &mut rule.condition {
                let ids = &self.metric_ids;
                let mut id_of = |n: &str| ids.get(n).copied().unwrap_or(u32::MAX);
                when.link(&mut id_of);
                if let Some(c) = clear {
                    c.link(&mut id_of);
                }
            }
        }
    }

    /// How many distinct metrics the rules read (linked ids are below this).
    pub(crate) fn metric_count(&self) -> usize {
        self.readers.len()
    }

    /// The id of a metric name some rule reads.
    pub(crate) fn metric_id(&self, name: &str) -> Option<u32> {
        self.metric_ids.get(name).copied()
    }

    /// Rules reading metric `id`, ascending.
    pub(crate) fn readers(&self, id: u32) -> &[RuleIdx] {
        self.readers.get(id as usize).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn always(&self) -> &[RuleIdx] {
        &self.always
    }

    /// Fills in `[hooks]` defaults for rules that name no hook of their own.
    pub fn with_hook_defaults(mut self, defaults: &HooksConfig) -> RuleSet {
        for r in &mut self.rules {
            r.hooks = r.hooks.or_defaults(defaults);
        }
        self
    }

    /// The hook a transition runs, if its rule has one for it.
    pub fn hook_for(&self, t: &Transition) -> Option<HookRun> {
        self.get(t.rule)?.hooks.plan(t)
    }

    /// The built-in rules alone, for a run without `[[alert]]` entries.
    pub fn builtin(fleets: &[&str]) -> RuleSet {
        RuleSet::compile(&[], fleets, &Origin::default()).unwrap_or_default()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, idx: RuleIdx) -> Option<&Rule> {
        self.rules.get(idx as usize)
    }

    pub fn find(&self, name: &str) -> Option<RuleIdx> {
        self.rules
            .iter()
            .position(|r| &*r.name == name)
            .map(|i| i as RuleIdx)
    }

    /// The name of fleet `idx`, `?` when unknown.
    pub fn fleet_name(&self, idx: FleetIdx) -> Arc<str> {
        self.fleets
            .get(idx as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from("?"))
    }
}

fn builtin_rule(b: Builtin, scope: Scope) -> Rule {
    Rule {
        name: b.name().into(),
        scope,
        condition: Condition::Builtin(b),
        for_ms: ms(b.default_for()),
        keep_firing_for_ms: 0,
        severity: b.default_severity(),
        // The default messages are constants known to parse.
        message: Template::parse(b.default_message()).unwrap_or_default(),
        flap: FlapPolicy {
            flips: DEFAULT_FLAP_FLIPS,
            window_ms: ms(DEFAULT_FLAP_WINDOW),
        },
        hooks: Hooks::default(),
        liveness: b.is_liveness(),
        time_dependent: b.time_dependent(),
    }
}

/// One entry; `None` when it turns a rule off.
fn compile_one(
    c: &AlertRuleConfig,
    fleets: &[&str],
    origin: &Origin,
) -> Result<Option<Rule>, RuleError> {
    let name = c.name.get_ref();
    let at = |msg: String| RuleError(format!("{}: {msg}", origin.locate(c.name.span())));
    let expr_err = |what: &str, s: &toml::Spanned<String>, e: ExprError| {
        RuleError(format!(
            "{}: alert `{name}` {what}: {} (column {} of the {what})",
            locate_in_string(origin, s.span(), e.offset),
            e.message,
            e.column
        ))
    };
    let fleet = match &c.fleet {
        None => None,
        Some(f) => match fleets.iter().position(|n| *n == f.get_ref().as_str()) {
            Some(i) => Some(i as FleetIdx),
            None => {
                return Err(RuleError(format!(
                    "{}: alert `{name}` names fleet `{}`, which is neither a [[fleet]] nor a device convention (known: {})",
                    origin.locate(f.span()),
                    f.get_ref(),
                    if fleets.is_empty() {
                        "none".into()
                    } else {
                        fleets.join(", ")
                    }
                )));
            }
        },
    };
    let scope = Scope {
        fleet,
        labels: c
            .labels
            .iter()
            .map(|(k, v)| (k.as_str().into(), Glob::new(v)))
            .collect(),
        device: c.device.as_deref().map(Glob::new),
    };
    let builtin = Builtin::by_name(name, c.window);
    let mut rule = match (&c.when, builtin) {
        (Some(_), Some(_)) => {
            return Err(at(format!(
                "`{name}` is a built-in rule: leave out `when` to tune it, or pick another name"
            )));
        }
        (None, None) => {
            return Err(at(format!(
                "alert `{name}` needs a `when` condition (built-in rules are {})",
                Builtin::NAMES.join(", ")
            )));
        }
        (None, Some(b)) => {
            if c.clear.is_some() {
                return Err(at(format!("built-in rule `{name}` takes no `clear`")));
            }
            builtin_rule(b, scope)
        }
        (Some(w), None) => {
            if c.window.is_some() {
                return Err(at("`window` applies only to `decode_errors`; put windows inside the condition, e.g. `avg(m, 5m)`".into()));
            }
            let when = Box::new(Expr::parse(w.get_ref()).map_err(|e| expr_err("when", w, e))?);
            let clear = match &c.clear {
                Some(s) => Some(Box::new(
                    Expr::parse(s.get_ref()).map_err(|e| expr_err("clear", s, e))?,
                )),
                None => None,
            };
            let liveness =
                when.reads_liveness() || clear.as_ref().is_some_and(|c| c.reads_liveness());
            let time_dependent =
                when.time_dependent() || clear.as_ref().is_some_and(|c| c.time_dependent());
            Rule {
                name: name.as_str().into(),
                scope,
                condition: Condition::Expr { when, clear },
                for_ms: 0,
                keep_firing_for_ms: 0,
                severity: Severity::Warning,
                message: Template::parse("{rule} on {device}: {value}").unwrap_or_default(),
                flap: FlapPolicy {
                    flips: DEFAULT_FLAP_FLIPS,
                    window_ms: ms(DEFAULT_FLAP_WINDOW),
                },
                hooks: Hooks::default(),
                liveness,
                time_dependent,
            }
        }
    };
    if !c.enabled {
        return Ok(None);
    }
    if let Some(d) = c.for_ {
        rule.for_ms = ms(d);
    }
    if let Some(d) = c.keep_firing_for {
        rule.keep_firing_for_ms = ms(d);
    }
    if let Some(s) = c.severity {
        rule.severity = s;
    }
    if let Some(m) = &c.message {
        rule.message = Template::parse(m.get_ref()).map_err(|e| expr_err("message", m, e))?;
    }
    rule.hooks = Hooks {
        on_fire: c.on_fire.clone(),
        on_resolve: c.on_resolve.clone(),
        timeout: c.hook_timeout,
    };
    if let Some(n) = c.flap_flips {
        rule.flap.flips = n;
    }
    if let Some(w) = c.flap_window {
        if w.is_zero() {
            return Err(at("`flap_window` must be longer than zero".into()));
        }
        rule.flap.window_ms = ms(w);
    }
    Ok(Some(rule))
}
