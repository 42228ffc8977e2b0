//! The core on its own: one task owns the engine's state, applies what the sources hand
//! over, ticks statuses and alerts and runs hooks on its own schedule. Front ends read it
//! through a short-lived lock ([`Running::lock`], then [`Engine::view`]) and never make it
//! wait on a terminal or a pipe: whatever they write, they write after letting go.

use super::{Engine, Intake};
use crate::source::SourceEvent;
use crate::vocab::RawMessage;
use parking_lot::{Mutex, MutexGuard};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often statuses, rates and alerts are brought up to date.
const TICK: Duration = Duration::from_millis(250);
/// Messages applied under one hold of the lock: a front end waits at most this long.
const SLICE: usize = 2048;
/// Source events taken off the queue per wake-up.
const EVENTS_PER_WAKE: usize = 64;

struct Shared {
    engine: Mutex<Engine>,
    /// Something arrived from a source since a front end last looked (what a tick changes
    /// shows up as fleet events). A flag, not a wake-up: front ends look at their own
    /// pace, so a flood of small bursts costs no wake-ups of theirs.
    changed: AtomicBool,
    /// Every source has ended (a finished replay) and all it sent is applied.
    drained: AtomicBool,
}

/// An engine running on its own task. Dropping it stops the task.
pub struct Running {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Starts the core task on the current tokio runtime.
    pub fn spawn(mut engine: Engine) -> Running {
        let intake = std::mem::replace(&mut engine.intake, Intake::closed());
        let shared = Arc::new(Shared {
            engine: Mutex::new(engine),
            changed: AtomicBool::new(true),
            drained: AtomicBool::new(false),
        });
        let task = tokio::spawn(run(shared.clone(), intake));
        Running { shared, task }
    }

    /// The engine, for as long as the guard lives: read its view, take its feed, carry
    /// out an action. Keep it short and never do IO that can block while holding it.
    pub fn lock(&self) -> MutexGuard<'_, Engine> {
        self.shared.engine.lock()
    }

    /// True if something arrived from a source since the last call.
    pub fn take_changed(&self) -> bool {
        self.shared.changed.swap(false, Ordering::AcqRel)
    }

    /// True once every source has ended and everything it sent is applied.
    pub fn drained(&self) -> bool {
        self.shared.drained.load(Ordering::Acquire)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(shared: Arc<Shared>, mut intake: Intake) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut events = Vec::with_capacity(EVENTS_PER_WAKE);
    let mut mail: Vec<RawMessage> = Vec::new();
    let mut sources_open = true;
    loop {
        tokio::select! {
            // Ticks first: under a flood, alerts and hooks still run on time.
            biased;
            _ = ticks.tick() => {
                let mut engine = shared.engine.lock();
                engine.tick();
                engine.settle();
            }
            n = intake.rx.recv_many(&mut events, EVENTS_PER_WAKE), if sources_open => {
                if n == 0 {
                    sources_open = false;
                    shared.drained.store(true, Ordering::Release);
                }
                shared.changed.store(true, Ordering::Release);
                for ev in events.drain(..) {
                    match ev {
                        SourceEvent::Messages(mailbox) => {
                            // Taking the mail frees the connection's mailbox (and wakes a
                            // connection waiting for room) before anything is applied.
                            mailbox.take(&mut mail);
                            apply_in_slices(&shared.engine, &mut mail);
                        }
                        ev => shared.engine.lock().handle(ev),
                    }
                }
            }
        }
    }
}

/// Applies `mail` in slices, letting a waiting front end in between two slices.
fn apply_in_slices(engine: &Mutex<Engine>, mail: &mut Vec<RawMessage>) {
    let mut guard = engine.lock();
    for (i, slice) in mail.chunks(SLICE).enumerate() {
        if i > 0 {
            MutexGuard::bump(&mut guard);
        }
        for m in slice {
            guard.apply(m);
        }
    }
    mail.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use crate::mapping::Mapper;
    use bytes::Bytes;

    #[tokio::test]
    async fn the_core_applies_and_ticks_with_nobody_looking() {
        let mapper = Mapper::new(&[]).expect("mapper");
        let (engine, outlets) = Engine::detached(mapper, Limits::default(), &["b".into()]);
        let running = Running::spawn(engine);
        for i in 0..5000u32 {
            outlets[0].message(
                Bytes::from(format!("site/dev-{}/telemetry", i % 10)),
                Bytes::from(format!("{{\"v\":{i}}}")),
                false,
            );
        }
        drop(outlets);
        // A deadline for a broken test, not a timing check.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !running.drained() {
            assert!(tokio::time::Instant::now() < deadline, "never drained");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let engine = running.lock();
        assert_eq!(engine.state.counters.messages, 5000);
        assert_eq!(engine.view().dropped, 0);
    }
}
