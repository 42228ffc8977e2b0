//! The flood: JSON telemetry as real tank firmware sends it (the device's own name, a
//! timestamp a few seconds old, eleven fields of numbers, strings and a boolean, ~170 B)
//! over 1,000 devices, and the MQTT bytes that carry it. Messages are generated once into a block that publishers and the stand-in
//! broker cycle through, so no generation cost lands inside a measurement.

use bytes::Bytes;

/// Devices the flood rotates over: message `i` belongs to device `i % DEVICES`.
pub const DEVICES: usize = 1000;
/// Distinct messages generated; longer floods cycle through them. A multiple of
/// [`DEVICES`] so that every device keeps its turn across the wrap.
pub const BLOCK: usize = 64 * DEVICES;
/// Topic filter every subscriber uses.
pub const FILTER: &str = "bench/#";
/// The fleet template that maps the flood's topics.
pub const TEMPLATE: &str = "bench/tanks/{device}/telemetry";

/// One message of the flood.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: Bytes,
    pub payload: Bytes,
}

/// The name of device `d` (0-based): `tank-0001`.
pub fn device(d: usize) -> String {
    format!("tank-{:04}", d + 1)
}

/// The topic of device `d` (0-based): `bench/tanks/tank-0001/telemetry`.
pub fn topic(d: usize) -> String {
    format!("bench/tanks/{}/telemetry", device(d))
}

/// How old the flood's sample timestamps are when it is generated: devices buffer and
/// links delay, so real samples arrive seconds after they were taken.
const SAMPLE_AGE_MS: i64 = 5_000;

/// What a tank reports; each device drifts a little from message to message.
#[derive(Debug, Clone, Copy)]
struct Tank {
    level_pct: f64,
    temp_c: f64,
    battery_v: f64,
    rssi: i32,
    flow_lpm: f64,
    pressure_bar: f64,
}

impl Tank {
    fn new(rng: &mut fastrand::Rng) -> Tank {
        Tank {
            level_pct: 20.0 + rng.f64() * 70.0,
            temp_c: 5.0 + rng.f64() * 25.0,
            battery_v: 3.3 + rng.f64() * 0.9,
            rssi: -(45 + rng.i32(0..50)),
            flow_lpm: rng.f64() * 40.0,
            pressure_bar: 1.0 + rng.f64() * 3.0,
        }
    }

    fn drift(&mut self, rng: &mut fastrand::Rng) {
        let step = |rng: &mut fastrand::Rng, scale: f64| (rng.f64() - 0.5) * scale;
        self.level_pct = (self.level_pct + step(rng, 1.0)).clamp(0.0, 100.0);
        self.temp_c += step(rng, 0.2);
        self.battery_v = (self.battery_v - rng.f64() * 0.001).max(3.0);
        self.rssi = (self.rssi + rng.i32(-2..=2)).clamp(-110, -30);
        self.flow_lpm = (self.flow_lpm + step(rng, 2.0)).max(0.0);
        self.pressure_bar = (self.pressure_bar + step(rng, 0.1)).max(0.0);
    }

    fn payload(&self, device: &str, seq: usize, ts_ms: i64) -> String {
        let pump = if self.flow_lpm > 5.0 { "ON" } else { "OFF" };
        let valve = if self.pressure_bar > 2.5 {
            "OPEN"
        } else {
            "CLOSED"
        };
        let alarm = self.level_pct < 10.0;
        format!(
            "{{\"device\":\"{device}\",\"level_pct\":{:.2},\"temp_c\":{:.1},\
             \"battery_v\":{:.2},\"rssi\":{},\"pump\":\"{pump}\",\"valve\":\"{valve}\",\
             \"flow_lpm\":{:.1},\"low_alarm\":{alarm},\"seq\":{seq},\"ts\":{ts_ms}}}",
            self.level_pct, self.temp_c, self.battery_v, self.rssi, self.flow_lpm,
        )
    }
}

/// The first `min(n, BLOCK)` messages of the flood, the same for the same `n` but for
/// their timestamps, which end [`SAMPLE_AGE_MS`] before now.
pub fn block(n: u64) -> Vec<Message> {
    block_over(n, DEVICES)
}

/// The flood spread over `devices` devices: at most [`BLOCK`] messages rounded up to a
/// multiple of `devices`, so every device keeps its turn across the wrap.
pub fn block_over(n: u64, devices: usize) -> Vec<Message> {
    let devices = devices.max(1);
    let len = (n as usize).min(BLOCK.div_ceil(devices) * devices);
    let mut rng = fastrand::Rng::with_seed(0x7a_4b_5e_ed);
    let mut tanks: Vec<Tank> = (0..devices).map(|_| Tank::new(&mut rng)).collect();
    let topics: Vec<Bytes> = (0..devices).map(|d| Bytes::from(topic(d))).collect();
    let names: Vec<String> = (0..devices).map(device).collect();
    let rounds = len.div_ceil(devices).max(1) as i64;
    let first_ts = crate::source::now_ms() - SAMPLE_AGE_MS;
    (0..len)
        .map(|i| {
            let d = i % devices;
            let seq = i / devices;
            tanks[d].drift(&mut rng);
            // Each device's samples are spread over the SAMPLE_AGE_MS before now.
            let ts = first_ts + seq as i64 * SAMPLE_AGE_MS / rounds;
            Message {
                topic: topics[d].clone(),
                payload: Bytes::from(tanks[d].payload(&names[d], seq, ts)),
            }
        })
        .collect()
}

/// Mean payload size of a block, for the header line.
pub fn mean_payload(block: &[Message]) -> f64 {
    let total: usize = block.iter().map(|m| m.payload.len()).sum();
    total as f64 / block.len().max(1) as f64
}

/// MQTT protocol of a connection, as its CONNECT said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mqtt {
    V311,
    V5,
}

impl std::fmt::Display for Mqtt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mqtt::V311 => "MQTT 3.1.1",
            Mqtt::V5 => "MQTT 5",
        })
    }
}

/// Appends MQTT's variable-length "remaining length".
pub fn put_len(buf: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        buf.push(byte);
        if len == 0 {
            break;
        }
    }
}

/// Appends one QoS 0 PUBLISH; MQTT 5 adds an empty property list.
pub fn put_publish(buf: &mut Vec<u8>, m: &Message, mqtt: Mqtt) {
    let props = usize::from(mqtt == Mqtt::V5);
    buf.push(0x30);
    put_len(buf, 2 + m.topic.len() + props + m.payload.len());
    buf.extend_from_slice(&(m.topic.len() as u16).to_be_bytes());
    buf.extend_from_slice(&m.topic);
    if props == 1 {
        buf.push(0);
    }
    buf.extend_from_slice(&m.payload);
}

/// A block encoded as PUBLISH packets, with the offset where each packet starts, so a
/// stream can stop after any number of messages and write chunks on packet boundaries.
#[derive(Debug)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    /// `starts[i]` is where packet `i` begins; one extra entry marks the end.
    pub starts: Vec<usize>,
}

impl Encoded {
    pub fn new(block: &[Message], mqtt: Mqtt) -> Encoded {
        let mut bytes = Vec::with_capacity(block.len() * 200);
        let mut starts = Vec::with_capacity(block.len() + 1);
        for m in block {
            starts.push(bytes.len());
            put_publish(&mut bytes, m, mqtt);
        }
        starts.push(bytes.len());
        Encoded { bytes, starts }
    }

    /// Packets in the block.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wire bytes of `n` messages cycling through the block.
    pub fn wire_bytes(&self, n: u64) -> u64 {
        let per = self.len().max(1) as u64;
        let (rounds, rest) = (n / per, (n % per) as usize);
        rounds * self.bytes.len() as u64 + self.starts[rest] as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_look_like_tank_firmware() {
        let b = block(5000);
        assert_eq!(b.len(), 5000);
        let mean = mean_payload(&b);
        assert!((150.0..=190.0).contains(&mean), "{mean}");
        let now = crate::source::now_ms();
        for m in b.iter().take(50) {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            let fields = v.as_object().map_or(0, serde_json::Map::len);
            assert!((8..=12).contains(&fields), "{fields} fields");
            assert!(v["level_pct"].is_f64() && v["rssi"].is_i64() && v["pump"].is_string());
            let age = now - v["ts"].as_i64().unwrap();
            assert!((0..=60_000).contains(&age), "a sample {age} ms old");
        }
        assert_eq!(&b[1].topic[..], b"bench/tanks/tank-0002/telemetry");
        assert_eq!(&b[1000].topic[..], b"bench/tanks/tank-0001/telemetry");
        let first: serde_json::Value = serde_json::from_slice(&b[1].payload).unwrap();
        assert_eq!(first["device"], "tank-0002");
    }

    #[test]
    fn remaining_length_encoding() {
        for (n, want) in [
            (0, vec![0]),
            (127, vec![0x7f]),
            (128, vec![0x80, 1]),
            (16_383, vec![0xff, 0x7f]),
            (16_384, vec![0x80, 0x80, 1]),
        ] {
            let mut b = Vec::new();
            put_len(&mut b, n);
            assert_eq!(b, want, "{n}");
        }
    }

    #[test]
    fn encoded_blocks_know_their_packet_boundaries() {
        let b = block(3);
        let v3 = Encoded::new(&b, Mqtt::V311);
        let v5 = Encoded::new(&b, Mqtt::V5);
        assert_eq!(v3.len(), 3);
        // MQTT 5 carries one extra byte (empty properties) per packet.
        assert_eq!(v5.bytes.len(), v3.bytes.len() + 3);
        assert_eq!(v3.wire_bytes(3), v3.bytes.len() as u64);
        assert_eq!(
            v3.wire_bytes(4),
            v3.bytes.len() as u64 + v3.starts[1] as u64
        );
        assert_eq!(v3.bytes[0], 0x30);
    }
}
