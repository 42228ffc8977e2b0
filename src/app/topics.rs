//! The topic tree behind the explorer view: built from the read-only fleet state each
//! time it is drawn or walked; what is folded, where the cursor is and what is searched
//! is the App's ([`Explorer`]), kept by topic path so it holds while topics arrive.

use crate::fleet::FleetState;
use crate::sanitize;
use std::collections::{BTreeMap, HashSet};

/// One topic as the explorer lists it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicInfo {
    pub messages: u64,
    /// Live messages a second over the last minute.
    pub rate: f64,
    pub last_ms: i64,
    /// Whether its latest message was retained.
    pub retained: bool,
    /// The latest payload, sanitised and shortened.
    pub payload: String,
    /// The device it maps to, sanitised; `None` for an unmapped topic.
    pub mapped_to: Option<String>,
}

/// The explorer's own state: unfolded branches, the cursor and the search, all by path.
#[derive(Debug, Clone, Default)]
pub struct Explorer {
    /// Paths (levels joined by `/`) of the branches shown unfolded.
    pub unfolded: HashSet<String>,
    /// The path the cursor is on; `None` before the first move (the first line).
    pub cursor: Option<String>,
    /// Shows only topics whose path holds this (any case), with their ancestors, unfolded.
    pub search: String,
}

/// One line of the explorer: a level of the tree, a topic, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicLine {
    /// The levels up to here joined by `/`: the line's identity.
    pub path: String,
    pub depth: usize,
    /// This level, sanitised.
    pub label: String,
    /// Whether there are levels under it.
    pub branch: bool,
    pub unfolded: bool,
    /// Topics at and under this level.
    pub topics: usize,
    /// Messages counted at and under this level.
    pub messages: u64,
    /// Their live messages a second over the last minute.
    pub rate: f64,
    /// The topic that ends at this level, if one does.
    pub own: Option<TopicInfo>,
}

/// Every topic fleetop keeps figures of, with what the explorer shows of it.
pub fn entries(s: &FleetState) -> Vec<(String, TopicInfo)> {
    let now = s.now_ms();
    s.topic_stats
        .records
        .iter()
        .map(|r| {
            let latest = r.payloads().next();
            let info = TopicInfo {
                messages: r.messages,
                rate: r.rate(now),
                last_ms: r.last_ms,
                retained: r.retained,
                payload: latest.map_or_else(String::new, |p| {
                    sanitize::truncate(&sanitize::payload(&p.bytes), 80).into_owned()
                }),
                mapped_to: r
                    .device
                    .and_then(|d| s.devices.get(d.index()))
                    .map(|d| sanitize::text(&d.name).into_owned()),
            };
            (r.topic.to_string(), info)
        })
        .collect()
}

#[derive(Default)]
struct Node {
    topics: usize,
    messages: u64,
    rate: f64,
    branch: bool,
    own: Option<TopicInfo>,
}

/// The tree of `entries` as lines: every level once, in path order, each under its parent;
/// a branch's children only where it is unfolded. While searching, only the topics that
/// match and their ancestors, every branch unfolded; the counts are of what matches.
pub fn lines(entries: Vec<(String, TopicInfo)>, x: &Explorer) -> Vec<TopicLine> {
    let needle = x.search.to_lowercase();
    let searching = !needle.is_empty();
    let mut nodes: BTreeMap<Vec<String>, Node> = BTreeMap::new();
    for (topic, info) in entries {
        if searching && !topic.to_lowercase().contains(&needle) {
            continue;
        }
        let parts: Vec<String> = topic.split('/').map(str::to_owned).collect();
        for depth in 1..=parts.len() {
            let node = nodes.entry(parts[..depth].to_vec()).or_default();
            node.topics += 1;
            node.messages += info.messages;
            node.rate += info.rate;
            if depth < parts.len() {
                node.branch = true;
            }
        }
        if let Some(node) = nodes.get_mut(&parts) {
            // One topic on two connections is one line, its counts added.
            node.own = Some(match node.own.take() {
                Some(mut had) => {
                    had.messages += info.messages;
                    had.rate += info.rate;
                    if info.last_ms >= had.last_ms {
                        (had.last_ms, had.retained) = (info.last_ms, info.retained);
                        had.payload = info.payload;
                    }
                    had
                }
                None => info,
            });
        }
    }
    let mut out = Vec::new();
    for (parts, node) in nodes {
        let shown =
            searching || (1..parts.len()).all(|d| x.unfolded.contains(&parts[..d].join("/")));
        if !shown {
            continue;
        }
        let path = parts.join("/");
        out.push(TopicLine {
            depth: parts.len() - 1,
            label: sanitize::text(parts.last().map_or("", String::as_str)).into_owned(),
            branch: node.branch,
            unfolded: node.branch && (searching || x.unfolded.contains(&path)),
            topics: node.topics,
            messages: node.messages,
            rate: node.rate,
            own: node.own,
            path,
        });
    }
    out
}

/// The parent path of `path`, if it has one.
pub fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(p, _)| p)
}

impl Explorer {
    /// The cursor's line in `lines`: the line of its path, else of its nearest shown
    /// ancestor (its branch was folded), else the first.
    pub fn cursor_index(&self, lines: &[TopicLine]) -> usize {
        let mut path = self.cursor.as_deref();
        while let Some(p) = path {
            if let Some(i) = lines.iter().position(|l| l.path == p) {
                return i;
            }
            path = parent(p);
        }
        0
    }

    /// Unfolds the branch at the cursor; on one already unfolded, goes to its first child.
    pub fn unfold(&mut self, lines: &[TopicLine]) {
        let i = self.cursor_index(lines);
        let Some(line) = lines.get(i) else { return };
        if !line.branch {
            return;
        }
        if line.unfolded {
            if let Some(child) = lines.get(i + 1) {
                self.cursor = Some(child.path.clone());
            }
        } else {
            self.unfolded.insert(line.path.clone());
            self.cursor = Some(line.path.clone());
        }
    }

    /// Folds the branch at the cursor; on a leaf or a folded branch, goes to its parent.
    pub fn fold(&mut self, lines: &[TopicLine]) {
        let Some(line) = lines.get(self.cursor_index(lines)) else {
            return;
        };
        if line.unfolded {
            self.unfolded.remove(&line.path);
            self.cursor = Some(line.path.clone());
        } else if let Some(p) = parent(&line.path) {
            self.cursor = Some(p.to_owned());
        }
    }

    /// Enter: folds an unfolded branch, unfolds a folded one.
    pub fn toggle(&mut self, lines: &[TopicLine]) {
        match lines.get(self.cursor_index(lines)) {
            Some(l) if l.unfolded => self.fold(lines),
            Some(_) => self.unfold(lines),
            None => {}
        }
    }

    /// Puts the cursor on line `i` (clamped).
    pub fn go_to(&mut self, lines: &[TopicLine], i: usize) {
        if let Some(l) = lines.get(i.min(lines.len().saturating_sub(1))) {
            self.cursor = Some(l.path.clone());
        }
    }
}

#[cfg(test)]
#[path = "topics_tests.rs"]
mod tests;
