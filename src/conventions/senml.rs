//! SenML packs (RFC 8428) on any topic, JSON or CBOR, with no configuration: a pack's base
//! names are its devices (`urn:dev:ow:10e2073a01080063:` + `temp`), its records their
//! metrics with units and their own times (see [`crate::decode::senml`]). Records that
//! name no device belong to the topic's device, found as the generic fallback finds it.

use crate::decode::senml;

/// A topic whose first message is a pack that resolves.
pub fn claims(_topic: &str, payload: &[u8]) -> bool {
    senml::looks_like(payload) && senml::decode(payload, 0, &mut senml::Pack::default()).is_ok()
}

/// The device of records whose names name none: the topic level before the last
/// (`site/meters/m-7/senml` -> `m-7`), or the only level.
pub fn topic_device(topic: &str) -> &str {
    super::generic::device_level(topic).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_are_claimed_other_payloads_not() {
        assert!(claims("x/y", br#"[{"bn":"dev-1/","n":"t","v":1}]"#));
        assert!(
            !claims("x/y", br#"[{"a":1}]"#),
            "an array of objects that is no pack"
        );
        assert!(!claims("x/y", br#"{"n":"t","v":1}"#));
        assert!(!claims("x/y", b"21.5"));
        assert!(claims("x/y", &[0x81, 0xa2, 0x00, 0x61, b't', 0x02, 0x01]));
        assert_eq!(topic_device("site/meters/m-7/senml"), "m-7");
        assert_eq!(topic_device("m-7"), "m-7");
    }
}
