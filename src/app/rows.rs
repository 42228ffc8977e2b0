//! The fleet table's rows: filtered, sorted and grouped devices, rebuilt only when the
//! fleet or the view settings changed.

use super::filter::Filter;
use crate::fleet::{Device, FleetState, MetricValue, Status};
use crate::vocab::{DeviceId, Severity};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// What the table is sorted by.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Status,
    Name,
    Fleet,
    Seen,
    Errors,
    Metric(String),
}

impl SortKey {
    pub fn parse(s: &str) -> SortKey {
        match s {
            "status" => SortKey::Status,
            "name" | "device" => SortKey::Name,
            "fleet" => SortKey::Fleet,
            "seen" | "last_seen" | "age" => SortKey::Seen,
            "errors" => SortKey::Errors,
            other => SortKey::Metric(other.to_string()),
        }
    }

    pub fn label(&self) -> String {
        match self {
            SortKey::Status => "status".into(),
            SortKey::Name => "name".into(),
            SortKey::Fleet => "fleet".into(),
            SortKey::Seen => "seen".into(),
            SortKey::Errors => "errors".into(),
            SortKey::Metric(m) => m.clone(),
        }
    }

    /// The next key for the `s` shortcut.
    pub fn next(&self) -> SortKey {
        match self {
            SortKey::Status => SortKey::Name,
            SortKey::Name => SortKey::Fleet,
            SortKey::Fleet => SortKey::Seen,
            SortKey::Seen => SortKey::Errors,
            SortKey::Errors | SortKey::Metric(_) => SortKey::Status,
        }
    }
}

/// How devices are grouped.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupBy {
    None,
    Fleet,
    Label(String),
}

impl GroupBy {
    pub fn parse(s: &str) -> GroupBy {
        match s {
            "" | "none" | "off" => GroupBy::None,
            "fleet" => GroupBy::Fleet,
            label => GroupBy::Label(label.to_string()),
        }
    }

    pub fn label(&self) -> String {
        match self {
            GroupBy::None => "none".into(),
            GroupBy::Fleet => "fleet".into(),
            GroupBy::Label(l) => l.clone(),
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Group {
        key: String,
        devices: usize,
        /// Devices by status: online, stale, offline, unknown.
        counts: [usize; 4],
        collapsed: bool,
    },
    Device(DeviceId),
}

/// The view settings rows depend on.
#[derive(Debug, Clone)]
pub struct TableSpec<'a> {
    pub filter: &'a Filter,
    pub sort: &'a SortKey,
    pub descending: bool,
    pub group: &'a GroupBy,
    pub collapsed: &'a std::collections::HashSet<String>,
    /// Devices with a raised alert and its severity: by status, they come first.
    pub alerting: &'a std::collections::HashMap<DeviceId, Severity>,
}

fn status_rank(s: Status) -> u8 {
    // Trouble first.
    match s {
        Status::Offline => 0,
        Status::Stale => 1,
        Status::Unknown => 2,
        Status::Online => 3,
    }
}

fn metric_number(d: &Device, name: &str) -> Option<f64> {
    d.metric(name).and_then(|m| match &m.value {
        MetricValue::Number(n) => Some(*n),
        MetricValue::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        MetricValue::Text(_) => None,
    })
}

/// Orders two devices; devices lacking a sorted-by metric go last either way.
fn compare(state: &FleetState, a: &Device, b: &Device, spec: &TableSpec<'_>) -> Ordering {
    let dir = |o: Ordering| if spec.descending { o.reverse() } else { o };
    let by = match spec.sort {
        // Firing alerts by severity, then offline, stale, unknown, the rest.
        SortKey::Status => {
            let rank = |d: &Device| {
                let alert = spec.alerting.get(&d.id).copied();
                (std::cmp::Reverse(alert), status_rank(d.status))
            };
            dir(rank(a).cmp(&rank(b)))
        }
        SortKey::Name => dir(a.name.cmp(&b.name)),
        SortKey::Fleet => dir(state.fleet_name(a).cmp(state.fleet_name(b))),
        // Oldest first: the quiet ones are the interesting ones.
        SortKey::Seen => dir(a.last_seen_ms.cmp(&b.last_seen_ms)),
        SortKey::Errors => dir(b.decode_errors.cmp(&a.decode_errors)),
        SortKey::Metric(m) => match (metric_number(a, m), metric_number(b, m)) {
            (Some(x), Some(y)) => dir(x.total_cmp(&y)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
    };
    by.then_with(|| a.name.cmp(&b.name))
}

/// The group a device belongs to under `group`.
pub fn group_key(state: &FleetState, d: &Device, group: &GroupBy) -> String {
    match group {
        GroupBy::None => String::new(),
        GroupBy::Fleet => state.fleet_name(d).to_string(),
        GroupBy::Label(l) => d.label(l).unwrap_or("(none)").to_string(),
    }
}

/// Builds the rows for `spec`.
pub fn build(state: &FleetState, spec: &TableSpec<'_>) -> Vec<Row> {
    let mut ids: Vec<&Device> = state
        .devices
        .iter()
        .filter(|d| spec.filter.matches(d, state.fleet_name(d)))
        .collect();
    ids.sort_by(|a, b| compare(state, a, b, spec));
    if *spec.group == GroupBy::None {
        return ids.into_iter().map(|d| Row::Device(d.id)).collect();
    }
    let mut groups: BTreeMap<String, Vec<DeviceId>> = BTreeMap::new();
    for d in ids {
        groups
            .entry(group_key(state, d, spec.group))
            .or_default()
            .push(d.id);
    }
    let mut rows = Vec::new();
    for (key, members) in groups {
        let mut counts = [0; 4];
        for &id in &members {
            counts[state.devices[id.index()].status as usize] += 1;
        }
        let collapsed = spec.collapsed.contains(&key);
        rows.push(Row::Group {
            key,
            devices: members.len(),
            counts,
            collapsed,
        });
        if !collapsed {
            rows.extend(members.into_iter().map(Row::Device));
        }
    }
    rows
}
