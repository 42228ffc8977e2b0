//! What the alert book remembers per device and per broker link: in-scope rules, metric
//! stamps (to tell what a message changed), metric slots (to find metrics without
//! comparing names), window summaries and decode-error bookkeeping.

use super::rules::{RuleIdx, RuleSet};
use crate::expr::{Stamp, WindowCache};
use crate::fleet::Device;

/// Per device: which rules apply, what changed since the last message, its window
/// summaries, how many alerts it has, and decode-error bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct DeviceMemo {
    pub(crate) seen: bool,
    pub(crate) labels_len: usize,
    /// The fleet its scopes were worked out for: a device a convention found first may
    /// join a configured fleet later.
    pub(crate) fleet: crate::mapping::FleetIdx,
    /// In-scope rules, ascending, and the same as a bitset for membership tests.
    pub(crate) scoped: Vec<RuleIdx>,
    pub(crate) scoped_bits: Vec<u64>,
    /// Set when the scope changed: the next message evaluates every in-scope rule.
    pub(crate) rescoped: bool,
    /// Parallel to the device's metrics: content stamps and metric ids in the rule set.
    pub(crate) stamps: Vec<Stamp>,
    pub(crate) metric_ids: Vec<u32>,
    /// Per metric id of the rule set, the device's metric index (`u32::MAX`: absent).
    pub(crate) slots: Vec<u32>,
    pub(crate) cache: WindowCache,
    pub(crate) alerts: u32,
    pub(crate) decode_seen: u64,
    pub(crate) decode_at: Option<i64>,
    /// When its rules were last evaluated for a message, and whether messages arrived
    /// since that are still to be evaluated (see [`AlertBook::coalesce`]).
    ///
    /// [`AlertBook::coalesce`]: super::AlertBook::coalesce
    pub(crate) evaluated_ms: Option<i64>,
    pub(crate) deferred: bool,
}

/// Per broker connection: down now, and since when up (staleness counts from there).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Link {
    pub(crate) down: bool,
    pub(crate) up_since: Option<i64>,
    /// When it last went down (or fleetop stopped, for devices known from a past run).
    pub(crate) down_since: Option<i64>,
}

impl Link {
    pub(crate) fn blind(self) -> crate::vocab::Blind {
        crate::vocab::Blind {
            from_ms: self.down_since.unwrap_or(i64::MIN),
            until_ms: self.up_since.unwrap_or(i64::MIN),
        }
    }
}

impl DeviceMemo {
    /// Brings scopes, metric registration and decode bookkeeping up to date.
    pub(crate) fn refresh(&mut self, rules: &RuleSet, d: &Device, now: i64) {
        if !self.seen {
            self.cache = WindowCache::new(d.id.0 as u8);
        }
        // Labels only ever grow, so their count tells whether scopes need a new look.
        if !self.seen || self.labels_len != d.labels.len() || self.fleet != d.fleet {
            self.scoped = (0..rules.rules().len() as RuleIdx)
                .filter(|&r| rules.get(r).is_some_and(|rule| rule.scope.matches(d)))
                .collect();
            self.labels_len = d.labels.len();
            self.fleet = d.fleet;
            self.rescoped = true;
            self.scoped_bits.clear();
            self.scoped_bits.resize(rules.rules().len().div_ceil(64), 0);
            for &r in &self.scoped {
                self.scoped_bits[r as usize / 64] |= 1 << (r % 64);
            }
        }
        self.register_metrics(rules, d);
        if d.decode_errors > self.decode_seen || (!self.seen && d.decode_errors > 0) {
            self.decode_at = Some(now);
        }
        self.decode_seen = d.decode_errors;
        self.seen = true;
    }

    pub(crate) fn in_scope(&self, r: RuleIdx) -> bool {
        self.scoped_bits
            .get(r as usize / 64)
            .is_some_and(|w| w >> (r % 64) & 1 == 1)
    }

    /// Gives the device's new metrics their rule-set ids and slots. Metrics are only ever
    /// appended to a device, so indices past what the memo knows are new ones.
    fn register_metrics(&mut self, rules: &RuleSet, d: &Device) {
        if self.slots.len() != rules.metric_count() {
            self.slots.resize(rules.metric_count(), u32::MAX);
        }
        for (j, metric) in d.metrics.iter().enumerate().skip(self.metric_ids.len()) {
            let id = rules.metric_id(&metric.name).unwrap_or(u32::MAX);
            if let (Some(slot), Ok(j)) = (self.slots.get_mut(id as usize), u32::try_from(j)) {
                *slot = j;
            }
            self.metric_ids.push(id);
            self.stamps.push(Stamp::default());
        }
    }

    /// Updates a device's metric stamps; queues the readers of changed metrics into `todo`.
    pub(crate) fn note_changes(&mut self, rules: &RuleSet, d: &Device, todo: &mut Vec<RuleIdx>) {
        for ((metric, stamp), &id) in d.metrics.iter().zip(&mut self.stamps).zip(&self.metric_ids) {
            let now = Stamp::of(metric);
            if now != *stamp {
                *stamp = now;
                todo.extend_from_slice(rules.readers(id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::alerts::{AlertBook, AlertState, RuleSet};
    use crate::config::Origin;
    use crate::config::alerts::AlertRuleConfig;
    use crate::fleet::MetricValue;
    use crate::fleet::testutil::{device, set};

    fn book(text: &str) -> AlertBook {
        #[derive(serde::Deserialize)]
        struct Doc {
            alert: Vec<AlertRuleConfig>,
        }
        let doc: Doc = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let origin = Origin {
            path: None,
            text: text.into(),
        };
        AlertBook::new(RuleSet::compile(&doc.alert, &["tanks"], &origin).unwrap_or_default())
    }

    fn states(b: &mut AlertBook) -> Vec<(String, AlertState)> {
        b.drain().map(|t| (t.rule_name, t.to)).collect()
    }

    #[test]
    fn a_label_arriving_later_brings_rules_into_scope() {
        let mut b = book(
            "[[alert]]\nname = \"low\"\nlabels = { site = \"north\" }\nwhen = \"level_pct < 15\"\n",
        );
        let mut d = device("tank-01", &[("level_pct", 10.0)]);
        b.evaluate_device(&d, 0);
        assert_eq!(states(&mut b), []);
        // No metric changed, but the scope did: the rule is evaluated now.
        d.labels.push(("site".into(), "north".into()));
        b.evaluate_device(&d, 1000);
        assert_eq!(states(&mut b), [("low".into(), AlertState::Firing)]);
    }

    #[test]
    fn a_device_joining_a_fleet_brings_that_fleets_rules_into_scope() {
        let mut b =
            book("[[alert]]\nname = \"low\"\nfleet = \"tanks\"\nwhen = \"level_pct < 15\"\n");
        let mut d = device("tank-01", &[("level_pct", 10.0)]);
        d.fleet = 3;
        b.evaluate_device(&d, 0);
        assert_eq!(states(&mut b), []);
        // A device a convention found first joins the configured fleet.
        d.fleet = 0;
        b.evaluate_device(&d, 1000);
        assert_eq!(states(&mut b), [("low".into(), AlertState::Firing)]);
        assert_eq!(&*b.alerts().next().unwrap().fleet, "tanks");
        // Leaving it again: the fleet's rule no longer applies, its alert ends.
        d.fleet = 3;
        b.evaluate_device(&d, 2000);
        assert_eq!(states(&mut b), [("low".into(), AlertState::Resolved)]);
        assert_eq!(&*b.alerts().next().unwrap().fleet, "?");
    }

    #[test]
    fn only_changed_metrics_are_re_evaluated_and_text_changes_count() {
        let mut b = book(
            "[[alert]]\nname = \"manual\"\nwhen = \"mode == \\\"manual\\\"\"\n\
             [[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\n",
        );
        let mut d = device("tank-01", &[("level_pct", 50.0), ("mode", 0.0)]);
        d.metrics[1].value = MetricValue::Text("auto".into());
        b.evaluate_device(&d, 0);
        // The same timestamp, a different text: still a change.
        d.metrics[1].value = MetricValue::Text("manual".into());
        b.evaluate_device(&d, 0);
        assert_eq!(states(&mut b), [("manual".into(), AlertState::Firing)]);
        set(&mut d, "level_pct", 1000, 10.0);
        b.evaluate_device(&d, 1000);
        assert_eq!(states(&mut b), [("low".into(), AlertState::Firing)]);
    }
}
