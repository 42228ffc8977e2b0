//! Which program an alert transition runs: `on_fire` / `on_resolve`, an argv array
//! (never a shell), per `[[alert]]` rule or as defaults in `[hooks]`, each with a
//! timeout. Pure: running them is [`crate::output::hooks`]'s job; the tables' schema is
//! [`crate::config::hooks`].
//!
//! ```toml
//! [hooks]                               # defaults for every rule
//! on_fire = ["/usr/local/bin/page", "--team", "noc"]
//! timeout = "10s"
//! max_running = 8                       # more at once are skipped and counted
//! group_interval = "30s"                # alerts of one rule that follow the first are
//!                                       # run together at the end of the interval
//!
//! [[alert]]
//! name = "tank_low"
//! when = "level_pct < 15"
//! on_fire = ["/usr/local/bin/notify-refill"]   # the alert arrives as JSON on stdin
//! on_resolve = ["/usr/local/bin/notify-refill", "--done"]
//! hook_timeout = "30s"
//! ```

use super::rules::RuleIdx;
use super::transition::Transition;
use crate::commands::placeholders::Placeholders;
use crate::config::hooks::{Argv, HooksConfig};
use std::collections::HashMap;
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_RUNNING: usize = 8;
pub const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(30);

/// Where and how alert transitions go to MQTT (`[hooks] publish_topic`).
#[derive(Debug, Clone)]
pub struct AlertPublish {
    topic: Placeholders,
    pub qos: u8,
    pub retain: bool,
}

impl AlertPublish {
    /// Checks `publish_topic` and `publish_qos`; the error says what to fix.
    pub fn check(config: &HooksConfig) -> Result<(), String> {
        if let Some(t) = &config.publish_topic {
            let known = ["rule", "device", "fleet", "severity", "state"];
            let parsed =
                Placeholders::parse(t).map_err(|e| format!("[hooks] publish_topic: {e}"))?;
            if let Some(bad) = parsed.names().find(|n| !known.contains(n)) {
                return Err(format!(
                    "[hooks] publish_topic names `{{{bad}}}`; use {{rule}}, {{device}}, {{fleet}}, {{severity}} or {{state}}"
                ));
            }
            if !crate::mapping::filter::is_topic(t) {
                return Err(
                    "[hooks] publish_topic must be a topic, without + # or NUL characters".into(),
                );
            }
        }
        if config.publish_qos.is_some_and(|q| q > 2) {
            return Err("[hooks] publish_qos must be 0, 1 or 2".into());
        }
        Ok(())
    }

    /// Publishing of transitions, compiled once; `None` when off (or the topic is bad,
    /// which [`AlertPublish::check`] refuses at load).
    pub fn from_config(config: &HooksConfig) -> Option<AlertPublish> {
        let topic = Placeholders::parse(config.publish_topic.as_ref()?).ok()?;
        Some(AlertPublish {
            topic,
            qos: config.publish_qos.unwrap_or(1),
            retain: config.publish_retain,
        })
    }

    /// The topic for `t`: names become single levels, without separators or wildcards.
    pub fn topic_for(&self, t: &Transition) -> String {
        let level = |s: &str| s.replace(['/', '+', '#', '\u{0}'], "_");
        self.topic
            .render(|n| {
                Ok(match n {
                    "rule" => level(&t.rule_name),
                    "device" => level(&t.device_name),
                    "fleet" => level(&t.fleet),
                    "severity" => t.severity.as_str().to_string(),
                    _ => format!("{:?}", t.to).to_lowercase(),
                })
            })
            .unwrap_or_default()
    }
}

/// Which edge of an alert a hook runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookEvent {
    Fire,
    Resolve,
}

impl HookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::Fire => "on_fire",
            HookEvent::Resolve => "on_resolve",
        }
    }
}

/// A rule's hooks after defaults are applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hooks {
    pub on_fire: Option<Argv>,
    pub on_resolve: Option<Argv>,
    pub timeout: Option<Duration>,
}

impl Hooks {
    /// The rule's own settings win; unset ones come from `[hooks]`.
    pub fn or_defaults(&self, d: &HooksConfig) -> Hooks {
        Hooks {
            on_fire: self.on_fire.clone().or_else(|| d.on_fire.clone()),
            on_resolve: self.on_resolve.clone().or_else(|| d.on_resolve.clone()),
            timeout: self.timeout.or(d.timeout),
        }
    }

    /// What a transition runs: `on_fire` when an unsilenced alert starts firing,
    /// `on_resolve` when one resolves; nothing for pending, flapping or silenced ones.
    pub fn plan(&self, t: &Transition) -> Option<HookRun> {
        let (event, argv) = if t.is_new_fire() {
            (HookEvent::Fire, self.on_fire.as_ref()?)
        } else if t.is_resolve() {
            (HookEvent::Resolve, self.on_resolve.as_ref()?)
        } else {
            return None;
        };
        Some(HookRun {
            event,
            argv: argv.clone(),
            timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
        })
    }
}

/// One hook to run.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRun {
    pub event: HookEvent,
    pub argv: Argv,
    pub timeout: Duration,
}

/// A hook run for one or more alerts of one rule (their lines go to its stdin).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRun {
    pub run: HookRun,
    pub alerts: Vec<Transition>,
}

/// Alerts of one rule that start (or resolve) together run their hook once, as a group,
/// as Alertmanager groups notifications: the first runs at once, those that follow within
/// the group interval wait for its end and run together, and so on while the storm lasts.
/// A gateway outage that makes 500 devices stale is then a few runs, not 500. Pure: time
/// is passed in.
#[derive(Debug)]
pub struct HookGroups {
    interval_ms: i64,
    open: HashMap<(RuleIdx, HookEvent), OpenGroup>,
}

#[derive(Debug)]
struct OpenGroup {
    until_ms: i64,
    run: HookRun,
    waiting: Vec<Transition>,
}

impl HookGroups {
    pub fn new(interval: Duration) -> HookGroups {
        HookGroups {
            interval_ms: i64::try_from(interval.as_millis()).unwrap_or(i64::MAX),
            open: HashMap::new(),
        }
    }

    pub fn from_config(config: &HooksConfig) -> HookGroups {
        HookGroups::new(config.group_interval.unwrap_or(DEFAULT_GROUP_INTERVAL))
    }

    /// Takes a transition whose hook is `run`: what runs now, if anything (the rest waits
    /// for [`HookGroups::due`]).
    pub fn offer(&mut self, run: HookRun, t: Transition, now_ms: i64) -> Option<GroupRun> {
        if self.interval_ms == 0 {
            return Some(GroupRun {
                run,
                alerts: vec![t],
            });
        }
        let key = (t.rule, run.event);
        if let Some(g) = self.open.get_mut(&key)
            && g.until_ms > now_ms
        {
            g.waiting.push(t);
            return None;
        }
        let group = OpenGroup {
            until_ms: now_ms.saturating_add(self.interval_ms),
            run: run.clone(),
            waiting: Vec::new(),
        };
        self.open.insert(key, group);
        Some(GroupRun {
            run,
            alerts: vec![t],
        })
    }

    /// The groups whose interval has ended with alerts waiting, fires before resolves;
    /// a group that ran stays open one more interval, one with nothing waiting closes.
    pub fn due(&mut self, now_ms: i64) -> Vec<GroupRun> {
        let interval = self.interval_ms;
        let mut runs = Vec::new();
        self.open.retain(|&(rule, event), g| {
            if g.until_ms > now_ms {
                return true;
            }
            if g.waiting.is_empty() {
                return false;
            }
            g.until_ms = now_ms.saturating_add(interval);
            let alerts = std::mem::take(&mut g.waiting);
            runs.push((
                (event != HookEvent::Fire, rule),
                GroupRun {
                    run: g.run.clone(),
                    alerts,
                },
            ));
            true
        });
        runs.sort_by_key(|(order, _)| *order);
        runs.into_iter().map(|(_, r)| r).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::AlertState;
    use crate::vocab::Severity;

    fn transition(from: AlertState, to: AlertState, silenced: bool) -> Transition {
        Transition {
            rule: 0,
            device: crate::vocab::DeviceId(0),
            rule_name: "low".into(),
            device_name: "tank-01".into(),
            fleet: "tanks".into(),
            from,
            to,
            severity: Severity::Critical,
            value: "12".into(),
            message: String::new(),
            at_ms: 0,
            silenced,
        }
    }

    #[test]
    fn fire_and_resolve_pick_their_hook_and_the_rule_beats_the_defaults() {
        let own = Hooks {
            on_fire: Some(vec!["own".to_string()].into()),
            ..Hooks::default()
        };
        let defaults: HooksConfig =
            toml::from_str("on_fire = [\"d\"]\non_resolve = [\"r\", \"--done\"]\ntimeout = \"2s\"")
                .unwrap();
        let h = own.or_defaults(&defaults);
        let fire = h
            .plan(&transition(AlertState::Pending, AlertState::Firing, false))
            .unwrap();
        assert_eq!(
            (fire.event, &fire.argv[..]),
            (HookEvent::Fire, &["own".to_string()][..])
        );
        assert_eq!(fire.timeout, Duration::from_secs(2));
        let resolve = h
            .plan(&transition(AlertState::Firing, AlertState::Resolved, false))
            .unwrap();
        assert_eq!(resolve.argv.len(), 2);
        assert_eq!(
            h.plan(&transition(
                AlertState::Inactive,
                AlertState::Pending,
                false
            )),
            None
        );
        assert_eq!(
            h.plan(&transition(AlertState::Pending, AlertState::Firing, true)),
            None
        );
        assert_eq!(
            Hooks::default().plan(&transition(AlertState::Pending, AlertState::Firing, false)),
            None
        );
    }

    fn fire(device: u32, at_ms: i64) -> Transition {
        Transition {
            device: crate::vocab::DeviceId(device),
            device_name: format!("tank-{device:02}"),
            at_ms,
            ..transition(AlertState::Pending, AlertState::Firing, false)
        }
    }

    fn run(event: HookEvent) -> HookRun {
        HookRun {
            event,
            argv: vec!["page".to_string()].into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    fn devices(g: &GroupRun) -> Vec<u32> {
        g.alerts.iter().map(|t| t.device.0).collect()
    }

    #[test]
    fn a_storm_of_one_rule_runs_its_hook_once_per_interval() {
        let mut groups = HookGroups::new(Duration::from_secs(30));
        let first = groups.offer(run(HookEvent::Fire), fire(1, 0), 0);
        assert_eq!(
            first.as_ref().map(devices),
            Some(vec![1]),
            "the first runs at once"
        );
        for d in 2..=500 {
            assert_eq!(
                groups.offer(run(HookEvent::Fire), fire(d, 1_000), 1_000),
                None
            );
        }
        let resolve = transition(AlertState::Firing, AlertState::Resolved, false);
        let resolved = groups.offer(run(HookEvent::Resolve), resolve, 2_000);
        assert!(resolved.is_some(), "resolves are a group of their own");
        assert_eq!(groups.due(29_999), []);
        let due = groups.due(30_000);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].alerts.len(), 499, "the rest, together");
        // Still storming: the next one waits for the next interval.
        assert_eq!(
            groups.offer(run(HookEvent::Fire), fire(501, 31_000), 31_000),
            None
        );
        assert_eq!(groups.due(59_999), []);
        assert_eq!(
            groups.due(60_000).iter().map(devices).collect::<Vec<_>>(),
            [vec![501]]
        );
        // Quiet for a whole interval: the group closes and the next alert runs at once.
        assert_eq!(groups.due(90_000), []);
        assert!(
            groups
                .offer(run(HookEvent::Fire), fire(502, 95_000), 95_000)
                .is_some()
        );
    }

    #[test]
    fn a_zero_interval_runs_every_alert_on_its_own() {
        let mut groups = HookGroups::new(Duration::ZERO);
        for d in 0..3 {
            assert!(groups.offer(run(HookEvent::Fire), fire(d, 0), 0).is_some());
        }
        assert_eq!(groups.due(1_000_000), []);
    }
}
