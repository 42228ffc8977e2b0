//! `fleetop discover`: which device conventions a broker speaks, how many devices each,
//! and a `[[fleet]]` config snippet for what fleetop could only guess (the generic JSON
//! fallback), so onboarding is one command.

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
    // Guessed devices by the template their topic suggests.
    let mut guessed: BTreeMap<String, Guess> = BTreeMap::new();
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
            && let Some((template, fleet)) = template_of(topic)
        {
            let g = guessed.entry(template).or_insert_with(|| Guess {
                fleet,
                devices: 0,
                metrics: Vec::new(),
            });
            g.devices += 1;
            for m in &d.metrics {
                if g.metrics.len() < 6 && !g.metrics.iter().any(|x| *x == *m.name) {
                    g.metrics.push(m.name.to_string());
                }
            }
        }
    }
    Discovery {
        conventions: found.into_values().collect(),
        configured_devices,
        unmapped_topics: state.unmapped.len(),
        layouts: state.layouts().describe(),
        snippet: snippet(guessed),
    }
}

struct Guess {
    fleet: String,
    devices: usize,
    metrics: Vec<String>,
}

/// `fleet/tanks/tank-00/telemetry` -> (`fleet/tanks/{device}/telemetry`, `tanks`): the
/// generic fallback's device level becomes `{device}`; the level before it names the fleet.
fn template_of(topic: &str) -> Option<(String, String)> {
    if topic.contains(['{', '}', '+', '#']) || topic.chars().any(char::is_control) {
        return None;
    }
    let mut levels: Vec<&str> = topic.split('/').collect();
    let at = levels.len().checked_sub(2)?;
    let fleet = if at > 0 { levels[at - 1] } else { "devices" };
    let fleet: String = fleet
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    levels[at] = "{device}";
    Some((levels.join("/"), fleet))
}

fn snippet(guessed: BTreeMap<String, Guess>) -> String {
    let mut out = String::new();
    let mut names: Vec<String> = Vec::new();
    for (template, g) in guessed {
        let mut name = g.fleet.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{}_{n}", g.fleet);
            n += 1;
        }
        names.push(name.clone());
        let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
        let _ = writeln!(
            out,
            "# {} device(s) guessed by the generic JSON fallback\n[[fleet]]\nname = {}\ntopic = {}\nformat = \"json\"\ntable = [{}]\n",
            g.devices,
            quote(&name),
            quote(&template),
            g.metrics
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
}
