//! Alerts: rules over device metrics, evaluated as messages arrive, with the semantics
//! of Prometheus (pending until `for`, `keep_firing_for`, resolution as a state) and
//! ThingsBoard (a clear condition apart from the raise one; acknowledge independent of
//! clear), plus Alertmanager's silences and inhibition.
//!
//! Pure core: no IO and no clock. The engine feeds devices and time in, drains
//! [`Transition`]s out, and appends [`LogEntry`] lines to the alert log.
//!
//! - [`crate::config::alerts`]: the `[[alert]]` table (the schema lives with the config)
//! - [`crate::expr`]: the `when`/`clear` condition language, shared with commands
//! - [`rules`]: compiled rules and the rule set; [`builtin`]: the built-in rules
//! - [`machine`]: one alert's state machine; [`state`]: the book of all alerts
//! - [`silence`], [`log`], [`check`]; [`tally`]: raised alerts by who looks after them

pub mod builtin;
pub mod check;
pub mod glob;
pub mod hooks;
pub mod log;
pub mod machine;
mod memo;
pub mod rules;
pub mod silence;
pub mod state;
pub mod tally;
pub mod template;
pub mod transition;

pub use check::{CheckSummary, check_summary, default_wait};
pub use hooks::{HookEvent, HookRun};
pub use log::{AlertKey, LogEntry, LogError, Raised, Restored, parse_log};
pub use machine::{Ack, Alert, AlertState};
pub use rules::{Rule, RuleError, RuleIdx, RuleSet};
pub use silence::{Matcher, Silence, SilenceRequest, matchers_so_far, parse_silence_command};
pub use state::{AlertBook, AlertError, Resume};
pub use tally::{AlertTally, Handling};
pub use transition::Transition;
