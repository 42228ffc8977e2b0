//! A live MQTT connection: connect, subscribe, forward messages, and come back after every
//! failure with exponential backoff and jitter. MQTT 5 by default, 3.1.1 on request; the two
//! rumqttc APIs differ only in types, so a small [`Session`] trait hides them.

use super::Outlet;
use super::subscriptions::Subscriptions;
use super::url::{BrokerUrl, Scheme};
use crate::commands::RequestId;
use crate::config::{BrokerConfig, Protocol};
use crate::vocab::{LinkState, RawMessage};
use bytes::Bytes;
use rumqttc::{TlsConfiguration, Transport};
use std::sync::Arc;
use std::time::Duration;

const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Largest packet accepted from a broker. MQTT 5 brokers are told this in CONNECT and drop
/// bigger messages for us; a 3.1.1 broker sending one closes the connection.
const MAX_INCOMING_PACKET: usize = 16 * 1024 * 1024;
/// Our own QoS 1/2 publishes in flight at once (commands); fleetop mostly listens.
const OUTGOING_INFLIGHT: u16 = 100;
/// Most messages collected before they are handed to the core, even if more are ready.
const HANDOVER_BATCH: usize = 256;
/// Requests (subscribes, publishes) buffered towards the event loop.
const REQUEST_CAPACITY: usize = 1024;

/// Everything needed to open one broker connection; secrets already resolved.
#[derive(Clone)]
pub struct ConnectionSpec {
    pub name: String,
    pub url: BrokerUrl,
    pub protocol: Protocol,
    pub client_id: String,
    pub keepalive: Duration,
    pub credentials: Option<(String, String)>,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub subscriptions: Vec<(String, u8)>,
    /// Never publish on this connection.
    pub read_only: bool,
    /// Where MQTT 5 replies to our commands come (subscribed on connect); `None`: no
    /// request/response.
    pub response_topic: Option<String>,
}

impl std::fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("ConnectionSpec")
            .field("name", &self.name)
            .field("url", &self.url.to_string())
            .field("protocol", &self.protocol)
            .field("client_id", &self.client_id)
            .field("subscriptions", &self.subscriptions)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl ConnectionSpec {
    /// Resolves a `[[broker]]` entry: URL, password source, TLS, client id.
    pub fn from_config(
        b: &BrokerConfig,
        subscriptions: Vec<(String, u8)>,
        read_only: bool,
    ) -> Result<Self, String> {
        let url = BrokerUrl::parse(b.url.get_ref())?;
        let username = b.username.clone().or_else(|| url.username.clone());
        let password = resolve_password(b)?;
        let credentials = match (username, password) {
            (Some(u), p) => Some((u, p.unwrap_or_default())),
            (None, Some(_)) => {
                return Err(format!(
                    "broker `{}` has a password but no username; set username",
                    b.name
                ));
            }
            (None, None) => None,
        };
        let tls = if url.scheme.is_tls() {
            if b.insecure_skip_verify {
                tracing::warn!(broker = %b.name, "TLS certificate verification is OFF");
                eprintln!(
                    "WARNING: broker `{}`: TLS certificate verification is OFF (insecure_skip_verify); \
                     anyone on the path can read and forge this traffic",
                    b.name
                );
            }
            Some(super::tls::client_config(b)?)
        } else {
            None
        };
        Ok(ConnectionSpec {
            name: b.name.clone(),
            url,
            protocol: b.protocol,
            client_id: b.client_id.clone().unwrap_or_else(default_client_id),
            keepalive: b.keepalive.unwrap_or(Duration::from_secs(30)),
            credentials,
            tls,
            subscriptions,
            read_only: read_only || b.read_only,
            response_topic: None,
        })
    }
}

/// `fleetop-<host>-<random>`: recognisable in broker logs, unique per run.
pub fn default_client_id() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect();
    format!("fleetop-{host}-{:06x}", fastrand::u32(..0x100_0000))
}

fn resolve_password(b: &BrokerConfig) -> Result<Option<String>, String> {
    if let Some(var) = &b.password_env {
        return std::env::var(var).map(Some).map_err(|_| {
            format!(
                "broker `{}`: environment variable {var} (password_env) is not set",
                b.name
            )
        });
    }
    if let Some(path) = &b.password_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "broker `{}`: cannot read password_file {}: {e}",
                b.name,
                path.display()
            )
        })?;
        return Ok(Some(text.lines().next().unwrap_or("").to_string()));
    }
    if b.password_prompt {
        let prompt = format!("Password for broker `{}`: ", b.name);
        return rpassword::prompt_password(prompt)
            .map(Some)
            .map_err(|e| format!("broker `{}`: cannot prompt for the password: {e}", b.name));
    }
    Ok(None)
}

/// What a session reports, in protocol-neutral terms.
enum Incoming {
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
    /// A SUBSCRIBE went out with this packet id.
    Subscribed(u16),
    /// The broker answered SUBSCRIBE `pkid`: per filter, why it refused (`None`: granted).
    SubAck {
        pkid: u16,
        answers: Vec<Option<String>>,
    },
    Other,
}

trait Session {
    async fn poll(&mut self) -> Result<Incoming, String>;
    fn client(&self) -> Client;
}

fn qos(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
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

struct V311 {
    client: rumqttc::AsyncClient,
    events: rumqttc::EventLoop,
}

impl V311 {
    fn new(spec: &ConnectionSpec) -> V311 {
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
        match self
            .events
            .poll()
            .await
            .map_err(|e| reason(&e.to_string()))?
        {
            Event::Incoming(Packet::ConnAck(_)) => Ok(Incoming::Connected),
            Event::Incoming(Packet::Publish(p)) => Ok(Incoming::Publish {
                topic: Bytes::from(p.topic),
                payload: p.payload,
                retain: p.retain,
                correlation: None,
            }),
            Event::Outgoing(rumqttc::Outgoing::Publish(pkid)) => Ok(Incoming::Written(pkid)),
            Event::Outgoing(rumqttc::Outgoing::Subscribe(pkid)) => Ok(Incoming::Subscribed(pkid)),
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
}

struct V5 {
    client: rumqttc::v5::AsyncClient,
    events: rumqttc::v5::EventLoop,
}

impl V5 {
    fn new(spec: &ConnectionSpec) -> V5 {
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
        match self
            .events
            .poll()
            .await
            .map_err(|e| reason(&e.to_string()))?
        {
            Event::Incoming(Packet::ConnAck(_)) => Ok(Incoming::Connected),
            Event::Incoming(Packet::Publish(p)) => Ok(Incoming::Publish {
                topic: p.topic,
                payload: p.payload,
                retain: p.retain,
                correlation: p.properties.and_then(|pr| pr.correlation_data),
            }),
            Event::Outgoing(rumqttc::Outgoing::Publish(pkid)) => Ok(Incoming::Written(pkid)),
            Event::Outgoing(rumqttc::Outgoing::Subscribe(pkid)) => Ok(Incoming::Subscribed(pkid)),
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
}

/// The broker's reason for refusing a publish, if it refused (MQTT 5 reason codes; "no
/// matching subscribers" is not a refusal).
fn refusal(reason: &impl std::fmt::Debug, text: Option<String>) -> Option<String> {
    let code = format!("{reason:?}");
    if code == "Success" || code == "NoMatchingSubscribers" {
        return None;
    }
    Some(match text {
        Some(t) => format!(
            "broker refused the publish: {code} ({})",
            crate::sanitize::text(&t)
        ),
        None => format!("broker refused the publish: {code}"),
    })
}

/// Turns rumqttc's error text into a short reason a person can act on.
fn reason(e: &str) -> String {
    let lower = e.to_ascii_lowercase();
    if lower.contains("connection refused (os error") {
        "nothing listens there (connection refused)".into()
    } else if lower.contains("badusernamepassword") || lower.contains("badusername") {
        "bad username or password".into()
    } else if lower.contains("notauthorized") {
        "not authorized by the broker".into()
    } else if lower.contains("invalidcertificate") || lower.contains("certificate") {
        format!("TLS certificate problem: {e}")
    } else if lower.contains("failed to lookup address") || lower.contains("name or service") {
        "cannot resolve the broker's host name".into()
    } else {
        e.trim_start_matches("I/O: ").to_string()
    }
}

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
    // Each arm spawns its own concrete session type: the compiler sees those futures are Send.
    match spec.protocol {
        Protocol::V5 => {
            let mut s = V5::new(&spec);
            let started = Started::new(&spec, s.client());
            let (publisher, subs) = (started.publisher.clone(), started.subscriptions.clone());
            tokio::spawn(
                async move { drive(&mut s, &spec, &outlet, publisher.as_ref(), &subs).await },
            );
            started
        }
        Protocol::V311 => {
            let mut s = V311::new(&spec);
            let started = Started::new(&spec, s.client());
            let (publisher, subs) = (started.publisher.clone(), started.subscriptions.clone());
            tokio::spawn(
                async move { drive(&mut s, &spec, &outlet, publisher.as_ref(), &subs).await },
            );
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
) {
    let mut failures = 0u32;
    let mut arrived = Vec::with_capacity(HANDOVER_BATCH);
    outlet.link(LinkState::Connecting).await;
    while !outlet.is_closed() {
        let incoming = delivering_while_idle(session.poll(), outlet, &mut arrived).await;
        let passes_on = !matches!(
            incoming,
            Ok(Incoming::Publish {
                correlation: None,
                ..
            } | Incoming::Subscribed(_)
                | Incoming::Other)
        );
        if passes_on {
            // What arrived before a reply, link change or notice goes first.
            outlet.deliver(&mut arrived);
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
                _ => {
                    // A burst shares the arrival time of its first message: one clock read.
                    let at_ms = arrived.first().map_or_else(super::now_ms, |m| m.at_ms);
                    arrived.push(RawMessage {
                        conn: outlet.conn,
                        topic,
                        payload,
                        retain,
                        at_ms,
                    });
                    if arrived.len() >= HANDOVER_BATCH {
                        outlet.deliver(&mut arrived);
                    }
                }
            },
            Ok(Incoming::Connected) => {
                failures = 0;
                // Clean sessions forget subscriptions: subscribe again after every connect.
                if let Err(e) = subscriptions.renew() {
                    outlet.notice(e).await;
                }
                if let Some(p) = publisher {
                    p.set_up(None);
                }
                outlet.link(LinkState::Connected).await;
            }
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
                let refused_at: Vec<usize> = answers
                    .iter()
                    .enumerate()
                    .filter_map(|(i, why)| why.as_ref().map(|_| i))
                    .collect();
                let asked = subscriptions.answered(pkid, &refused_at);
                if refused_at.is_empty() {
                    continue;
                }
                let refused: Vec<String> = refused_at
                    .iter()
                    .map(|&i| {
                        let filter = asked.get(i).map_or("a filter", String::as_str);
                        let why = answers[i].as_deref().unwrap_or_default();
                        format!("{} ({why})", crate::sanitize::text(filter))
                    })
                    .collect();
                let mut msg = format!("broker refused subscription to {}", refused.join(", "));
                if asked.iter().any(|f| f.starts_with('#')) {
                    msg.push_str(
                        "; public brokers often refuse `#`: pass --subscribe with a narrower filter",
                    );
                }
                tracing::warn!(broker = %spec.name, "{msg}");
                outlet.notice(msg).await;
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
                let delay = backoff(failures);
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

/// Awaits `poll`; whenever it has to wait for the socket, first delivers what has arrived.
/// Messages thus reach the core in bursts, and none is held back while the link is idle.
async fn delivering_while_idle<F: std::future::Future>(
    poll: F,
    outlet: &Outlet,
    arrived: &mut Vec<RawMessage>,
) -> F::Output {
    let mut poll = std::pin::pin!(poll);
    std::future::poll_fn(|cx| {
        let polled = poll.as_mut().poll(cx);
        if polled.is_pending() {
            outlet.deliver(arrived);
        }
        polled
    })
    .await
}

/// A client handle of either protocol.
#[derive(Clone)]
pub enum Client {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

impl Client {
    /// Hands a SUBSCRIBE for `filters` to the connection.
    pub(super) fn subscribe(&self, filters: &[(String, u8)]) -> Result<(), String> {
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
    fn new(spec: &ConnectionSpec, client: Client) -> Publisher {
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
    fn set_up(&self, down: Option<String>) -> Vec<RequestId> {
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
    fn written(&self, pkid: u16) -> Option<(RequestId, bool)> {
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

    fn acked(&self, pkid: u16) -> Option<RequestId> {
        self.lock().unacked.remove(&pkid)
    }
}

/// Exponential backoff from 0.5 s, capped at 30 s, with ±25 % jitter so that many clients
/// do not reconnect in step after a broker restart.
pub fn backoff(failures: u32) -> Duration {
    let exp = BACKOFF_START.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let base = exp.min(BACKOFF_CAP);
    let jitter = 0.75 + fastrand::f64() * 0.5;
    base.mul_f64(jitter).min(BACKOFF_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[tokio::test]
    async fn a_refused_subscription_is_named_with_the_filter_its_subscribe_asked_for() {
        let spec = ConnectionSpec {
            name: "public".into(),
            url: BrokerUrl::parse("mqtt://127.0.0.1:9").unwrap(),
            protocol: Protocol::V5,
            client_id: "t".into(),
            keepalive: Duration::from_secs(30),
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
        let outlet = Outlet::new(0, tx);
        let run = drive(&mut session, &spec, &outlet, None, &subscriptions);
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

    #[tokio::test]
    async fn collected_messages_go_to_the_core_once_the_socket_has_nothing_ready() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let outlet = Outlet::new(0, tx);
        let mut arrived = vec![RawMessage {
            conn: 0,
            topic: Bytes::from_static(b"t"),
            payload: Bytes::from_static(b"1"),
            retain: false,
            at_ms: 7,
        }];
        // Ready at once: nothing is handed over yet.
        let got = delivering_while_idle(async { 1 }, &outlet, &mut arrived).await;
        assert_eq!((got, arrived.len()), (1, 1));
        assert!(rx.try_recv().is_err());
        // Has to wait (yields once): the collected message goes first.
        let waits = async {
            tokio::task::yield_now().await;
            2
        };
        let got = delivering_while_idle(waits, &outlet, &mut arrived).await;
        assert_eq!((got, arrived.len()), (2, 0));
        let Ok(crate::source::SourceEvent::Messages(mailbox)) = rx.try_recv() else {
            panic!("nothing was handed over while the poll waited");
        };
        let mut taken = Vec::new();
        mailbox.take(&mut taken);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].at_ms, 7);
    }

    #[test]
    fn backoff_grows_and_caps() {
        for _ in 0..50 {
            let first = backoff(1);
            assert!(first >= Duration::from_millis(375) && first <= Duration::from_millis(625));
            assert!(backoff(30) <= BACKOFF_CAP);
            assert!(backoff(30) >= BACKOFF_CAP.mul_f64(0.75));
        }
    }

    #[test]
    fn reasons_are_short() {
        assert_eq!(
            reason("I/O: Connection refused (os error 111)"),
            "nothing listens there (connection refused)"
        );
        assert_eq!(
            reason("Connection refused, return code: `BadUserNamePassword`"),
            "bad username or password"
        );
    }

    #[test]
    fn client_ids_name_the_host() {
        let id = default_client_id();
        assert!(id.starts_with("fleetop-"));
        assert_ne!(default_client_id(), id);
    }
}
