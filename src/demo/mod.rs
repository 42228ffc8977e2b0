//! The demo: an embedded MQTT broker and simulated field fleets.
//!
//! `fleetop demo` runs [`broker::EmbeddedBroker`], the simulator ([`sim::run`]) and fleetop
//! itself with [`config::demo_config`]; `fleetop simulate` runs only the simulator, against any
//! broker, under a prefix of its own so strangers on a public broker are not disturbed, and
//! prints [`watch_hint`] so someone elsewhere can watch.

pub mod broker;
pub mod config;
pub mod sim;
pub mod topics;

pub use broker::EmbeddedBroker;
pub use config::demo_config;
pub use sim::{SimOptions, SimReport, SimStats, run, run_with_stats};

/// The prefix `fleetop demo` uses on its own embedded broker.
pub const DEFAULT_PREFIX: &str = "demo";

/// A prefix for a shared broker: `fleetop-demo/<random>`, so two simulations (or a stranger's
/// topics) never mix. Random per call, not per seed: two people using the same `--seed` on the
/// same public broker must still not collide.
pub fn random_prefix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let tag: String = (0..8)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect();
    format!("fleetop-demo/{tag}")
}

/// Checks a topic prefix: it becomes the first level(s) of every topic and is written into the
/// demo config, so wildcards, template braces, quotes and control characters are refused.
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("the topic prefix is empty; use something like `demo` or `site-a/test`".into());
    }
    if prefix.len() > 200 {
        return Err(format!(
            "the topic prefix is {} bytes long; keep it under 200",
            prefix.len()
        ));
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| matches!(c, '+' | '#' | '{' | '}' | '"' | '\\' | '$') || c.is_control())
    {
        return Err(format!(
            "the topic prefix `{}` contains {c:?}; use letters, digits, `-`, `_`, `.` and `/`",
            prefix.escape_debug()
        ));
    }
    if prefix.split('/').any(str::is_empty) {
        return Err(format!(
            "the topic prefix `{prefix}` has an empty level (a leading, trailing or double `/`)"
        ));
    }
    Ok(())
}

/// The command someone on another machine runs to watch a simulated fleet: print the demo
/// config for the same prefix, then point fleetop at the same broker.
pub fn watch_hint(url: &str, prefix: &str) -> String {
    format!(
        "fleetop demo --print-config --prefix {} > demo.toml && fleetop --config demo.toml --broker {}",
        shell_quote(prefix),
        shell_quote(url)
    )
}

/// Quotes for POSIX shells only when needed, so the common case stays copy-paste friendly.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_prefixes_are_valid_and_differ() {
        let a = random_prefix();
        let b = random_prefix();
        assert_ne!(a, b);
        assert!(a.starts_with("fleetop-demo/"));
        validate_prefix(&a).unwrap();
    }

    #[test]
    fn bad_prefixes_say_why() {
        assert!(validate_prefix("").unwrap_err().contains("empty"));
        assert!(validate_prefix("a/#").unwrap_err().contains("'#'"));
        assert!(validate_prefix("a//b").unwrap_err().contains("empty level"));
        assert!(validate_prefix("/a").is_err());
        assert!(validate_prefix("a\"b").is_err());
        validate_prefix("site-a/test_1.x").unwrap();
    }

    #[test]
    fn watch_hint_is_a_runnable_command() {
        let h = watch_hint("mqtt://test.mosquitto.org:1883", "fleetop-demo/abc");
        assert_eq!(
            h,
            "fleetop demo --print-config --prefix fleetop-demo/abc > demo.toml && \
             fleetop --config demo.toml --broker mqtt://test.mosquitto.org:1883"
        );
        assert!(watch_hint("ws://h/mqtt?x=1 y", "p").contains("'ws://h/mqtt?x=1 y'"));
    }
}
