//! Human durations in config and on the command line: `3s`, `10m`, `1h 30m`, `500ms`.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Parses `3s`, `10m`, `2h`, `1d`, `500ms` (humantime syntax); a bare number is refused so
/// that nobody wonders whether `30` meant seconds or minutes.
pub fn parse(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| {
        format!("`{s}` is not a duration ({e}); write it like `3s`, `10m`, `2h` or `1d`")
    })?;
    Ok(d)
}

/// Like [`parse`], but zero is refused: used for intervals that divide or schedule.
pub fn parse_positive(s: &str) -> Result<Duration, String> {
    let d = parse(s)?;
    if d.is_zero() {
        return Err(format!("`{s}` must be longer than zero"));
    }
    Ok(d)
}

/// Serde adapter for `Duration` fields written as strings (positive).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_positive(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// Serde adapter for `Option<Duration>` fields written as strings.
pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| parse_positive(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// Like [`deserialize_opt`], but zero is allowed: `for = "0s"` fires at once.
pub fn deserialize_opt_allowing_zero<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| parse(&s).map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(parse("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
    }

    #[test]
    fn refuses_bare_numbers_and_zero_intervals() {
        assert!(parse("30").unwrap_err().contains("like `3s`"));
        assert!(parse_positive("0s").is_err());
    }
}
