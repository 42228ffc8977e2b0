//! Replaying a recording through the same pipeline as live traffic: incident replay, and
//! deterministic tests. Timing follows the recorded `ts` at `--speed` (`1x`, `10x`, `max`).

use super::record::Line;
use super::{Outlet, ReplayClock};
use crate::vocab::{LinkState, RawMessage};
use bytes::Bytes;
use std::path::{Path, PathBuf};
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

/// Checks, before anything starts, that `path` is a recording fleetop can read: a file
/// that opens. The error says what is wrong, where, and what to pass instead.
pub fn open_check(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        format!("--replay {shown}: {e}; pass a .jsonl file written by `fleetop record`")
    })?;
    if meta.is_dir() {
        return Err(format!(
            "--replay {shown} is a directory; pass one of the .jsonl files written by `fleetop record`"
        ));
    }
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| format!("--replay {shown}: cannot read it ({e}); check its permissions"))
}

/// Bad lines named one by one; after these, only counted.
const NAMED_BAD_LINES: usize = 5;

/// Feeds a recording file into `outlet`, then reports `Finished` (also after a read
/// error, which ends the file early): a caller may wait for that to have read it all.
/// A line that cannot be used, invalid UTF-8 included, is skipped and counted.
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
    let mut reader = tokio::io::BufReader::new(file);
    let mut raw = Vec::new();
    let started = tokio::time::Instant::now();
    let mut first_ts: Option<i64> = None;
    let mut line_no = 0u64;
    let mut bad = BadLines::default();
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                outlet
                    .notice(format!(
                        "{}: read error after line {line_no}: {e}; the rest is not replayed",
                        path.display()
                    ))
                    .await;
                break;
            }
        }
        line_no += 1;
        let parsed = std::str::from_utf8(trim_newline(&raw))
            .map_err(|e| format!("not UTF-8 (at byte {})", e.valid_up_to()))
            .and_then(|text| {
                if text.trim().is_empty() {
                    return Ok(None);
                }
                let l = Line::parse(text)?;
                Ok(Some((l.topic_bytes()?, l.payload()?, l)))
            });
        let (topic, payload, line) = match parsed {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err(e) => {
                if bad.add(line_no) {
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
    if let Some(summary) = bad.summary() {
        outlet
            .notice(format!("{}: {summary}", path.display()))
            .await;
    }
    // After the end, recording time runs on at real speed.
    clock.set(clock.now_ms(), 1.0);
    outlet.link(LinkState::Finished).await;
}

fn trim_newline(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

/// The bad lines of a recording: counted, the first few by number.
#[derive(Debug, Default)]
struct BadLines {
    count: u64,
    first: Vec<u64>,
}

impl BadLines {
    /// Counts line `n`; true while it is one of the first few, to be named on its own.
    fn add(&mut self, n: u64) -> bool {
        self.count += 1;
        if self.first.len() < NAMED_BAD_LINES {
            self.first.push(n);
            return true;
        }
        false
    }

    /// "skipped 7 bad lines: 3, 9, 12, 40, 41 and 2 more", if more than one was bad (a
    /// single one was named with its reason, and that notice stays the latest).
    fn summary(&self) -> Option<String> {
        if self.count < 2 {
            return None;
        }
        let numbers: Vec<String> = self.first.iter().map(u64::to_string).collect();
        let more = self.count - self.first.len() as u64;
        let mut text = format!("skipped {} bad lines: {}", self.count, numbers.join(", "));
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::source::SourceEvent;

    #[tokio::test]
    async fn every_bad_line_is_skipped_and_counted_and_the_replay_goes_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.jsonl");
        let good = r#"{"topic":"a/b","payload_hex":"31"}"#;
        let mut text = Vec::new();
        for i in 1..=12 {
            match i {
                2 => text.extend_from_slice(b"{\"topic\":\"a/\xff\xfe\",\"payload_hex\":\"31\"}"),
                4 | 6 | 7 | 8 | 9 | 11 => text.extend_from_slice(b"not json"),
                _ => text.extend_from_slice(good.as_bytes()),
            }
            text.extend_from_slice(if i % 2 == 0 { b"\r\n" } else { b"\n" });
        }
        std::fs::write(&path, text).expect("write");
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let clock = Arc::new(ReplayClock::new(0, 1.0));
        tokio::spawn(run(
            path,
            Speed::Max,
            clock,
            Outlet::new(crate::vocab::ConnId(0), tx),
        ));
        let (mut messages, mut notices) = (0, Vec::new());
        loop {
            match rx.recv().await {
                Some(SourceEvent::Message(_)) => messages += 1,
                Some(SourceEvent::Notice { message, .. }) => notices.push(message),
                Some(SourceEvent::Link {
                    state: LinkState::Finished,
                    ..
                }) => break,
                Some(_) => {}
                None => panic!("the replay ended without saying it finished"),
            }
        }
        assert_eq!(messages, 5, "every good line, after the bad ones too");
        assert!(
            notices[0].ends_with(":2: skipped: not UTF-8 (at byte 12)"),
            "{notices:?}"
        );
        assert_eq!(notices.len(), NAMED_BAD_LINES + 1, "{notices:?}");
        let summary = notices.last().expect("a summary");
        assert!(
            summary.ends_with("skipped 7 bad lines: 2, 4, 6, 7, 8 and 2 more"),
            "{summary}"
        );
    }

    #[test]
    fn a_directory_or_a_missing_file_is_refused_with_what_to_pass() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = open_check(dir.path()).expect_err("a directory");
        assert!(e.contains("is a directory") && e.contains(".jsonl"), "{e}");
        let e = open_check(&dir.path().join("none.jsonl")).expect_err("missing");
        assert!(
            e.contains("none.jsonl") && e.contains("fleetop record"),
            "{e}"
        );
        let file = dir.path().join("ok.jsonl");
        std::fs::write(&file, "").expect("write");
        assert_eq!(open_check(&file), Ok(()));
    }

    #[test]
    fn speeds() {
        assert_eq!("10x".parse::<Speed>(), Ok(Speed::Times(10.0)));
        assert_eq!("0.5".parse::<Speed>(), Ok(Speed::Times(0.5)));
        assert_eq!("MAX".parse::<Speed>(), Ok(Speed::Max));
        assert!("0x".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
    }
}
