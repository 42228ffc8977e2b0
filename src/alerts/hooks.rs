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
//!
//! [[alert]]
//! name = "tank_low"
//! when = "level_pct < 15"
//! on_fire = ["/usr/local/bin/notify-refill"]   # the alert arrives as JSON on stdin
//! on_resolve = ["/usr/local/bin/notify-refill", "--done"]
//! hook_timeout = "30s"
//! ```

use super::transition::Transition;
use crate::commands::placeholders::Placeholders;
use crate::config::hooks::{Argv, HooksConfig};
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_RUNNING: usize = 8;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}
