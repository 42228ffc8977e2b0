//! The `[[fleet]]`s `fleetop discover` proposes for topics no convention claims: topics of
//! one shape make one fleet, each level that varies among them a label (`{site}`), the
//! level before the last the device, and the last level either a fixed leaf (a JSON
//! payload per device) or the metric (one value per topic, as street poles publish).

use std::collections::{BTreeMap, BTreeSet};

/// How a topic's payload reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shape {
    /// A JSON object per message: the last level is a fixed leaf (`telemetry`).
    Json,
    /// One value per topic: the last level names the metric.
    Value,
}

/// A proposed fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub name: String,
    pub template: String,
    pub shape: Shape,
    pub devices: usize,
    /// Metric names seen, at most a table's worth.
    pub metrics: Vec<String>,
}

/// Most distinct values tracked per level (enough to tell a label from a constant).
const VALUES_KEPT: usize = 64;
const TABLE: usize = 6;

struct Group {
    levels: Vec<BTreeSet<String>>,
    devices: BTreeSet<String>,
    metrics: Vec<String>,
}

/// Proposals for `topics` (each with its shape and, for JSON, the metrics it carried).
pub fn propose<'a>(
    topics: impl IntoIterator<Item = (&'a str, Shape, &'a [String])>,
) -> Vec<Proposal> {
    let mut groups: BTreeMap<(Shape, usize, String, String), Group> = BTreeMap::new();
    let own = [
        crate::fleet::delivery::DELAY,
        crate::fleet::delivery::JITTER,
    ];
    for (topic, shape, metrics) in topics {
        if topic.contains(['{', '}', '+', '#']) || topic.chars().any(char::is_control) {
            continue;
        }
        let levels: Vec<&str> = topic.split('/').collect();
        let n = levels.len();
        if n < 2 || (shape == Shape::Value && n < 3) {
            continue;
        }
        // Topics of one shape: as many levels, the same namespace (the first level, and
        // the second where the device has levels of its own below it), the same leaf
        // (JSON).
        let leaf = if shape == Shape::Json {
            levels[n - 1]
        } else {
            ""
        };
        let namespace = if n >= 4 {
            format!("{}/{}", levels[0], levels[1])
        } else {
            levels[0].to_string()
        };
        let key = (shape, n, namespace, leaf.to_string());
        let g = groups.entry(key).or_insert_with(|| Group {
            levels: vec![BTreeSet::new(); n],
            devices: BTreeSet::new(),
            metrics: Vec::new(),
        });
        for (set, level) in g.levels.iter_mut().zip(&levels) {
            if set.len() < VALUES_KEPT {
                set.insert((*level).to_string());
            }
        }
        g.devices.insert(levels[..n - 1].join("/"));
        let named: Vec<&str> = match shape {
            Shape::Json => metrics.iter().map(String::as_str).collect(),
            Shape::Value => vec![levels[n - 1]],
        };
        // fleetop's own delivery metrics are on every device: not the device's to propose.
        for m in named.into_iter().filter(|m| !own.contains(m)) {
            if g.metrics.len() < TABLE && !g.metrics.iter().any(|x| x == m) {
                g.metrics.push(m.to_string());
            }
        }
    }
    let mut names: Vec<String> = Vec::new();
    groups
        .into_iter()
        .map(|((shape, n, _, _), g)| {
            let device_at = n - 2;
            let mut used: Vec<String> = Vec::new();
            let mut fleet = None;
            let parts: Vec<String> = g
                .levels
                .iter()
                .enumerate()
                .map(|(i, values)| {
                    if i == device_at {
                        return "{device}".into();
                    }
                    if i == n - 1 && shape == Shape::Value {
                        return "{metric}".into();
                    }
                    match values.iter().next() {
                        Some(only) if values.len() == 1 => {
                            if i < device_at {
                                fleet = Some(only.clone());
                            }
                            only.clone()
                        }
                        _ => {
                            let label = label_name(values, &used);
                            used.push(label.clone());
                            format!("{{{label}}}")
                        }
                    }
                })
                .collect();
            let mut name = safe(fleet.as_deref().unwrap_or("devices"));
            let base = name.clone();
            let mut k = 2;
            while names.contains(&name) {
                name = format!("{base}_{k}");
                k += 1;
            }
            names.push(name.clone());
            Proposal {
                name,
                template: parts.join("/"),
                shape,
                devices: g.devices.len(),
                metrics: g.metrics,
            }
        })
        .collect()
}

/// A label's name: what its values share before their numbers (`lora_gw` for
/// `lora-gw-01`, `lora-gw-02`), else `site`, then `zone`, `area`, `group` for further
/// levels.
fn label_name(values: &BTreeSet<String>, used: &[String]) -> String {
    let mut all = values.iter();
    let first = all.next().map_or("", String::as_str);
    let common = all.fold(first.len(), |n, v| {
        first
            .bytes()
            .zip(v.bytes())
            .take(n)
            .take_while(|(a, b)| a == b)
            .count()
    });
    // Topics are the devices' words: never cut a character in two.
    let common = (0..=common)
        .rev()
        .find(|&i| first.is_char_boundary(i))
        .unwrap_or(0);
    let shared: String = first[..common]
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '_')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let shared = (shared.len() >= 2 && shared.starts_with(|c: char| c.is_ascii_alphabetic()))
        .then_some(shared);
    let reserved = ["device", "metric"];
    shared
        .into_iter()
        .chain(["site", "zone", "area", "group"].map(String::from))
        .chain((1..).map(|i| format!("level{i}")))
        .find(|n| !used.contains(n) && !reserved.contains(&n.as_str()))
        .unwrap_or_else(|| "level".into())
}

fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_that_varies_is_a_label_not_a_fleet_each() {
        let m = vec!["level_pct".to_string(), "temp".to_string()];
        let topics = [
            "fleet/tanks/north/tank-01/telemetry",
            "fleet/tanks/north/tank-02/telemetry",
            "fleet/tanks/south/tank-03/telemetry",
        ];
        let p = propose(topics.iter().map(|t| (*t, Shape::Json, &m[..])));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].template, "fleet/tanks/{site}/{device}/telemetry");
        assert_eq!((p[0].name.as_str(), p[0].devices), ("tanks", 3));
        assert_eq!(p[0].metrics, m);
    }

    #[test]
    fn one_value_per_topic_is_a_fleet_with_a_metric_level() {
        let mut topics = Vec::new();
        for (site, gw, pole) in [
            ("north", "gw-1", "pole-001"),
            ("north", "gw-2", "pole-002"),
            ("south", "gw-3", "pole-003"),
        ] {
            for metric in ["light", "dim", "pm25"] {
                topics.push(format!("demo/poles/{site}/{gw}/{pole}/{metric}"));
            }
        }
        let p = propose(topics.iter().map(|t| (t.as_str(), Shape::Value, &[][..])));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].template, "demo/poles/{site}/{gw}/{device}/{metric}");
        let lora = ["lora-gw-01", "lora-gw-02"]
            .map(String::from)
            .into_iter()
            .collect();
        assert_eq!(label_name(&lora, &[]), "lora_gw");
        let wide = ["gé1", "gè2"].map(String::from).into_iter().collect();
        assert_eq!(
            label_name(&wide, &[]),
            "site",
            "no shared word, and no cut character"
        );
        assert_eq!(
            (p[0].name.as_str(), p[0].devices, p[0].shape),
            ("poles", 3, Shape::Value)
        );
        assert_eq!(p[0].metrics, ["light", "dim", "pm25"]);
    }

    #[test]
    fn different_shapes_are_different_fleets_and_hostile_topics_none() {
        let none: &[String] = &[];
        let p = propose([
            ("a/x/dev-1/state", Shape::Json, none),
            ("a/x/dev-2/state", Shape::Json, none),
            ("a/x/dev-1/temp", Shape::Value, none),
            ("b/+/dev/state", Shape::Json, none),
            ("b/\u{1b}[2J/dev/state", Shape::Json, none),
        ]);
        let t: Vec<&str> = p.iter().map(|p| p.template.as_str()).collect();
        assert_eq!(t, ["a/x/{device}/state", "a/x/{device}/{metric}"]);
        assert_eq!(p[1].name, "x_2", "names stay unique");
    }
}
