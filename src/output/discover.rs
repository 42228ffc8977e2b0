//! `fleetop discover`: which device conventions a broker speaks, how many devices each,
//! and a `[[fleet]]` config snippet for what fleetop could only guess (the generic JSON
//! fallback), so onboarding is one command.

use super::fleet_guess::{Proposal, Shape, propose};
use crate::conventions::Convention;
use crate::fleet::{FleetState, Status};
use crate::sanitize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Examples of device names listed per convention.
const EXAMPLES: usize = 3;

/// What a broker was found to carry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Discovery {
    pub conventions: Vec<Found>,
    /// Devices of configured `[[fleet]]`s.
    pub configured_devices: usize,
    pub unmapped_topics: usize,
    /// Layouts learned from the traffic (custom roots, prefixes, FullTopics), a line each.
    pub layouts: Vec<String>,
    /// A config for the guessed devices (empty when nothing was guessed).
    pub snippet: String,
}

/// One convention seen.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Found {
    pub convention: Convention,
    pub devices: usize,
    pub online: usize,
    pub offline: usize,
    pub examples: Vec<String>,
}

pub fn build(state: &FleetState) -> Discovery {
    let mut found: BTreeMap<Convention, Found> = BTreeMap::new();
    let mut configured_devices = 0;
    // Topics no convention could name, for the fleets they suggest.
    let mut guessed: Vec<(&str, Shape, Vec<String>)> = Vec::new();
    for d in &state.devices {
        let Some(c) = d.facts.as_ref().map(|f| f.convention) else {
            configured_devices += 1;
            continue;
        };
        let f = found.entry(c).or_insert_with(|| Found {
            convention: c,
            devices: 0,
            online: 0,
            offline: 0,
            examples: Vec::new(),
        });
        f.devices += 1;
        f.online += usize::from(d.status == Status::Online);
        f.offline += usize::from(d.status == Status::Offline);
        if f.examples.len() < EXAMPLES {
            f.examples.push(sanitize::text(&d.name).into_owned());
        }
        if c == Convention::Generic
            && let Some(topic) = d.topics.first()
        {
            let metrics = d.metrics.iter().map(|m| m.name.to_string()).collect();
            guessed.push((topic, Shape::Json, metrics));
        }
    }
    // Topics nothing maps (with fleets configured the fallback guesses none): a JSON object
    // is a device's report, a plain value (a number, a word) one metric of a device.
    for u in &state.unmapped {
        let text = std::str::from_utf8(&u.last_payload).unwrap_or("");
        if let Ok(object) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        {
            let metrics = object
                .iter()
                .filter(|(_, v)| v.is_number() || v.is_boolean())
                .map(|(k, _)| k.clone())
                .collect();
            guessed.push((&u.topic, Shape::Json, metrics));
            continue;
        }
        let word = text.trim().to_ascii_lowercase();
        // An availability word is a status topic, not a metric.
        let availability =
            ["online", "offline", "connected", "disconnected"].contains(&word.as_str());
        let value = !text.is_empty()
            && text.len() <= 64
            && !availability
            && !text.trim_start().starts_with(['{', '[']);
        if value {
            guessed.push((&u.topic, Shape::Value, Vec::new()));
        }
    }
    let proposals = propose(guessed.iter().map(|(t, s, m)| (*t, *s, &m[..])));
    Discovery {
        conventions: found.into_values().collect(),
        configured_devices,
        unmapped_topics: state.unmapped.len(),
        layouts: state.layouts().describe(),
        snippet: snippet(&proposals),
    }
}

fn snippet(proposals: &[Proposal]) -> String {
    let mut out = String::new();
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    for p in proposals {
        let (why, format) = match p.shape {
            Shape::Json => ("guessed by the generic JSON fallback", "json"),
            Shape::Value => ("publishing one value per topic", "auto"),
        };
        let _ = writeln!(out, "# {} device(s) {why}", p.devices);
        if p.template.contains("{site}") || p.template.contains("{zone}") {
            let _ = writeln!(out, "# (rename the {{labels}} to what those levels mean)");
        }
        let _ = writeln!(
            out,
            "[[fleet]]\nname = {}\ntopic = {}\nformat = \"{format}\"\ntable = [{}]\n",
            quote(&p.name),
            quote(&p.template),
            p.metrics
                .iter()
                .map(|m| quote(m))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}

/// The human form.
pub fn text(d: &Discovery, source: &str) -> String {
    let mut out = String::new();
    let total: usize = d.conventions.iter().map(|f| f.devices).sum();
    let _ = writeln!(
        out,
        "{source}: {total} device(s) by convention, {} in configured fleets, {} unmapped topic(s)",
        d.configured_devices, d.unmapped_topics
    );
    if d.conventions.is_empty() {
        out.push_str("no device convention recognised (Sparkplug B, Homie, Tasmota, Shelly, Zigbee2MQTT, JSON)\n");
    }
    for f in &d.conventions {
        let _ = writeln!(
            out,
            "  {:<12} {:>5} device(s)  {} online, {} offline  e.g. {}{}",
            f.convention.name(),
            f.devices,
            f.online,
            f.offline,
            f.examples.join(", "),
            if f.convention == Convention::Generic {
                "  (guessed: see the config below)"
            } else {
                ""
            }
        );
    }
    for layout in &d.layouts {
        let _ = writeln!(out, "  learned: {}", sanitize::text(layout));
    }
    if !d.snippet.is_empty() {
        out.push_str("\n# Config for what was only guessed: edit names and metrics, then save it as\n# ~/.config/fleetop/config.toml or pass it with --config.\n");
        out.push_str(&d.snippet);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conventions::ConventionsConfig;
    use crate::config::{Config, Limits};
    use crate::mapping::Mapper;
    use crate::vocab::RawMessage;

    fn apply(s: &mut FleetState, topic: &str, payload: &str) {
        s.apply(&RawMessage {
            conn: crate::vocab::ConnId(0),
            topic: topic.as_bytes().to_vec().into(),
            payload: payload.as_bytes().to_vec().into(),
            retain: false,
            at_ms: 1000,
        });
    }

    #[test]
    fn counts_conventions_and_writes_config_for_guesses() {
        let mut s = FleetState::new(Mapper::default(), Limits::default(), &["b".into()])
            .with_conventions(ConventionsConfig::default());
        apply(&mut s, "tele/plug/LWT", "Online");
        apply(&mut s, "homie/w/$state", "lost");
        apply(&mut s, "site/tanks/t1/telemetry", r#"{"level":1}"#);
        apply(&mut s, "site/tanks/t2/telemetry", r#"{"level":2,"temp":3}"#);
        apply(&mut s, "junk/\"q/data", r#"{"v":1}"#);
        apply(&mut s, "site/tele/pump/LWT", "Online");
        let d = build(&s);
        let names: Vec<_> = d
            .conventions
            .iter()
            .map(|f| (f.convention.name(), f.devices, f.online, f.offline))
            .collect();
        assert_eq!(
            names,
            [
                ("homie", 1, 0, 1),
                ("tasmota", 2, 2, 0),
                ("generic", 3, 3, 0)
            ]
        );
        assert!(
            d.snippet
                .contains("topic = \"site/tanks/{device}/telemetry\""),
            "{}",
            d.snippet
        );
        assert!(
            d.snippet.contains("table = [\"level\", \"temp\"]"),
            "{}",
            d.snippet
        );
        // The snippet is a valid config, topic templates and all.
        let config = Config::parse(&d.snippet, None).unwrap();
        assert_eq!(config.fleets.len(), 2);
        crate::mapping::Mapper::from_config(&config).unwrap();
        let t = text(&d, "mqtt://x");
        assert!(t.contains("tasmota"), "{t}");
        assert!(
            t.contains("learned: Tasmota FullTopic other than %prefix%/%topic%/: 1 device(s), e.g. site/%prefix%/pump"),
            "{t}"
        );
    }

    #[test]
    fn with_a_fleet_configured_unmapped_json_topics_are_proposed_too() {
        let config = Config::parse(
            "[[fleet]]\nname = \"tanks\"\ntopic = \"site/tanks/{device}/telemetry\"\n",
            None,
        )
        .unwrap_or_else(|e| panic!("{}", e.0));
        let mapper =
            crate::mapping::Mapper::from_config(&config).unwrap_or_else(|e| panic!("{}", e.0));
        let mut s = FleetState::new(mapper, Limits::default(), &["b".into()])
            .with_conventions(ConventionsConfig::default());
        apply(&mut s, "site/tanks/t1/telemetry", r#"{"level":1}"#);
        apply(
            &mut s,
            "site/pumps/north/p1/state",
            r#"{"rpm":1200,"on":true,"mode":"auto"}"#,
        );
        apply(
            &mut s,
            "site/pumps/south/p2/state",
            r#"{"rpm":900,"on":false}"#,
        );
        let d = build(&s);
        assert!(
            d.snippet
                .contains("topic = \"site/pumps/{site}/{device}/state\"")
                && d.snippet.contains("table = [\"on\", \"rpm\"]"),
            "{}",
            d.snippet
        );
    }
}
