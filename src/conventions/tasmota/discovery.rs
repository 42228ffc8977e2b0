//! Tasmota's own discovery message, `tasmota/discovery/<mac>/config` (retained, sent on
//! connect with `SetOption19 0`): the device's topic and FullTopic, its name, and its
//! relays (`rl`), so every `POWER<n>` is offered before the device has reported one.
//! `tasmota/discovery/<mac>/sensors` is claimed too and carries nothing fleetop keeps.

use super::{MAX_RELAYS, command};
use crate::conventions::{Accepts, Event, Output};
use serde::Deserialize;

pub fn claims(topic: &str) -> bool {
    topic
        .strip_prefix("tasmota/discovery/")
        .is_some_and(|rest| {
            rest.split_once('/').is_some_and(|(mac, kind)| {
                !mac.is_empty() && !mac.contains('/') && matches!(kind, "config" | "sensors")
            })
        })
}

#[derive(Deserialize)]
struct Config {
    /// `%topic%`.
    t: String,
    /// The FullTopic, `%prefix%/%topic%/` by default.
    #[serde(default)]
    ft: Option<String>,
    /// Prefix words: `cmnd`, `stat`, `tele` unless changed.
    #[serde(default)]
    tp: Vec<String>,
    /// Device name.
    #[serde(default)]
    dn: Option<String>,
    #[serde(default)]
    hn: Option<String>,
    #[serde(default)]
    mac: Option<String>,
    /// Per relay index: 0 none, 1 relay, 2 light, 3 shutter.
    #[serde(default)]
    rl: Vec<u8>,
}

pub fn decode(payload: &[u8], out: &mut Output) {
    // The sensors message names no device.
    let Ok(c) = serde_json::from_slice::<Config>(payload) else {
        if payload.starts_with(b"{\"sn\"") {
            return;
        }
        out.events
            .push(Event::Error("malformed Tasmota discovery config".into()));
        return;
    };
    let full = c.ft.as_deref().unwrap_or("%prefix%/%topic%/");
    let filled = full
        .replace("%topic%", &c.t)
        .replace("%hostname%", c.hn.as_deref().unwrap_or_default())
        .replace("%id%", c.mac.as_deref().unwrap_or_default());
    let levels: Vec<&str> = filled.trim_end_matches('/').split('/').collect();
    if c.t.is_empty() || levels.iter().any(|l| l.is_empty()) {
        return;
    }
    // The device's key is its levels other than the prefix, as `super::Split` makes it.
    let key: Vec<&str> = levels
        .iter()
        .copied()
        .filter(|l| *l != "%prefix%")
        .collect();
    out.device.push_str(&key.join("/"));
    if let Some(name) = c.dn.filter(|n| !n.is_empty()) {
        out.events.push(Event::Name(name));
    }
    let cmnd = c.tp.first().map_or("cmnd", String::as_str);
    let topic_of = |command: &str| {
        let mut t: String = levels
            .iter()
            .map(|l| if *l == "%prefix%" { cmnd } else { l })
            .collect::<Vec<_>>()
            .join("/");
        t.push('/');
        t.push_str(command);
        t
    };
    let relays: Vec<usize> = (0..c.rl.len().min(MAX_RELAYS as usize))
        .filter(|&i| c.rl[i] != 0)
        .collect();
    // One relay is `POWER` (Tasmota answers `POWER` then); more are `POWER1`….
    let names: Vec<String> = match relays[..] {
        [] => Vec::new(),
        [_] => vec!["POWER".into()],
        _ => relays.iter().map(|i| format!("POWER{}", i + 1)).collect(),
    };
    for name in names {
        out.events
            .push(command(&name, topic_of(&name), Accepts::on_off()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conventions::testutil::commands;

    #[test]
    fn every_relay_is_offered_from_the_discovery_message() {
        assert!(claims("tasmota/discovery/5CCF7F5EA8C2/config"));
        assert!(claims("tasmota/discovery/5CCF7F5EA8C2/sensors"));
        assert!(!claims("tasmota/discovery/5CCF7F5EA8C2/other"));
        let mut out = Output::default();
        decode(
            br#"{"ip":"10.0.0.9","dn":"Garage 4CH","hn":"garage","mac":"5CCF7F5EA8C2","t":"garage4","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[1,1,0,1,0,0,0,0],"ver":1}"#,
            &mut out,
        );
        assert_eq!(out.device, "garage4");
        assert_eq!(out.events[0], Event::Name("Garage 4CH".into()));
        assert_eq!(
            commands(&out),
            [
                ("POWER1", "cmnd/garage4/POWER1"),
                ("POWER2", "cmnd/garage4/POWER2"),
                ("POWER4", "cmnd/garage4/POWER4")
            ]
        );
        let mut out = Output::default();
        decode(
            br#"{"t":"pump","ft":"site/%prefix%/%topic%/","rl":[1,0],"dn":""}"#,
            &mut out,
        );
        assert_eq!(out.device, "site/pump");
        assert_eq!(commands(&out), [("POWER", "site/cmnd/pump/POWER")]);
        let mut out = Output::default();
        decode(br#"{"sn":{"Time":"x"},"ver":1}"#, &mut out);
        assert!(out.device.is_empty() && out.events.is_empty());
        decode(b"{oops", &mut out);
        assert!(matches!(out.events[..], [Event::Error(_)]));
    }
}
