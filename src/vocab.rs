//! The vocabulary every layer shares: connection and device ids, the message as a broker
//! delivered it, a connection's link state and an alert's severity. A leaf of the core: it imports nothing of the crate but the text leaf.

mod severity;
pub use severity::Severity;

use bytes::Bytes;
use std::time::Duration;

/// A connection (broker or recording), numbered in start-up order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConnId(pub u16);

impl ConnId {
    /// The connection started `i`-th (there are never more than a few).
    pub fn nth(i: usize) -> ConnId {
        ConnId(u16::try_from(i).unwrap_or(u16::MAX))
    }

    /// Where this connection sits in per-connection lists.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A connection as started: its name and, for brokers, its URL.
#[derive(Debug, Clone)]
pub struct ConnLabel {
    pub name: String,
    pub url: Option<String>,
}

/// Index of a device in the fleet state; stable for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DeviceId(pub u32);

impl DeviceId {
    /// The device at position `i` of the fleet state's list (bounded by `max_devices`).
    pub fn nth(i: usize) -> DeviceId {
        DeviceId(u32::try_from(i).unwrap_or(u32::MAX))
    }

    /// Where this device sits in the fleet state's list.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

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
                write!(
                    f,
                    "down: {reason}, retry in {}",
                    crate::text::Delay(*retry_in)
                )
            }
            LinkState::Replaying => f.write_str("replaying"),
            LinkState::Finished => f.write_str("replay finished"),
            LinkState::Failed(reason) => write!(f, "failed: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_shows_sub_second_delays_as_they_are() {
        let down = |ms| LinkState::Down {
            reason: "gone".into(),
            retry_in: Duration::from_millis(ms),
        };
        assert_eq!(down(400).to_string(), "down: gone, retry in 0.4s");
        assert_eq!(down(3_020).to_string(), "down: gone, retry in 3s");
        assert_eq!(down(2_460).to_string(), "down: gone, retry in 2.5s");
        assert_eq!(down(12_700).to_string(), "down: gone, retry in 13s");
        assert_eq!(down(0).to_string(), "down: gone, retry in 0.1s");
    }
}
