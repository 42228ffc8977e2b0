//! Where messages come from: MQTT connections and recordings.
//!
//! Each source runs in its own task and hands [`SourceEvent`]s to the core through a bounded
//! channel; a connection's messages wait in its bounded [`Mailbox`], announced on that
//! channel. A full mailbox never blocks a connection: the message is counted as dropped on
//! that connection's [`DropCounter`] and shown, never lost silently.

pub mod mqtt;
pub mod record;
pub mod replay;
pub mod subscriptions;
pub mod tls;

use crate::vocab::{ConnId, LinkState, RawMessage};
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What sources send to the core.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    Message(RawMessage),
    /// Messages wait in a connection's mailbox: take them all at once.
    Messages(Arc<Mailbox>),
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

/// Messages a connection has handed over and the core has not taken yet, at most
/// `capacity`.
///
/// The connection appends under a short lock and announces a mailbox that was empty with
/// one [`SourceEvent::Messages`]; the core then swaps out everything in it. A burst costs
/// one queue event instead of one per message, and a connection never waits for the core.
/// Messages may overtake a link change or notice announced while they waited.
#[derive(Debug)]
pub struct Mailbox {
    inner: Mutex<MailboxInner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct MailboxInner {
    messages: Vec<RawMessage>,
    /// A `SourceEvent::Messages` for this mailbox is on its way to the core.
    announced: bool,
}

impl Mailbox {
    fn new(capacity: usize) -> Mailbox {
        Mailbox {
            inner: Mutex::default(),
            capacity,
        }
    }

    /// Moves every waiting message into `into` (best empty), oldest first. The two buffers
    /// trade places, so neither side allocates once both are warm.
    pub fn take(&self, into: &mut Vec<RawMessage>) {
        let mut inner = self.lock();
        std::mem::swap(&mut inner.messages, into);
        inner.announced = false;
    }

    fn lock(&self) -> MutexGuard<'_, MailboxInner> {
        // Nothing panics while holding the lock, but a poisoned mailbox is still sound.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The sending half handed to a source: delivers without ever waiting.
#[derive(Debug, Clone)]
pub struct Outlet {
    pub conn: ConnId,
    tx: tokio::sync::mpsc::Sender<SourceEvent>,
    pub dropped: DropCounter,
    mailbox: Arc<Mailbox>,
}

impl Outlet {
    /// An outlet whose mailbox holds as many messages as the queue behind `tx`.
    pub fn new(conn: ConnId, tx: tokio::sync::mpsc::Sender<SourceEvent>) -> Outlet {
        Outlet {
            conn,
            mailbox: Arc::new(Mailbox::new(tx.max_capacity())),
            tx,
            dropped: DropCounter::default(),
        }
    }

    /// Hands one message over, or counts it as dropped if the mailbox is full.
    #[cfg(test)]
    pub fn message(&self, topic: Bytes, payload: Bytes, retain: bool) {
        let msg = RawMessage {
            conn: self.conn,
            topic,
            payload,
            retain,
            at_ms: now_ms(),
        };
        self.deliver(&mut vec![msg]);
    }

    /// Hands over every message in `batch`, leaving it empty; those the mailbox has no room
    /// for are counted as dropped. A connection collects what its socket has ready and
    /// delivers it at once: one lock per burst instead of one per message.
    pub fn deliver(&self, batch: &mut Vec<RawMessage>) {
        if batch.is_empty() {
            return;
        }
        let announce = {
            let mut inner = self.mailbox.lock();
            let room = self.mailbox.capacity.saturating_sub(inner.messages.len());
            if batch.len() > room {
                self.dropped.add((batch.len() - room) as u64);
                batch.truncate(room);
            }
            if batch.is_empty() {
                return;
            }
            inner.messages.append(batch);
            !std::mem::replace(&mut inner.announced, true)
        };
        if announce
            && self
                .tx
                .try_send(SourceEvent::Messages(self.mailbox.clone()))
                .is_err()
        {
            // The queue is full of other events (or closed): announce with the next message.
            self.mailbox.lock().announced = false;
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
    // SystemTime is a plain clock read, where chrono's `Utc::now` would also work out the
    // calendar date.
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_one_event_and_overflow_is_counted() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let outlet = Outlet::new(3, tx);
        for i in 0..6u8 {
            outlet.message(Bytes::from_static(b"t"), Bytes::from(vec![i]), false);
        }
        assert_eq!(
            outlet.dropped.get(),
            2,
            "the mailbox holds as many as the queue"
        );
        let Ok(SourceEvent::Messages(mailbox)) = rx.try_recv() else {
            panic!("the burst was not announced");
        };
        assert!(rx.try_recv().is_err(), "one announcement for the burst");
        let mut got = Vec::new();
        mailbox.take(&mut got);
        let payloads: Vec<u8> = got.iter().map(|m| m.payload[0]).collect();
        assert_eq!(payloads, [0, 1, 2, 3]);
        assert!(got.iter().all(|m| m.conn == 3));
        outlet.message(Bytes::from_static(b"t"), Bytes::from_static(b"x"), false);
        assert!(
            matches!(rx.try_recv(), Ok(SourceEvent::Messages(_))),
            "an emptied mailbox is announced again"
        );
    }

    #[test]
    fn a_delivered_burst_keeps_its_order_and_counts_what_did_not_fit() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let outlet = Outlet::new(1, tx);
        let msg = |i: u8| RawMessage {
            conn: 1,
            topic: Bytes::from_static(b"t"),
            payload: Bytes::from(vec![i]),
            retain: false,
            at_ms: i64::from(i),
        };
        let mut burst: Vec<RawMessage> = (0..3).map(msg).collect();
        outlet.deliver(&mut burst);
        assert!(burst.is_empty());
        let mut burst: Vec<RawMessage> = (3..6).map(msg).collect();
        outlet.deliver(&mut burst);
        assert!(burst.is_empty(), "what did not fit is dropped, not kept");
        assert_eq!(outlet.dropped.get(), 2);
        let Ok(SourceEvent::Messages(mailbox)) = rx.try_recv() else {
            panic!("the burst was not announced");
        };
        assert!(rx.try_recv().is_err(), "one announcement for both bursts");
        let mut got = Vec::new();
        mailbox.take(&mut got);
        let kept: Vec<(u8, i64)> = got.iter().map(|m| (m.payload[0], m.at_ms)).collect();
        assert_eq!(kept, [(0, 0), (1, 1), (2, 2), (3, 3)]);
    }
}
