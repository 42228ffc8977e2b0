//! The broker's own drop counter, read on a small connection of its own.
//!
//! Mosquitto publishes how many messages it dropped for its clients' queue and in-flight
//! limits (`$SYS/broker/publish/messages/dropped`: retained, refreshed every
//! `sys_interval`, 10 s by default, first sent once it is non-zero). Some brokers answer a
//! `$SYS` subscription by closing the connection (rumqttd; AWS IoT closes on any filter it
//! does not allow), so it is never asked for on the connection that carries the fleet: a
//! second connection asks, and gives up quietly for good if the broker refuses or closes
//! it before any value came.

use super::session::{Incoming, Session};
use crate::source::Outlet;

pub(super) const BROKER_DROPPED: &str = "$SYS/broker/publish/messages/dropped";

/// Runs until the core goes away or the broker shows it has no counter for us.
pub(super) async fn broker_dropped<S: Session>(
    session: &mut S,
    outlet: &Outlet,
    retry: std::time::Duration,
) {
    // A subscribe went out on this link and no value came yet.
    let mut asked = false;
    let mut seen = false;
    while !outlet.is_closed() {
        match session.poll().await {
            Ok(Incoming::Connected) => {
                if session
                    .client()
                    .subscribe(&[(BROKER_DROPPED.into(), 0)])
                    .is_err()
                {
                    return;
                }
                asked = true;
            }
            Ok(Incoming::Publish { topic, payload, .. })
                if topic.as_ref() == BROKER_DROPPED.as_bytes() =>
            {
                // A payload that is not a count is another broker's topic of that name.
                let Some(n) = std::str::from_utf8(&payload)
                    .ok()
                    .and_then(|t| t.trim().parse::<u64>().ok())
                else {
                    return;
                };
                seen = true;
                outlet.broker_dropped(n).await;
            }
            Ok(Incoming::SubAck { answers, .. }) if answers.iter().any(Option::is_some) => {
                tracing::debug!(conn = %outlet.conn, "the broker refused its drop counter");
                return;
            }
            Ok(_) => {}
            Err(reason) => {
                if asked && !seen {
                    tracing::debug!(conn = %outlet.conn, %reason, "the broker closed the link that asked for its drop counter");
                    return;
                }
                asked = false;
                // The fleet's connection says what is wrong; this one just tries again.
                tokio::time::sleep(retry).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceEvent;
    use crate::source::mqtt::Client;
    use bytes::Bytes;

    struct Scripted {
        events: std::collections::VecDeque<Result<Incoming, String>>,
        client: Client,
    }

    impl Session for Scripted {
        async fn poll(&mut self) -> Result<Incoming, String> {
            match self.events.pop_front() {
                Some(e) => e,
                None => std::future::pending().await,
            }
        }
        fn client(&self) -> Client {
            self.client.clone()
        }
        fn forgive_ping(&mut self) {}
    }

    fn scripted(events: Vec<Result<Incoming, String>>) -> (Scripted, rumqttc::EventLoop) {
        let options = rumqttc::MqttOptions::new("t", "127.0.0.1", 9);
        let (client, events_loop) = rumqttc::AsyncClient::new(options, 16);
        let session = Scripted {
            events: events.into(),
            client: Client::V311(client),
        };
        (session, events_loop)
    }

    fn publish(topic: &'static str, payload: &'static str) -> Result<Incoming, String> {
        Ok(Incoming::Publish {
            topic: Bytes::from_static(topic.as_bytes()),
            payload: Bytes::from_static(payload.as_bytes()),
            retain: true,
            correlation: None,
        })
    }

    #[tokio::test]
    async fn the_counter_is_passed_on_and_a_broker_that_closes_on_the_ask_is_left_alone() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let outlet = Outlet::new(crate::vocab::ConnId(2), tx);
        let (mut session, _loop) = scripted(vec![
            Ok(Incoming::Connected),
            publish("$SYS/broker/publish/messages/dropped", "17\n"),
        ]);
        let run = broker_dropped(&mut session, &outlet, std::time::Duration::ZERO);
        tokio::select! {
            () = run => panic!("gave up on a broker that answers"),
            ev = rx.recv() => match ev {
                Some(SourceEvent::BrokerDropped { conn: crate::vocab::ConnId(2), dropped: 17, .. }) => {}
                other => panic!("expected the count, got {other:?}"),
            },
        }
        // Closed right after the subscribe, before any value: never asked again.
        let (mut session, _loop) = scripted(vec![
            Ok(Incoming::Connected),
            Err("the broker closed the connection".into()),
        ]);
        broker_dropped(&mut session, &outlet, std::time::Duration::ZERO).await;
        assert!(rx.try_recv().is_err());
    }
}
