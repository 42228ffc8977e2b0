//! The two rumqttc event loops (MQTT 3.1.1 and 5) behind one protocol-neutral [`Session`].

use super::errors::{self, refusal};
use super::publisher::Client;
use super::spec::ConnectionSpec;
use super::{MAX_INCOMING_PACKET, OUTGOING_INFLIGHT, REQUEST_CAPACITY};
use crate::config::url::{BrokerUrl, Scheme};
use bytes::Bytes;
use rumqttc::{TlsConfiguration, Transport};
use std::sync::Arc;

/// What a session reports, in protocol-neutral terms.
pub(super) enum Incoming {
    Connected,
    Publish {
        topic: Bytes,
        payload: Bytes,
        retain: bool,
        /// MQTT 5 correlation data, when the message carries it.
        correlation: Option<Bytes>,
    },
    /// One of our publishes went out with this packet id (0 for QoS 0).
    Written(u16),
    /// The broker acknowledged (or refused, with its reason) our publish `pkid`.
    Acked {
        pkid: u16,
        refused: Option<String>,
    },
    /// rumqttc sent its keepalive ping.
    Pinged,
    /// A SUBSCRIBE went out with this packet id.
    Subscribed(u16),
    /// The broker answered SUBSCRIBE `pkid`: per filter, why it refused (`None`: granted).
    SubAck {
        pkid: u16,
        answers: Vec<Option<String>>,
    },
    Other,
}

pub(super) trait Session {
    async fn poll(&mut self) -> Result<Incoming, String>;
    fn client(&self) -> Client;
    /// Forgets that the last ping is unanswered: its answer waits unread behind messages
    /// the connection stopped reading while the core was behind, which says nothing about
    /// the link. Without this rumqttc would drop the link at its next ping.
    fn forgive_ping(&mut self);
}

pub(super) fn qos(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

pub(super) fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    match q {
        0 => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        1 => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        _ => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

/// [`ConnectionSpec::from_config`] always sets `tls` for the TLS schemes.
fn transport(url: &BrokerUrl, tls: &Option<Arc<rustls::ClientConfig>>) -> Transport {
    match (url.scheme, tls) {
        (Scheme::Mqtts, Some(c)) => Transport::Tls(TlsConfiguration::Rustls(c.clone())),
        (Scheme::Wss, Some(c)) => Transport::Wss(TlsConfiguration::Rustls(c.clone())),
        (Scheme::Ws, _) => Transport::Ws,
        _ => Transport::Tcp,
    }
}

/// rumqttc takes the whole URL as the host for websockets.
fn host_for(url: &BrokerUrl) -> String {
    match url.scheme {
        Scheme::Ws | Scheme::Wss => url.websocket_url(),
        _ => url.host.clone(),
    }
}

pub(super) struct V311 {
    client: rumqttc::AsyncClient,
    events: rumqttc::EventLoop,
}

impl V311 {
    pub(super) fn new(spec: &ConnectionSpec) -> V311 {
        let mut o = rumqttc::MqttOptions::new(&spec.client_id, host_for(&spec.url), spec.url.port);
        o.set_keep_alive(spec.keepalive)
            .set_clean_session(true)
            .set_max_packet_size(MAX_INCOMING_PACKET, MAX_INCOMING_PACKET)
            .set_transport(transport(&spec.url, &spec.tls));
        if let Some((u, p)) = &spec.credentials {
            o.set_credentials(u, p);
        }
        let (client, events) = rumqttc::AsyncClient::new(o, REQUEST_CAPACITY);
        V311 { client, events }
    }
}

impl Session for V311 {
    async fn poll(&mut self) -> Result<Incoming, String> {
        use rumqttc::{Event, Packet};
        match self.events.poll().await.map_err(|e| errors::v311(&e))? {
            Event::Incoming(Packet::ConnAck(_)) => Ok(Incoming::Connected),
            Event::Incoming(Packet::Publish(p)) => Ok(Incoming::Publish {
                topic: Bytes::from(p.topic),
                payload: p.payload,
                retain: p.retain,
                correlation: None,
            }),
            Event::Outgoing(rumqttc::Outgoing::Publish(pkid)) => Ok(Incoming::Written(pkid)),
            Event::Outgoing(rumqttc::Outgoing::Subscribe(pkid)) => Ok(Incoming::Subscribed(pkid)),
            Event::Outgoing(rumqttc::Outgoing::PingReq) => Ok(Incoming::Pinged),
            Event::Incoming(Packet::PubAck(a)) => Ok(Incoming::Acked {
                pkid: a.pkid,
                refused: None,
            }),
            Event::Incoming(Packet::PubComp(a)) => Ok(Incoming::Acked {
                pkid: a.pkid,
                refused: None,
            }),
            Event::Incoming(Packet::SubAck(ack)) => Ok(Incoming::SubAck {
                pkid: ack.pkid,
                answers: ack
                    .return_codes
                    .iter()
                    .map(|c| {
                        matches!(c, rumqttc::SubscribeReasonCode::Failure)
                            .then(|| "refused".to_string())
                    })
                    .collect(),
            }),
            _ => Ok(Incoming::Other),
        }
    }

    fn client(&self) -> Client {
        Client::V311(self.client.clone())
    }

    fn forgive_ping(&mut self) {
        self.events.state.await_pingresp = false;
    }
}

pub(super) struct V5 {
    client: rumqttc::v5::AsyncClient,
    events: rumqttc::v5::EventLoop,
}

impl V5 {
    pub(super) fn new(spec: &ConnectionSpec) -> V5 {
        let mut o =
            rumqttc::v5::MqttOptions::new(&spec.client_id, host_for(&spec.url), spec.url.port);
        o.set_keep_alive(spec.keepalive)
            .set_clean_start(true)
            // rumqttc otherwise preallocates 65,536 in-flight slots (~14 MB) per client.
            .set_outgoing_inflight_upper_limit(OUTGOING_INFLIGHT)
            .set_max_packet_size(Some(MAX_INCOMING_PACKET as u32))
            .set_transport(transport(&spec.url, &spec.tls));
        if let Some((u, p)) = &spec.credentials {
            o.set_credentials(u, p);
        }
        let (client, events) = rumqttc::v5::AsyncClient::new(o, REQUEST_CAPACITY);
        V5 { client, events }
    }
}

impl Session for V5 {
    async fn poll(&mut self) -> Result<Incoming, String> {
        use rumqttc::v5::Event;
        use rumqttc::v5::mqttbytes::v5::{Packet, SubscribeReasonCode};
        match self.events.poll().await.map_err(|e| errors::v5(&e))? {
            Event::Incoming(Packet::ConnAck(_)) => Ok(Incoming::Connected),
            Event::Incoming(Packet::Publish(p)) => Ok(Incoming::Publish {
                topic: p.topic,
                payload: p.payload,
                retain: p.retain,
                correlation: p.properties.and_then(|pr| pr.correlation_data),
            }),
            Event::Outgoing(rumqttc::Outgoing::Publish(pkid)) => Ok(Incoming::Written(pkid)),
            Event::Outgoing(rumqttc::Outgoing::Subscribe(pkid)) => Ok(Incoming::Subscribed(pkid)),
            Event::Outgoing(rumqttc::Outgoing::PingReq) => Ok(Incoming::Pinged),
            Event::Incoming(Packet::PubAck(a)) => Ok(Incoming::Acked {
                pkid: a.pkid,
                refused: refusal(&a.reason, a.properties.and_then(|p| p.reason_string)),
            }),
            Event::Incoming(Packet::PubRec(a)) => {
                match refusal(&a.reason, a.properties.and_then(|p| p.reason_string)) {
                    Some(why) => Ok(Incoming::Acked {
                        pkid: a.pkid,
                        refused: Some(why),
                    }),
                    None => Ok(Incoming::Other),
                }
            }
            Event::Incoming(Packet::PubComp(a)) => Ok(Incoming::Acked {
                pkid: a.pkid,
                refused: None,
            }),
            Event::Incoming(Packet::SubAck(ack)) => Ok(Incoming::SubAck {
                pkid: ack.pkid,
                answers: ack
                    .return_codes
                    .iter()
                    .map(|c| {
                        (!matches!(c, SubscribeReasonCode::Success(_))).then(|| format!("{c:?}"))
                    })
                    .collect(),
            }),
            _ => Ok(Incoming::Other),
        }
    }

    fn client(&self) -> Client {
        Client::V5(self.client.clone())
    }

    fn forgive_ping(&mut self) {
        self.events.state.await_pingresp = false;
    }
}
