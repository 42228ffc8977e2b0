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

/// The latest stretch in which fleetop could not see a connection's devices: from when
/// its link went down (or fleetop stopped) until it came up again. Silence inside it is
/// not the devices' fault; `i64::MIN` marks an end that is not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blind {
    pub from_ms: i64,
    pub until_ms: i64,
}

impl Blind {
    /// Never blind: silence counts from the last message.
    pub const NEVER: Blind = Blind {
        from_ms: i64::MIN,
        until_ms: i64::MIN,
    };

    /// Where a device's silence counts from, given its last live message at `live_ms`
    /// and the silence it is allowed (`allowance_ms`): from the end of the blind stretch
    /// if it began while the device was still within its allowance, else from its last
    /// message (a device already stale when fleetop went blind stays stale).
    pub fn silence_from(self, live_ms: i64, allowance_ms: i64) -> i64 {
        let stale_before =
            self.from_ms != i64::MIN && self.from_ms.saturating_sub(live_ms) > allowance_ms;
        if live_ms >= self.until_ms || stale_before {
            live_ms
        } else {
            self.until_ms
        }
    }
}

#[cfg(test)]
mod blind_tests {
    use super::Blind;

    #[test]
    fn silence_counts_from_the_reconnect_unless_the_device_was_stale_already() {
        let outage = Blind {
            from_ms: 100_000,
            until_ms: 200_000,
        };
        // Reported 10 s before the outage, allowed 60 s: a fresh window from the reconnect.
        assert_eq!(outage.silence_from(90_000, 60_000), 200_000);
        // Silent 70 s when the outage began: stale then, stale still.
        assert_eq!(outage.silence_from(30_000, 60_000), 30_000);
        // Reported after the reconnect.
        assert_eq!(outage.silence_from(210_000, 60_000), 210_000);
        // No outage seen, only the first connect: counts from it.
        let first = Blind {
            from_ms: i64::MIN,
            until_ms: 200_000,
        };
        assert_eq!(first.silence_from(30_000, 60_000), 200_000);
        assert_eq!(Blind::NEVER.silence_from(30_000, 60_000), 30_000);
    }
}
