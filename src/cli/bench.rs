//! `fleetop bench ingest`.

use super::SourceArgs;
use std::process::ExitCode;

pub async fn ingest(_source: &SourceArgs, _messages: u64, _ceiling: bool) -> ExitCode {
    eprintln!("fleetop: bench ingest is not wired yet");
    ExitCode::from(2)
}
