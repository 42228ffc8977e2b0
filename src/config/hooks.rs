//! The `[hooks]` table and the argv arrays `on_fire` / `on_resolve` are written as, here
//! and per `[[alert]]` rule. What runs when is [`crate::alerts::hooks`]'s to say.
//!
//! ```toml
//! [hooks]                               # defaults for every rule
//! on_fire = ["/usr/local/bin/page", "--team", "noc"]
//! timeout = "10s"
//! max_running = 8                       # more at once are skipped and counted
//! group_interval = "30s"                # a storm of one rule runs its hook once per 30 s
//! publish_topic = "fleetop/alerts/{severity}/{rule}/{device}"
//! ```

use super::duration;
use serde::{Deserialize, Deserializer};
use std::sync::Arc;
use std::time::Duration;

/// The `[hooks]` table: defaults for rules that name no hook of their own, and limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    #[serde(default, deserialize_with = "argv_opt")]
    pub on_fire: Option<Argv>,
    #[serde(default, deserialize_with = "argv_opt")]
    pub on_resolve: Option<Argv>,
    /// How long a hook may run before it is killed (default 10 s).
    #[serde(default, deserialize_with = "duration::deserialize_opt_allowing_zero")]
    pub timeout: Option<Duration>,
    /// Most hooks running at once (default 8): an alert storm cannot fork-bomb the host.
    pub max_running: Option<usize>,
    /// Alerts of one rule that start (or resolve) within this long of the first run their
    /// hook once together, at its end (default 30 s; `"0s"`: one run per alert).
    #[serde(default, deserialize_with = "duration::deserialize_opt_allowing_zero")]
    pub group_interval: Option<Duration>,
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

/// A program and its arguments, run directly (no shell, so no quoting surprises).
pub type Argv = Arc<[String]>;

/// An argv array: at least a program name, no empty program.
pub fn argv_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Argv>, D::Error> {
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
