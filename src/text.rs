//! Time and age as people read them. A leaf of the core: it imports nothing of the crate.

/// RFC 3339 (UTC, seconds) for an epoch-ms time.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A short age: `3s`, `4m`, `2h`, `5d`.
pub fn age(ms: i64) -> String {
    let s = (ms.max(0) / 1000) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_are_short() {
        assert_eq!(super::age(3_400), "3s");
        assert_eq!(super::age(125_000), "2m");
        assert_eq!(super::age(7_300_000), "2h");
        assert_eq!(super::age(-5), "0s");
        assert_eq!(super::age(200_000_000), "2d");
    }
}
