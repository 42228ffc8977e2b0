//! The recording format: one message a line, as in `shared/fixtures/mixed-fleet.jsonl`,
//! plus `ts` (RFC 3339, milliseconds) and, with several brokers, `broker`:
//!
//! `{"topic": "a/b", "retain": false, "payload_hex": "3231", "ts": "2026-11-25T13:30:00.123Z"}`
//!
//! Payloads are hex because devices send binary (Sparkplug B is protobuf). A topic that is
//! not UTF-8 goes in `topic_hex` instead, so nothing is lost.

use crate::vocab::RawMessage;
use serde::{Deserialize, Serialize};

/// One recorded message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_hex: Option<String>,
    #[serde(default)]
    pub retain: bool,
    pub payload_hex: String,
    /// RFC 3339 text, or epoch seconds/milliseconds as a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<String>,
}

impl Line {
    /// The line for a message; `broker` only when several are recorded together.
    pub fn from_message(msg: &RawMessage, broker: Option<&str>) -> Line {
        let (topic, topic_hex) = match std::str::from_utf8(&msg.topic) {
            Ok(t) => (Some(t.to_string()), None),
            Err(_) => (None, Some(hex::encode(&msg.topic))),
        };
        let ts = chrono::DateTime::from_timestamp_millis(msg.at_ms).map(|t| {
            serde_json::Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        });
        Line {
            topic,
            topic_hex,
            retain: msg.retain,
            payload_hex: hex::encode(&msg.payload),
            ts,
            broker: broker.map(str::to_string),
        }
    }

    /// Parses one line of a recording.
    pub fn parse(text: &str) -> Result<Line, String> {
        let line: Line = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if line.topic.is_none() && line.topic_hex.is_none() {
            return Err("no `topic`".into());
        }
        Ok(line)
    }

    pub fn topic_bytes(&self) -> Result<Vec<u8>, String> {
        match (&self.topic, &self.topic_hex) {
            (Some(t), _) => Ok(t.as_bytes().to_vec()),
            (None, Some(h)) => hex::decode(h).map_err(|e| format!("topic_hex: {e}")),
            (None, None) => Err("no `topic`".into()),
        }
    }

    pub fn payload(&self) -> Result<Vec<u8>, String> {
        hex::decode(&self.payload_hex).map_err(|e| format!("payload_hex: {e}"))
    }

    /// The recorded time in epoch milliseconds, if the line has a readable one.
    pub fn ts_ms(&self) -> Option<i64> {
        match self.ts.as_ref()? {
            serde_json::Value::Number(n) => {
                let n = n.as_f64()?;
                Some(if n.abs() < 1e11 { n * 1000.0 } else { n } as i64)
            }
            serde_json::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.timestamp_millis()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn round_trips_including_binary() {
        let msg = RawMessage {
            conn: crate::vocab::ConnId(0),
            topic: Bytes::from_static(b"a/\xff"),
            payload: Bytes::from_static(b"\x00\x01{"),
            retain: true,
            at_ms: 1_764_000_000_123,
        };
        let text = serde_json::to_string(&Line::from_message(&msg, None)).unwrap();
        assert!(
            text.contains("\"ts\":\"2025-11-24T16:00:00.123Z\""),
            "{text}"
        );
        let back = Line::parse(&text).unwrap();
        assert_eq!(back.topic_bytes().unwrap(), b"a/\xff");
        assert_eq!(back.payload().unwrap(), b"\x00\x01{");
        assert_eq!(back.ts_ms(), Some(1_764_000_000_123));
        assert!(back.retain);
    }

    #[test]
    fn reads_the_fixture_format() {
        let l = Line::parse(r#"{"topic": "tele/x/LWT", "retain": true, "payload_hex": "4f6e"}"#)
            .unwrap();
        assert_eq!(l.payload().unwrap(), b"On");
        assert_eq!(l.ts_ms(), None);
        assert!(Line::parse("{}").is_err());
        assert!(Line::parse("not json").is_err());
    }
}
