//! Outputs without a terminal UI: snapshots, the NDJSON event stream, recordings.

pub mod alert_log;
pub mod audit;
pub mod discover;
mod fleet_guess;
pub mod headless;
pub mod hooks;
pub mod known_devices;
pub mod snapshot;
pub mod stream;
