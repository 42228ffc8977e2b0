//! The `[[command]]` table: how a device command is published and how its result is known.
//!
//! ```toml
//! [[command]]
//! name = "light-dim"
//! fleet = "poles"                       # devices of this fleet; absent: every fleet
//! description = "Dim the light"
//! topic = "demo/cmd/poles/{device}"     # {device}, {fleet}, labels, parameters
//! payload = { cmd = "light-dim", level = "{level}", id = "{id}" }   # a table is sent as JSON
//! qos = 1                               # default 1
//! retain = false                        # retained commands need this set, and get a warning
//! dangerous = false                     # true: the operator types the device name to confirm
//! timeout = "10s"
//! response = true                       # MQTT 5 request/response (response topic + correlation)
//! reply_topic = "demo/cmd/poles/{device}/reply"   # else a reply topic, matched on `reply_id`
//! expect = "dim == {level}"             # else (or also) a state change within the timeout
//!
//! [[command.param]]
//! name = "level"
//! type = "int"                          # int, float, enum, bool, string
//! min = 0
//! max = 100
//! default = 50
//! ```

use super::duration;
use serde::Deserialize;
use std::time::Duration;
use toml::Spanned;

/// One `[[command]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    pub name: Spanned<String>,
    /// Only devices of this fleet (by `[[fleet]] name`); absent: every fleet.
    pub fleet: Option<Spanned<String>>,
    #[serde(default)]
    pub description: String,
    pub topic: Spanned<String>,
    /// A string is sent as text; a table or array is sent as JSON.
    pub payload: Spanned<toml::Value>,
    #[serde(default, rename = "param")]
    pub params: Vec<ParamConfig>,
    #[serde(default = "default_qos")]
    pub qos: u8,
    #[serde(default)]
    pub retain: bool,
    #[serde(default)]
    pub dangerous: bool,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub timeout: Option<Duration>,
    /// Use MQTT 5 request/response on MQTT 5 links: fleetop sets the response topic and
    /// correlation data and matches the reply by them.
    #[serde(default)]
    pub response: bool,
    /// Where replies come on links without request/response (MQTT 3.1.1).
    pub reply_topic: Option<Spanned<String>>,
    /// The reply's JSON field that echoes the request's `{id}`.
    #[serde(default = "default_reply_id")]
    pub reply_id: String,
    /// The reply's JSON field that says whether it worked (`false`: failed).
    #[serde(default = "default_reply_ok")]
    pub reply_ok: String,
    /// The reply's JSON field with the device's reason for a failure.
    #[serde(default = "default_reply_error")]
    pub reply_error: String,
    /// A condition over the device's metrics that shows the command took effect.
    pub expect: Option<Spanned<String>>,
}

/// One `[[command.param]]`: a typed, validated parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamConfig {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: ParamType,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The choices of an `enum`.
    #[serde(default)]
    pub values: Vec<String>,
    /// Longest `string`, in characters (default 64).
    pub max_len: Option<usize>,
    pub default: Option<toml::Value>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Int,
    Float,
    Enum,
    Bool,
    String,
}

fn default_qos() -> u8 {
    1
}
fn default_reply_id() -> String {
    "id".into()
}
fn default_reply_ok() -> String {
    "ok".into()
}
fn default_reply_error() -> String {
    "error".into()
}
