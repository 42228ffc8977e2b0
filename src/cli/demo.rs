//! `fleetop demo` and `fleetop simulate`.

use super::{Cli, DemoArgs, SimulateArgs};
use std::process::ExitCode;

pub async fn demo(_cli: &Cli, _args: &DemoArgs) -> ExitCode {
    eprintln!("fleetop: the demo is not wired yet");
    ExitCode::from(2)
}

pub async fn simulate(_cli: &Cli, _args: &SimulateArgs) -> ExitCode {
    eprintln!("fleetop: simulate is not wired yet");
    ExitCode::from(2)
}
