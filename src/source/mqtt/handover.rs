//! Messages from the socket to the core, and what a connection does while the core is
//! behind.
//!
//! What the socket has ready is collected and handed over in one burst when the session
//! would wait, or at [`HANDOVER_BATCH`]. When the mailbox is full the connection stops
//! polling its session, so the socket is not read and TCP pushes back to the broker.
//!
//! rumqttc sends its keepalive pings only while it is polled, and fails the link at the
//! next ping if the previous one is unanswered. A connection that waits on a full mailbox
//! for longer than the keepalive would thus be disconnected by the broker (MQTT closes a
//! client silent for 1.5 keepalives), and on resuming rumqttc would call the link dead
//! because the broker's answer is still queued behind the messages we chose not to read.
//! So while it waits, a connection lets rumqttc run once a ping is due, for a few events
//! at most (a *liveness window*, kept beyond the mailbox in a bounded spill); and after it
//! has stopped reading, it tells the session that a missing ping answer is its own doing.

use super::session::Session;
use crate::source::Outlet;
use crate::vocab::RawMessage;
use std::future::Future;
use std::task::Poll;
use std::time::Duration;
use tokio::time::Instant;

/// Most messages collected before they are handed to the core, even if more are ready.
pub(super) const HANDOVER_BATCH: usize = 256;
/// Events a liveness window may take from the session before it gives up for a while:
/// rumqttc picks between a ready socket and a due ping at random, so a ping goes out
/// after two events on average; each readb brings at most 10.
const WINDOW_EVENTS: usize = 64;
/// Most messages read in liveness windows and not yet handed over. Past this the
/// connection stops pinging too, and a broker may close the link after 1.5 keepalives; the
/// messages already read are still handed over first.
const SPILL: usize = 1024;

/// One connection's side of the hand-over.
pub(super) struct Handover<'a> {
    outlet: &'a Outlet,
    /// Read from the socket, not handed over yet.
    arrived: Vec<RawMessage>,
    /// A hand-over was cut short (the session had an event first): finish it before
    /// reading on.
    unfinished: bool,
    keepalive: Duration,
    /// When rumqttc sends its next ping, as far as we know.
    ping_due: Instant,
    /// Events left in the current liveness window; `None` outside one.
    window: Option<usize>,
    /// We stopped reading since the last ping: its answer may wait, unread, behind the
    /// messages the core has not taken.
    behind_since_ping: bool,
}

impl<'a> Handover<'a> {
    pub(super) fn new(outlet: &'a Outlet, keepalive: Duration) -> Handover<'a> {
        Handover {
            outlet,
            arrived: Vec::with_capacity(HANDOVER_BATCH),
            unfinished: false,
            keepalive,
            ping_due: Instant::now() + keepalive,
            window: None,
            behind_since_ping: false,
        }
    }

    /// A new session started its keepalive timer.
    pub(super) fn connected(&mut self) {
        self.ping_due = Instant::now() + self.keepalive;
        self.window = None;
        self.behind_since_ping = false;
    }

    /// rumqttc sent a ping: the window, if any, has done its job.
    pub(super) fn pinged(&mut self) {
        self.ping_due = Instant::now() + self.keepalive;
        // Sent while behind, its answer queues behind what we do not read either.
        self.behind_since_ping = self.window.is_some();
        self.window = None;
    }

    /// Collects a message read from the socket. A burst shares the arrival time of its
    /// first message: one clock read per burst.
    pub(super) fn push(&mut self, msg: impl FnOnce(i64) -> RawMessage) {
        let at_ms = self
            .arrived
            .first()
            .map_or_else(crate::source::now_ms, |m| m.at_ms);
        self.arrived.push(msg(at_ms));
    }

    /// Waits until the session may be polled: what arrived fits in the mailbox (or a
    /// liveness window is open). Call it before every poll.
    pub(super) async fn ready<S: Session>(&mut self, session: &mut S) {
        loop {
            if let Some(left) = self.window {
                if left > 0 && self.arrived.len() < HANDOVER_BATCH + SPILL {
                    self.window = Some(left - 1);
                    break;
                }
                // No ping yet (rumqttc's timer may run a little behind ours): later.
                self.window = None;
                self.ping_due = Instant::now() + self.keepalive / 8;
            }
            let full = self.arrived.len() >= HANDOVER_BATCH;
            if !(full || self.unfinished) || self.outlet.offer(&mut self.arrived) {
                self.unfinished = false;
                break;
            }
            // The core is behind: read nothing until it takes the mailbox.
            self.behind_since_ping = true;
            let may_ping = !self.keepalive.is_zero() && self.arrived.len() < HANDOVER_BATCH + SPILL;
            tokio::select! {
                biased;
                () = self.outlet.deliver(&mut self.arrived) => {
                    self.unfinished = false;
                    break;
                }
                () = tokio::time::sleep_until(self.ping_due), if may_ping => {
                    self.window = Some(WINDOW_EVENTS);
                }
            }
        }
        if self.behind_since_ping {
            session.forgive_ping();
        }
    }

    /// Awaits `poll`; whenever it has to wait for the socket, first hands over what has
    /// arrived. Messages thus reach the core in bursts, and none is held back while the
    /// link is idle. `poll` is never dropped before it completes: rumqttc's poll is not
    /// cancel-safe.
    pub(super) async fn next<F: Future>(&mut self, poll: F) -> F::Output {
        let mut poll = std::pin::pin!(poll);
        let first = std::future::poll_fn(|cx| Poll::Ready(poll.as_mut().poll(cx))).await;
        if let Poll::Ready(out) = first {
            return out;
        }
        let waiting = !self.arrived.is_empty() || self.unfinished;
        if waiting && !self.outlet.offer(&mut self.arrived) {
            // Full: wait for room while still listening to the session. If the session
            // has an event first, [`Handover::ready`] finishes the hand-over before the
            // next poll.
            self.unfinished = true;
            tokio::select! {
                biased;
                out = &mut poll => return out,
                () = self.outlet.deliver(&mut self.arrived) => self.unfinished = false,
            }
        } else {
            self.unfinished = false;
        }
        poll.await
    }

    /// Hands over everything that arrived, waiting as long as it takes: before a reply,
    /// link change or notice, so the core sees them in the order they came.
    pub(super) async fn flush(&mut self) {
        if self.arrived.is_empty() && !self.unfinished {
            return;
        }
        if !self.outlet.offer(&mut self.arrived) {
            self.behind_since_ping = true;
            self.outlet.deliver(&mut self.arrived).await;
        }
        self.unfinished = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceEvent;
    use bytes::Bytes;

    fn msg(i: u8) -> impl FnOnce(i64) -> RawMessage {
        move |at_ms| RawMessage {
            conn: crate::vocab::ConnId(0),
            topic: Bytes::from_static(b"t"),
            payload: Bytes::from(vec![i]),
            retain: false,
            at_ms,
        }
    }

    #[tokio::test]
    async fn collected_messages_go_to_the_core_once_the_socket_has_nothing_ready() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let outlet = Outlet::new(crate::vocab::ConnId(0), tx);
        let mut handover = Handover::new(&outlet, Duration::from_secs(30));
        handover.push(msg(1));
        // Ready at once: nothing is handed over yet.
        let got = handover.next(async { 1 }).await;
        assert_eq!((got, handover.arrived.len()), (1, 1));
        assert!(rx.try_recv().is_err());
        // Has to wait (yields once): the collected message goes first.
        let waits = async {
            tokio::task::yield_now().await;
            2
        };
        let got = handover.next(waits).await;
        assert_eq!((got, handover.arrived.len()), (2, 0));
        let Ok(SourceEvent::Messages(mailbox)) = rx.try_recv() else {
            panic!("nothing was handed over while the poll waited");
        };
        let mut taken = Vec::new();
        mailbox.take(&mut taken);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].payload[0], 1);
    }
}
