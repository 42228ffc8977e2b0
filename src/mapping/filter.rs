//! MQTT topic-filter algebra: which filters bring which topics.

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

/// True when some topic matches both filters.
pub fn overlaps(a: &str, b: &str) -> bool {
    let mut x = a.split('/');
    let mut y = b.split('/');
    loop {
        match (x.next(), y.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (None, None) => return true,
            (Some("+"), Some(_)) | (Some(_), Some("+")) => {}
            (Some(p), Some(q)) if p == q => {}
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
    fn filters_overlap_when_a_topic_matches_both() {
        assert!(overlaps("tele/+/SENSOR", "tele/#"));
        assert!(overlaps("+/online", "sensors/+"));
        assert!(overlaps("a/+/c", "a/b/+"));
        assert!(!overlaps("tele/+/SENSOR", "stat/#"));
        assert!(!overlaps("a/+", "a/b/c"));
        assert!(!overlaps("site/tanks/+/telemetry", "homie/#"));
    }
}
