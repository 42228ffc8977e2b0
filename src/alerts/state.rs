//! The alert book: every rule × device alert, evaluated incrementally.
//!
//! The engine calls [`AlertBook::evaluate_device`] for each device a message touched,
//! [`AlertBook::tick`] on a timer (for `for`, `keep_firing_for`, staleness, windows and
//! silence expiry) and [`AlertBook::link_changed`] when a broker link goes up or down.
//! Transitions queue up until [`AlertBook::drain`]. Operator actions return the
//! [`LogEntry`] to append to the alert log. Pure: time is always passed in.

mod evaluate;

use super::builtin::{Builtin, BuiltinFacts};
use super::log::{AlertKey, LogEntry, Raised, replay};
use super::machine::{Ack, Alert, AlertState};
use super::memo::{DeviceMemo, Link};
use super::rules::{Rule, RuleIdx, RuleSet};
use super::silence::{Silence, SilenceRequest};
use super::transition::Transition;
use crate::expr::{EvalCtx, Truth};
use crate::fleet::{Device, Group};
use crate::sanitize;
use crate::vocab::{ConnId, DeviceId, Severity};
use std::collections::{BTreeMap, HashMap};

/// How long a resolved alert stays listed (and keeps its ack) before it is forgotten.
pub const RESOLVED_KEEP_MS: i64 = 15 * 60 * 1000;
/// Longest ack comment or silence reason kept.
const MAX_NOTE: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("no such alert (it may have resolved and been forgotten)")]
    NoSuchAlert,
    #[error("no active silence with id {0}")]
    NoSuchSilence(u64),
    #[error("{0}")]
    Invalid(String),
}

/// Everything but the rules, so methods can borrow the rules while mutating this.
#[derive(Debug, Default)]
struct Book {
    alerts: BTreeMap<(DeviceId, RuleIdx), Alert>,
    memo: Vec<DeviceMemo>,
    links: Vec<Link>,
    silences: Vec<Silence>,
    next_silence_id: u64,
    restored_acks: HashMap<AlertKey, Ack>,
    /// Alerts raised when the log was last written, not yet evaluated again: each resumes
    /// as firing when its rule is next evaluated on its device.
    restored_raised: HashMap<AlertKey, Raised>,
    out: Vec<Transition>,
    now_ms: i64,
    /// Scratch list of rules to evaluate, kept to avoid an allocation per message.
    todo: Vec<RuleIdx>,
    /// A device's rules are evaluated at most once per this many ms of message time.
    coalesce_ms: i64,
}

/// The alert state of a fleet.
#[derive(Debug)]
pub struct AlertBook {
    rules: RuleSet,
    book: Book,
}

impl AlertBook {
    pub fn new(rules: RuleSet) -> AlertBook {
        AlertBook {
            rules,
            book: Book {
                next_silence_id: 1,
                ..Book::default()
            },
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Evaluates a device's rules at most once per `ms` of message time: messages
    /// arriving sooner are coalesced, and evaluated with the next message after the
    /// interval or at the next [`AlertBook::tick`], whichever comes first (as Prometheus
    /// evaluates on an interval). A flood of messages then costs evaluations per device
    /// and second, not per message. 0 (the default) evaluates every message.
    pub fn coalesce(&mut self, ms: i64) {
        self.book.coalesce_ms = ms.max(0);
    }

    /// Transitions since the last call, in the order they happened.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Transition> {
        self.book.out.drain(..)
    }

    /// Every alert the book holds, including pending, resolved and recently inactive ones.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.book.alerts.values()
    }

    pub fn get(&self, device: DeviceId, rule: RuleIdx) -> Option<&Alert> {
        self.book.alerts.get(&(device, rule))
    }

    /// Pending, firing and flapping alerts: most severe first, raised before pending,
    /// then newest first, so a fresh critical lands on top.
    pub fn active(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self.alerts().filter(|a| a.state.is_active()).collect();
        v.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.state.is_raised().cmp(&a.state.is_raised()))
                .then(b.since_ms.cmp(&a.since_ms))
                .then((a.device, a.rule).cmp(&(b.device, b.rule)))
        });
        v
    }

    /// Raised alerts by severity (index [`Severity::rank`]), leaving out silenced and
    /// inhibited ones: the header's counts and `check`'s verdict.
    pub fn counts(&self) -> [usize; 5] {
        let mut c = [0; 5];
        for a in self.alerts().filter(|a| self.counts_as_raised(a)) {
            c[a.severity.rank()] += 1;
        }
        c
    }

    /// The worst raised, unsilenced alert of a device, for its row in the fleet table.
    pub fn worst_for(&self, device: DeviceId) -> Option<Severity> {
        self.worst_where(device, |_| true)
    }

    /// The worst raised, unsilenced alert of a device whose rule reads `metric`: the
    /// severity its value is drawn in, so the number in trouble stands out.
    pub fn metric_severity(&self, device: DeviceId, metric: &str) -> Option<Severity> {
        self.worst_where(device, |a| {
            self.rules.get(a.rule).is_some_and(|r| r.reads(metric))
        })
    }

    fn worst_where(&self, device: DeviceId, pick: impl Fn(&Alert) -> bool) -> Option<Severity> {
        self.book
            .alerts
            .range((device, 0)..=(device, RuleIdx::MAX))
            .map(|(_, a)| a)
            .filter(|a| self.counts_as_raised(a) && pick(a))
            .map(|a| a.severity)
            .max()
    }

    /// True when the alert is firing or flapping and neither silenced nor inhibited.
    pub fn counts_as_raised(&self, a: &Alert) -> bool {
        a.state.is_raised() && !a.inhibited && self.silenced_by(a).is_none()
    }

    /// The silence covering an alert now, if any.
    pub fn silenced_by(&self, a: &Alert) -> Option<&Silence> {
        self.book
            .silences
            .iter()
            .find(|s| s.covers(a, self.book.now_ms))
    }

    /// Active (pending, firing, flapping) alerts that all of `matchers` match: what a
    /// silence being typed would cover.
    pub fn count_matching(&self, matchers: &[super::silence::Matcher]) -> usize {
        if matchers.is_empty() {
            return 0;
        }
        self.alerts()
            .filter(|a| a.state.is_active() && matchers.iter().all(|m| m.matches(a)))
            .count()
    }

    pub fn silences(&self) -> &[Silence] {
        &self.book.silences
    }

    /// Acknowledges an alert (any state but inactive). `by` is `user@host`.
    pub fn ack(
        &mut self,
        device: DeviceId,
        rule: RuleIdx,
        by: &str,
        comment: Option<&str>,
        at_ms: i64,
    ) -> Result<LogEntry, AlertError> {
        let a = self
            .book
            .alerts
            .get_mut(&(device, rule))
            .filter(|a| a.state != AlertState::Inactive)
            .ok_or(AlertError::NoSuchAlert)?;
        let ack = Ack {
            by: note(by),
            at_ms,
            comment: comment.map(note).filter(|c| !c.is_empty()),
        };
        a.ack = Some(ack.clone());
        Ok(LogEntry::Ack {
            key: key_of(a),
            ack,
        })
    }

    /// Adds a silence from `now` for the requested duration.
    pub fn silence(
        &mut self,
        req: SilenceRequest,
        by: &str,
        at_ms: i64,
    ) -> Result<LogEntry, AlertError> {
        if req.matchers.is_empty() {
            return Err(AlertError::Invalid(
                "a silence needs at least one matcher".into(),
            ));
        }
        if req.duration_ms <= 0 {
            return Err(AlertError::Invalid(
                "a silence needs a duration longer than zero".into(),
            ));
        }
        let s = Silence {
            id: self.book.next_silence_id,
            matchers: req.matchers,
            created_ms: at_ms,
            expires_ms: at_ms.saturating_add(req.duration_ms),
            reason: note(&req.reason),
            by: note(by),
        };
        self.book.next_silence_id += 1;
        self.book.silences.push(s.clone());
        Ok(LogEntry::Silence(s))
    }

    pub fn unsilence(&mut self, id: u64, by: &str, at_ms: i64) -> Result<LogEntry, AlertError> {
        let (lifted, kept) = std::mem::take(&mut self.book.silences)
            .into_iter()
            .partition::<Vec<_>, _>(|s| s.id == id);
        self.book.silences = kept;
        if lifted.is_empty() {
            return Err(AlertError::NoSuchSilence(id));
        }
        self.book.resurface(&lifted, at_ms);
        Ok(LogEntry::Unsilence {
            at_ms,
            id,
            by: note(by),
        })
    }

    /// Rebuilds silences and acks from the alert log after a restart, and with
    /// [`Resume::Raised`] the alerts that were raised: each resumes as firing, with its
    /// original times, when its rule is next evaluated on its device. Acks re-attach to
    /// their alerts when those raise again (or at once, if already present).
    pub fn restore(
        &mut self,
        entries: impl IntoIterator<Item = LogEntry>,
        now_ms: i64,
        resume: Resume,
    ) {
        let r = replay(entries, now_ms);
        let b = &mut self.book;
        b.next_silence_id = b.next_silence_id.max(r.next_silence_id);
        for s in r.silences {
            b.silences.retain(|x| x.id != s.id);
            b.silences.push(s);
        }
        b.restored_acks = r.acks;
        if resume == Resume::Raised {
            b.restored_raised = r.raised;
        }
        for a in b
            .alerts
            .values_mut()
            .filter(|a| a.state != AlertState::Inactive)
        {
            if let Some(ack) = b.restored_acks.remove(&key_of(a)) {
                a.ack = Some(ack);
            }
            b.restored_raised.remove(&key_of(a));
        }
    }

    /// Alerts restored as raised that no evaluation has taken up yet (their device has
    /// not been seen since the restart).
    pub fn awaiting_resume(&self) -> usize {
        self.book.restored_raised.len()
    }

    /// The log reduced to what a restart needs: silences in force, raised alerts (also
    /// those restored but not yet taken up again) and their acks, for rewriting a log
    /// that has grown long.
    pub fn compact(&self) -> Vec<LogEntry> {
        let silences = self.book.silences.iter().cloned().map(LogEntry::Silence);
        let live = self.alerts().filter(|a| a.state.is_raised()).map(|a| {
            let raised = Raised {
                started_ms: a.started_ms,
                fired_ms: a.fired_ms.unwrap_or(a.since_ms),
                severity: a.severity,
            };
            (key_of(a), raised, a.ack.clone())
        });
        let waiting = self
            .book
            .restored_raised
            .iter()
            .map(|(k, r)| (k.clone(), *r, self.book.restored_acks.get(k).cloned()));
        let raised = live.chain(waiting).flat_map(|(key, raised, ack)| {
            let ack = ack.map(|ack| LogEntry::Ack {
                key: key.clone(),
                ack,
            });
            std::iter::once(LogEntry::Raised { key, raised }).chain(ack)
        });
        silences.chain(raised).collect()
    }
}

/// How much of the alert log [`AlertBook::restore`] brings back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Silences and acks only: what a one-off judgement (`fleetop check`) honours.
    OperatorState,
    /// Also the alerts that were raised, for a run that carries on where the last one
    /// stopped.
    Raised,
}

/// The alert id of group `i` (gateways count down from the top of the id range, far
/// above any device id).
pub fn group_alert_id(i: usize) -> DeviceId {
    DeviceId(u32::MAX - u32::try_from(i).unwrap_or(u32::MAX / 2))
}

/// True for an id [`group_alert_id`] made: the alert is about a gateway, not a device.
pub fn is_group_alert(id: DeviceId) -> bool {
    id.0 > u32::MAX / 2
}

fn key_of(a: &Alert) -> AlertKey {
    AlertKey {
        rule: a.rule_name.to_string(),
        fleet: a.fleet.to_string(),
        device: a.device_name.to_string(),
    }
}

/// Operator text for the log and the screen: escaped and bounded.
fn note(s: &str) -> String {
    sanitize::truncate(&sanitize::text(s.trim()), MAX_NOTE).into_owned()
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "state/resume_tests.rs"]
mod resume_tests;

#[cfg(test)]
#[path = "state/metric_tests.rs"]
mod metric_tests;
