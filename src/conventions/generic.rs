//! The fallback for JSON telemetry no convention claims: the device is the topic level
//! before the one carrying the JSON (`fleet/tanks/tank-00/telemetry` -> `tank-00`), its
//! metrics the JSON leaves.

use super::Output;

/// A JSON object payload on a topic with a non-empty device level. A Zigbee2MQTT
/// bridge's `bridge/state` and `bridge/info` under a base not learned yet are left
/// unmapped, to be applied once it is (`super::layout`), rather than make a guessed
/// `bridge` that would outlive it; so is an ESPHome light's JSON state before its node
/// is known.
pub fn claims(topic: &str, payload: &[u8]) -> bool {
    payload.trim_ascii_start().starts_with(b"{")
        && !device_level(topic).0.is_empty()
        && !topic.ends_with("/bridge/state")
        && !topic.ends_with("/bridge/info")
        && !super::esphome::state_shaped(topic)
}

/// The device level and the levels before it.
pub(super) fn device_level(topic: &str) -> (&str, &str) {
    let mut levels = topic.rsplitn(3, '/');
    let last = levels.next().unwrap_or_default();
    match (levels.next(), levels.next()) {
        (Some(device), prefix) => (device, prefix.unwrap_or_default()),
        (None, _) => (last, ""),
    }
}

pub fn decode(topic: &str, payload: &[u8], out: &mut Output) {
    let (device, prefix) = device_level(topic);
    out.device.push_str(device);
    if !prefix.is_empty() {
        out.labels.push(("prefix", prefix.into()));
    }
    out.json(payload, "");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conventions::testutil::{pairs, values};

    #[test]
    fn device_is_the_level_before_the_json() {
        let mut out = Output::default();
        let p = br#"{"level_pct": 80, "temp_c": 14.0}"#;
        assert!(claims("fleet/tanks/tank-00/telemetry", p));
        decode("fleet/tanks/tank-00/telemetry", p, &mut out);
        assert_eq!(out.device, "tank-00");
        assert_eq!(out.labels, [("prefix", "fleet/tanks".to_string())]);
        assert_eq!(
            values(&out),
            pairs(&[("level_pct", "80"), ("temp_c", "14")])
        );
        assert_eq!(device_level("a/b"), ("a", ""));
        assert_eq!(device_level("solo"), ("solo", ""));
        assert!(!claims("a/b", b"42"));
        assert!(!claims("/x", b"{}"));
        assert!(!claims("site/z2m/bridge/state", br#"{"state":"online"}"#));
        assert!(claims("site/z2m/bridge/health", br#"{"healthy":true}"#));
    }
}
