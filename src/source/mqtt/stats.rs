//! What the broker says about itself on `$SYS`, read on a small connection of its own.
//!
//! Mosquitto, HiveMQ's `$SYS` plugin and EMQX publish connected clients, message rates or
//! totals, and the messages they dropped for their clients' queue and in-flight limits
//! (retained or refreshed every `sys_interval`; see [`crate::broker`] for the dialects).
//! Some brokers answer a `$SYS` subscription by closing the connection (rumqttd; AWS IoT
//! closes on any filter it does not allow), so it is never asked for on the connection that
//! carries the fleet: a second connection asks, and gives up quietly for good if the broker
//! refuses every filter or closes it before any figure came.

use super::session::{Incoming, Session};
use crate::broker::SYS_FILTERS;
use crate::source::Outlet;

/// Runs until the core goes away or the broker shows it has no figures for us.
pub(super) async fn broker_health<S: Session>(
    session: &mut S,
    outlet: &Outlet,
    retry: std::time::Duration,
) {
    // A subscribe went out on this link and no figure came yet.
    let mut asked = false;
    let mut seen = false;
    while !outlet.is_closed() {
        match session.poll().await {
            Ok(Incoming::Connected) => {
                let filters: Vec<(String, u8)> =
                    SYS_FILTERS.iter().map(|f| ((*f).to_string(), 0)).collect();
                if session.client().subscribe(&filters).is_err() {
                    return;
                }
                asked = true;
            }
            Ok(Incoming::Publish { topic, payload, .. }) => {
                // Anything else under these names (a word where a count belongs) is not
                // a figure: it is left out, the rest still count.
                if let Some(reading) = crate::broker::parse(&topic, &payload) {
                    seen = true;
                    outlet.broker_reading(reading).await;
                }
            }
            Ok(Incoming::SubAck { answers, .. })
                if !answers.is_empty() && answers.iter().all(Option::is_some) =>
            {
                tracing::debug!(conn = %outlet.conn, "the broker refused its $SYS figures");
                return;
            }
            Ok(_) => {}
            Err(reason) => {
                if asked && !seen {
                    tracing::debug!(conn = %outlet.conn, %reason, "the broker closed the link that asked for its $SYS figures");
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
        let run = broker_health(&mut session, &outlet, std::time::Duration::ZERO);
        tokio::select! {
            () = run => panic!("gave up on a broker that answers"),
            ev = rx.recv() => match ev {
                Some(SourceEvent::Broker {
                    conn: crate::vocab::ConnId(2),
                    reading: crate::broker::Reading::Dropped(17),
                    ..
                }) => {}
                other => panic!("expected the count, got {other:?}"),
            },
        }
        // Closed right after the subscribe, before any value: never asked again.
        let (mut session, _loop) = scripted(vec![
            Ok(Incoming::Connected),
            Err("the broker closed the connection".into()),
        ]);
        broker_health(&mut session, &outlet, std::time::Duration::ZERO).await;
        assert!(rx.try_recv().is_err());
    }
}
