//! Logs go to a file in the XDG state directory (`~/.local/state/fleetop/fleetop.log`), never
//! to the screen: the terminal belongs to the UI. `FLEETOP_LOG=debug` raises the level.

use std::path::PathBuf;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// The state directory, created if missing.
pub fn state_dir() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "fleetop")?;
    let dir = dirs
        .state_dir()
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs.data_local_dir().to_path_buf());
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Starts file logging; returns the log path, or `None` if no file could be opened (then
/// nothing is logged rather than anything reaching the terminal).
pub fn init() -> Option<PathBuf> {
    let path = state_dir()?.join("fleetop.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let level = std::env::var("FLEETOP_LOG")
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    // The embedded broker is chatty at info level; keep its warnings only.
    let filter = Targets::new()
        .with_default(level)
        .with_target("rumqttd", LevelFilter::WARN);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false);
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
        .ok()?;
    Some(path)
}

/// `user@host`: who acknowledged an alert or sent a command.
pub fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("{user}@{}", gethostname::gethostname().to_string_lossy())
}
