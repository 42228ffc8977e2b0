//! The topic tree behind the explorer view.

use crate::fleet::FleetState;
use crate::sanitize;

/// One line of the explorer.
pub struct TopicLine {
    pub depth: usize,
    pub label: String,
    pub messages: Option<u64>,
    pub payload: String,
    pub mapped_to: Option<String>,
}

/// Topics as an indented tree: each level printed once, leaves with their figures.
pub fn lines(s: &FleetState) -> Vec<TopicLine> {
    let mut topics: Vec<(String, Option<u64>, String, Option<String>)> = s
        .unmapped
        .iter()
        .map(|u| {
            (
                u.topic.to_string(),
                Some(u.messages),
                sanitize::truncate(&sanitize::payload(&u.last_payload), 80).into_owned(),
                None,
            )
        })
        .collect();
    for d in &s.devices {
        for (i, t) in d.topics.iter().enumerate() {
            let payload = if i == d.last_topic as usize {
                sanitize::truncate(&sanitize::payload(&d.last_payload), 80).into_owned()
            } else {
                String::new()
            };
            topics.push((
                t.to_string(),
                None,
                payload,
                Some(sanitize::text(&d.name).into_owned()),
            ));
        }
    }
    topics.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    let mut prev: Vec<String> = Vec::new();
    for (topic, messages, payload, mapped_to) in topics {
        let parts: Vec<&str> = topic.split('/').collect();
        let common = prev.iter().zip(&parts).take_while(|(a, b)| a == *b).count();
        for (depth, part) in parts.iter().enumerate().skip(common) {
            let leaf = depth + 1 == parts.len();
            out.push(TopicLine {
                depth,
                label: sanitize::text(part).into_owned(),
                messages: if leaf { messages } else { None },
                payload: if leaf { payload.clone() } else { String::new() },
                mapped_to: if leaf { mapped_to.clone() } else { None },
            });
        }
        prev = parts.iter().map(|p| p.to_string()).collect();
    }
    out
}
