//! The alert pane's state: which alerts it lists (active before resolved, most severe
//! first, then newest),
//! filtered by state, and the cursor. Rebuilt from the [`AlertBook`] before each frame
//! while the pane is open, so keys act on the list the operator sees.

use crate::alerts::{Alert, AlertBook, AlertState, Handling, RuleIdx};
use crate::fleet::Device;
use crate::vocab::DeviceId;
use std::sync::Arc;

/// Which alerts the pane lists; `f` cycles through them, `:alerts STATE` picks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    /// Pending, firing, flapping and recently resolved.
    #[default]
    All,
    /// Firing or flapping, and neither acked, silenced nor held: what needs someone.
    Unhandled,
    /// Firing or flapping.
    Firing,
    Pending,
    Resolved,
    Acked,
    Silenced,
}

impl StateFilter {
    pub const ALL: [StateFilter; 7] = [
        StateFilter::All,
        StateFilter::Unhandled,
        StateFilter::Firing,
        StateFilter::Pending,
        StateFilter::Resolved,
        StateFilter::Acked,
        StateFilter::Silenced,
    ];

    pub fn label(self) -> &'static str {
        match self {
            StateFilter::All => "all",
            StateFilter::Unhandled => "unhandled",
            StateFilter::Firing => "firing",
            StateFilter::Pending => "pending",
            StateFilter::Resolved => "resolved",
            StateFilter::Acked => "acked",
            StateFilter::Silenced => "silenced",
        }
    }

    pub fn parse(s: &str) -> Option<StateFilter> {
        StateFilter::ALL.into_iter().find(|f| f.label() == s)
    }

    pub fn next(self) -> StateFilter {
        let i = StateFilter::ALL
            .iter()
            .position(|&f| f == self)
            .unwrap_or(0);
        StateFilter::ALL[(i + 1) % StateFilter::ALL.len()]
    }

    fn keeps(self, a: &Alert, silenced: bool, handling: Option<Handling>) -> bool {
        match self {
            StateFilter::All => true,
            StateFilter::Unhandled => handling == Some(Handling::Unhandled),
            StateFilter::Firing => a.state.is_raised(),
            StateFilter::Pending => a.state == AlertState::Pending,
            StateFilter::Resolved => a.state == AlertState::Resolved,
            StateFilter::Acked => a.ack.is_some(),
            StateFilter::Silenced => silenced,
        }
    }
}

/// One listed alert: its key in the book, its rule's name (for `S`) and the silence
/// covering it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub device: DeviceId,
    pub rule: RuleIdx,
    pub rule_name: Arc<str>,
    pub silence: Option<u64>,
    /// For a gateway's alert (not a device's): its labels as `key=value` words, which
    /// are both a fleet filter for its devices and silence matchers.
    pub group: Option<Box<str>>,
    /// The head of a rule's alerts folded into one row: how many (0 for an alert of its
    /// own). The head shows its worst, newest alert (`device`).
    pub members: usize,
    /// Listed under its rule's unfolded head.
    pub in_group: bool,
}

impl AlertRow {
    /// What the cursor stays on across relists: the alert, or the rule of a head.
    fn key(&self) -> (Option<DeviceId>, RuleIdx) {
        ((self.members == 0).then_some(self.device), self.rule)
    }
}

/// A rule with this many listed alerts folds them into one row (Alertmanager-style
/// grouping): a storm of one rule is one line with its count, not a screenful.
pub const FOLD_AT: usize = 5;

/// The pane: filter, rows and cursor.
#[derive(Debug, Default)]
pub struct AlertPane {
    pub filter: StateFilter,
    pub rows: Vec<AlertRow>,
    pub selected: usize,
    /// Rules whose folded alerts the operator opened (Enter on the head).
    pub unfolded: std::collections::HashSet<RuleIdx>,
}

impl AlertPane {
    /// Relists the alerts, keeping the cursor on the same alert when it is still listed.
    pub fn refresh(&mut self, book: &AlertBook) {
        let keep = self.rows.get(self.selected).map(AlertRow::key);
        let mut listed: Vec<(&Alert, Option<u64>)> = book
            .alerts()
            .filter(|a| a.state != AlertState::Inactive)
            .map(|a| (a, book.silenced_by(a).map(|s| s.id)))
            .filter(|(a, s)| self.filter.keeps(a, s.is_some(), book.handling(a)))
            .collect();
        listed.sort_by(|(a, _), (b, _)| order(a).cmp(&order(b)));
        let rows = listed.into_iter().map(|(a, silence)| AlertRow {
            device: a.device,
            rule: a.rule,
            rule_name: a.rule_name.clone(),
            silence,
            group: crate::alerts::state::is_group_alert(a.device).then(|| a.device_name.clone()),
            members: 0,
            in_group: false,
        });
        self.rows = fold(rows.collect(), &self.unfolded);
        if let Some(key) = keep
            && let Some(i) = self.rows.iter().position(|r| r.key() == key)
        {
            self.selected = i;
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    pub fn selected_row(&self) -> Option<&AlertRow> {
        self.rows.get(self.selected)
    }
}

/// Folds the alerts of each rule with [`FOLD_AT`] or more into a head row where its first
/// (worst) alert stands; the members follow an unfolded head. Gateway alerts stay apart.
fn fold(rows: Vec<AlertRow>, unfolded: &std::collections::HashSet<RuleIdx>) -> Vec<AlertRow> {
    let mut per_rule: std::collections::HashMap<RuleIdx, usize> = Default::default();
    for r in rows.iter().filter(|r| r.group.is_none()) {
        *per_rule.entry(r.rule).or_default() += 1;
    }
    let folds =
        |r: &AlertRow| r.group.is_none() && per_rule.get(&r.rule).is_some_and(|&n| n >= FOLD_AT);
    let mut members: std::collections::HashMap<RuleIdx, Vec<AlertRow>> = Default::default();
    let mut out = Vec::with_capacity(rows.len());
    let mut heads = Vec::new();
    for r in rows {
        if !folds(&r) {
            out.push(r);
            continue;
        }
        let list = members.entry(r.rule).or_default();
        if list.is_empty() {
            heads.push(out.len());
            out.push(AlertRow {
                members: per_rule[&r.rule],
                silence: None,
                ..r.clone()
            });
        }
        list.push(AlertRow {
            in_group: true,
            ..r
        });
    }
    // Members go under their unfolded heads, last head first so positions hold.
    for &at in heads.iter().rev() {
        let rule = out[at].rule;
        if unfolded.contains(&rule)
            && let Some(list) = members.remove(&rule)
        {
            out.splice(at + 1..at + 1, list);
        }
    }
    out
}

/// Active alerts before resolved ones; then most severe first; among equals raised
/// before pending; then newest.
fn order(a: &Alert) -> impl Ord {
    let stage = match a.state {
        AlertState::Firing | AlertState::Flapping => 0,
        AlertState::Pending => 1,
        AlertState::Resolved | AlertState::Inactive => 2,
    };
    (
        stage == 2,
        std::cmp::Reverse(a.severity),
        stage,
        std::cmp::Reverse(a.since_ms),
        a.device,
        a.rule,
    )
}

/// The `:silence ` line `S` opens: matchers for the device (and the alert's rule, when
/// one is selected), ready for the operator to add a duration and a reason or widen it
/// to a label. Spaces in names become `?` so each matcher stays one word.
pub fn silence_prefill(d: &Device, rule: Option<&str>) -> String {
    let mut line = format!("silence device={} ", word(&d.name));
    if let Some(rule) = rule {
        line.push_str(&format!("rule={} ", word(rule)));
    }
    line
}

/// What the `S` line still needs, and the labels it could match instead.
pub fn silence_hint(d: &Device) -> String {
    let mut hint = String::from("add DURATION \"reason\", e.g. 2h \"pump maintenance\"");
    if !d.labels.is_empty() {
        let labels: Vec<String> = d
            .labels
            .iter()
            .map(|(k, v)| format!("{}={}", word(k), word(v)))
            .collect();
        hint.push_str(" · or match ");
        hint.push_str(&labels.join(" "));
    }
    hint
}

/// A name as one safe matcher word.
fn word(s: &str) -> String {
    crate::sanitize::text(s).replace(char::is_whitespace, "?")
}
