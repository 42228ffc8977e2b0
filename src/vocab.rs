//! The vocabulary every layer shares: connection and device ids, the message as a broker
//! delivered it, a connection's link state and an alert's severity. A leaf of the core: it imports nothing of the crate.

mod severity;
pub use severity::Severity;

use bytes::Bytes;
use std::time::Duration;

/// Index of a connection (broker or recording) in start-up order.
pub type ConnId = u16;

/// A connection as started: its name and, for brokers, its URL.
#[derive(Debug, Clone)]
pub struct ConnLabel {
    pub name: String,
    pub url: Option<String>,
}

/// Index of a device in the fleet state; stable for the life of the process.
pub type DeviceId = u32;

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
