//! A live MQTT connection: connect, subscribe, forward messages, and come back after every
//! failure with exponential backoff and jitter. MQTT 5 by default, 3.1.1 on request; the two
//! rumqttc APIs differ only in types, so a small [`Session`] trait hides them.
//!
//! The parts: [`spec`] resolves a `[[broker]]` entry, [`session`] speaks to rumqttc,
//! [`handover`] moves messages to the core, [`publisher`] sends commands, [`errors`] says
//! in a few words why a link failed.

mod errors;
mod handover;
mod publisher;
mod session;
mod spec;
mod stats;

pub use publisher::{Client, Publish, Publisher};
pub use spec::{ConnectionSpec, default_client_id};

use super::Outlet;
use super::subscriptions::Subscriptions;
use crate::config::Protocol;
use crate::vocab::{LinkState, RawMessage};
use handover::Handover;
use session::{Incoming, Session, V5, V311};
use std::time::Duration;

const BACKOFF_START: Duration = Duration::from_millis(500);
/// The longest wait between reconnection attempts unless `max_backoff` says otherwise.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Largest packet accepted from a broker. MQTT 5 brokers are told this in CONNECT and drop
/// bigger messages for us; a 3.1.1 broker sending one closes the connection.
const MAX_INCOMING_PACKET: usize = 16 * 1024 * 1024;
/// Our own QoS 1/2 publishes in flight at once (commands); fleetop mostly listens.
const OUTGOING_INFLIGHT: u16 = 100;
/// Requests (subscribes, publishes) buffered towards the event loop.
const REQUEST_CAPACITY: usize = 1024;

/// The handles to a started connection.
pub struct Started {
    /// Where commands are published; `None` when the connection is read-only.
    pub publisher: Option<Publisher>,
    pub subscriptions: Subscriptions,
}

/// Starts one connection on the current tokio runtime; it runs until the core goes away.
pub fn spawn(spec: ConnectionSpec, outlet: Outlet) -> Started {
    let mut spec = spec;
    if let Some(t) = &spec.response_topic {
        spec.subscriptions.push((t.clone(), 1));
    }
    // The broker's `$SYS` figures come on a connection of its own (see `stats`).
    let stats = ConnectionSpec {
        client_id: format!("{}-stats", spec.client_id),
        subscriptions: Vec::new(),
        response_topic: None,
        ..spec.clone()
    };
    let (stats_outlet, retry) = (outlet.clone(), spec.max_backoff);
    // Asked only once the fleet's connection is up: a broker that takes one client (the
    // bench's stand-in) serves that one.
    let (up, first_up) = tokio::sync::oneshot::channel();
    // Each arm spawns its own concrete session type: the compiler sees those futures are Send.
    match spec.protocol {
        Protocol::V5 => {
            let mut st = V5::new(&stats);
            tokio::spawn(async move {
                if first_up.await.is_ok() {
                    stats::broker_health(&mut st, &stats_outlet, retry).await;
                }
            });
            let mut s = V5::new(&spec);
            let started = Started::new(&spec, s.client());
            let (publisher, subs) = (started.publisher.clone(), started.subscriptions.clone());
            tokio::spawn(async move {
                drive(&mut s, &spec, &outlet, publisher.as_ref(), &subs, up).await
            });
            started
        }
        Protocol::V311 => {
            let mut st = V311::new(&stats);
            tokio::spawn(async move {
                if first_up.await.is_ok() {
                    stats::broker_health(&mut st, &stats_outlet, retry).await;
                }
            });
            let mut s = V311::new(&spec);
            let started = Started::new(&spec, s.client());
            let (publisher, subs) = (started.publisher.clone(), started.subscriptions.clone());
            tokio::spawn(async move {
                drive(&mut s, &spec, &outlet, publisher.as_ref(), &subs, up).await
            });
            started
        }
    }
}

impl Started {
    fn new(spec: &ConnectionSpec, client: Client) -> Started {
        Started {
            publisher: (!spec.read_only).then(|| Publisher::new(spec, client.clone())),
            subscriptions: Subscriptions::new(client, spec.subscriptions.clone()),
        }
    }
}

async fn drive<S: Session>(
    session: &mut S,
    spec: &ConnectionSpec,
    outlet: &Outlet,
    publisher: Option<&Publisher>,
    subscriptions: &Subscriptions,
    first_up: tokio::sync::oneshot::Sender<()>,
) {
    let mut first_up = Some(first_up);
    let mut failures = 0u32;
    let mut handover = Handover::new(outlet, spec.keepalive);
    outlet.link(LinkState::Connecting).await;
    while !outlet.is_closed() {
        handover.ready(session).await;
        let incoming = handover.next(session.poll()).await;
        let passes_on = !matches!(
            incoming,
            Ok(Incoming::Publish {
                correlation: None,
                ..
            } | Incoming::Subscribed(_)
                | Incoming::Pinged
                | Incoming::Other)
        );
        if passes_on {
            // What arrived before a reply, link change or notice goes first.
            handover.flush().await;
        }
        match incoming {
            Ok(Incoming::Publish {
                topic,
                payload,
                retain,
                correlation,
            }) => match (correlation, &spec.response_topic) {
                (Some(c), Some(rt)) if topic.as_ref() == rt.as_bytes() => {
                    outlet.reply(c, payload).await
                }
                _ => handover.push(|at_ms| RawMessage {
                    conn: outlet.conn,
                    topic,
                    payload,
                    retain,
                    at_ms,
                }),
            },
            Ok(Incoming::Connected) => {
                failures = 0;
                handover.connected();
                if let Some(up) = first_up.take() {
                    let _ = up.send(());
                }
                // Clean sessions forget subscriptions: subscribe again after every connect.
                if let Err(e) = subscriptions.renew() {
                    outlet.notice(e).await;
                }
                if let Some(p) = publisher {
                    p.set_up(None);
                }
                outlet.link(LinkState::Connected).await;
            }
            Ok(Incoming::Pinged) => handover.pinged(),
            Ok(Incoming::Written(pkid)) => {
                if let Some((id, done)) = publisher.and_then(|p| p.written(pkid)) {
                    if done {
                        outlet.published(id, Ok(())).await;
                    }
                } else {
                    tracing::warn!(broker = %spec.name, pkid, "a publish fleetop did not ask for went out");
                }
            }
            Ok(Incoming::Acked { pkid, refused }) => {
                if let Some(id) = publisher.and_then(|p| p.acked(pkid)) {
                    outlet.published(id, refused.map_or(Ok(()), Err)).await;
                }
            }
            Ok(Incoming::Subscribed(pkid)) => subscriptions.written(pkid),
            Ok(Incoming::SubAck { pkid, answers }) => {
                if let Some(msg) = refusal_notice(subscriptions, pkid, &answers) {
                    tracing::warn!(broker = %spec.name, "{msg}");
                    outlet.notice(msg).await;
                }
            }
            Ok(Incoming::Other) => {}
            Err(reason) => {
                subscriptions.link_lost();
                // rumqttc forgets unacknowledged publishes of a clean session: they fail
                // now and are never sent later.
                if let Some(p) = publisher {
                    for id in p.set_up(Some(reason.clone())) {
                        outlet
                            .published(
                                id,
                                Err(format!(
                                    "connection lost before the broker acknowledged: {reason}"
                                )),
                            )
                            .await;
                    }
                }
                failures = failures.saturating_add(1);
                let delay = backoff(failures, spec.max_backoff);
                tracing::info!(broker = %spec.name, %reason, ?delay, "connection down");
                outlet
                    .link(LinkState::Down {
                        reason,
                        retry_in: delay,
                    })
                    .await;
                tokio::time::sleep(delay).await;
                if outlet.is_closed() {
                    break;
                }
                outlet.link(LinkState::Connecting).await;
            }
        }
    }
}

/// What to tell a person about the broker's answer to SUBSCRIBE `pkid`, if it refused
/// anything.
fn refusal_notice(
    subscriptions: &Subscriptions,
    pkid: u16,
    answers: &[Option<String>],
) -> Option<String> {
    let refused_at: Vec<usize> = answers
        .iter()
        .enumerate()
        .filter_map(|(i, why)| why.as_ref().map(|_| i))
        .collect();
    let asked = subscriptions.answered(pkid, &refused_at);
    let refused: Vec<String> = refused_at
        .iter()
        .map(|&i| {
            let filter = asked.get(i).map_or("a filter", String::as_str);
            let why = answers[i].as_deref().unwrap_or_default();
            format!("{} ({why})", crate::sanitize::text(filter))
        })
        .collect();
    if refused.is_empty() {
        return None;
    }
    let mut msg = format!("broker refused subscription to {}", refused.join(", "));
    if asked.iter().any(|f| f.starts_with('#')) {
        msg.push_str("; public brokers often refuse `#`: pass --subscribe with a narrower filter");
    }
    Some(msg)
}

/// Exponential backoff from 0.5 s, with ±25 % jitter so that many clients do not
/// reconnect in step after a broker restart, and never longer than `cap` (5 s unless
/// configured; at the cap the jitter only shortens). A short cap matters more than sparing
/// the broker: through a flapping broker that is up for a few seconds at a time, a long
/// wait misses whole up-windows.
pub fn backoff(failures: u32, cap: Duration) -> Duration {
    let exp = BACKOFF_START.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let jitter = 0.75 + fastrand::f64() * 0.5;
    exp.min(cap).mul_f64(jitter).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::url::BrokerUrl;

    /// A session that plays a script of events, then waits forever.
    struct Scripted {
        events: std::collections::VecDeque<Incoming>,
        client: Client,
    }

    impl Session for Scripted {
        async fn poll(&mut self) -> Result<Incoming, String> {
            match self.events.pop_front() {
                Some(e) => Ok(e),
                None => std::future::pending().await,
            }
        }
        fn client(&self) -> Client {
            self.client.clone()
        }
        fn forgive_ping(&mut self) {}
    }

    #[tokio::test]
    async fn a_refused_subscription_is_named_with_the_filter_its_subscribe_asked_for() {
        let spec = ConnectionSpec {
            name: "public".into(),
            url: BrokerUrl::parse("mqtt://127.0.0.1:9").unwrap(),
            protocol: Protocol::V5,
            client_id: "t".into(),
            keepalive: Duration::from_secs(30),
            max_backoff: DEFAULT_MAX_BACKOFF,
            credentials: None,
            tls: None,
            subscriptions: vec![("#".into(), 0)],
            read_only: true,
            response_topic: None,
        };
        // Never connected: requests wait in the client's queue.
        let options = rumqttc::MqttOptions::new("t", "127.0.0.1", 9);
        let (client, _events) = rumqttc::AsyncClient::new(options, 16);
        let client = Client::V311(client);
        let subscriptions = Subscriptions::new(client.clone(), spec.subscriptions.clone());
        let mut session = Scripted {
            events: [
                Incoming::Connected,
                Incoming::Subscribed(4),
                Incoming::SubAck {
                    pkid: 4,
                    answers: vec![Some("NotAuthorized".into())],
                },
            ]
            .into(),
            client,
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let outlet = Outlet::new(crate::vocab::ConnId(0), tx);
        let (up, _first_up) = tokio::sync::oneshot::channel();
        let run = drive(&mut session, &spec, &outlet, None, &subscriptions, up);
        let notice = async {
            loop {
                match rx.recv().await {
                    Some(crate::source::SourceEvent::Notice { message, .. }) => break message,
                    Some(_) => continue,
                    None => panic!("the connection stopped"),
                }
            }
        };
        let message = tokio::select! {
            () = run => panic!("the connection stopped"),
            m = notice => m,
        };
        assert!(
            message.contains("refused subscription to # (NotAuthorized)"),
            "{message}"
        );
        assert!(message.contains("--subscribe"), "{message}");
    }

    #[test]
    fn backoff_grows_jittered_up_to_its_cap() {
        let cap = DEFAULT_MAX_BACKOFF;
        for _ in 0..50 {
            let first = backoff(1, cap);
            assert!(first >= Duration::from_millis(375) && first <= Duration::from_millis(625));
            assert!(backoff(30, cap) <= cap);
            assert!(backoff(30, cap) >= cap.mul_f64(0.75));
            let configured = Duration::from_secs(60);
            assert!(backoff(30, configured) >= configured.mul_f64(0.75));
        }
    }
}
