//! rumqttc's bare event loop: a client that subscribes and only counts Publish events.
//! Nothing downstream of the socket can be faster than this, so it is the reference for
//! what fleetop's pipeline could reach on the same stream.

use super::Tally;
use super::flood::{FILTER, Mqtt};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The options fleetop's own connections use (see `source::mqtt`), so the comparison is fair.
const MAX_PACKET: usize = 16 * 1024 * 1024;
const REQUEST_CAPACITY: usize = 1024;
const KEEPALIVE: Duration = Duration::from_secs(30);
const OUTGOING_INFLIGHT: u16 = 100;

/// Receives `n` messages from the broker at `addr`; gives up after `limit`.
pub async fn count(addr: SocketAddr, mqtt: Mqtt, n: u64, limit: Duration) -> Result<Tally, String> {
    let host = addr.ip().to_string();
    let id = format!("fleetop-bench-bare-{:06x}", fastrand::u32(..0x100_0000));
    let run = async {
        match mqtt {
            Mqtt::V311 => v311(&id, &host, addr.port(), n).await,
            Mqtt::V5 => v5(&id, &host, addr.port(), n).await,
        }
    };
    tokio::time::timeout(limit, run)
        .await
        .map_err(|_| format!("rumqttc ({mqtt}) did not receive {n} messages within {limit:?}"))?
}

async fn v311(id: &str, host: &str, port: u16, n: u64) -> Result<Tally, String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut o = MqttOptions::new(id, host, port);
    o.set_keep_alive(KEEPALIVE)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
    let (client, mut events) = AsyncClient::new(o, REQUEST_CAPACITY);
    client
        .subscribe(FILTER, QoS::AtMostOnce)
        .await
        .map_err(|e| e.to_string())?;
    let mut tally = Tally::default();
    let mut got = 0u64;
    while got < n {
        match events.poll().await {
            Ok(Event::Incoming(Packet::Publish(_))) => {
                got += 1;
                if got == 1 {
                    tally.note(Instant::now(), 1);
                }
            }
            Ok(_) => {}
            Err(e) => return Err(format!("rumqttc (MQTT 3.1.1): {e}")),
        }
    }
    tally.note(Instant::now(), got);
    Ok(tally)
}

async fn v5(id: &str, host: &str, port: u16, n: u64) -> Result<Tally, String> {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};
    let mut o = MqttOptions::new(id, host, port);
    o.set_keep_alive(KEEPALIVE)
        .set_outgoing_inflight_upper_limit(OUTGOING_INFLIGHT)
        .set_max_packet_size(Some(MAX_PACKET as u32));
    let (client, mut events) = AsyncClient::new(o, REQUEST_CAPACITY);
    client
        .subscribe(FILTER, QoS::AtMostOnce)
        .await
        .map_err(|e| e.to_string())?;
    let mut tally = Tally::default();
    let mut got = 0u64;
    while got < n {
        match events.poll().await {
            Ok(Event::Incoming(Packet::Publish(_))) => {
                got += 1;
                if got == 1 {
                    tally.note(Instant::now(), 1);
                }
            }
            Ok(_) => {}
            Err(e) => return Err(format!("rumqttc (MQTT 5): {e}")),
        }
    }
    tally.note(Instant::now(), got);
    Ok(tally)
}
