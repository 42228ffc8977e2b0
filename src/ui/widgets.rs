//! Small drawing helpers shared by the views.

use crate::fleet::{Device, Metric, MetricValue};
use crate::mapping::Fleet;
use crate::sanitize;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` samples of a metric as block characters.
pub fn sparkline(m: &Metric, width: usize) -> String {
    let n = m.ring.len();
    let values: Vec<f64> = m
        .ring
        .iter()
        .skip(n.saturating_sub(width))
        .map(|(_, v)| v)
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    values
        .iter()
        .map(|&v| {
            if hi > lo {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize]
            } else {
                BARS[3]
            }
        })
        .collect()
}

/// A value with its unit (as the device's convention announced it, else as the fleet
/// declares it), sanitised and short.
pub fn value_with_unit(m: &Metric, d: &Device, fleet: Option<&Fleet>) -> String {
    let announced = d
        .facts
        .as_ref()
        .and_then(|f| f.metric(&m.name))
        .and_then(|f| f.unit.as_deref());
    let declared = fleet
        .and_then(|f| f.metric_decl(&m.name))
        .and_then(|d| d.unit.as_deref());
    let own = crate::fleet::delivery::unit(&m.name);
    let unit = sanitize::text(announced.or(declared).or(own).unwrap_or(""));
    match &m.value {
        MetricValue::Text(t) => sanitize::truncate(&sanitize::text(t), 24).into_owned(),
        v => format!("{v}{unit}"),
    }
}

/// The metrics the fleet table shows for a device: the fleet's `table` list, else its
/// first few numeric metrics.
pub fn key_metrics<'d>(d: &'d Device, fleet: Option<&Fleet>, max: usize) -> Vec<&'d Metric> {
    if let Some(f) = fleet
        && !f.table.is_empty()
    {
        return f
            .table
            .iter()
            .filter_map(|name| d.metric(name))
            .take(max)
            .collect();
    }
    d.metrics
        .iter()
        .filter(|m| matches!(m.value, MetricValue::Number(_)))
        .take(max)
        .collect()
}

/// A metric's display name: its declared `display`, else its (sanitised) path.
pub fn metric_label(m: &Metric, fleet: Option<&Fleet>) -> String {
    fleet
        .and_then(|f| f.metric_decl(&m.name))
        .and_then(|d| d.display.clone())
        .unwrap_or_else(|| sanitize::text(&m.name).into_owned())
}

/// Fraction of a declared range, for gauges.
pub fn ratio(m: &Metric, fleet: Option<&Fleet>) -> Option<f64> {
    let decl = fleet?.metric_decl(&m.name)?;
    let (lo, hi) = (decl.min?, decl.max?);
    let MetricValue::Number(v) = m.value else {
        return None;
    };
    (hi > lo).then(|| ((v - lo) / (hi - lo)).clamp(0.0, 1.0))
}
