//! One alert: the state machine of one rule on one device.
//!
//! ```text
//! inactive ──when──▶ pending ──held `for`──▶ firing ──clear held `keep_firing_for`──▶ resolved
//!     ▲                 │ (when stops)                                                   │
//!     └─────────────────┘                                   when again ──▶ pending ◀─────┘
//! ```
//!
//! Hysteresis: while firing, only `clear` ends it, so a value wandering between the raise
//! and clear thresholds does not toggle. "No data" holds a firing alert and drops a
//! pending one (it never fires). Flapping: `flips` transitions within the window mark the
//! alert flapping; transitions then happen silently until none has happened for a whole
//! window, when the alert settles into whatever state it is really in.

use super::log::Raised;
use super::rules::{FlapPolicy, RuleIdx};
use crate::expr::Truth;
use crate::vocab::{DeviceId, Severity};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
    /// Shown instead of firing/resolved while the alert flips too often.
    Flapping,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Flapping => "flapping",
            AlertState::Resolved => "resolved",
        }
    }

    /// Pending, firing or flapping: shown in the alert pane.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            AlertState::Pending | AlertState::Firing | AlertState::Flapping
        )
    }

    /// Firing or flapping: counted in the header and by `check`.
    pub fn is_raised(self) -> bool {
        matches!(self, AlertState::Firing | AlertState::Flapping)
    }
}

impl std::fmt::Display for AlertState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operator's acknowledgement: "I've seen it". Independent of resolving; a new
/// episode (the alert raised again after resolving) starts unacknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// `user@host`.
    pub by: String,
    pub at_ms: i64,
    pub comment: Option<String>,
}

/// One rule on one device. Names and labels are stored sanitised, safe to display.
#[derive(Debug, Clone)]
pub struct Alert {
    pub rule: RuleIdx,
    pub device: DeviceId,
    pub rule_name: Arc<str>,
    pub device_name: Box<str>,
    pub fleet: Arc<str>,
    pub labels: Vec<(Box<str>, Box<str>)>,
    pub severity: Severity,
    /// The state as shown (`Flapping` while flapping).
    pub state: AlertState,
    /// When `state` was entered.
    pub since_ms: i64,
    /// When this episode began (entering pending or firing from rest).
    pub started_ms: i64,
    pub fired_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    /// The value now, as text ("12.5", "no data for 3m", ...).
    pub value: String,
    pub message: String,
    pub ack: Option<Ack>,
    /// Held by an inhibition (broker link down, gateway offline): no transitions.
    pub inhibited: bool,
    /// The real state underneath, never `Flapping`.
    pub(crate) inner: AlertState,
    raise_since: Option<i64>,
    clear_since: Option<i64>,
    flips: VecDeque<i64>,
}

impl Alert {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        rule: RuleIdx,
        device: DeviceId,
        rule_name: Arc<str>,
        device_name: Box<str>,
        fleet: Arc<str>,
        labels: Vec<(Box<str>, Box<str>)>,
        severity: Severity,
        now: i64,
    ) -> Alert {
        Alert {
            rule,
            device,
            rule_name,
            device_name,
            fleet,
            labels,
            severity,
            state: AlertState::Inactive,
            since_ms: now,
            started_ms: now,
            fired_ms: None,
            resolved_ms: None,
            value: String::new(),
            message: String::new(),
            ack: None,
            inhibited: false,
            inner: AlertState::Inactive,
            raise_since: None,
            clear_since: None,
            flips: VecDeque::new(),
        }
    }

    /// Takes up where an earlier run left off: firing since it fired then, its episode
    /// begun when it began. Nothing changed, so no transition shows and `on_fire` does
    /// not run again; what the data says next moves it on as usual.
    pub(crate) fn resume(&mut self, r: Raised) {
        self.inner = AlertState::Firing;
        self.state = AlertState::Firing;
        self.since_ms = r.fired_ms;
        self.started_ms = r.started_ms;
        self.fired_ms = Some(r.fired_ms);
        self.raise_since = Some(r.started_ms);
    }

    /// Records an evaluation's outcome. `clear` matters only while firing.
    pub(crate) fn observe(&mut self, raise: Truth, clear: Truth, now: i64) {
        self.raise_since = match raise {
            Truth::True => Some(self.raise_since.unwrap_or(now)),
            _ => None,
        };
        // Clear must hold without interruption (and without `when` holding) for
        // `keep_firing_for` to run out.
        self.clear_since = match (raise, clear) {
            (Truth::True, _) => None,
            (_, Truth::True) => Some(self.clear_since.unwrap_or(now)),
            _ => None,
        };
    }

    /// Advances timers at `now`; returns a shown transition `(from, to)` if one happened.
    /// Call until it returns `None` (at most a few times).
    pub(crate) fn step(
        &mut self,
        for_ms: i64,
        keep_ms: i64,
        flap: FlapPolicy,
        now: i64,
    ) -> Option<(AlertState, AlertState)> {
        let held =
            |since: Option<i64>, need: i64| since.is_some_and(|t| now.saturating_sub(t) >= need);
        let next = match self.inner {
            AlertState::Inactive | AlertState::Resolved | AlertState::Flapping => {
                match self.raise_since {
                    Some(_) if held(self.raise_since, for_ms) => Some(AlertState::Firing),
                    Some(_) => Some(AlertState::Pending),
                    None => None,
                }
            }
            AlertState::Pending if self.raise_since.is_none() => Some(AlertState::Inactive),
            AlertState::Pending if held(self.raise_since, for_ms) => Some(AlertState::Firing),
            AlertState::Pending => None,
            AlertState::Firing if held(self.clear_since, keep_ms) => Some(AlertState::Resolved),
            AlertState::Firing => None,
        };
        match next {
            Some(to) => self.enter(to, flap, now),
            None => self.settle(flap, now),
        }
    }

    fn enter(
        &mut self,
        to: AlertState,
        flap: FlapPolicy,
        now: i64,
    ) -> Option<(AlertState, AlertState)> {
        let from_rest = matches!(self.inner, AlertState::Inactive | AlertState::Resolved);
        if from_rest {
            // A new episode: a fresh alarm, unacknowledged.
            self.started_ms = now;
            self.ack = None;
            self.fired_ms = None;
            self.resolved_ms = None;
        }
        match to {
            AlertState::Firing => self.fired_ms = Some(now),
            AlertState::Resolved => self.resolved_ms = Some(now),
            _ => {}
        }
        self.inner = to;
        self.flips.push_back(now);
        while self
            .flips
            .front()
            .is_some_and(|&t| now.saturating_sub(t) >= flap.window_ms)
        {
            self.flips.pop_front();
        }
        let from = self.state;
        if from == AlertState::Flapping {
            return None;
        }
        if flap.flips > 0 && self.flips.len() >= flap.flips as usize {
            self.show(AlertState::Flapping, now);
            return Some((from, AlertState::Flapping));
        }
        self.show(to, now);
        Some((from, to))
    }

    /// Leaves flapping once a whole window passed without a transition.
    fn settle(&mut self, flap: FlapPolicy, now: i64) -> Option<(AlertState, AlertState)> {
        if self.state != AlertState::Flapping {
            return None;
        }
        let quiet = self
            .flips
            .back()
            .is_none_or(|&t| now.saturating_sub(t) >= flap.window_ms);
        if !quiet {
            return None;
        }
        self.flips.clear();
        self.show(self.inner, now);
        Some((AlertState::Flapping, self.inner))
    }

    fn show(&mut self, to: AlertState, now: i64) {
        self.state = to;
        self.since_ms = now;
    }

    /// True when the entry carries nothing worth keeping: at rest, not flapping, and
    /// its last transition is older than `keep_ms`.
    pub(crate) fn is_idle(&self, now: i64, keep_ms: i64) -> bool {
        matches!(self.state, AlertState::Inactive | AlertState::Resolved)
            && self.raise_since.is_none()
            && now.saturating_sub(self.since_ms) >= keep_ms
            && self
                .flips
                .back()
                .is_none_or(|&t| now.saturating_sub(t) >= keep_ms)
    }
}
