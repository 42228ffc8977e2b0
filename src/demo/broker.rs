//! An MQTT broker inside the process (rumqttd), so `fleetop demo` and the tests need no broker
//! installed: one MQTT 5 and one MQTT 3.1.1 listener, each on a free loopback port.
//!
//! rumqttd's own `Broker::start` spawns a thread per listener, logs a failed bind and carries
//! on, and never returns while any listener lives — it cannot tell us that a port was taken.
//! So this module assembles the same parts itself: one router (`Router::spawn`) and one
//! `Server` per listener, driven on a runtime we own. A failed bind then comes back as an
//! error and we retry on another port, and dropping the [`EmbeddedBroker`] closes the
//! listeners and every client connection. (The router's own thread cannot be stopped; it
//! stays idle until the process exits.)
//!
//! rumqttd logs through `tracing`; nothing here writes to the terminal.
//!
//! MQTT 5 properties: rumqttd keeps a publish's properties (response topic, correlation data,
//! user properties, content type) in its commit log and writes them out again to MQTT 5
//! subscribers, so request/response commands work through it; 3.1.1 subscribers get the
//! message without properties. `tests/demo_sim.rs` checks the round trip.

use rumqttd::protocol::Protocol;
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::v5::V5;
use rumqttd::{ConnectionSettings, LinkType, Router, RouterConfig, Server, ServerSettings};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::time::{Duration, Instant};

/// Ports tried per listener before giving up.
const BIND_ATTEMPTS: usize = 5;
/// How long a freshly bound listener gets to accept a probe connection.
const LISTEN_PROBE: Duration = Duration::from_secs(3);
/// How long `start` waits for the broker thread to report.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running in-process broker. Dropping it closes its listeners and client connections.
#[derive(Debug)]
pub struct EmbeddedBroker {
    v5_port: u16,
    v311_port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts the broker on two free 127.0.0.1 ports and returns once both accept connections.
    /// Blocking (at most a few seconds); the error says why the broker could not start.
    pub fn start() -> Result<EmbeddedBroker, String> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("fleetop-broker".into())
            .spawn(move || serve(ready_tx, shutdown_rx))
            .map_err(|e| format!("embedded broker: cannot start its thread: {e}"))?;
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok((v5_port, v311_port))) => Ok(EmbeddedBroker {
                v5_port,
                v311_port,
                shutdown: Some(shutdown_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(format!(
                "embedded broker: its listeners did not come up within {}s (is the machine \
                 out of threads or file descriptors?)",
                START_TIMEOUT.as_secs()
            )),
        }
    }

    /// `mqtt://127.0.0.1:PORT` of the MQTT 5 listener.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.v5_port)
    }

    /// `mqtt://127.0.0.1:PORT` of the MQTT 3.1.1 listener.
    pub fn url_v311(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.v311_port)
    }

    pub fn port(&self) -> u16 {
        self.v5_port
    }

    pub fn port_v311(&self) -> u16 {
        self.v311_port
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sized for the simulator at 10,000 devices and well over 50k msg/s, with memory bounded.
///
/// rumqttd keeps every message in a commit log per subscription filter until the log rolls
/// over (`max_segment_size` bytes per segment, `max_segment_count` segments), whether or not
/// subscribers have read it; its size accounting counts only topic and payload, and each entry
/// costs ~250 bytes more, so small messages use several times the nominal size. 2 MiB x 3 keeps
/// a filter under ~25 MB in the worst case and still buffers a fraction of a second at 50k msg/s
/// (a subscriber further behind skips ahead rather than stalling the broker).
fn router_config() -> RouterConfig {
    RouterConfig {
        max_connections: 10_240,
        // Publishes moved to a subscriber per router pass: bigger batches, fewer wake-ups.
        max_outgoing_packet_count: 1_000,
        max_segment_size: 2 * 1024 * 1024,
        max_segment_count: 3,
        ..RouterConfig::default()
    }
}

fn server_settings(name: &str, port: u16) -> ServerSettings {
    ServerSettings {
        name: name.into(),
        listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)),
        tls: None,
        // rumqttd sleeps this long after each accept; the simulator opens dozens of gateway
        // connections at once and a test opens many more.
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            // fleetop's default payload cap is 256 KiB; let a larger payload reach fleetop so
            // it is refused and counted there, where a user can see it.
            max_payload_size: 1024 * 1024,
            max_inflight_count: 1_000,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    }
}

type Listener = Pin<Box<dyn Future<Output = String>>>;

/// The broker thread: router, two listeners, then wait for shutdown.
fn serve(
    ready: std::sync::mpsc::Sender<Result<(u16, u16), String>>,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("fleetop-broker-io")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!(
                "embedded broker: cannot start its runtime: {e}"
            )));
            return;
        }
    };
    let router_tx = Router::new(0, router_config()).spawn();
    runtime.block_on(async move {
        let tx = router_tx.clone();
        let v5 = bind("MQTT 5", |port| {
            Server::new(server_settings("fleetop-v5", port), tx.clone(), V5)
        })
        .await;
        let tx = router_tx.clone();
        let v311 = bind("MQTT 3.1.1", |port| {
            Server::new(server_settings("fleetop-v311", port), tx.clone(), V4)
        })
        .await;
        let ((v5_port, v5_run), (v311_port, v311_run)) = match (v5, v311) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok((v5_port, v311_port)));
        tokio::select! {
            e = v5_run => tracing::error!("embedded broker: MQTT 5 listener stopped: {e}"),
            e = v311_run => tracing::error!("embedded broker: MQTT 3.1.1 listener stopped: {e}"),
            _ = shutdown => {}
        }
    });
    // Closes the listeners and cancels every connection task; their sockets close with them.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// Binds a listener on a free port, retrying other ports if the one picked was taken
/// between our probe and rumqttd's bind. Returns the port and the running accept loop.
async fn bind<P: Protocol + Clone + Send + 'static>(
    what: &str,
    mut make: impl FnMut(u16) -> Server<P>,
) -> Result<(u16, Listener), String> {
    let mut last = String::new();
    for _ in 0..BIND_ATTEMPTS {
        let port = match free_port() {
            Ok(p) => p,
            Err(e) => {
                last = format!("no free loopback port: {e}");
                continue;
            }
        };
        let mut server = make(port);
        let mut run: Listener = Box::pin(async move {
            match server.start(LinkType::Remote).await {
                Ok(()) => "accept loop ended".to_string(),
                Err(e) => e.to_string(),
            }
        });
        // `Server::start` binds before its first await point: if it is still running once a
        // probe connects, the listener on that port is ours.
        tokio::select! {
            e = &mut run => last = format!("port {port}: {e}"),
            up = accepts(port) => {
                if up {
                    return Ok((port, run));
                }
                last = format!("port {port}: bound but not accepting connections");
            }
        }
    }
    Err(format!(
        "embedded broker: the {what} listener could not bind a loopback port after \
         {BIND_ATTEMPTS} tries (last error: {last})"
    ))
}

/// Asks the OS for a free ephemeral port. rumqttd binds by address only, so the port is
/// released again and may (rarely) be taken before rumqttd binds it; `bind` retries then.
fn free_port() -> std::io::Result<u16> {
    let socket = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(socket.local_addr()?.port())
}

/// True once a TCP connection to the port succeeds.
async fn accepts(port: u16) -> bool {
    let deadline = Instant::now() + LISTEN_PROBE;
    loop {
        if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .is_ok()
        {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_two_listeners_and_stops_on_drop() {
        let broker = EmbeddedBroker::start().expect("broker starts");
        assert_ne!(broker.port(), broker.port_v311());
        assert!(broker.url().starts_with("mqtt://127.0.0.1:"));
        let port = broker.port();
        assert!(std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok());
        drop(broker);
        assert!(std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
    }

    #[test]
    fn two_brokers_at_once_get_different_ports() {
        let a = EmbeddedBroker::start().expect("first broker");
        let b = EmbeddedBroker::start().expect("second broker");
        assert_ne!(a.url(), b.url());
    }
}
