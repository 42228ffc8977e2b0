//! The alert log: transitions, acks and silences appended as JSON lines to
//! `$XDG_STATE_HOME/fleetop/alerts/<place>.jsonl`, read back at start so that acks and
//! silences survive a restart. Each [`Place`] (the brokers and config a run watches) has a
//! log of its own: a silence set in the demo on `fleet=tanks` never silences a real
//! broker's fleet of that name.

use crate::alerts::{AlertBook, LogEntry, Resume, parse_log};
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where alert state belongs: the brokers and the config file a run watches, or a name
/// given outright (the demo, whose embedded broker takes a new port each run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// What the place is, for its file name: the first broker's host, or the name.
    label: String,
    /// Everything that tells it apart, hashed into the file name.
    key: String,
    /// Whether its devices are remembered across runs (see [`Place::keeps_devices`]).
    keeps_devices: bool,
}

impl Place {
    /// The place of a run watching `sources` (broker URLs or recordings, in any order)
    /// with the config file at `config` (`None`: no config file).
    pub fn watching(sources: &[String], config: Option<&Path>) -> Place {
        let mut sorted = sources.to_vec();
        sorted.sort();
        let label = sorted.first().map_or("none", |s| host_of(s)).to_string();
        let config = config.map_or_else(String::new, |p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        });
        Place {
            label,
            key: format!("{}\n{config}", sorted.join("\n")),
            keeps_devices: true,
        }
    }

    /// A place of its own name (the demo's). Its alert state is kept, but not its
    /// devices: the demo makes its simulated fleet afresh each run (another `--devices`,
    /// another seed), and devices of an earlier run would linger as stale ghosts.
    pub fn named(name: &str) -> Place {
        Place {
            label: name.to_string(),
            key: format!("named:{name}"),
            keeps_devices: false,
        }
    }

    /// Whether the devices seen here are kept for the next run.
    pub fn keeps_devices(&self) -> bool {
        self.keeps_devices
    }

    /// Its log's file name: `<label>-<hash>.jsonl`, the label reduced to safe characters.
    pub fn file_name(&self) -> String {
        let label: String = self
            .label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        format!("{label}-{:016x}.jsonl", fnv1a(self.key.as_bytes()))
    }

    /// Its log in the XDG state directory.
    pub fn log_path(&self) -> Option<PathBuf> {
        let dir = crate::logging::state_dir()?.join("alerts");
        std::fs::create_dir_all(&dir).ok()?;
        Some(dir.join(self.file_name()))
    }
}

/// `host:port` of a URL, or the text itself when it has none.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// FNV-1a: a file name must come out the same in every build, which std's hashers do not
/// promise.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A log that passes this size is compacted (checked at start and on every append): it
/// then holds the newest [`HISTORY_KEPT`] transitions and what is still in force, so it
/// stays bounded however long fleetop runs and is cheap to read at start.
pub const COMPACT_ABOVE_BYTES: u64 = 4 << 20;
/// Transitions a compacted log keeps as history, newest last.
pub const HISTORY_KEPT: usize = 2_000;

/// An open, append-only alert log.
pub struct AlertLog {
    path: PathBuf,
    file: std::fs::File,
    /// Its size now.
    bytes: u64,
    /// The newest transitions' lines, for the history a compaction keeps.
    history: VecDeque<String>,
}

impl AlertLog {
    /// Restores `book` from the log at `path` (if any: silences, acks and the alerts that
    /// were raised) and opens it for appending, compacted first if it has grown past
    /// [`COMPACT_ABOVE_BYTES`]. A damaged line is skipped and reported; nothing else is
    /// lost.
    pub fn open(path: &Path, book: &mut AlertBook, now_ms: i64) -> Result<AlertLog, String> {
        let mut history = VecDeque::new();
        let mut bytes = 0;
        if let Ok(text) = std::fs::read_to_string(path) {
            bytes = text.len() as u64;
            let (entries, errors) = parse_log(&text);
            for e in errors.iter().take(3) {
                tracing::warn!(path = %path.display(), "alert log: {e:?}");
            }
            for e in &entries {
                if matches!(e, LogEntry::Transition { .. }) {
                    keep_history(&mut history, e.to_line());
                }
            }
            book.restore(entries, now_ms, Resume::Raised);
        }
        let mut log = AlertLog {
            path: path.to_path_buf(),
            file: open_append(path)?,
            bytes,
            history,
        };
        if log.needs_compaction() {
            log.compact(&book.compact(), now_ms);
        }
        Ok(log)
    }

    /// Appends entries, one line each.
    pub fn append<'a>(&mut self, entries: impl IntoIterator<Item = &'a LogEntry>) {
        let mut text = String::new();
        for e in entries {
            let line = e.to_line();
            text.push_str(&line);
            text.push('\n');
            if matches!(e, LogEntry::Transition { .. }) {
                keep_history(&mut self.history, line);
            }
        }
        if text.is_empty() {
            return;
        }
        match self.file.write_all(text.as_bytes()) {
            Ok(()) => self.bytes += text.len() as u64,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), "cannot append to the alert log: {e}")
            }
        }
    }

    /// True once the log has grown past [`COMPACT_ABOVE_BYTES`].
    pub fn needs_compaction(&self) -> bool {
        self.bytes > COMPACT_ABOVE_BYTES
    }

    /// Rewrites the log as its newest transitions, a checkpoint, then `state` (what
    /// [`AlertBook::compact`] says is in force). The new file replaces the old one only
    /// once it is whole, so a crash midway leaves the old log.
    pub fn compact(&mut self, state: &[LogEntry], now_ms: i64) {
        let mut text = String::new();
        let checkpoint = LogEntry::Checkpoint { at_ms: now_ms };
        let lines = self.history.iter().cloned().chain(
            std::iter::once(&checkpoint)
                .chain(state)
                .map(LogEntry::to_line),
        );
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        let tmp = self.path.with_extension("jsonl.compacting");
        let written = std::fs::write(&tmp, &text)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| e.to_string())
            .and_then(|()| open_append(&self.path));
        match written {
            Ok(file) => {
                self.file = file;
                self.bytes = text.len() as u64;
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                tracing::warn!(path = %self.path.display(), "cannot compact the alert log: {e}");
            }
        }
    }
}

fn open_append(path: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open the alert log {}: {e}", path.display()))
}

fn keep_history(history: &mut VecDeque<String>, line: String) {
    if history.len() == HISTORY_KEPT {
        history.pop_front();
    }
    history.push_back(line);
}

#[cfg(test)]
mod place_tests {
    use super::*;

    #[test]
    fn each_place_has_a_log_of_its_own() {
        let prod = Place::watching(&["mqtt://broker.plant:1883".into()], None);
        let same = Place::watching(&["mqtt://broker.plant:1883".into()], None);
        assert_eq!(prod.file_name(), same.file_name());
        assert!(
            prod.file_name().starts_with("broker.plant_1883-"),
            "{}",
            prod.file_name()
        );
        let other_config = Place::watching(
            &["mqtt://broker.plant:1883".into()],
            Some(Path::new("/etc/fleetop/other.toml")),
        );
        let demo = Place::named("demo");
        let two = Place::watching(&["mqtt://b:1883".into(), "mqtt://a:1883".into()], None);
        let two_again = Place::watching(&["mqtt://a:1883".into(), "mqtt://b:1883".into()], None);
        assert_ne!(prod.file_name(), other_config.file_name());
        assert_ne!(prod.file_name(), demo.file_name());
        assert_eq!(
            two.file_name(),
            two_again.file_name(),
            "order does not matter"
        );
        let secret = Place::watching(&["mqtts://user:pw@host:8883/x".into()], None);
        assert!(
            secret.file_name().starts_with("host_8883-"),
            "{}",
            secret.file_name()
        );
    }
}

#[cfg(test)]
mod compaction_tests {
    use super::*;
    use crate::alerts::{AlertKey, AlertState, RuleSet};
    use crate::vocab::Severity;

    fn transition(device: &str, from: AlertState, to: AlertState, at_ms: i64) -> LogEntry {
        LogEntry::Transition {
            at_ms,
            key: AlertKey {
                rule: "device_offline".into(),
                fleet: "tanks".into(),
                device: device.into(),
            },
            from,
            to,
            severity: Severity::Major,
            value: "offline".into(),
            message: format!("{device} is offline: its last will said so"),
            silenced: false,
        }
    }

    #[test]
    fn a_long_log_is_compacted_at_start_and_keeps_what_is_in_force() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("place.jsonl");
        // A soak: devices flapping offline and back for days, one still offline.
        let mut text = String::new();
        let mut at = 0;
        while text.len() as u64 <= COMPACT_ABOVE_BYTES {
            let device = format!("tank-{}", at % 997);
            for (from, to) in [
                (AlertState::Inactive, AlertState::Firing),
                (AlertState::Firing, AlertState::Resolved),
            ] {
                at += 1000;
                text.push_str(&transition(&device, from, to, at).to_line());
                text.push('\n');
            }
        }
        let still = transition("tank-still", AlertState::Inactive, AlertState::Firing, at);
        text.push_str(&still.to_line());
        text.push('\n');
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));

        let mut book = AlertBook::new(RuleSet::default());
        let log = AlertLog::open(&path, &mut book, at + 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(book.awaiting_resume(), 1, "tank-still resumes as raised");
        let compacted = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            (compacted.len() as u64) < COMPACT_ABOVE_BYTES / 4,
            "{} bytes",
            compacted.len()
        );
        assert!(!log.needs_compaction());
        let (entries, errors) = parse_log(&compacted);
        assert!(errors.is_empty(), "{errors:?}");
        let transitions = entries
            .iter()
            .filter(|e| matches!(e, LogEntry::Transition { .. }))
            .count();
        assert_eq!(transitions, HISTORY_KEPT, "the newest history stays");
        let again = crate::alerts::log::replay(entries, at + 2);
        let devices: Vec<_> = again.raised.keys().map(|k| k.device.as_str()).collect();
        assert_eq!(devices, ["tank-still"]);
        assert!(!dir.path().join("place.jsonl.compacting").exists());
    }
}
