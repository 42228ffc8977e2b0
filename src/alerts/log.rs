//! The alert log's records, as JSON lines: transitions, acks, silences, unsilences.
//!
//! Appending and reading the file is the caller's IO; this module only turns records
//! into lines and back, and replays them into the acks and silences that must survive
//! a restart. Alerts themselves are not restored: they are re-derived from live data,
//! and a restored ack re-attaches to the same alert when it comes back.

use super::machine::{Ack, AlertState};
use super::silence::Silence;
use crate::vocab::Severity;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Names an alert across restarts (device ids are not stable; names are).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlertKey {
    pub rule: String,
    pub fleet: String,
    pub device: String,
}

/// One line of the alert log. Unknown fields are ignored, so newer versions can add some.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogEntry {
    Transition {
        at_ms: i64,
        #[serde(flatten)]
        key: AlertKey,
        from: AlertState,
        to: AlertState,
        severity: Severity,
        value: String,
        message: String,
        #[serde(default)]
        silenced: bool,
    },
    Ack {
        #[serde(flatten)]
        key: AlertKey,
        #[serde(flatten)]
        ack: Ack,
    },
    Silence(Silence),
    Unsilence {
        at_ms: i64,
        id: u64,
        by: String,
    },
    /// Where a compacted log's state begins: what came before is history, and a replay
    /// starts over from here (the lines after it say everything still in force).
    Checkpoint {
        at_ms: i64,
    },
    /// An alert raised when the log was compacted.
    Raised {
        #[serde(flatten)]
        key: AlertKey,
        #[serde(flatten)]
        raised: Raised,
    },
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alert log line {line}: {message}")]
pub struct LogError {
    pub line: usize,
    pub message: String,
}

impl LogEntry {
    /// The JSON line, without the trailing newline. Strings were sanitised on the way
    /// in, and JSON escapes any control character left, so a line is always one line.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_line(line: &str) -> Result<LogEntry, String> {
        serde_json::from_str(line.trim()).map_err(|e| e.to_string())
    }
}

/// Reads a whole log; blank lines are skipped and bad lines reported, not fatal, since
/// a crash mid-append can leave a torn last line.
pub fn parse_log(text: &str) -> (Vec<LogEntry>, Vec<LogError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match LogEntry::from_line(line) {
            Ok(e) => entries.push(e),
            Err(message) => errors.push(LogError {
                line: i + 1,
                message,
            }),
        }
    }
    (entries, errors)
}

/// What a log replay yields: the silences still in force, the acks of alerts that were
/// still raised when the log ends, and those alerts themselves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restored {
    pub silences: Vec<Silence>,
    pub acks: HashMap<AlertKey, Ack>,
    /// Alerts raised when the log ends: they resume as raised, from when they began.
    pub raised: HashMap<AlertKey, Raised>,
    /// Next free silence id (ids are never reused).
    pub next_silence_id: u64,
}

/// An alert that was raised when the log ends: enough to resume it as it was, so its
/// "since" stays true and `on_fire` does not run a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Raised {
    /// When its episode began (pending, or firing at once).
    pub started_ms: i64,
    /// When it fired.
    pub fired_ms: i64,
    pub severity: Severity,
}

/// Replays entries in order at `now_ms`.
pub fn replay(entries: impl IntoIterator<Item = LogEntry>, now_ms: i64) -> Restored {
    let mut silences = BTreeMap::new();
    let mut acks = HashMap::new();
    let mut raised: HashMap<AlertKey, Raised> = HashMap::new();
    let mut began: HashMap<AlertKey, i64> = HashMap::new();
    let mut next_id = 1;
    for e in entries {
        match e {
            LogEntry::Silence(s) => {
                next_id = next_id.max(s.id.saturating_add(1));
                silences.insert(s.id, s);
            }
            LogEntry::Unsilence { id, .. } => {
                silences.remove(&id);
            }
            LogEntry::Ack { key, ack } => {
                acks.insert(key, ack);
            }
            LogEntry::Checkpoint { .. } => {
                silences.clear();
                acks.clear();
                raised.clear();
                began.clear();
            }
            LogEntry::Raised { key, raised: r } => {
                began.insert(key.clone(), r.started_ms);
                raised.insert(key, r);
            }
            // An ack belongs to one episode: it ends at resolve, and a new one starts
            // unacknowledged.
            LogEntry::Transition {
                key,
                from,
                to,
                at_ms,
                severity,
                ..
            } => {
                let ended = matches!(to, AlertState::Resolved | AlertState::Inactive);
                let from_rest = matches!(from, AlertState::Resolved | AlertState::Inactive);
                if ended || from_rest {
                    acks.remove(&key);
                }
                if from_rest {
                    began.insert(key.clone(), at_ms);
                }
                if ended {
                    began.remove(&key);
                    raised.remove(&key);
                } else if to.is_raised() && !raised.contains_key(&key) {
                    let started_ms = began.get(&key).copied().unwrap_or(at_ms).min(at_ms);
                    raised.insert(
                        key,
                        Raised {
                            started_ms,
                            fired_ms: at_ms,
                            severity,
                        },
                    );
                }
            }
        }
    }
    Restored {
        silences: silences
            .into_values()
            .filter(|s| s.expires_ms > now_ms)
            .collect(),
        acks,
        raised,
        next_silence_id: next_id,
    }
}
