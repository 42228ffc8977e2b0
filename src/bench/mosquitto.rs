//! The reference subscriber: `mosquitto_sub -t 'bench/#' > /dev/null` as a child process.
//!
//! Its output goes to /dev/null, as in the reference command, so the bench cannot read it.
//! It does not need to: mosquitto_sub flushes stdout after every message, so each message
//! is one write(2), and the kernel counts those in `/proc/<pid>/io` (`syscw`). A sampler
//! thread reads that file every millisecond; the first and last change bracket the
//! period it was receiving, at a resolution far below a run's length.

use super::Tally;
use std::io::{Read, Seek};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SAMPLE_EVERY: Duration = Duration::from_millis(1);

/// Where `mosquitto_sub` is on PATH, if it is.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("mosquitto_sub"))
        .find(|p| p.is_file())
}

#[derive(Debug, Default)]
struct Shared {
    /// write(2) calls so far, and the count at the baseline.
    writes: u64,
    base: u64,
    tally: Tally,
    error: Option<String>,
}

/// A running `mosquitto_sub` and the sampler that watches it.
pub struct MosquittoSub {
    pub command: String,
    pub pid: u32,
    io_path: String,
    child: tokio::process::Child,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

impl MosquittoSub {
    /// Starts `mosquitto_sub -h host -p port -t <filter>` with stdout on /dev/null.
    pub fn spawn(program: &PathBuf, host: &str, port: u16, filter: &str) -> Result<Self, String> {
        let port_s = port.to_string();
        let args = ["-h", host, "-p", &port_s, "-t", filter];
        let command = format!(
            "mosquitto_sub -h {host} -p {port} -t '{filter}' > /dev/null",
            host = host,
            port = port
        );
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let pid = child
            .id()
            .ok_or("mosquitto_sub exited as soon as it started")?;
        let io_path = format!("/proc/{pid}/io");
        let file = std::fs::File::open(&io_path).map_err(|e| {
            let _ = child.start_kill();
            format!("cannot read {io_path} to count mosquitto_sub's messages: {e}")
        })?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::Builder::new()
                .name("bench-sampler".into())
                .spawn(move || sample(file, &shared, &stop))
                .map_err(|e| format!("cannot start the sampler thread: {e}"))?
        };
        Ok(MosquittoSub {
            command,
            pid,
            io_path,
            child,
            shared,
            stop,
            sampler: Some(sampler),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        match self.shared.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Writes so far, whatever the baseline (for the readiness probe).
    pub fn writes(&self) -> u64 {
        self.with(|s| s.writes)
    }

    /// Counts from now on: what came before (its CONNECT and SUBSCRIBE, probes) is not
    /// part of the flood. Reads the file itself rather than trust the sampler's last look.
    pub fn rebase(&self) {
        let now = std::fs::read_to_string(&self.io_path)
            .ok()
            .and_then(|t| syscw(&t));
        self.with(|s| {
            let writes = now.unwrap_or(s.writes).max(s.writes);
            s.writes = writes;
            s.base = writes;
            s.tally = Tally::default();
        });
    }

    /// Messages since the baseline, with the first and last time it changed.
    pub fn tally(&self) -> Tally {
        self.with(|s| s.tally)
    }

    /// Why sampling stopped early, if it did.
    pub fn error(&self) -> Option<String> {
        self.with(|s| s.error.clone())
    }

    /// `Some(reason)` once the process has ended.
    pub async fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let _ = tokio::time::timeout(
                        Duration::from_millis(200),
                        e.read_to_string(&mut err),
                    )
                    .await;
                }
                Some(format!("mosquitto_sub exited ({status}): {}", err.trim()))
            }
            Ok(None) => None,
            Err(e) => Some(format!("mosquitto_sub: {e}")),
        }
    }

    /// Stops the child (it never ends by itself) and the sampler; returns the final tally.
    pub async fn stop(mut self) -> Tally {
        let tally = self.tally();
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.sampler.take() {
            let _ = t.join();
        }
        tally
    }
}

impl Drop for MosquittoSub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The sampler thread: re-reads `/proc/<pid>/io` until told to stop or the file goes away.
fn sample(mut file: std::fs::File, shared: &Mutex<Shared>, stop: &AtomicBool) {
    let mut text = String::with_capacity(256);
    while !stop.load(Ordering::Relaxed) {
        text.clear();
        let read = file.rewind().and_then(|()| file.read_to_string(&mut text));
        let now = Instant::now();
        let writes = match read.ok().and_then(|_| syscw(&text)) {
            Some(w) => w,
            None => {
                if let Ok(mut s) = shared.lock() {
                    s.error = Some("mosquitto_sub's /proc/<pid>/io went away".into());
                }
                return;
            }
        };
        if let Ok(mut s) = shared.lock()
            && writes != s.writes
        {
            s.writes = writes;
            let counted = writes.saturating_sub(s.base);
            s.tally.note(now, counted);
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
}

/// The `syscw:` line of `/proc/<pid>/io`.
fn syscw(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("syscw:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_io() {
        let text = "rchar: 8102\nwchar: 30\nsyscr: 30\nsyscw: 4\nread_bytes: 0\n";
        assert_eq!(syscw(text), Some(4));
        assert_eq!(syscw("rchar: 1\n"), None);
    }
}
