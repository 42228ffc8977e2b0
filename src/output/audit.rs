//! The command audit log: every publish, who sent it, where, and what became of it,
//! appended as JSON lines to `$XDG_STATE_HOME/fleetop/audit.jsonl`. A command whose
//! request line cannot be written is refused: nothing goes out unaudited.

use crate::commands::Request;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct AuditLog {
    path: PathBuf,
    file: std::fs::File,
}

#[derive(serde::Serialize)]
struct Line<'a> {
    ts: String,
    event: &'a str,
    id: &'a str,
    by: &'a str,
    broker: &'a str,
    device: &'a str,
    command: &'a str,
    topic: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_hex: Option<String>,
    qos: u8,
    retain: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<i64>,
}

impl AuditLog {
    pub fn default_path() -> Option<PathBuf> {
        crate::logging::state_dir().map(|d| d.join("audit.jsonl"))
    }

    pub fn open(path: &Path) -> Result<AuditLog, String> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The request, before it is published; an error means it must not be.
    pub fn request(&mut self, r: &Request, broker: &str) -> Result<(), String> {
        self.write(r, broker, "request", r.created_ms)
    }

    /// The outcome, once known.
    pub fn result(&mut self, r: &Request, broker: &str) -> Result<(), String> {
        self.write(r, broker, "result", r.done_ms.unwrap_or(r.created_ms))
    }

    fn write(&mut self, r: &Request, broker: &str, event: &str, at_ms: i64) -> Result<(), String> {
        let text = std::str::from_utf8(&r.payload).ok();
        let done = event == "result";
        let line = Line {
            ts: crate::text::rfc3339(at_ms),
            event,
            id: &r.tag,
            by: &r.by,
            broker,
            device: &r.device,
            command: &r.command,
            topic: &r.topic,
            payload: text,
            payload_hex: text
                .is_none()
                .then(|| r.payload.iter().map(|b| format!("{b:02x}")).collect()),
            qos: r.qos,
            retain: r.retain,
            result: done.then(|| r.state.as_str()),
            reason: if done { r.state.reason() } else { None },
            latency_ms: if done { r.latency_ms() } else { None },
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .and_then(|()| self.file.flush())
            .map_err(|e| format!("cannot write the audit log {}: {e}", self.path.display()))
    }
}
