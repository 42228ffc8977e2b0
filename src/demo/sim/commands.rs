//! Commands the simulated devices answer, and how the field treats them.
//!
//! Request on `P/cmd/<fleet>/<device>`, JSON:
//! `{"cmd":"light-dim","level":40,"id":"7"}` (`id` may be a string or a number; `level` only
//! for `light-dim`). Plain text works too, for quick tests with mosquitto_pub:
//! `light-dim level=40`.
//!
//! Reply, JSON: `{"id":"7","device":"pole-017","cmd":"light-dim","ok":true,"result":"…"}` or
//! `…,"ok":false,"error":"…"}`. It goes to the MQTT 5 response topic with the request's
//! correlation data when the request had them, else to `P/cmd/<fleet>/<device>/reply`.
//!
//! Like a real field: most replies come within half a second, some take seconds, a few
//! commands fail with a reason, and a few are lost (no reply, nothing happens). A device that
//! is dead or behind a dropped gateway never answers. Which command meets which fate is a
//! pure function of the seed, the device and how many commands it has had.

use crate::demo::topics::Kind;
use std::time::Duration;

/// Requests larger than this are refused unread.
const MAX_REQUEST: usize = 4096;
const MAX_ID: usize = 128;
const MAX_NAME: usize = 64;

/// A parsed request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Command {
    pub name: String,
    pub id: Option<String>,
    pub level: Option<f64>,
}

/// What a device made of a command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Done(String),
    Failed(String),
}

impl Outcome {
    pub fn unsupported(cmd: &Command, supported: &str) -> Outcome {
        Outcome::Failed(format!(
            "unknown command `{}` for this device; it understands {supported}",
            cmd.name
        ))
    }
}

/// Commands each fleet understands, for messages and docs.
pub fn supported(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Tank => &["pump-start", "pump-stop", "reboot"],
        Kind::Pole => &["light-on", "light-off", "light-dim", "reboot"],
        _ => &["reboot"],
    }
}

/// Parses a request; the error is sent back to the requester, so it says what to send.
pub(crate) fn parse(payload: &[u8]) -> Result<Command, String> {
    const EXPECTED: &str = r#"send JSON like {"cmd":"light-dim","level":40,"id":"7"} or text like `light-dim level=40`"#;
    if payload.len() > MAX_REQUEST {
        return Err(format!(
            "request of {} bytes is too large; {EXPECTED}",
            payload.len()
        ));
    }
    let text = std::str::from_utf8(payload)
        .map_err(|_| format!("request is not UTF-8; {EXPECTED}"))?
        .trim();
    let cmd = if text.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("malformed JSON ({e}); {EXPECTED}"))?;
        let name = v
            .get("cmd")
            .and_then(|c| c.as_str())
            .ok_or_else(|| format!("no \"cmd\" string in the request; {EXPECTED}"))?;
        let id = match v.get("id") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(n @ serde_json::Value::Number(_)) => Some(n.to_string()),
            Some(_) => return Err("\"id\" must be a string or a number".into()),
        };
        let level = match v.get("level") {
            None => None,
            Some(l) => Some(l.as_f64().ok_or("\"level\" must be a number")?),
        };
        Command {
            name: name.to_string(),
            id,
            level,
        }
    } else {
        let mut words = text.split_whitespace();
        let name = words
            .next()
            .ok_or_else(|| format!("empty request; {EXPECTED}"))?;
        let mut cmd = Command {
            name: name.to_string(),
            id: None,
            level: None,
        };
        for w in words {
            match w.split_once('=') {
                Some(("level", v)) => {
                    cmd.level = Some(
                        v.parse()
                            .map_err(|_| format!("level `{v}` is not a number"))?,
                    )
                }
                Some(("id", v)) => cmd.id = Some(v.to_string()),
                _ => return Err(format!("unexpected `{w}`; {EXPECTED}")),
            }
        }
        cmd
    };
    if cmd.name.is_empty() || cmd.name.len() > MAX_NAME || cmd.name.chars().any(char::is_control) {
        return Err("the command name must be 1 to 64 printable characters".into());
    }
    if cmd.id.as_ref().is_some_and(|id| id.len() > MAX_ID) {
        return Err(format!("\"id\" is longer than {MAX_ID} bytes"));
    }
    Ok(cmd)
}

/// How the network and the device treat one command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fate {
    /// Answered after `delay` (wall time), unless `failure` makes it fail with that reason.
    Reply {
        delay: Duration,
        failure: Option<&'static str>,
    },
    /// Lost on the way: nothing happens, nobody answers.
    Lost,
}

const FAILURES: &[&str] = &[
    "device busy: firmware update in progress",
    "rejected: maintenance lock is set on this site",
    "actuator did not confirm within 5 s",
    "command queue full, try again later",
];

/// The `n`th command to device `device` under `seed`: 5 % lost, 6 % fail, 15 % slow (2–6 s),
/// the rest answered within 50–400 ms.
pub(crate) fn fate(seed: u64, device: usize, n: u64) -> Fate {
    let mix = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((device as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9))
        .wrapping_add(n.wrapping_mul(0x94d0_49bb_1331_11eb));
    let mut rng = fastrand::Rng::with_seed(mix);
    let x = rng.f64();
    if x < 0.05 {
        return Fate::Lost;
    }
    let failure = (x < 0.11).then(|| FAILURES[rng.usize(..FAILURES.len())]);
    let delay = if rng.f64() < 0.15 {
        Duration::from_millis(rng.u64(2_000..6_000))
    } else {
        Duration::from_millis(rng.u64(50..400))
    };
    Fate::Reply { delay, failure }
}

/// The reply payload; the request's `id` is echoed (escaped by serde_json: it is untrusted).
pub(crate) fn reply_payload(device: &str, cmd: Option<&Command>, outcome: &Outcome) -> String {
    let mut v = serde_json::Map::new();
    if let Some(id) = cmd.and_then(|c| c.id.as_ref()) {
        v.insert("id".into(), id.clone().into());
    }
    v.insert("device".into(), device.into());
    if let Some(c) = cmd {
        v.insert("cmd".into(), c.name.clone().into());
    }
    match outcome {
        Outcome::Done(result) => {
            v.insert("ok".into(), true.into());
            v.insert("result".into(), result.clone().into());
        }
        Outcome::Failed(error) => {
            v.insert("ok".into(), false.into());
            v.insert("error".into(), error.clone().into());
        }
    }
    serde_json::Value::Object(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_text_requests() {
        let c = parse(br#"{"cmd":"light-dim","level":40,"id":7}"#).unwrap();
        assert_eq!(c.name, "light-dim");
        assert_eq!(c.level, Some(40.0));
        assert_eq!(c.id.as_deref(), Some("7"));
        let c = parse(b" light-dim level=25 id=abc ").unwrap();
        assert_eq!((c.level, c.id.as_deref()), (Some(25.0), Some("abc")));
        assert!(parse(b"{\"cmd\":").unwrap_err().contains("malformed JSON"));
        assert!(parse(b"{\"level\":3}").unwrap_err().contains("\"cmd\""));
        assert!(parse(b"").is_err());
        assert!(parse(&[b'x'; 5000]).unwrap_err().contains("too large"));
        assert!(
            parse(b"light-dim level=bright")
                .unwrap_err()
                .contains("not a number")
        );
    }

    #[test]
    fn fates_are_deterministic_and_mixed() {
        let fates: Vec<Fate> = (0..2000).map(|n| fate(42, 3, n)).collect();
        assert_eq!(fates, (0..2000).map(|n| fate(42, 3, n)).collect::<Vec<_>>());
        let lost = fates.iter().filter(|f| **f == Fate::Lost).count();
        let failed = fates
            .iter()
            .filter(|f| {
                matches!(
                    f,
                    Fate::Reply {
                        failure: Some(_),
                        ..
                    }
                )
            })
            .count();
        let slow = fates
            .iter()
            .filter(|f| matches!(f, Fate::Reply { delay, .. } if delay.as_secs() >= 2))
            .count();
        assert!((40..200).contains(&lost), "{lost}");
        assert!((40..250).contains(&failed), "{failed}");
        assert!((150..500).contains(&slow), "{slow}");
    }

    #[test]
    fn replies_echo_the_id_safely() {
        let cmd = parse(br#"{"cmd":"reboot","id":"a\"b"}"#).unwrap();
        let r = reply_payload("van-07", Some(&cmd), &Outcome::Done("rebooting".into()));
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v["id"], "a\"b");
        assert_eq!(v["ok"], true);
        let r = reply_payload("van-07", None, &Outcome::Failed("bad".into()));
        assert!(!r.contains("\"id\""));
    }
}
