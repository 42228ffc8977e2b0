//! The simulator's MQTT 5 connections: a small pool that carries all telemetry, one client
//! that takes commands and sends replies, and one client per gateway that exists for its last
//! will. Each event loop runs in its own task; a lost connection is retried with backoff and
//! counted, never fatal once the simulation runs.

use super::SimStats;
use crate::config::url::{BrokerUrl, Scheme};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet, Publish};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use rumqttc::{Outgoing, TlsConfiguration, Transport};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a first connection may take before the simulator gives up on the broker.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest packet we send or accept; weather reports are under 1 KiB.
const MAX_PACKET: u32 = 64 * 1024;
/// QoS 1 messages in flight per client (goodbyes, replies, gateway status).
const MAX_INFLIGHT: u16 = 100;

/// Builds client options for one broker URL.
#[derive(Clone)]
pub(crate) struct Connector {
    url: BrokerUrl,
    text: String,
    tls: Option<TlsConfiguration>,
    /// Random per run: two simulators (even with the same seed) never share client ids.
    run_id: String,
}

impl Connector {
    pub fn new(url: &str) -> Result<Connector, String> {
        let parsed = BrokerUrl::parse(url)?;
        let tls = if parsed.scheme.is_tls() {
            Some(TlsConfiguration::Rustls(tls_config(url)?))
        } else {
            None
        };
        let run_id: String = (0..6).map(|_| fastrand::alphanumeric()).collect();
        Ok(Connector {
            url: parsed,
            text: url.to_string(),
            tls,
            run_id: run_id.to_ascii_lowercase(),
        })
    }

    pub fn url(&self) -> &str {
        &self.text
    }

    /// Options for a client playing `role` (`pub0`, `cmd`, `gw-cgw-north-2`).
    pub fn options(&self, role: &str) -> MqttOptions {
        let id = format!("fleetop-sim-{}-{role}", self.run_id);
        let mut o = match self.url.scheme {
            Scheme::Ws | Scheme::Wss => {
                MqttOptions::new(id, self.url.websocket_url(), self.url.port)
            }
            Scheme::Mqtt | Scheme::Mqtts => {
                MqttOptions::new(id, self.url.host.clone(), self.url.port)
            }
        };
        let transport = match (self.url.scheme, &self.tls) {
            (Scheme::Mqtts, Some(tls)) => Transport::Tls(tls.clone()),
            (Scheme::Wss, Some(tls)) => Transport::Wss(tls.clone()),
            (Scheme::Ws, _) => Transport::Ws,
            _ => Transport::Tcp,
        };
        o.set_transport(transport);
        if let Some(user) = &self.url.username {
            // Public test brokers take any user name; passwords are not supported here.
            o.set_credentials(user.clone(), "");
        }
        o.set_keep_alive(Duration::from_secs(30));
        o.set_max_packet_size(Some(MAX_PACKET));
        o.set_connection_timeout(CONNECT_TIMEOUT.as_secs());
        // rumqttc's v5 state preallocates one slot per possible in-flight packet id: 65,536
        // by default, about 14 MB per client. The simulator sends little at QoS 1.
        o.set_outgoing_inflight_upper_limit(MAX_INFLIGHT);
        o
    }
}

/// TLS through the same code fleetop's own connections use (system roots, verification on).
fn tls_config(url: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    let text = format!(
        "[[broker]]\nname = \"simulate\"\nurl = {}\n",
        toml::Value::String(url.to_string())
    );
    let config = crate::config::Config::parse(&text, None).map_err(|e| e.0)?;
    let broker = config
        .brokers
        .first()
        .ok_or("internal: the simulator's broker entry vanished")?;
    crate::source::tls::client_config(broker)
}

/// A connected client with its event loop running in a task. Dropping it cuts the
/// connection (no DISCONNECT, so a last will fires); [`close_all`] leaves cleanly.
pub(crate) struct Link {
    pub client: AsyncClient,
    /// `None` once [`close_all`] has taken it.
    task: Option<JoinHandle<()>>,
}

impl Drop for Link {
    fn drop(&mut self) {
        // The event loop holds a client handle of its own (to resubscribe), so it would
        // outlive this Link and reconnect forever if not stopped here.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Link {
    /// Connects and waits for the broker's CONNACK, so a broker that refuses or is not there
    /// is reported at once with a reason. `incoming` receives publishes; `subscribe` is
    /// (re)subscribed after every connection, since sessions are not kept.
    pub async fn connect(
        connector: &Connector,
        options: MqttOptions,
        capacity: usize,
        stats: Arc<SimStats>,
        incoming: Option<mpsc::Sender<Publish>>,
        subscribe: Option<String>,
    ) -> Result<Link, String> {
        let (client, mut eventloop) = AsyncClient::new(options, capacity);
        let first = tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_secs(1), async {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
        })
        .await;
        match first {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(describe(connector.url(), &e)),
            Err(_) => {
                return Err(format!(
                    "cannot connect to {}: no answer within {}s",
                    connector.url(),
                    CONNECT_TIMEOUT.as_secs()
                ));
            }
        }
        if let Some(filter) = &subscribe {
            client
                .subscribe(filter.clone(), QoS::AtLeastOnce)
                .await
                .map_err(|e| format!("cannot subscribe to {filter}: {e}"))?;
        }
        let task = tokio::spawn(drive(eventloop, client.clone(), stats, incoming, subscribe));
        Ok(Link {
            client,
            task: Some(task),
        })
    }

    /// Drops the connection without DISCONNECT, so the broker publishes the last will.
    pub fn kill(self) {
        drop(self);
    }
}

/// Closes links cleanly and together: DISCONNECT to all (after whatever each has queued),
/// then one shared deadline, after which the stragglers (a broker that went away) are cut.
pub(crate) async fn close_all(links: Vec<Link>, deadline: std::time::Instant) {
    for link in &links {
        let _ = link.client.try_disconnect();
    }
    for mut link in links {
        let Some(mut task) = link.task.take() else {
            continue;
        };
        if tokio::time::timeout_at(deadline.into(), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// Options for a gateway: its last will says `offline`, retained, like its `online`.
pub(crate) fn with_will(mut options: MqttOptions, topic: &str, offline: &str) -> MqttOptions {
    options.set_last_will(LastWill::new(topic, offline, QoS::AtLeastOnce, true, None));
    options
}

/// Polls an event loop until the client says goodbye or every handle is dropped.
async fn drive(
    mut eventloop: EventLoop,
    client: AsyncClient,
    stats: Arc<SimStats>,
    incoming: Option<mpsc::Sender<Publish>>,
    subscribe: Option<String>,
) {
    let mut backoff = Duration::from_millis(500);
    let mut leaving = false;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if let Some(tx) = &incoming
                    && tx.try_send(p).is_err()
                {
                    stats.commands_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(500);
                if let Some(filter) = &subscribe {
                    let _ = client.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                }
            }
            // Keep reading until the broker closes: dropping the socket while its acks sit
            // unread in our buffer makes the kernel send RST, and the broker may then discard
            // our last publishes (the goodbye) before it reads them.
            Ok(Event::Outgoing(Outgoing::Disconnect)) => leaving = true,
            Ok(_) => {}
            Err(ConnectionError::RequestsDone) => return,
            Err(_) if leaving => return,
            Err(e) => {
                stats.reconnects.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("simulator connection lost: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff + Duration::from_millis(fastrand::u64(..250))).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// A connection error phrased for the person running `fleetop simulate`.
fn describe(url: &str, e: &ConnectionError) -> String {
    let why = match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection ({code:?})")
        }
        ConnectionError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "nothing accepts connections there (is the broker running, is the port right?)".into()
        }
        other => other.to_string(),
    };
    format!("cannot connect to {url}: {why}")
}
