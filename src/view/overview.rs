//! The fleet overview's figures: per fleet, devices by status; per table metric, the spread
//! of the latest values across the fleet's devices and how many are past an alert
//! threshold; and the devices that are worst off. Computed from a [`CoreView`] when a frame
//! is drawn, so they are never out of step with the table.

use super::CoreView;
use crate::alerts::rules::Condition;
use crate::expr::EvalCtx;
use crate::fleet::{Device, FleetState, MetricValue, Status};
use crate::mapping::FleetIdx;
use crate::vocab::{DeviceId, Severity};
use std::sync::Arc;

/// Buckets of a distribution bar.
pub const BINS: usize = 10;
/// Metrics shown for a fleet that names no `table`: its most common numeric ones.
pub const MAX_METRICS: usize = 6;
/// Devices listed as the worst off, per fleet.
pub const WORST: usize = 3;

/// One fleet at a glance.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSummary {
    pub fleet: FleetIdx,
    pub name: String,
    pub devices: usize,
    /// Online, stale, offline, unknown.
    pub by_status: [usize; 4],
    pub metrics: Vec<MetricSpread>,
    /// Devices with a problem, worst first (at most [`WORST`]).
    pub worst: Vec<Trouble>,
}

/// The latest values of one metric across a fleet's devices.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpread {
    pub name: Box<str>,
    pub unit: Option<String>,
    /// Devices that report it as a number.
    pub devices: usize,
    pub min: f64,
    pub p50: f64,
    pub max: f64,
    /// Devices per equal-width bucket from `min` to `max` (all in the first when equal).
    pub bins: [u32; BINS],
    /// Devices for which an alert rule that reads this metric holds now.
    pub beyond: usize,
    /// The names of those rules.
    pub rules: Vec<Arc<str>>,
}

/// A device that is worst off, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Trouble {
    pub device: DeviceId,
    pub status: Status,
    /// Its worst raised alert nobody silenced.
    pub severity: Option<Severity>,
    pub recent_errors: bool,
}

/// The summary of every fleet that has devices, in configuration order.
pub fn fleets(view: &CoreView) -> Vec<FleetSummary> {
    members(view.state)
        .iter()
        .map(|(fleet, devices)| summarise(view, *fleet, devices))
        .collect()
}

/// The fleets that have devices, in configuration order (the overview's rows), with
/// their devices.
pub fn members(state: &FleetState) -> Vec<(FleetIdx, Vec<&Device>)> {
    let mut members: Vec<Vec<&Device>> = vec![Vec::new(); state.mapper.fleets.len()];
    for d in &state.devices {
        if let Some(m) = members.get_mut(d.fleet as usize) {
            m.push(d);
        }
    }
    members
        .into_iter()
        .enumerate()
        .filter(|(_, devices)| !devices.is_empty())
        .map(|(i, devices)| (i as FleetIdx, devices))
        .collect()
}

fn summarise(view: &CoreView, fleet: FleetIdx, devices: &[&Device]) -> FleetSummary {
    let decl = view.state.mapper.fleets.get(fleet as usize);
    let mut by_status = [0; 4];
    for d in devices {
        by_status[status_rank(d.status)] += 1;
    }
    let metrics = metric_names(decl.map(|f| f.table.as_slice()), devices)
        .into_iter()
        .filter_map(|name| {
            let unit = decl
                .and_then(|f| f.metric_decl(&name))
                .and_then(|m| m.unit.clone());
            spread(view, fleet, devices, name, unit)
        })
        .collect();
    FleetSummary {
        fleet,
        name: decl.map_or_else(|| "?".to_string(), |f| f.name.clone()),
        devices: devices.len(),
        by_status,
        metrics,
        worst: worst(view, devices),
    }
}

fn status_rank(s: Status) -> usize {
    match s {
        Status::Online => 0,
        Status::Stale => 1,
        Status::Offline => 2,
        Status::Unknown => 3,
    }
}

/// The fleet's `table` metrics, else the numeric metrics most of its devices report.
fn metric_names(table: Option<&[String]>, devices: &[&Device]) -> Vec<Box<str>> {
    if let Some(t) = table.filter(|t| !t.is_empty()) {
        return t.iter().map(|n| n.as_str().into()).collect();
    }
    let mut counts: std::collections::HashMap<&str, usize> = Default::default();
    for d in devices {
        for m in d.metrics.iter().filter(|m| number(&m.value).is_some()) {
            *counts.entry(&m.name).or_default() += 1;
        }
    }
    let mut names: Vec<(&str, usize)> = counts.into_iter().collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    names
        .into_iter()
        .take(MAX_METRICS)
        .map(|(n, _)| n.into())
        .collect()
}

/// Numbers and booleans (as 0/1), like the history rings keep them.
fn number(v: &MetricValue) -> Option<f64> {
    match v {
        MetricValue::Number(n) if n.is_finite() => Some(*n),
        MetricValue::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn spread(
    view: &CoreView,
    fleet: FleetIdx,
    devices: &[&Device],
    name: Box<str>,
    unit: Option<String>,
) -> Option<MetricSpread> {
    let mut values: Vec<f64> = devices
        .iter()
        .filter_map(|d| d.metric(&name).and_then(|m| number(&m.value)))
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let (min, max) = (values[0], values[values.len() - 1]);
    let mut bins = [0u32; BINS];
    for &v in &values {
        let at = if max > min {
            (((v - min) / (max - min)) * BINS as f64) as usize
        } else {
            0
        };
        bins[at.min(BINS - 1)] += 1;
    }
    let (beyond, rules) = beyond_threshold(view, fleet, devices, &name);
    Some(MetricSpread {
        devices: values.len(),
        min,
        p50: median(&values),
        max,
        bins,
        beyond,
        rules,
        name,
        unit,
    })
}

/// The middle of sorted values (the mean of the middle two when there is an even count).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Devices for which a rule that reads `metric` (and covers them) holds now, whatever its
/// `for`: how many are past the threshold, not how many alerts have fired yet.
fn beyond_threshold(
    view: &CoreView,
    fleet: FleetIdx,
    devices: &[&Device],
    metric: &str,
) -> (usize, Vec<Arc<str>>) {
    let rules: Vec<_> = view
        .alerts
        .rules()
        .rules()
        .iter()
        .filter(|r| r.scope.fleet.is_none_or(|f| f == fleet) && r.metrics().contains(&metric))
        .filter_map(|r| match &r.condition {
            Condition::Expr { when, .. } => Some((r, when)),
            Condition::Builtin(_) => None,
        })
        .collect();
    let beyond = devices
        .iter()
        .filter(|d| {
            let ctx = EvalCtx {
                blind: view
                    .state
                    .connections
                    .get(d.conn.index())
                    .map_or(crate::vocab::Blind::NEVER, |c| c.blind()),
                ..EvalCtx::at(view.now_ms)
            };
            rules
                .iter()
                .any(|(r, when)| r.scope.matches(d) && when.eval(d, &ctx).is_true())
        })
        .count();
    (beyond, rules.iter().map(|(r, _)| r.name.clone()).collect())
}

/// Devices with a raised alert, offline, stale or sending bad payloads, worst first: by
/// alert severity, then status, then name.
fn worst(view: &CoreView, devices: &[&Device]) -> Vec<Trouble> {
    let mut troubled: Vec<(Trouble, &str)> = devices
        .iter()
        .map(|d| {
            let t = Trouble {
                device: d.id,
                status: d.status,
                severity: view.alerts.worst_for(d.id),
                recent_errors: d.has_recent_error(view.now_ms),
            };
            (t, &*d.name)
        })
        .filter(|(t, _)| {
            t.severity.is_some()
                || matches!(t.status, Status::Offline | Status::Stale)
                || t.recent_errors
        })
        .collect();
    let status_weight = |s: Status| match s {
        Status::Offline => 0,
        Status::Stale => 1,
        Status::Unknown => 2,
        Status::Online => 3,
    };
    troubled.sort_by(|(a, an), (b, bn)| {
        b.severity
            .cmp(&a.severity)
            .then(status_weight(a.status).cmp(&status_weight(b.status)))
            .then(b.recent_errors.cmp(&a.recent_errors))
            .then(an.cmp(bn))
    });
    troubled.into_iter().take(WORST).map(|(t, _)| t).collect()
}

#[cfg(test)]
mod tests;
