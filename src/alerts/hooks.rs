//! Which program an alert transition runs: `on_fire` / `on_resolve`, an argv array
//! (never a shell), per `[[alert]]` rule or as defaults in `[hooks]`, each with a
//! timeout. Pure: running them is [`crate::output::hooks`]'s job.
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
use serde::{Deserialize, Deserializer};
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_RUNNING: usize = 8;

/// The `[hooks]` table: defaults for rules that name no hook of their own, and limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    #[serde(default, deserialize_with = "argv_opt")]
    pub on_fire: Option<Argv>,
    #[serde(default, deserialize_with = "argv_opt")]
    pub on_resolve: Option<Argv>,
    /// How long a hook may run before it is killed (default 10 s).
    #[serde(default, deserialize_with = "super::config::duration_opt")]
    pub timeout: Option<Duration>,
    /// Most hooks running at once (default 8): an alert storm cannot fork-bomb the host.
    pub max_running: Option<usize>,
    /// Publish every (unsilenced) transition, as its NDJSON line, to this MQTT topic on the
    /// first broker fleetop may publish to. `{rule}`, `{device}`, `{fleet}`, `{severity}`
    /// and `{state}` are filled in.
    pub publish_topic: Option<String>,
    /// QoS of those publishes (default 1).
    pub publish_qos: Option<u8>,
    /// Retain them, so a late subscriber sees each alert's last state (default false).
    #[serde(default)]
    pub publish_retain: bool,
}

impl HooksConfig {
    /// Checks `publish_topic` and `publish_qos`; the error says what to fix.
    pub fn check(&self) -> Result<(), String> {
        if let Some(t) = &self.publish_topic {
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
        if self.publish_qos.is_some_and(|q| q > 2) {
            return Err("[hooks] publish_qos must be 0, 1 or 2".into());
        }
        Ok(())
    }

    /// Publishing of transitions, compiled once; `None` when off (or the topic is bad,
    /// which [`HooksConfig::check`] refuses at load).
    pub fn alert_publish(&self) -> Option<AlertPublish> {
        let topic = Placeholders::parse(self.publish_topic.as_ref()?).ok()?;
        Some(AlertPublish {
            topic,
            qos: self.publish_qos.unwrap_or(1),
            retain: self.publish_retain,
        })
    }
}

/// Where and how alert transitions go to MQTT (`[hooks] publish_topic`).
#[derive(Debug, Clone)]
pub struct AlertPublish {
    topic: Placeholders,
    pub qos: u8,
    pub retain: bool,
}

impl AlertPublish {
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

/// A program and its arguments, run directly (no shell, so no quoting surprises).
pub type Argv = Arc<[String]>;

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

/// An argv array: at least a program name, no empty program.
pub(crate) fn argv_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Argv>, D::Error> {
    let v: Option<Vec<String>> = Option::deserialize(d)?;
    match v {
        None => Ok(None),
        Some(v) if v.first().is_none_or(|p| p.trim().is_empty()) => Err(serde::de::Error::custom(
            "a hook is an argv array with the program first, e.g. [\"/usr/local/bin/page\", \"--team\", \"noc\"] (no shell runs it)",
        )),
        Some(v) => Ok(Some(v.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertState, Severity};

    fn transition(from: AlertState, to: AlertState, silenced: bool) -> Transition {
        Transition {
            rule: 0,
            device: 0,
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

    #[test]
    fn an_empty_argv_is_refused_with_an_example() {
        let e = toml::from_str::<HooksConfig>("on_fire = []")
            .unwrap_err()
            .to_string();
        assert!(e.contains("argv array"), "{e}");
        let e = toml::from_str::<HooksConfig>("on_fire = \"page me\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("on_fire"), "{e}");
    }
}
