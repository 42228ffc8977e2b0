//! The TOML configuration: schema, loading, and errors that name file, line and key.
//!
//! Every table denies unknown keys, so a typo is an error rather than a setting silently
//! ignored. `config.example.toml` documents every key; keep the two in step.
//!
//! The schema sits below the modules it configures: loading checks what the schema alone
//! can tell, and each module compiles its part with errors at file:line:column
//! (`Mapper::from_config`, `RuleSet::from_config`, `CommandSet::from_config`).

pub mod alerts;
pub mod commands;
pub mod conventions;
pub mod duration;
pub mod hooks;
pub mod url;

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// A whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// No publish of any kind: commands answer "read-only" instead of acting.
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default, rename = "broker")]
    pub brokers: Vec<BrokerConfig>,
    #[serde(default, rename = "fleet")]
    pub fleets: Vec<FleetConfig>,
    #[serde(default)]
    pub ui: UiConfig,
    /// Alert rules; the built-in ones (offline, stale, decode errors, gateway offline) are
    /// on unless an entry of the same name turns them off.
    #[serde(default, rename = "alert")]
    pub alerts: Vec<alerts::AlertRuleConfig>,
    /// Device command templates.
    #[serde(default, rename = "command")]
    pub commands: Vec<commands::CommandConfig>,
    /// Settings for sending commands.
    #[serde(default, rename = "commands")]
    pub command_settings: CommandSettings,
    /// Device conventions recognised with no `[[fleet]]` (Sparkplug B, Homie, ...).
    #[serde(default)]
    pub conventions: crate::config::conventions::ConventionsConfig,
    /// Defaults and limits for alert hooks (`on_fire`, `on_resolve`).
    #[serde(default)]
    pub hooks: hooks::HooksConfig,
    /// Where the config came from, for error messages; not a key.
    #[serde(skip)]
    pub origin: Origin,
}

/// Where a configuration was read from, so later errors can point back at it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub path: Option<PathBuf>,
    pub text: String,
}

impl Origin {
    /// The file's name, or `<config>` for text that came from no file.
    pub fn name(&self) -> String {
        self.path
            .as_deref()
            .map_or_else(|| "<config>".into(), |p| p.display().to_string())
    }

    /// `file:line:column` for a byte span of the source, or a plain description.
    pub fn locate(&self, span: std::ops::Range<usize>) -> String {
        let name = self.name();
        let upto = &self.text[..span.start.min(self.text.len())];
        let line = upto.matches('\n').count() + 1;
        let column = upto.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{name}:{line}:{column}")
    }
}

/// Caps that bound memory whatever devices send; refusals are counted, never stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Samples kept per metric in the fine ring.
    pub history: usize,
    pub max_devices: usize,
    /// Devices the generic JSON fallback guessed (no convention or fleet claims them):
    /// capped on their own and evicted first when `max_devices` is reached, so a flood
    /// of junk topics cannot keep a real device out.
    pub max_guessed_devices: usize,
    pub max_metrics_per_device: usize,
    pub max_topic_len: usize,
    pub max_payload_bytes: usize,
    /// Sparkplug payloads have their own cap: a large edge node's NBIRTH (100 k metrics)
    /// is several MiB.
    pub max_sparkplug_payload_bytes: usize,
    /// Distinct topics kept in the unmapped list.
    pub max_unmapped_topics: usize,
    /// Topics the explorer keeps figures and the last payloads of (mapped or not).
    pub max_explorer_topics: usize,
    /// Memory for the per-minute tier of every metric together, in MiB: with many metrics
    /// it holds fewer than 24 hours rather than grow without bound.
    pub coarse_memory_mb: usize,
    /// Messages buffered between each connection and the core.
    pub queue: usize,
    /// What a connection does when that buffer is full: wait (the default; TCP slows the
    /// broker down) or drop (read on, count what did not fit).
    pub when_behind: WhenBehind,
}

/// What a connection does when the core is behind and the messages it has read no longer
/// fit in its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenBehind {
    /// Stop reading the socket until the core takes what waits: TCP pushes back to the
    /// broker, which queues or sheds by its own limits. Nothing read is ever lost.
    #[default]
    Wait,
    /// Keep reading and drop what does not fit, counted per connection: for a view that
    /// must stay current more than complete.
    Drop,
}

impl<'de> Deserialize<'de> for WhenBehind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A hand-written message: serde's "unknown variant" does not say what each one does.
        let s = String::deserialize(d)?;
        match s.as_str() {
            "wait" => Ok(WhenBehind::Wait),
            "drop" => Ok(WhenBehind::Drop),
            other => Err(serde::de::Error::custom(format!(
                "`{other}` is not a when_behind choice; use \"wait\" (lossless: the broker \
                 is slowed down) or \"drop\" (read on, count what is dropped)"
            ))),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            history: 512,
            max_devices: 100_000,
            max_guessed_devices: 10_000,
            max_metrics_per_device: 256,
            max_topic_len: 1024,
            max_payload_bytes: 256 * 1024,
            max_sparkplug_payload_bytes: 16 * 1024 * 1024,
            max_unmapped_topics: 10_000,
            max_explorer_topics: 10_000,
            coarse_memory_mb: 64,
            queue: 65_536,
            when_behind: WhenBehind::Wait,
        }
    }
}

/// The terminal UI's settings; command-line flags win.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// Theme name: default, dark, light, high-contrast, mono, or a file in
    /// ~/.config/fleetop/themes/.
    pub theme: Option<String>,
    /// Most frames drawn per second (default 4).
    pub fps: Option<f64>,
    /// For SSH over a bad link: at most 1 frame/s, no sparklines, ANSI-16 colours.
    #[serde(default)]
    pub slow_link: bool,
    /// Ring the terminal bell when a critical alert starts firing (off by default).
    #[serde(default)]
    pub bell: bool,
}

/// How commands are sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandSettings {
    /// Most messages a second a bulk command sends.
    pub bulk_rate: f64,
}

impl Default for CommandSettings {
    fn default() -> Self {
        CommandSettings { bulk_rate: 20.0 }
    }
}

/// MQTT protocol version spoken to a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Protocol {
    #[default]
    #[serde(rename = "5")]
    V5,
    #[serde(rename = "3.1.1")]
    V311,
}

impl std::str::FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "5" | "5.0" | "v5" => Ok(Protocol::V5),
            "3.1.1" | "311" | "4" | "v4" => Ok(Protocol::V311),
            _ => Err(format!("unknown MQTT protocol `{s}`: use `5` or `3.1.1`")),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::V5 => "5",
            Protocol::V311 => "3.1.1",
        })
    }
}

/// One `[[broker]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    pub name: String,
    pub url: Spanned<String>,
    #[serde(default)]
    pub protocol: Protocol,
    pub username: Option<String>,
    /// Name of an environment variable holding the password.
    pub password_env: Option<String>,
    /// A file whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// Ask for the password on the terminal at start-up.
    #[serde(default)]
    pub password_prompt: bool,
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Accept any server certificate. Dangerous; fleetop says so loudly at start-up.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub keepalive: Option<Duration>,
    /// Longest wait between reconnection attempts (default 5 s); each wait is jittered.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub max_backoff: Option<Duration>,
    /// Never publish to this broker.
    #[serde(default)]
    pub read_only: bool,
    /// Extra topic filters, beyond those the fleets imply.
    #[serde(default)]
    pub subscribe: Vec<Subscription>,
}

/// A topic filter with its QoS; written as a string (QoS 0) or `{ filter, qos }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Subscription {
    Filter(String),
    WithQos { filter: String, qos: u8 },
}

impl Subscription {
    pub fn filter(&self) -> &str {
        match self {
            Subscription::Filter(f) | Subscription::WithQos { filter: f, .. } => f,
        }
    }
    pub fn qos(&self) -> u8 {
        match self {
            Subscription::Filter(_) => 0,
            Subscription::WithQos { qos, .. } => *qos,
        }
    }
}

/// How a fleet's payloads are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    Json,
    Number,
    Text,
    #[default]
    Auto,
    /// CBOR (RFC 8949): maps become metrics as JSON objects do.
    Cbor,
    /// MessagePack: maps become metrics as JSON objects do.
    Msgpack,
    /// SenML (RFC 8428) packs in JSON or CBOR: record names become metrics, with units
    /// and their own times.
    Senml,
    /// Protocol Buffers, read with the message type `message` of the fleet's `proto_file`.
    Protobuf,
}

/// One `[[fleet]]` entry: a class of devices recognised by a topic template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    pub name: String,
    /// Topic template: `{device}` names the device, `{metric}` the metric, others are labels.
    pub topic: Spanned<String>,
    #[serde(default)]
    pub format: PayloadFormat,
    /// `format = "protobuf"`: the `.proto` file (relative to the config file) that
    /// defines `message`; compiled at start, no protoc needed.
    pub proto_file: Option<Spanned<PathBuf>>,
    /// `format = "protobuf"`: the full name of the message type of the payloads
    /// (`package.Message`).
    pub message: Option<Spanned<String>>,
    /// A device is stale after twice this without a message.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub expected_interval: Option<Duration>,
    /// Restrict the fleet to one broker (by name); default: every broker.
    pub broker: Option<String>,
    #[serde(default)]
    pub qos: u8,
    /// Metrics shown as columns in the fleet table, in order.
    #[serde(default)]
    pub table: Vec<String>,
    #[serde(default, rename = "metric")]
    pub metrics: Vec<MetricDecl>,
    #[serde(default)]
    pub availability: Vec<AvailabilityConfig>,
}

/// Optional facts about a metric that payloads do not carry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDecl {
    pub name: String,
    pub unit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub display: Option<String>,
}

/// An availability (LWT) topic. With `{device}` it speaks for one device; without, for every
/// device of the fleet whose labels match (a gateway taking its devices with it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityConfig {
    pub topic: Spanned<String>,
    #[serde(default = "default_online")]
    pub online: String,
    #[serde(default = "default_offline")]
    pub offline: String,
}

fn default_online() -> String {
    "online".into()
}
fn default_offline() -> String {
    "offline".into()
}

/// A configuration problem, phrased for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Parses TOML text; `path` only labels messages.
    pub fn parse(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
        let name = path.map_or_else(|| "<config>".to_string(), |p| p.display().to_string());
        let mut config: Config = toml::from_str(text)
            .map_err(|e| ConfigError(format!("{name}: {}", e.to_string().trim_end())))?;
        config.origin = Origin {
            path: path.map(Path::to_path_buf),
            text: text.to_string(),
        };
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "cannot read config file {}: {e}; pass an existing file with --config",
                path.display()
            ))
        })?;
        Config::parse(&text, Some(path))
    }

    /// The XDG location (`~/.config/fleetop/config.toml` on Linux).
    pub fn default_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "fleetop")
            .map(|d| d.config_dir().join("config.toml"))
    }

    /// Loads `--config F` if given, else the XDG file if it exists, else an empty config.
    pub fn discover(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match explicit {
            Some(p) => Config::load(p),
            None => match Config::default_path() {
                Some(p) if p.exists() => Config::load(&p),
                _ => Ok(Config::default()),
            },
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let err = |span: std::ops::Range<usize>, msg: String| {
            ConfigError(format!("{}: {msg}", self.origin.locate(span)))
        };
        let mut names = std::collections::HashSet::new();
        for b in &self.brokers {
            if !names.insert(b.name.as_str()) {
                return Err(err(
                    b.url.span(),
                    format!(
                        "broker name `{}` is used twice; names must be unique",
                        b.name
                    ),
                ));
            }
            if let Err(e) = url::BrokerUrl::parse(b.url.get_ref()) {
                return Err(err(
                    b.url.span(),
                    format!("[[broker]] `{}` url: {e}", b.name),
                ));
            }
            for s in &b.subscribe {
                if s.qos() > 2 {
                    return Err(err(
                        b.url.span(),
                        format!("broker `{}`: subscription QoS must be 0, 1 or 2", b.name),
                    ));
                }
            }
        }
        if let Some((key, value)) = self.conventions.bad_pin() {
            let at = self.origin.text.find(&format!("\"{value}\"")).unwrap_or(0);
            return Err(err(
                at..at + value.len(),
                format!(
                    "[conventions] {key}: `{value}` is not a topic prefix; write levels like `site/homie`, without + # or a leading or trailing /"
                ),
            ));
        }
        let mut fleet_names = std::collections::HashSet::new();
        for f in &self.fleets {
            if !fleet_names.insert(f.name.as_str()) {
                return Err(err(
                    f.topic.span(),
                    format!(
                        "fleet name `{}` is used twice; names must be unique",
                        f.name
                    ),
                ));
            }
            if f.qos > 2 {
                return Err(err(
                    f.topic.span(),
                    format!("fleet `{}`: qos must be 0, 1 or 2", f.name),
                ));
            }
            if let Some(b) = &f.broker
                && !self.brokers.iter().any(|x| &x.name == b)
                && !self.brokers.is_empty()
            {
                return Err(err(
                    f.topic.span(),
                    format!(
                        "fleet `{}` names broker `{b}`, but no [[broker]] has that name",
                        f.name
                    ),
                ));
            }
        }
        if !(self.command_settings.bulk_rate > 0.0 && self.command_settings.bulk_rate <= 10_000.0) {
            return Err(ConfigError(format!(
                "{}: [commands] bulk_rate must be above 0 and at most 10000 messages a second",
                self.origin.name()
            )));
        }
        if self.limits.history < 2 || self.limits.queue == 0 || self.limits.max_devices == 0 {
            return Err(ConfigError(format!(
                "{}: [limits] history must be at least 2, queue and max_devices at least 1",
                self.origin.name()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[broker]]
name = "local"
url = "mqtt://127.0.0.1:1883"
subscribe = ["extra/#", { filter = "alarms/#", qos = 1 }]

[[fleet]]
name = "tanks"
topic = "fleet/tanks/{device}/telemetry"
format = "json"
expected_interval = "30s"
table = ["level_pct"]
[[fleet.metric]]
name = "level_pct"
unit = "%"
min = 0
max = 100
[[fleet.availability]]
topic = "fleet/tanks/{device}/status"
"#;

    #[test]
    fn parses_a_full_config() {
        let c = Config::parse(GOOD, None).unwrap();
        assert_eq!(c.brokers[0].subscribe[1].qos(), 1);
        assert_eq!(c.fleets[0].expected_interval, Some(Duration::from_secs(30)));
        assert_eq!(c.fleets[0].availability[0].online, "online");
        assert_eq!(c.limits.history, 512);
    }

    #[test]
    fn unknown_key_is_an_error_with_line_and_key() {
        let text = "[[fleet]]\nname = \"x\"\ntopic = \"a/{device}\"\nexpected_intervall = \"3s\"\n";
        let e = Config::parse(text, Some(Path::new("f.toml")))
            .unwrap_err()
            .0;
        assert!(e.contains("f.toml"), "{e}");
        assert!(e.contains("line 4"), "{e}");
        assert!(e.contains("expected_intervall"), "{e}");
    }

    #[test]
    fn when_behind_waits_by_default_and_a_bad_choice_names_its_line() {
        let c = Config::parse("[limits]\nwhen_behind = \"drop\"\n", None).unwrap();
        assert_eq!(c.limits.when_behind, WhenBehind::Drop);
        assert_eq!(Limits::default().when_behind, WhenBehind::Wait);
        let text = "[limits]\nqueue = 10\nwhen_behind = \"block\"\n";
        let e = Config::parse(text, Some(Path::new("f.toml")))
            .unwrap_err()
            .0;
        assert!(e.contains("f.toml"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("`block` is not a when_behind choice"), "{e}");
    }

    #[test]
    fn bad_duration_says_what_is_expected() {
        let text = "[[fleet]]\nname = \"x\"\ntopic = \"a/{device}\"\nexpected_interval = \"30\"\n";
        let e = Config::parse(text, None).unwrap_err().0;
        assert!(e.contains("like `3s`"), "{e}");
    }
}
