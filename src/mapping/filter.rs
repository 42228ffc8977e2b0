//! MQTT topic-filter algebra: which filters bring which topics.

/// MQTT strings are at most 65,535 bytes.
const MAX_TOPIC_BYTES: usize = 65_535;

/// True for a topic that names itself exactly, to publish or subscribe to: non-empty, no
/// wildcard, no NUL (brokers drop the connection for one), within MQTT's length.
pub fn is_topic(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_TOPIC_BYTES && !s.contains(['+', '#', '\u{0}'])
}

/// True when every topic `narrow` matches is also matched by `wide`.
pub fn covers(wide: &str, narrow: &str) -> bool {
    let mut w = wide.split('/');
    let mut n = narrow.split('/');
    loop {
        match (w.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(x)) if x != "#" => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_cover_what_they_match() {
        assert!(covers("a/#", "a"));
        assert!(covers("+/b", "x/b"));
        assert!(!covers("a/+", "a/#"));
        assert!(!covers("$SYS/#", "a"));
        assert!(!covers("a/b", "a/b/c"));
    }

    #[test]
    fn topics_name_themselves_exactly() {
        assert!(is_topic("site/tanks/t1"));
        assert!(!is_topic(""));
        assert!(!is_topic("a/+"));
        assert!(!is_topic("a/\u{0}"));
        assert!(!is_topic(&"x".repeat(MAX_TOPIC_BYTES + 1)));
    }
}
