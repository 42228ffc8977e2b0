//! Replaying a recording through the same pipeline as live traffic: incident replay, and
//! deterministic tests. Timing follows the recorded `ts` at `--speed` (`1x`, `10x`, `max`).

use super::record::Line;
use super::{Outlet, ReplayClock};
use crate::vocab::{LinkState, RawMessage};
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Speed {
    /// A multiple of real time.
    Times(f64),
    /// As fast as the core takes it.
    #[default]
    Max,
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Speed, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        let n = s.strip_suffix(['x', 'X']).unwrap_or(s);
        match n.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Ok(Speed::Times(f)),
            _ => Err(format!(
                "`{s}` is not a speed; use e.g. 1x, 10x, 0.5x or max"
            )),
        }
    }
}

/// Feeds a recording file into `outlet`, then reports `Finished`.
pub async fn run(path: PathBuf, speed: Speed, clock: Arc<ReplayClock>, outlet: Outlet) {
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            outlet
                .link(LinkState::Failed(format!(
                    "cannot open recording {}: {e}",
                    path.display()
                )))
                .await;
            return;
        }
    };
    outlet.link(LinkState::Replaying).await;
    let mut lines = tokio::io::BufReader::new(file).lines();
    let started = tokio::time::Instant::now();
    let mut first_ts: Option<i64> = None;
    let mut line_no = 0u64;
    let mut bad = 0u64;
    loop {
        let text = match lines.next_line().await {
            Ok(Some(t)) => t,
            Ok(None) => break,
            Err(e) => {
                outlet
                    .notice(format!(
                        "{}: read error after line {line_no}: {e}",
                        path.display()
                    ))
                    .await;
                break;
            }
        };
        line_no += 1;
        if text.trim().is_empty() {
            continue;
        }
        let parsed = Line::parse(&text).and_then(|l| Ok((l.topic_bytes()?, l.payload()?, l)));
        let (topic, payload, line) = match parsed {
            Ok(x) => x,
            Err(e) => {
                bad += 1;
                if bad <= 5 {
                    outlet
                        .notice(format!("{}:{line_no}: skipped: {e}", path.display()))
                        .await;
                }
                continue;
            }
        };
        let ts = line.ts_ms();
        let at_ms = match ts {
            Some(ts) => {
                let first = *first_ts.get_or_insert(ts);
                if let Speed::Times(x) = speed {
                    let offset = Duration::from_millis((ts - first).max(0) as u64).div_f64(x);
                    tokio::time::sleep_until(started + offset).await;
                }
                ts
            }
            None => clock.now_ms(),
        };
        let rate = match speed {
            Speed::Times(x) => x,
            Speed::Max => 0.0,
        };
        clock.set(at_ms, rate);
        let msg = RawMessage {
            conn: outlet.conn,
            topic: Bytes::from(topic),
            payload: Bytes::from(payload),
            retain: line.retain,
            at_ms,
        };
        if !outlet.send_message_waiting(msg).await {
            return;
        }
    }
    if bad > 5 {
        outlet
            .notice(format!("{}: {bad} lines skipped in all", path.display()))
            .await;
    }
    // After the end, recording time runs on at real speed.
    clock.set(clock.now_ms(), 1.0);
    outlet.link(LinkState::Finished).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds() {
        assert_eq!("10x".parse::<Speed>(), Ok(Speed::Times(10.0)));
        assert_eq!("0.5".parse::<Speed>(), Ok(Speed::Times(0.5)));
        assert_eq!("MAX".parse::<Speed>(), Ok(Speed::Max));
        assert!("0x".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
    }
}
