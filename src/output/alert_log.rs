//! The alert log: transitions, acks and silences appended as JSON lines to
//! `$XDG_STATE_HOME/fleetop/alerts/<place>.jsonl`, read back at start so that acks and
//! silences survive a restart. Each [`Place`] (the brokers and config a run watches) has a
//! log of its own: a silence set in the demo on `fleet=tanks` never silences a real
//! broker's fleet of that name.

use crate::alerts::{AlertBook, LogEntry, parse_log};
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
        }
    }

    /// A place of its own name.
    pub fn named(name: &str) -> Place {
        Place {
            label: name.to_string(),
            key: format!("named:{name}"),
        }
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

/// An open, append-only alert log.
pub struct AlertLog {
    path: PathBuf,
    file: std::fs::File,
}

impl AlertLog {
    /// Restores `book` from the log at `path` (if any) and opens it for appending.
    /// A damaged line is skipped and reported; nothing else is lost.
    pub fn open(path: &Path, book: &mut AlertBook, now_ms: i64) -> Result<AlertLog, String> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let (entries, errors) = parse_log(&text);
            for e in errors.iter().take(3) {
                tracing::warn!(path = %path.display(), "alert log: {e:?}");
            }
            book.restore(entries, now_ms);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open the alert log {}: {e}", path.display()))?;
        Ok(AlertLog {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends entries, one line each.
    pub fn append<'a>(&mut self, entries: impl IntoIterator<Item = &'a LogEntry>) {
        let mut text = String::new();
        for e in entries {
            text.push_str(&e.to_line());
            text.push('\n');
        }
        if !text.is_empty()
            && let Err(e) = self.file.write_all(text.as_bytes())
        {
            tracing::warn!(path = %self.path.display(), "cannot append to the alert log: {e}");
        }
    }
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
