//! A change of an alert's shown state: the event the headless stream, the alert log,
//! hooks, the bell and the UI consume.

use super::log::{AlertKey, LogEntry};
use super::machine::{Alert, AlertState};
use super::rules::RuleIdx;
use crate::vocab::{DeviceId, Severity};
use serde::Serialize;

/// One transition. Strings are sanitised (they came from devices). `from` == `to` (firing
/// or flapping) means the alert re-appears: the silence that hid it expired or was lifted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    /// Index into the rule set; not stable across config changes, so not serialised.
    #[serde(skip)]
    pub rule: RuleIdx,
    #[serde(skip)]
    pub device: DeviceId,
    #[serde(rename = "rule")]
    pub rule_name: String,
    #[serde(rename = "device")]
    pub device_name: String,
    pub fleet: String,
    pub from: AlertState,
    pub to: AlertState,
    pub severity: Severity,
    pub value: String,
    pub message: String,
    pub at_ms: i64,
    /// Matched a silence when it happened: log it, but no bell, hook or notification.
    pub silenced: bool,
}

impl Transition {
    pub(crate) fn of(
        a: &Alert,
        from: AlertState,
        to: AlertState,
        at_ms: i64,
        silenced: bool,
    ) -> Transition {
        Transition {
            rule: a.rule,
            device: a.device,
            rule_name: a.rule_name.to_string(),
            device_name: a.device_name.to_string(),
            fleet: a.fleet.to_string(),
            from,
            to,
            severity: a.severity,
            value: a.value.clone(),
            message: a.message.clone(),
            at_ms,
            silenced,
        }
    }

    pub fn key(&self) -> AlertKey {
        AlertKey {
            rule: self.rule_name.clone(),
            fleet: self.fleet.clone(),
            device: self.device_name.clone(),
        }
    }

    /// A newly firing alert that nobody silenced: what rings the bell and runs
    /// `on_fire`.
    pub fn is_new_fire(&self) -> bool {
        self.to == AlertState::Firing && self.from != AlertState::Flapping && !self.silenced
    }

    /// A raised alert showing again because its silence ended.
    pub fn is_resurfaced(&self) -> bool {
        self.from == self.to
    }

    /// A resolution that nobody silenced: what runs `on_resolve`.
    pub fn is_resolve(&self) -> bool {
        self.to == AlertState::Resolved && !self.silenced
    }
}

impl From<&Transition> for LogEntry {
    fn from(t: &Transition) -> LogEntry {
        LogEntry::Transition {
            at_ms: t.at_ms,
            key: t.key(),
            from: t.from,
            to: t.to,
            severity: t.severity,
            value: t.value.clone(),
            message: t.message.clone(),
            silenced: t.silenced,
        }
    }
}
