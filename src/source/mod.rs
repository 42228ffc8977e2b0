//! Where messages come from: MQTT connections and recordings.
//!
//! Each source runs in its own task and hands [`SourceEvent`]s to the core through a bounded
//! channel; a connection's messages wait in its bounded [`Mailbox`], announced on that
//! channel. A full mailbox makes the connection wait (it stops reading its socket, so TCP
//! slows the broker down) unless the configuration says to drop instead
//! ([`WhenBehind::Drop`]); then what did not fit is counted on the connection's
//! [`DropCounter`] and shown, never lost silently.

pub mod mqtt;
pub mod record;
pub mod replay;
pub mod subscriptions;
pub mod tls;

use crate::config::WhenBehind;
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
    /// What the broker said about itself on `$SYS` (clients, message rates, what it
    /// dropped for all its clients: loss outside fleetop). Never device telemetry.
    Broker {
        conn: ConnId,
        reading: crate::broker::Reading,
        at_ms: i64,
    },
}

/// Messages a connection had to drop because the core's queue was full (only with
/// `when_behind = "drop"`).
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
/// one queue event instead of one per message. A connection that finds it full waits for
/// [`Mailbox::take`] to make room. Messages may overtake a link change or notice announced
/// while they waited.
#[derive(Debug)]
pub struct Mailbox {
    inner: Mutex<MailboxInner>,
    capacity: usize,
    /// Woken by every take: a connection waiting for room tries again.
    room: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct MailboxInner {
    messages: Vec<RawMessage>,
    /// A `SourceEvent::Messages` for this mailbox is on its way to the core.
    announced: bool,
    /// The most messages the mailbox has held at once, to show that it stays bounded.
    peak: usize,
}

impl Mailbox {
    fn new(capacity: usize) -> Mailbox {
        Mailbox {
            inner: Mutex::default(),
            capacity,
            room: tokio::sync::Notify::new(),
        }
    }

    /// Moves every waiting message into `into` (best empty), oldest first. The two buffers
    /// trade places, so neither side allocates once both are warm.
    pub fn take(&self, into: &mut Vec<RawMessage>) {
        {
            let mut inner = self.lock();
            std::mem::swap(&mut inner.messages, into);
            inner.announced = false;
        }
        // One waiter at most (the connection); without one, the permit is kept for it.
        self.room.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, MailboxInner> {
        // Nothing panics while holding the lock, but a poisoned mailbox is still sound.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The sending half handed to a source.
#[derive(Debug, Clone)]
pub struct Outlet {
    pub conn: ConnId,
    tx: tokio::sync::mpsc::Sender<SourceEvent>,
    pub dropped: DropCounter,
    mailbox: Arc<Mailbox>,
    when_behind: WhenBehind,
}

impl Outlet {
    /// An outlet whose mailbox holds as many messages as the queue behind `tx`; it waits
    /// for room when full (see [`Outlet::when_behind`]).
    pub fn new(conn: ConnId, tx: tokio::sync::mpsc::Sender<SourceEvent>) -> Outlet {
        Outlet {
            conn,
            mailbox: Arc::new(Mailbox::new(tx.max_capacity())),
            tx,
            dropped: DropCounter::default(),
            when_behind: WhenBehind::Wait,
        }
    }

    /// What to do when the mailbox is full: wait for the core (lossless) or drop.
    pub fn when_behind(mut self, when_behind: WhenBehind) -> Outlet {
        self.when_behind = when_behind;
        self
    }

    /// The most messages its mailbox has held at once (never more than its capacity).
    pub fn mailbox_peak(&self) -> usize {
        self.mailbox.lock().peak
    }

    /// How many messages its mailbox holds at most.
    pub fn mailbox_capacity(&self) -> usize {
        self.mailbox.capacity
    }

    /// Hands one message over without waiting (dropping it, counted, if the mailbox is full).
    #[cfg(test)]
    pub fn message(&self, topic: Bytes, payload: Bytes, retain: bool) {
        let msg = RawMessage {
            conn: self.conn,
            topic,
            payload,
            retain,
            at_ms: now_ms(),
        };
        let mut batch = vec![msg];
        if !self.offer(&mut batch) {
            self.dropped.add(batch.len() as u64);
        }
    }

    /// Hands over what fits of `batch` (oldest first) without waiting, and announces the
    /// mailbox if it needs it: one lock for the burst. In drop mode what does not fit is
    /// dropped and counted. True when nothing is left to do: `batch` is empty and the core
    /// knows the mailbox has messages; false when the rest needs [`Outlet::deliver`].
    pub fn offer(&self, batch: &mut Vec<RawMessage>) -> bool {
        let announce = self.put(batch);
        if announce
            && self
                .tx
                .try_send(SourceEvent::Messages(self.mailbox.clone()))
                .is_err()
        {
            // The queue is full of other events (or closed): `deliver` announces it.
            self.mailbox.lock().announced = false;
            return self.tx.is_closed();
        }
        batch.is_empty()
    }

    /// Hands over every message in `batch`, leaving it empty, waiting for room as long as
    /// it takes (drop mode: drops what does not fit, counted). Cancel-safe: what was not
    /// handed over yet stays in `batch`, in order.
    pub async fn deliver(&self, batch: &mut Vec<RawMessage>) {
        loop {
            // Registered before looking, so a take between the look and the wait still wakes us.
            let room = self.mailbox.room.notified();
            let mut room = std::pin::pin!(room);
            room.as_mut().enable();
            // Also when an earlier announcement found the queue full.
            if self.put(batch) || self.unannounced() {
                self.announce().await;
            }
            if batch.is_empty() || self.tx.is_closed() {
                return;
            }
            room.await;
        }
    }

    /// Moves what fits of `batch` into the mailbox; true if the mailbox now needs announcing
    /// (this call marked it announced: the caller must send the announcement or undo that).
    fn put(&self, batch: &mut Vec<RawMessage>) -> bool {
        let mut inner = self.mailbox.lock();
        let room = self.mailbox.capacity.saturating_sub(inner.messages.len());
        if batch.len() <= room {
            inner.messages.append(batch);
        } else {
            inner.messages.extend(batch.drain(..room));
            if self.when_behind == WhenBehind::Drop {
                self.dropped.add(batch.len() as u64);
                batch.clear();
            }
        }
        inner.peak = inner.peak.max(inner.messages.len());
        !inner.messages.is_empty() && !std::mem::replace(&mut inner.announced, true)
    }

    fn unannounced(&self) -> bool {
        let inner = self.mailbox.lock();
        !inner.announced && !inner.messages.is_empty()
    }

    /// Sends the mailbox's announcement, waiting for room on the queue. Cancel-safe: the
    /// mailbox is marked announced only together with the send.
    async fn announce(&self) {
        {
            // `put` marked it; unmark so a cancelled wait below leaves it to the next try.
            self.mailbox.lock().announced = false;
        }
        let Ok(permit) = self.tx.reserve().await else {
            return;
        };
        let mut inner = self.mailbox.lock();
        if !inner.announced && !inner.messages.is_empty() {
            inner.announced = true;
            drop(inner);
            permit.send(SourceEvent::Messages(self.mailbox.clone()));
        }
    }

    /// Waits for room on the queue: used by replays, which must not drop what they were
    /// asked to feed.
    pub async fn send_message_waiting(&self, msg: RawMessage) -> bool {
        self.tx.send(SourceEvent::Message(msg)).await.is_ok()
    }

    /// A figure the broker published about itself on `$SYS`.
    pub async fn broker_reading(&self, reading: crate::broker::Reading) {
        let _ = self
            .tx
            .send(SourceEvent::Broker {
                conn: self.conn,
                reading,
                at_ms: now_ms(),
            })
            .await;
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

    fn msg(i: u8) -> RawMessage {
        RawMessage {
            conn: crate::vocab::ConnId(1),
            topic: Bytes::from_static(b"t"),
            payload: Bytes::from(vec![i]),
            retain: false,
            at_ms: i64::from(i),
        }
    }

    fn payloads(got: &[RawMessage]) -> Vec<u8> {
        got.iter().map(|m| m.payload[0]).collect()
    }

    #[test]
    fn a_burst_is_one_event_and_in_drop_mode_overflow_is_counted() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let outlet = Outlet::new(crate::vocab::ConnId(3), tx).when_behind(WhenBehind::Drop);
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
        assert_eq!(payloads(&got), [0, 1, 2, 3]);
        assert!(got.iter().all(|m| m.conn == crate::vocab::ConnId(3)));
        outlet.message(Bytes::from_static(b"t"), Bytes::from_static(b"x"), false);
        assert!(
            matches!(rx.try_recv(), Ok(SourceEvent::Messages(_))),
            "an emptied mailbox is announced again"
        );
    }

    #[tokio::test]
    async fn in_drop_mode_deliver_never_waits_and_counts_what_did_not_fit() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let outlet = Outlet::new(crate::vocab::ConnId(1), tx).when_behind(WhenBehind::Drop);
        let mut burst: Vec<RawMessage> = (0..6).map(msg).collect();
        outlet.deliver(&mut burst).await;
        assert!(burst.is_empty(), "what did not fit is dropped, not kept");
        assert_eq!(outlet.dropped.get(), 2);
        let Ok(SourceEvent::Messages(mailbox)) = rx.try_recv() else {
            panic!("the burst was not announced");
        };
        let mut got = Vec::new();
        mailbox.take(&mut got);
        let kept: Vec<(u8, i64)> = got.iter().map(|m| (m.payload[0], m.at_ms)).collect();
        assert_eq!(kept, [(0, 0), (1, 1), (2, 2), (3, 3)]);
    }

    #[tokio::test]
    async fn a_full_mailbox_makes_delivery_wait_until_a_take_and_nothing_is_lost() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let outlet = Outlet::new(crate::vocab::ConnId(1), tx);
        let mut first: Vec<RawMessage> = (0..3).map(msg).collect();
        assert!(outlet.offer(&mut first), "room for three");
        // Seven more: one fits now, the rest waits.
        let mut rest: Vec<RawMessage> = (3..10).map(msg).collect();
        assert!(
            !outlet.offer(&mut rest),
            "a full mailbox cannot take the rest"
        );
        assert_eq!(
            payloads(&rest),
            [4, 5, 6, 7, 8, 9],
            "what waits keeps its order"
        );
        let sender = outlet.clone();
        let waiting = tokio::spawn(async move {
            sender.deliver(&mut rest).await;
            rest.len()
        });
        let mut got = Vec::new();
        let mut mail = Vec::new();
        while got.len() < 10 {
            match rx.recv().await {
                Some(SourceEvent::Messages(mailbox)) => {
                    // Each take makes room and wakes the waiting delivery.
                    mailbox.take(&mut mail);
                    got.append(&mut mail);
                }
                other => panic!("expected an announced mailbox, got {other:?}"),
            }
        }
        assert_eq!(waiting.await.ok(), Some(0), "everything was handed over");
        assert_eq!(payloads(&got), (0..10).collect::<Vec<u8>>(), "in order");
        assert_eq!(outlet.dropped.get(), 0, "nothing dropped");
        assert_eq!(outlet.mailbox_peak(), 4, "never more than the capacity");
    }

    #[tokio::test]
    async fn an_announcement_that_found_the_queue_full_is_sent_once_it_has_room() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let outlet = Outlet::new(crate::vocab::ConnId(1), tx);
        outlet.notice("fills the queue".into()).await;
        let mut burst = vec![msg(0)];
        assert!(!outlet.offer(&mut burst), "handed over but not announced");
        assert!(burst.is_empty());
        let sender = outlet.clone();
        let waiting = tokio::spawn(async move { sender.deliver(&mut Vec::new()).await });
        assert!(matches!(rx.recv().await, Some(SourceEvent::Notice { .. })));
        let Some(SourceEvent::Messages(mailbox)) = rx.recv().await else {
            panic!("the mailbox was never announced");
        };
        let mut got = Vec::new();
        mailbox.take(&mut got);
        assert_eq!(payloads(&got), [0]);
        assert!(waiting.await.is_ok());
    }
}
