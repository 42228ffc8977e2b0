//! Shared fixtures for the benches: a fleet config and realistic ~150-byte telemetry.

use bytes::Bytes;
use fleetop::config::Config;
use fleetop::fleet::FleetState;
use fleetop::mapping::Mapper;
use fleetop::source::RawMessage;

pub const CONFIG: &str = r#"
[[fleet]]
name = "tanks"
topic = "bench/tanks/{device}/telemetry"
format = "json"
expected_interval = "10s"
"#;

pub fn state(limits: fleetop::config::Limits) -> FleetState {
    let config = Config::parse(CONFIG, None).expect("bench config parses");
    let mapper = Mapper::new(&config.fleets).expect("bench fleets compile");
    FleetState::new(mapper, limits, &["bench".to_string()])
}

/// One message for `device`, sample `seq`, about 150 bytes of JSON with 1–2 decimals.
pub fn message(device: usize, seq: u64, at_ms: i64) -> RawMessage {
    let level = 20.0 + ((seq * 7 + device as u64) % 600) as f64 / 10.0;
    let payload = format!(
        r#"{{"level_pct":{level:.1},"temp_c":{:.1},"battery_v":{:.2},"rssi":-{},"pump":"{}","flow_lpm":{:.1},"seq":{seq}}}"#,
        12.0 + (seq % 40) as f64 / 10.0,
        3.60 + (seq % 10) as f64 / 100.0,
        60 + seq % 30,
        if seq % 20 < 10 { "ON" } else { "OFF" },
        (seq % 100) as f64 / 4.0,
    );
    RawMessage {
        conn: 0,
        topic: Bytes::from(format!("bench/tanks/dev-{device:04}/telemetry")),
        payload: Bytes::from(payload),
        retain: false,
        at_ms,
    }
}
