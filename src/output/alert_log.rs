//! The alert log: transitions, acks and silences appended as JSON lines to
//! `$XDG_STATE_HOME/fleetop/alerts.jsonl`, read back at start so that acks and silences
//! survive a restart.

use crate::alerts::{AlertBook, LogEntry, parse_log};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An open, append-only alert log.
pub struct AlertLog {
    path: PathBuf,
    file: std::fs::File,
}

impl AlertLog {
    /// The default location, in the XDG state directory.
    pub fn default_path() -> Option<PathBuf> {
        crate::logging::state_dir().map(|d| d.join("alerts.jsonl"))
    }

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
