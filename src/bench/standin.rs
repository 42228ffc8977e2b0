//! A loopback stand-in broker for the ceiling bench: it accepts one client, answers CONNECT
//! (MQTT 3.1.1 or 5), SUBSCRIBE and PINGREQ, then streams N pre-encoded QoS 0 PUBLISH
//! packets as fast as the socket takes them. With no broker work in the way, the
//! subscriber is the bottleneck, which is what the ceiling bench wants to see.
//!
//! It runs on its own thread with its own single-threaded runtime, so its writes never
//! compete with the subscriber for the bench's tokio workers.

use super::flood::{Encoded, Message, Mqtt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::oneshot;

/// Bytes handed to the socket per write: big enough to amortise the syscall, small enough
/// to answer a PINGREQ between chunks.
const CHUNK: usize = 256 * 1024;
/// Control packets are tiny; anything bigger is not a client we serve.
const MAX_CONTROL_PACKET: usize = 64 * 1024;
/// How long to wait for the subscriber to connect and subscribe.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// The flood pre-encoded for both protocol versions, shared by every stand-in of a run.
#[derive(Debug)]
pub struct Prepared {
    pub v311: Encoded,
    pub v5: Encoded,
}

impl Prepared {
    pub fn new(block: &[Message]) -> Prepared {
        Prepared {
            v311: Encoded::new(block, Mqtt::V311),
            v5: Encoded::new(block, Mqtt::V5),
        }
    }

    fn get(&self, mqtt: Mqtt) -> &Encoded {
        match mqtt {
            Mqtt::V311 => &self.v311,
            Mqtt::V5 => &self.v5,
        }
    }
}

/// What a stand-in did for its client.
#[derive(Debug, Clone)]
pub struct Served {
    pub mqtt: Mqtt,
    pub messages: u64,
    pub bytes: u64,
    /// From the first PUBLISH byte written to the last one accepted by the socket.
    pub writing: Duration,
}

/// A running stand-in; [`StandIn::finish`] stops it and says what it served.
pub struct StandIn {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    subscribed: Option<oneshot::Receiver<()>>,
    go: Option<oneshot::Sender<()>>,
    thread: std::thread::JoinHandle<Result<Served, String>>,
}

impl StandIn {
    /// Binds 127.0.0.1 on a free port and serves the first client that connects. A `gated`
    /// stand-in waits after the SUBACK until [`StandIn::go`], so the bench can take a
    /// baseline of the subscriber between its handshake and the stream.
    pub fn start(prepared: Arc<Prepared>, messages: u64, gated: bool) -> Result<StandIn, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| format!("stand-in broker: cannot listen on 127.0.0.1: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("stand-in broker: {e}"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let (subscribed_tx, subscribed) = oneshot::channel::<()>();
        let (go, go_rx) = oneshot::channel::<()>();
        let gate = Gate {
            subscribed: subscribed_tx,
            go: gated.then_some(go_rx),
        };
        let thread = std::thread::Builder::new()
            .name("bench-standin".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("stand-in broker: no runtime: {e}"))?;
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .map_err(|e| format!("stand-in broker: {e}"))?;
                    let mut served = None;
                    tokio::select! {
                        r = serve(listener, &prepared, messages, gate, &mut served) => r?,
                        _ = stopped => {}
                    }
                    served.ok_or_else(|| "stopped before the stream was complete".to_string())
                })
            })
            .map_err(|e| format!("stand-in broker: cannot start its thread: {e}"))?;
        Ok(StandIn {
            addr,
            stop: Some(stop),
            subscribed: Some(subscribed),
            go: Some(go),
            thread,
        })
    }

    /// Resolves once the client has subscribed (its SUBACK is written).
    pub async fn subscribed(&mut self, limit: Duration) -> Result<(), String> {
        let rx = self
            .subscribed
            .take()
            .ok_or("already waited for the subscription")?;
        tokio::time::timeout(limit, rx)
            .await
            .map_err(|_| format!("the subscriber did not subscribe within {limit:?}"))?
            .map_err(|_| "the stand-in broker stopped before the subscription".to_string())
    }

    /// Starts a gated stand-in's stream.
    pub fn go(&mut self) {
        if let Some(go) = self.go.take() {
            let _ = go.send(());
        }
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// Stops serving (closing the client's connection) and reports.
    pub fn finish(mut self) -> Result<Served, String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread
            .join()
            .map_err(|_| "stand-in broker thread panicked".to_string())?
    }
}

/// The stand-in's side of [`StandIn::subscribed`] and [`StandIn::go`].
struct Gate {
    subscribed: oneshot::Sender<()>,
    go: Option<oneshot::Receiver<()>>,
}

/// Serves one client: handshake, the stream, then pings until the client leaves. `served`
/// is filled in as soon as the stream is written, since the bench may stop us any time after.
async fn serve(
    listener: tokio::net::TcpListener,
    prepared: &Prepared,
    messages: u64,
    gate: Gate,
    served: &mut Option<Served>,
) -> Result<(), String> {
    let (stream, _) = tokio::time::timeout(HANDSHAKE_TIMEOUT, listener.accept())
        .await
        .map_err(|_| "no subscriber connected to the stand-in broker".to_string())?
        .map_err(|e| format!("stand-in broker: accept: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mqtt = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut rd, &mut wr))
        .await
        .map_err(|_| "the subscriber did not subscribe within 20 s".to_string())??;
    let _ = gate.subscribed.send(());
    if let Some(go) = gate.go {
        // A dropped sender also means go: the bench has stopped caring about the gate.
        let _ = go.await;
    }

    // From here the reader only counts pings and notices the client leaving; the writer
    // owns the write side, so replies go out between chunks, on packet boundaries.
    let pings = AtomicUsize::new(0);
    let reader = async {
        while let Ok((kind, _)) = read_packet(&mut rd).await {
            match kind >> 4 {
                12 => {
                    pings.fetch_add(1, Ordering::Relaxed);
                }
                14 => break,
                _ => {}
            }
        }
    };
    tokio::pin!(reader);
    let encoded = prepared.get(mqtt);
    let started = Instant::now();
    tokio::select! {
        r = stream_packets(&mut wr, encoded, messages, &pings) => r?,
        () = &mut reader => return Err("the subscriber disconnected during the stream".into()),
    }
    *served = Some(Served {
        mqtt,
        messages,
        bytes: encoded.wire_bytes(messages),
        writing: started.elapsed(),
    });
    // Stay up (closing could cut off bytes the client has not read yet) until it leaves.
    loop {
        tokio::select! {
            () = &mut reader => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(100)) => answer_pings(&mut wr, &pings).await?,
        }
    }
}

/// CONNECT → CONNACK, then SUBSCRIBE → SUBACK (answering pings meanwhile).
async fn handshake<R: AsyncRead + Unpin>(
    rd: &mut R,
    wr: &mut OwnedWriteHalf,
) -> Result<Mqtt, String> {
    let io = |e: std::io::Error| format!("stand-in broker: {e}");
    let (kind, body) = read_packet(rd).await.map_err(io)?;
    if kind >> 4 != 1 {
        return Err(format!(
            "stand-in broker: expected CONNECT, got packet type {}",
            kind >> 4
        ));
    }
    let mqtt = connect_version(&body)?;
    let connack: &[u8] = match mqtt {
        Mqtt::V311 => &[0x20, 2, 0, 0],
        // Session present 0, reason Success, no properties.
        Mqtt::V5 => &[0x20, 3, 0, 0, 0],
    };
    wr.write_all(connack).await.map_err(io)?;
    loop {
        let (kind, body) = read_packet(rd).await.map_err(io)?;
        match kind >> 4 {
            8 => {
                wr.write_all(&suback(&body, mqtt)?).await.map_err(io)?;
                return Ok(mqtt);
            }
            12 => wr.write_all(&[0xd0, 0]).await.map_err(io)?,
            14 => return Err("the subscriber disconnected before subscribing".into()),
            _ => {}
        }
    }
}

/// The protocol level in a CONNECT body: 5 is MQTT 5; 3 (3.1) and 4 (3.1.1) share the
/// encoding of everything the stand-in sends.
fn connect_version(body: &[u8]) -> Result<Mqtt, String> {
    let name_len = body
        .get(..2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or("stand-in broker: CONNECT too short")?;
    match body.get(2 + name_len) {
        Some(5) => Ok(Mqtt::V5),
        Some(3 | 4) => Ok(Mqtt::V311),
        Some(v) => Err(format!(
            "stand-in broker: unsupported MQTT protocol level {v}"
        )),
        None => Err("stand-in broker: CONNECT too short".into()),
    }
}

/// A SUBACK granting QoS 0 to every filter of a SUBSCRIBE body.
fn suback(body: &[u8], mqtt: Mqtt) -> Result<Vec<u8>, String> {
    let short = || "stand-in broker: SUBSCRIBE too short".to_string();
    let pid = body.get(..2).ok_or_else(short)?;
    let mut at = 2;
    if mqtt == Mqtt::V5 {
        let (props, used) = varint(body.get(2..).ok_or_else(short)?).ok_or_else(short)?;
        at += used + props;
    }
    let mut filters = 0;
    while at < body.len() {
        let len = body
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or_else(short)?;
        at += 2 + len + 1;
        filters += 1;
    }
    let props = usize::from(mqtt == Mqtt::V5);
    let mut out = vec![0x90];
    super::flood::put_len(&mut out, 2 + props + filters);
    out.extend_from_slice(pid);
    if props == 1 {
        out.push(0);
    }
    out.resize(out.len() + filters, 0);
    Ok(out)
}

/// An MQTT variable byte integer: (value, bytes used).
fn varint(b: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in b.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Reads one control packet: (first byte, body).
async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(u8, Vec<u8>)> {
    let kind = r.read_u8().await?;
    let mut len_bytes = Vec::with_capacity(4);
    loop {
        let b = r.read_u8().await?;
        len_bytes.push(b);
        if b & 0x80 == 0 || len_bytes.len() == 4 {
            break;
        }
    }
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let (len, _) = varint(&len_bytes).ok_or_else(|| bad("bad remaining length"))?;
    if len > MAX_CONTROL_PACKET {
        return Err(bad("control packet too large"));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
    Ok((kind, body))
}

/// Writes `messages` packets, cycling through the block, in chunks cut at packet starts.
async fn stream_packets(
    wr: &mut OwnedWriteHalf,
    enc: &Encoded,
    messages: u64,
    pings: &AtomicUsize,
) -> Result<(), String> {
    let per = enc.len().max(1) as u64;
    let mut left = messages;
    while left > 0 {
        let take = left.min(per) as usize;
        let end = enc.starts[take];
        let mut at = 0;
        while at < end {
            // The first packet start past `at + CHUNK`, or the end of this round.
            let i = enc.starts.partition_point(|&s| s < at + CHUNK);
            let next = enc.starts.get(i).copied().unwrap_or(end).min(end);
            wr.write_all(&enc.bytes[at..next])
                .await
                .map_err(|e| format!("stand-in broker: writing the stream: {e}"))?;
            answer_pings(wr, pings).await?;
            at = next;
        }
        left -= take as u64;
    }
    wr.flush()
        .await
        .map_err(|e| format!("stand-in broker: {e}"))
}

async fn answer_pings(wr: &mut OwnedWriteHalf, pings: &AtomicUsize) -> Result<(), String> {
    while pings.load(Ordering::Relaxed) > 0 {
        pings.fetch_sub(1, Ordering::Relaxed);
        wr.write_all(&[0xd0, 0])
            .await
            .map_err(|e| format!("stand-in broker: answering a ping: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_protocol_levels() {
        let v311 = [0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60];
        let v5 = [0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0];
        assert_eq!(connect_version(&v311), Ok(Mqtt::V311));
        assert_eq!(connect_version(&v5), Ok(Mqtt::V5));
        assert!(connect_version(&[0, 4, b'M']).is_err());
        assert!(connect_version(&[0, 4, b'M', b'Q', b'T', b'T', 9]).is_err());
    }

    #[test]
    fn subacks_grant_every_filter() {
        // Packet id 7, filters "a/#" and "b" (each with an options byte).
        let v311 = [0, 7, 0, 3, b'a', b'/', b'#', 0, 0, 1, b'b', 0];
        assert_eq!(suback(&v311, Mqtt::V311).unwrap(), [0x90, 4, 0, 7, 0, 0]);
        let v5 = [0, 7, 0, 0, 3, b'a', b'/', b'#', 0];
        assert_eq!(suback(&v5, Mqtt::V5).unwrap(), [0x90, 4, 0, 7, 0, 0]);
        assert!(suback(&[0], Mqtt::V311).is_err());
        assert!(suback(&[0, 1, 0, 9, b'a'], Mqtt::V311).is_ok());
    }

    #[test]
    fn varints() {
        assert_eq!(varint(&[0]), Some((0, 1)));
        assert_eq!(varint(&[0x80, 1]), Some((128, 2)));
        assert_eq!(varint(&[0xff, 0xff, 0xff, 0xff]), None);
    }
}
