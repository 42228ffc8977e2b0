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
}
