//! Sample timestamps found in payloads: epoch seconds or milliseconds, or RFC 3339.
//!
//! A timestamp is used only when sane (between 2000 and 2100); anything else falls back to
//! the arrival time, since a device with a dead RTC must not push its samples into 1970.

const MIN_MS: i64 = 946_684_800_000; // 2000-01-01
const MAX_MS: i64 = 4_102_444_800_000; // 2100-01-01

/// Epoch seconds or milliseconds (told apart by magnitude) to milliseconds.
pub fn from_epoch_number(n: f64) -> Option<i64> {
    let ms = if n.abs() < 1e11 { n * 1000.0 } else { n };
    let ms = ms as i64;
    (MIN_MS..MAX_MS).contains(&ms).then_some(ms)
}

/// RFC 3339 text to milliseconds, or a numeric string as epoch seconds/milliseconds.
pub fn from_rfc3339(s: &str) -> Option<i64> {
    if let Ok(n) = s.trim().parse::<f64>() {
        return from_epoch_number(n);
    }
    let t = chrono::DateTime::parse_from_rfc3339(s.trim()).ok()?;
    let ms = t.timestamp_millis();
    (MIN_MS..MAX_MS).contains(&ms).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_milliseconds_are_told_apart() {
        assert_eq!(from_epoch_number(1_764_000_000.0), Some(1_764_000_000_000));
        assert_eq!(
            from_epoch_number(1_764_000_000_123.0),
            Some(1_764_000_000_123)
        );
        assert_eq!(from_epoch_number(1_764_000_000.5), Some(1_764_000_000_500));
    }

    #[test]
    fn insane_times_are_ignored() {
        assert_eq!(from_epoch_number(0.0), None);
        assert_eq!(from_epoch_number(12.0), None);
        assert_eq!(from_epoch_number(9e15), None);
        assert_eq!(from_rfc3339("1970-01-01T00:00:00Z"), None);
        assert_eq!(from_rfc3339("soon"), None);
    }

    #[test]
    fn rfc3339_with_offsets() {
        assert_eq!(
            from_rfc3339("2025-11-24T17:00:00+01:00"),
            Some(1_764_000_000_000)
        );
    }
}
