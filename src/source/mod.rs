//! Where messages come from: MQTT connections and recordings.
//!
//! Each source runs in its own task and hands [`SourceEvent`]s to the core through a bounded
//! channel. A full channel never blocks a connection: the message is counted as dropped on
//! that connection's [`DropCounter`] and shown, never lost silently.

pub mod mqtt;
pub mod record;
pub mod replay;
pub mod tls;
pub mod url;

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Index of a connection (broker or recording) in start-up order.
pub type ConnId = u16;

/// One message as the broker delivered it.
#[derive(Debug, Clone)]
pub struct RawMessage {
    pub conn: ConnId,
    pub topic: Bytes,
    pub payload: Bytes,
    pub retain: bool,
    /// Arrival time, epoch milliseconds.
    pub at_ms: i64,
}

/// The state of a connection, as users see it.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkState {
    Connecting,
    Connected,
    Down {
        reason: String,
        retry_in: Duration,
    },
    Replaying,
    Finished,
    /// Gave up for good (a recording that cannot be read).
    Failed(String),
}

impl std::fmt::Display for LinkState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkState::Connecting => f.write_str("connecting"),
            LinkState::Connected => f.write_str("connected"),
            LinkState::Down { reason, retry_in } => {
                write!(f, "down: {reason}, retry in {}s", retry_in.as_secs().max(1))
            }
            LinkState::Replaying => f.write_str("replaying"),
            LinkState::Finished => f.write_str("replay finished"),
            LinkState::Failed(reason) => write!(f, "failed: {reason}"),
        }
    }
}

/// What sources send to the core.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    Message(RawMessage),
    Link {
        conn: ConnId,
        state: LinkState,
        at_ms: i64,
    },
    /// Something a person should know about a connection (a refused subscription, a bad
    /// line in a recording) that does not change its state.
    Notice {
        conn: ConnId,
        message: String,
        at_ms: i64,
    },
    /// A command's publish reached the broker, or could not.
    Published {
        conn: ConnId,
        id: crate::commands::RequestId,
        result: Result<(), String>,
        at_ms: i64,
    },
    /// A message on our MQTT 5 response topic, with its correlation data.
    Reply {
        conn: ConnId,
        correlation: Bytes,
        payload: Bytes,
        at_ms: i64,
    },
}

/// Messages a connection had to drop because the core's queue was full.
#[derive(Debug, Default, Clone)]
pub struct DropCounter(Arc<AtomicU64>);

impl DropCounter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The sending half handed to a source: delivers without ever waiting.
#[derive(Debug, Clone)]
pub struct Outlet {
    pub conn: ConnId,
    tx: tokio::sync::mpsc::Sender<SourceEvent>,
    pub dropped: DropCounter,
}

impl Outlet {
    pub fn new(conn: ConnId, tx: tokio::sync::mpsc::Sender<SourceEvent>) -> Outlet {
        Outlet {
            conn,
            tx,
            dropped: DropCounter::default(),
        }
    }

    /// Hands a message over, or counts it as dropped if the queue is full.
    pub fn message(&self, topic: Bytes, payload: Bytes, retain: bool) {
        let msg = RawMessage {
            conn: self.conn,
            topic,
            payload,
            retain,
            at_ms: now_ms(),
        };
        self.send_message(msg);
    }

    pub fn send_message(&self, msg: RawMessage) {
        if self.tx.try_send(SourceEvent::Message(msg)).is_err() {
            self.dropped.add(1);
        }
    }

    /// Waits for room: used by replays, which must not drop what they were asked to feed.
    pub async fn send_message_waiting(&self, msg: RawMessage) -> bool {
        self.tx.send(SourceEvent::Message(msg)).await.is_ok()
    }

    /// Link changes are rare and matter: they wait for room rather than drop.
    pub async fn link(&self, state: LinkState) {
        let _ = self
            .tx
            .send(SourceEvent::Link {
                conn: self.conn,
                state,
                at_ms: now_ms(),
            })
            .await;
    }

    pub async fn notice(&self, message: String) {
        let _ = self
            .tx
            .send(SourceEvent::Notice {
                conn: self.conn,
                message,
                at_ms: now_ms(),
            })
            .await;
    }

    /// What became of a command's publish; rare and awaited, like link changes.
    pub async fn published(&self, id: crate::commands::RequestId, result: Result<(), String>) {
        let _ = self
            .tx
            .send(SourceEvent::Published {
                conn: self.conn,
                id,
                result,
                at_ms: now_ms(),
            })
            .await;
    }

    /// An MQTT 5 reply to one of our commands.
    pub async fn reply(&self, correlation: Bytes, payload: Bytes) {
        let _ = self
            .tx
            .send(SourceEvent::Reply {
                conn: self.conn,
                correlation,
                payload,
                at_ms: now_ms(),
            })
            .await;
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Wall-clock time in epoch milliseconds; the core never reads a clock itself.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The time the core is told: the wall clock live, the recording's own time in a replay
/// (so ages and staleness are those of the incident, not of today).
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    Wall,
    Replay(Arc<ReplayClock>),
    /// A stopped clock, for tests and snapshots.
    Fixed(i64),
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::Wall => now_ms(),
            Clock::Replay(c) => c.now_ms(),
            Clock::Fixed(t) => *t,
        }
    }
}

/// Recording time, advanced by the replay as it delivers and by the wall clock (at replay
/// speed) in between.
#[derive(Debug)]
pub struct ReplayClock {
    anchor: std::sync::Mutex<(i64, std::time::Instant, f64)>,
}

impl ReplayClock {
    pub fn new(start_ms: i64, speed: f64) -> ReplayClock {
        ReplayClock {
            anchor: std::sync::Mutex::new((start_ms, std::time::Instant::now(), speed)),
        }
    }

    /// Sets recording time to `ms` now, advancing at `speed` from here.
    pub fn set(&self, ms: i64, speed: f64) {
        if let Ok(mut a) = self.anchor.lock() {
            *a = (ms, std::time::Instant::now(), speed);
        }
    }

    pub fn now_ms(&self) -> i64 {
        match self.anchor.lock() {
            Ok(a) => a.0 + (a.1.elapsed().as_secs_f64() * 1000.0 * a.2) as i64,
            Err(_) => now_ms(),
        }
    }
}
