//! Every routed topic is counted, mapped or not, and a flood of topics is capped.

use super::*;
use crate::config::Config;
use bytes::Bytes;

const CONFIG: &str = r#"
[[fleet]]
name = "tanks"
topic = "tanks/{device}/telemetry"
format = "json"
"#;

fn state(limits: Limits) -> FleetState {
    let config = Config::parse(CONFIG, None).expect("config");
    let mapper = Mapper::new(&config.fleets).expect("fleets");
    FleetState::new(mapper, limits, &["local".to_string()])
}

fn msg(topic: &str, payload: &str, at_ms: i64, retain: bool) -> RawMessage {
    RawMessage {
        conn: ConnId(0),
        topic: Bytes::copy_from_slice(topic.as_bytes()),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        retain,
        at_ms,
    }
}

fn record<'a>(s: &'a FleetState, topic: &str) -> &'a TopicRecord {
    let found = s.topic_stats.records.iter().find(|r| &*r.topic == topic);
    found.unwrap_or_else(|| panic!("no record of {topic}"))
}

#[test]
fn mapped_and_unmapped_topics_are_counted_with_their_device() {
    let mut s = state(Limits::default());
    s.apply(&msg("tanks/t1/telemetry", r#"{"level":1}"#, 1_000, true));
    for i in 0..3 {
        s.apply(&msg(
            "tanks/t1/telemetry",
            r#"{"level":2}"#,
            2_000 + i,
            false,
        ));
        s.apply(&msg("other/x", "hello", 2_000 + i, false));
    }
    let mapped = record(&s, "tanks/t1/telemetry");
    assert_eq!(
        (mapped.messages, mapped.last_ms, mapped.retained),
        (4, 2_002, false)
    );
    let device = mapped.device.and_then(|d| s.devices.get(d.index()));
    assert_eq!(device.map(|d| &*d.name), Some("t1"));
    assert_eq!(mapped.payloads().count(), 4);
    let unmapped = record(&s, "other/x");
    assert_eq!((unmapped.messages, unmapped.device), (3, None));
    assert!((unmapped.rate(2_002) - 3.0 / 60.0).abs() < 1e-9);
}

#[test]
fn a_topic_flood_stops_at_the_cap_and_known_topics_keep_counting() {
    let mut s = state(Limits {
        max_explorer_topics: 10,
        ..Limits::default()
    });
    for i in 0..1_000 {
        s.apply(&msg(&format!("flood/{i}"), "x", i, false));
    }
    s.apply(&msg("flood/3", "y", 2_000, false));
    assert_eq!(s.topic_stats.records.len(), 10);
    assert_eq!(record(&s, "flood/3").messages, 2);
    // Past the explorer's cap topics are still applied (here: as unmapped).
    assert!(s.unmapped.len() > 10);
}
