//! Runs alert hooks: the program of an `on_fire`/`on_resolve` argv, directly (no shell),
//! with the alert as one JSON line on stdin, stdout and stderr discarded. Each run is its
//! own tokio task, so the engine never waits for one; a run that outlives its timeout is
//! killed. At most `max_running` run at once: an alert storm skips (and counts) the rest
//! rather than forking hundreds of processes. Failures come back as [`HookReport`]s for
//! the events pane and the NDJSON stream, and go to the log.

use crate::alerts::{HookEvent, HookRun};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, mpsc};

/// Reports waiting to be drained; more are dropped (the log still has them).
const REPORTS_KEPT: usize = 256;

/// How a hook run ended, when it is worth telling someone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    /// Exited non-zero (or by a signal: `None`).
    Failed(Option<i32>),
    /// Could not be started (no such program, not executable, ...).
    NotStarted(String),
    /// Still running at its timeout, so killed.
    TimedOut(std::time::Duration),
}

/// A hook run that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookReport {
    pub event: HookEvent,
    pub program: String,
    /// `rule on device`, for people.
    pub alert: String,
    pub outcome: HookOutcome,
}

impl std::fmt::Display for HookReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "hook {} `{}` for {} ",
            self.event.as_str(),
            self.program,
            self.alert
        )?;
        match &self.outcome {
            HookOutcome::Failed(Some(code)) => write!(f, "exited with status {code}"),
            HookOutcome::Failed(None) => write!(f, "was killed by a signal"),
            HookOutcome::NotStarted(e) => write!(f, "could not start: {e}"),
            HookOutcome::TimedOut(t) => write!(
                f,
                "ran past its timeout of {} and was killed",
                humantime::format_duration(*t)
            ),
        }
    }
}

/// Starts hook runs and collects what went wrong.
#[derive(Debug)]
pub struct HookRunner {
    slots: Arc<Semaphore>,
    max_running: usize,
    skipped: AtomicU64,
    skipped_reported: u64,
    tx: mpsc::Sender<HookReport>,
    rx: mpsc::Receiver<HookReport>,
}

impl HookRunner {
    pub fn new(max_running: usize) -> HookRunner {
        let max_running = max_running.max(1);
        let (tx, rx) = mpsc::channel(REPORTS_KEPT);
        HookRunner {
            slots: Arc::new(Semaphore::new(max_running)),
            max_running,
            skipped: AtomicU64::new(0),
            skipped_reported: 0,
            tx,
            rx,
        }
    }

    /// Starts `run` with `stdin` as its input, unless `max_running` hooks already run
    /// (or there is no tokio runtime): then the run is skipped and counted.
    /// Starts `run` with `stdin` (the JSON lines of its `alerts` alerts, also said in
    /// `FLEETOP_ALERTS`); `alert` names them in reports.
    pub fn start(&self, run: HookRun, alert: String, stdin: Vec<u8>, alerts: usize) {
        let handle = tokio::runtime::Handle::try_current();
        let permit = self.slots.clone().try_acquire_owned();
        let (Ok(handle), Ok(permit)) = (handle, permit) else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(hook = run.event.as_str(), %alert, "hook skipped: {} already running", self.max_running);
            return;
        };
        let tx = self.tx.clone();
        handle.spawn(async move {
            let program = run.argv.first().cloned().unwrap_or_default();
            let outcome = execute(&run, &stdin, alerts).await;
            drop(permit);
            match outcome {
                None => tracing::debug!(%program, %alert, "hook {} succeeded", run.event.as_str()),
                Some(outcome) => {
                    let report = HookReport {
                        event: run.event,
                        program,
                        alert,
                        outcome,
                    };
                    tracing::warn!("{report}");
                    let _ = tx.try_send(report);
                }
            }
        });
    }

    /// How many runs were skipped because too many ran at once.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Failed runs since the last call, plus a line for runs skipped since then.
    pub fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(r) = self.rx.try_recv() {
            out.push(r.to_string());
        }
        let skipped = self.skipped();
        if skipped > self.skipped_reported {
            out.push(format!(
                "{} hook run(s) skipped: {} hooks were already running ([hooks] max_running)",
                skipped - self.skipped_reported,
                self.max_running
            ));
            self.skipped_reported = skipped;
        }
        out
    }
}

/// Runs one hook to its end or its timeout; `None` when it succeeded.
async fn execute(run: &HookRun, stdin: &[u8], alerts: usize) -> Option<HookOutcome> {
    let (program, args) = run.argv.split_first()?;
    let mut child = match tokio::process::Command::new(program)
        .args(args)
        .env("FLEETOP_ALERTS", alerts.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        // Its own process group, so a timeout also ends what the hook started.
        .process_group(0)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Some(HookOutcome::NotStarted(e.to_string())),
    };
    let input = child.stdin.take();
    let finished = tokio::time::timeout(run.timeout, async {
        if let Some(mut input) = input {
            // A hook that ignores its input closes the pipe: not an error.
            let _ = input.write_all(stdin).await;
            drop(input);
        }
        child.wait().await
    })
    .await;
    match finished {
        Ok(Ok(status)) if status.success() => None,
        Ok(Ok(status)) => Some(HookOutcome::Failed(status.code())),
        Ok(Err(e)) => Some(HookOutcome::NotStarted(e.to_string())),
        Err(_) => {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.kill().await;
            Some(HookOutcome::TimedOut(run.timeout))
        }
    }
}
