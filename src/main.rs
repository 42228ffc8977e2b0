use clap::Parser;
use fleetop::cli::{BenchKind, Cli, Command, run};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    fleetop::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fleetop: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> ExitCode {
    match &cli.command {
        Some(Command::Cmd(args)) => fleetop::cli::cmd::cmd(&cli.source, args).await,
        Some(Command::Demo(args)) => fleetop::cli::demo::demo(&cli, args).await,
        Some(Command::Simulate(args)) => fleetop::cli::demo::simulate(&cli, args).await,
        Some(Command::Bench(b)) => match &b.which {
            BenchKind::Ingest(args) => fleetop::cli::bench::ingest(&cli.source, args).await,
        },
        Some(Command::Snapshot { wait, format }) => match cli.source.resolve() {
            Ok((config, input)) => run::snapshot(&config, input, *wait, *format).await,
            Err(e) => fail(&e),
        },
        Some(Command::Check { wait }) => match cli.source.resolve() {
            Ok((config, input)) => run::check(&config, input, *wait).await,
            Err(e) => {
                println!("UNKNOWN: {e}");
                ExitCode::from(3)
            }
        },
        Some(Command::Discover { wait, format }) => match cli.source.resolve() {
            Ok((config, input)) => run::discover(&config, input, *wait, *format).await,
            Err(e) => fail(&e),
        },
        Some(Command::Record { out }) => match cli.source.resolve() {
            Ok((config, input)) => run::record(&config, input, out).await,
            Err(e) => fail(&e),
        },
        None => match cli.source.resolve() {
            Ok((config, input)) if cli.ui.headless => {
                let place = run::place_of(&config, &input);
                run::headless(&config, input, &place, std::time::Duration::from_secs(5)).await
            }
            Ok((config, input)) => {
                let options = cli.ui.options(&config.ui);
                let place = run::place_of(&config, &input);
                run::live(&config, input, &place, options).await
            }
            Err(e) => fail(&e),
        },
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("fleetop: {message}");
    ExitCode::from(2)
}
