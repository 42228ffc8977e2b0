//! The core as front ends see it: a read-only view of fleet state, alerts and commands,
//! with the figures the engine keeps beside them. Views and outputs draw from this and
//! never from the engine, so they cannot reach sockets, hooks or log files, and the core
//! is never held up by a front end for longer than it takes to read.

use crate::alerts::AlertBook;
use crate::commands::Tracker;
use crate::fleet::FleetState;
use crate::vocab::ConnLabel;

/// Everything a frame, a snapshot or an NDJSON line reads, borrowed for that long.
#[derive(Clone, Copy)]
pub struct CoreView<'a> {
    pub state: &'a FleetState,
    pub alerts: &'a AlertBook,
    pub tracker: &'a Tracker,
    /// The connections as started (names, URLs), indexed like `state.connections`.
    pub conns: &'a [ConnLabel],
    /// The core's time: the wall clock live, the recording's in a replay.
    pub now_ms: i64,
    /// Messages applied per second, smoothed over the last few seconds.
    pub msg_rate: f64,
    /// Messages the sources dropped before the core saw them (only with `when_behind =
    /// "drop"`; by default a core that is behind makes the sources wait).
    pub dropped: u64,
    /// Bulk commands go out at most this many a second.
    pub bulk_rate: f64,
}

impl CoreView<'_> {
    /// The name of connection `conn`, or `?` for one the view does not know.
    pub fn conn_name(&self, conn: crate::vocab::ConnId) -> &str {
        self.conns
            .get(conn.index())
            .map_or("?", |c| c.name.as_str())
    }
}

pub mod overview;
pub mod position;
