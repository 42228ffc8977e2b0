//! The flood publisher for a real broker: rumqttc (MQTT 3.1.1, QoS 0) with a large request
//! channel, on its own thread with its own single-threaded runtime so that publishing does
//! not take the bench's tokio workers away from the pipeline being measured.

use super::flood::{DEVICES, Message, topic};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Requests buffered towards the event loop: deep enough that the publishing task and the
/// event loop each run long stretches without waking the other.
const REQUEST_CAPACITY: usize = 64 * 1024;
/// Topic of the readiness probe; inside `bench/#`, outside the fleet's template.
pub const PROBE_TOPIC: &str = "bench/ready";

/// How a flood went.
#[derive(Debug, Clone, Copy)]
pub struct Published {
    pub messages: u64,
    /// From the first publish call to the DISCONNECT after the last one leaving the socket.
    pub secs: f64,
}

enum Cmd {
    Probe,
    /// `n` messages, as fast as the broker takes them or, with a rate, at that many a
    /// second.
    Flood(u64, Option<f64>, oneshot::Sender<Result<Published, String>>),
}

/// A paced flood publishes in steps of this length: often enough to look steady to a
/// subscriber, rarely enough to cost the publisher little.
const PACE_STEP: Duration = Duration::from_millis(10);

/// A connected publisher waiting for orders. Dropping it closes the command channel,
/// which ends its thread (after a flood in progress).
pub struct Publisher {
    cmds: mpsc::UnboundedSender<Cmd>,
    /// Messages handed to rumqttc so far, for progress lines.
    pub sent: Arc<AtomicU64>,
}

impl Publisher {
    /// Connects to `host:port`; fails with the reason if the broker cannot be reached.
    pub async fn connect(
        host: &str,
        port: u16,
        credentials: Option<(String, String)>,
        block: Arc<Vec<Message>>,
    ) -> Result<Publisher, String> {
        let id = format!("fleetop-bench-pub-{:06x}", fastrand::u32(..0x100_0000));
        let mut o = MqttOptions::new(id, host, port);
        o.set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(1024 * 1024, 1024 * 1024);
        if let Some((u, p)) = credentials {
            o.set_credentials(u, p);
        }
        let (cmds, rx) = mpsc::unbounded_channel();
        let (up_tx, up_rx) = oneshot::channel();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        std::thread::Builder::new()
            .name("bench-publisher".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(serve(o, block, rx, up_tx, counter)),
                    Err(e) => {
                        let _ = up_tx.send(Err(format!("publisher: no runtime: {e}")));
                    }
                }
            })
            .map_err(|e| format!("cannot start the publisher thread: {e}"))?;
        let up = tokio::time::timeout(Duration::from_secs(10), up_rx)
            .await
            .map_err(|_| "the publisher could not connect within 10 s".to_string())?
            .map_err(|_| "the publisher stopped before connecting".to_string())?;
        up.map_err(|e| format!("the publisher could not connect: {e}"))?;
        Ok(Publisher { cmds, sent })
    }

    /// Publishes one message on [`PROBE_TOPIC`].
    pub fn probe(&self) {
        let _ = self.cmds.send(Cmd::Probe);
    }

    /// Starts the flood; the receiver resolves when the last message has left.
    pub fn flood(&self, n: u64) -> oneshot::Receiver<Result<Published, String>> {
        self.send_flood(n, None)
    }

    /// Starts a steady flood of `n` messages at `rate` a second.
    pub fn paced(&self, n: u64, rate: f64) -> oneshot::Receiver<Result<Published, String>> {
        self.send_flood(n, Some(rate))
    }

    fn send_flood(
        &self,
        n: u64,
        rate: Option<f64>,
    ) -> oneshot::Receiver<Result<Published, String>> {
        let (tx, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(Cmd::Flood(_, _, tx))) =
            self.cmds.send(Cmd::Flood(n, rate, tx))
        {
            let _ = tx.send(Err("the publisher has stopped".into()));
        }
        rx
    }
}

/// The publisher thread: drives the event loop and carries out commands.
async fn serve(
    options: MqttOptions,
    block: Arc<Vec<Message>>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    up: oneshot::Sender<Result<(), String>>,
    sent: Arc<AtomicU64>,
) {
    let (client, mut events) = AsyncClient::new(options, REQUEST_CAPACITY);
    let driver = tokio::spawn(async move {
        let mut up = Some(up);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some(up) = up.take() {
                        let _ = up.send(Ok(()));
                    }
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => return Ok(()),
                Ok(_) => {}
                Err(e) => {
                    if let Some(up) = up.take() {
                        let _ = up.send(Err(e.to_string()));
                    }
                    return Err(format!("publisher connection: {e}"));
                }
            }
        }
    });
    // rumqttc wants owned topics; build each device's once and clone per message.
    let topics: Vec<String> = (0..DEVICES).map(topic).collect();
    while let Some(cmd) = cmds.recv().await {
        match cmd {
            Cmd::Probe => {
                let _ = client.try_publish(PROBE_TOPIC, QoS::AtMostOnce, false, "probe");
            }
            Cmd::Flood(n, rate, done) => {
                let started = Instant::now();
                let mut result = Ok(());
                let per_step = rate.map(|r| (r * PACE_STEP.as_secs_f64()).max(1.0) as u64);
                let mut steps = tokio::time::interval(PACE_STEP);
                steps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                for i in 0..n {
                    if let Some(k) = per_step
                        && i % k == 0
                    {
                        steps.tick().await;
                    }
                    let m = &block[i as usize % block.len()];
                    let t = topics[i as usize % DEVICES].clone();
                    if let Err(e) = client
                        .publish_bytes(t, QoS::AtMostOnce, false, m.payload.clone())
                        .await
                    {
                        result = Err(format!("publishing: {e}"));
                        break;
                    }
                    if i % 1024 == 1023 {
                        sent.store(i + 1, Ordering::Relaxed);
                    }
                }
                // The DISCONNECT queues behind the flood: once rumqttc has written it,
                // every message before it has left too.
                let _ = client.disconnect().await;
                let ended = match driver.await {
                    Ok(r) => r,
                    Err(e) => Err(format!("publisher event loop: {e}")),
                };
                sent.store(n, Ordering::Relaxed);
                let _ = done.send(result.and(ended).map(|()| Published {
                    messages: n,
                    secs: started.elapsed().as_secs_f64(),
                }));
                return;
            }
        }
    }
}
