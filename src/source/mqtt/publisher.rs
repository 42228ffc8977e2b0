//! Commands going out: one [`Publisher`] per connection follows each publish to the
//! broker's acknowledgement, and a [`Client`] handle of either protocol.

use super::session::{qos, qos5};
use super::spec::ConnectionSpec;
use crate::commands::RequestId;
use bytes::Bytes;
use std::sync::Arc;

/// A client handle of either protocol.
#[derive(Clone)]
pub enum Client {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

impl Client {
    /// Hands a SUBSCRIBE for `filters` to the connection.
    pub(in crate::source) fn subscribe(&self, filters: &[(String, u8)]) -> Result<(), String> {
        let sent = match self {
            Client::V311(c) => c
                .try_subscribe_many(
                    filters
                        .iter()
                        .map(|(f, q)| rumqttc::SubscribeFilter::new(f.clone(), qos(*q))),
                )
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .try_subscribe_many(
                    filters
                        .iter()
                        .map(|(f, q)| rumqttc::v5::mqttbytes::v5::Filter::new(f.clone(), qos5(*q))),
                )
                .map_err(|e| e.to_string()),
        };
        sent.map_err(|e| format!("subscribe failed: {e}"))
    }
}

/// One publish a command asks for.
#[derive(Debug, Clone)]
pub struct Publish {
    pub id: RequestId,
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    /// MQTT 5 request/response: sent as correlation data, with our response topic.
    pub correlation: Option<Vec<u8>>,
}

/// Publishes commands on one connection and follows them to the broker's acknowledgement.
/// A publish is refused at once while the link is down: commands never queue up to go out
/// after a reconnect.
#[derive(Clone)]
pub struct Publisher(Arc<PublisherShared>);

struct PublisherShared {
    broker: String,
    client: Client,
    response_topic: Option<String>,
    link: std::sync::Mutex<PublishLink>,
}

#[derive(Default)]
struct PublishLink {
    /// `None` while connected, else why not.
    down: Option<String>,
    /// Handed to the client, not yet written: (request, QoS), in order.
    queued: std::collections::VecDeque<(RequestId, u8)>,
    /// Written with QoS 1/2, waiting for the broker: packet id -> request.
    unacked: std::collections::HashMap<u16, RequestId>,
}

impl Publisher {
    pub(super) fn new(spec: &ConnectionSpec, client: Client) -> Publisher {
        Publisher(Arc::new(PublisherShared {
            broker: spec.name.clone(),
            client,
            response_topic: spec.response_topic.clone(),
            link: std::sync::Mutex::new(PublishLink {
                down: Some("not connected yet".into()),
                ..PublishLink::default()
            }),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PublishLink> {
        // The lock guards plain bookkeeping; a panic elsewhere cannot leave it half-done.
        self.0
            .link
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True when replies can be matched by MQTT 5 correlation data.
    pub fn request_response(&self) -> bool {
        matches!(self.0.client, Client::V5(_)) && self.0.response_topic.is_some()
    }

    /// Hands a publish to the connection, or says why it cannot go now.
    pub fn publish(&self, p: Publish) -> Result<(), String> {
        let mut link = self.lock();
        if let Some(why) = &link.down {
            return Err(format!(
                "broker `{}` is not connected ({why})",
                self.0.broker
            ));
        }
        let sent = match &self.0.client {
            Client::V311(c) => c
                .try_publish(p.topic, qos(p.qos), p.retain, p.payload)
                .map_err(|e| e.to_string()),
            Client::V5(c) => {
                let props = rumqttc::v5::mqttbytes::v5::PublishProperties {
                    response_topic: p.correlation.as_ref().and(self.0.response_topic.clone()),
                    correlation_data: p.correlation.map(Bytes::from),
                    ..Default::default()
                };
                c.try_publish_with_properties(p.topic, qos5(p.qos), p.retain, p.payload, props)
                    .map_err(|e| e.to_string())
            }
        };
        sent.map_err(|e| format!("broker `{}`: cannot queue the publish: {e}", self.0.broker))?;
        link.queued.push_back((p.id, p.qos));
        Ok(())
    }

    /// Marks the link up (`None`) or down; going down returns the requests it abandons.
    pub(super) fn set_up(&self, down: Option<String>) -> Vec<RequestId> {
        let mut link = self.lock();
        let going_down = down.is_some();
        link.down = down;
        if !going_down {
            return Vec::new();
        }
        let mut lost: Vec<RequestId> = link.queued.drain(..).map(|(id, _)| id).collect();
        lost.extend(link.unacked.drain().map(|(_, id)| id));
        lost
    }

    /// A publish went out as `pkid`: the request, and whether that settles it (QoS 0).
    pub(super) fn written(&self, pkid: u16) -> Option<(RequestId, bool)> {
        let mut link = self.lock();
        if pkid != 0 && link.unacked.contains_key(&pkid) {
            // rumqttc resends a publish after a packet id collision; it is the same one.
            return link.unacked.get(&pkid).map(|id| (*id, false));
        }
        let (id, q) = link.queued.pop_front()?;
        if q == 0 {
            return Some((id, true));
        }
        link.unacked.insert(pkid, id);
        Some((id, false))
    }

    pub(super) fn acked(&self, pkid: u16) -> Option<RequestId> {
        self.lock().unacked.remove(&pkid)
    }
}
