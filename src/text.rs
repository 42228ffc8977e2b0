//! Time and age as people read them. A leaf of the core: it imports nothing of the crate.

/// RFC 3339 (UTC, seconds) for an epoch-ms time.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The local wall-clock time of an epoch-ms time, `HH:MM:SS`.
pub fn clock(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| {
            d.with_timezone(&chrono::Local)
                .format("%H:%M:%S")
                .to_string()
        })
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

/// A short delay as a person reads it: tenths below 10 s ("0.4s", "2.5s", "3s"), whole
/// seconds above.
pub struct Delay(pub std::time::Duration);

impl std::fmt::Display for Delay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.0.as_secs_f64();
        if secs >= 9.95 {
            return write!(f, "{}s", secs.round());
        }
        let tenths = (secs * 10.0).round().max(1.0) / 10.0;
        if tenths.fract() == 0.0 {
            write!(f, "{tenths:.0}s")
        } else {
            write!(f, "{tenths:.1}s")
        }
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
