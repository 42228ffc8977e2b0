//! Raised alerts as an operator reads them: the ones that still need someone, by severity,
//! and apart from them the ones already in hand (acked), hidden on purpose (silenced) or
//! held (inhibited: their broker link or their gateway is down, so fleetop cannot judge
//! them and leaves them as they were).

use super::machine::Alert;
use super::state::AlertBook;

/// Who, if anyone, is looking after a raised alert. One answer per alert, in this order
/// of precedence: held, silenced, acked, unhandled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Firing or flapping, and nobody has acked or silenced it.
    Unhandled,
    Acked,
    Silenced,
    /// Inhibited by its broker link or gateway being down.
    Held,
}

/// The header's counts of raised (firing or flapping) alerts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertTally {
    /// Unhandled alerts per severity, indexed by [`crate::vocab::Severity::rank`].
    pub unhandled: [usize; 5],
    pub acked: usize,
    pub silenced: usize,
    pub held: usize,
}

impl AlertTally {
    pub fn unhandled_total(&self) -> usize {
        self.unhandled.iter().sum()
    }

    /// True when no raised alert exists at all.
    pub fn is_empty(&self) -> bool {
        self.unhandled_total() + self.acked + self.silenced + self.held == 0
    }
}

impl AlertBook {
    /// How a raised alert is looked after; `None` for one that is not raised (pending,
    /// resolved).
    pub fn handling(&self, a: &Alert) -> Option<Handling> {
        if !a.state.is_raised() {
            return None;
        }
        Some(if a.inhibited {
            Handling::Held
        } else if self.silenced_by(a).is_some() {
            Handling::Silenced
        } else if a.ack.is_some() {
            Handling::Acked
        } else {
            Handling::Unhandled
        })
    }

    /// Every raised alert counted once, by how it is looked after.
    pub fn tally(&self) -> AlertTally {
        let mut t = AlertTally::default();
        for a in self.alerts() {
            match self.handling(a) {
                Some(Handling::Unhandled) => t.unhandled[a.severity.rank()] += 1,
                Some(Handling::Acked) => t.acked += 1,
                Some(Handling::Silenced) => t.silenced += 1,
                Some(Handling::Held) => t.held += 1,
                None => {}
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::RuleSet;
    use crate::alerts::silence::parse_silence_command;
    use crate::config::Origin;
    use crate::config::alerts::AlertRuleConfig;
    use crate::fleet::testutil::{device, set};

    const RULES: &str = "[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\nseverity = \"critical\"\n\
         [[alert]]\nname = \"hot\"\nwhen = \"temp_c > 90\"\nseverity = \"warning\"\n";

    fn book() -> AlertBook {
        #[derive(serde::Deserialize)]
        struct Doc {
            alert: Vec<AlertRuleConfig>,
        }
        let doc: Doc = toml::from_str(RULES).expect("rules parse");
        let origin = Origin {
            path: None,
            text: RULES.into(),
        };
        AlertBook::new(RuleSet::compile(&doc.alert, &["tanks"], &origin).expect("rules compile"))
    }

    #[test]
    fn each_raised_alert_counts_once_by_who_looks_after_it() {
        let mut b = book();
        for i in 0..3 {
            let mut d = device(&format!("tank-{i}"), &[]);
            d.id = crate::vocab::DeviceId(i);
            set(&mut d, "level_pct", 1000, 5.0);
            set(&mut d, "temp_c", 1000, 95.0);
            b.evaluate_device(&d, 1000);
        }
        let all = b.tally();
        assert_eq!(all.unhandled, [3, 0, 0, 3, 0]);
        assert_eq!((all.acked, all.silenced, all.held), (0, 0, 0));

        let low = b.rules().find("low").expect("rule low");
        b.ack(crate::vocab::DeviceId(1), low, "ann@ops", None, 2000)
            .expect("ack");
        let req = parse_silence_command("device=tank-2 1h \"refill booked\"").expect("silence");
        b.silence(req, "ann@ops", 2000).expect("silence");
        let t = b.tally();
        assert_eq!(t.unhandled, [1, 0, 0, 2, 0], "tank-0 both, tank-1 hot");
        assert_eq!((t.acked, t.silenced, t.held), (1, 2, 0));
    }

    #[test]
    fn a_liveness_alert_held_by_a_link_down_is_counted_as_held() {
        let mut b = book();
        let d = device("tank-0", &[("level_pct", 50.0)]);
        b.link_changed(crate::vocab::ConnId(0), true, 0);
        b.evaluate_device(&d, 0);
        // Two expected intervals (2 × 60 s) with nothing heard: stale, a warning.
        b.tick(std::slice::from_ref(&d), 120_001);
        assert_eq!(b.tally().unhandled, [0, 0, 0, 1, 0]);
        b.link_changed(crate::vocab::ConnId(0), false, 130_000);
        b.tick(std::slice::from_ref(&d), 131_000);
        let t = b.tally();
        assert_eq!((t.unhandled_total(), t.held), (0, 1));
        assert!(!t.is_empty());
    }
}
