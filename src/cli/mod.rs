//! The command line: subcommands, flags, and turning them into a config and an input.
//! Names here are fixed; scripts rely on them.

pub mod bench;
pub mod cmd;
pub mod demo;
pub mod run;

use crate::alerts::RuleSet;
use crate::commands::CommandSet;
use crate::config::url::BrokerUrl;
use crate::config::{BrokerConfig, Config, Protocol, Subscription, duration};
use crate::engine::Input;
use crate::mapping::Mapper;
use crate::mapping::filter::covers;
use crate::source::mqtt::ConnectionSpec;
use crate::source::replay::Speed;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "fleetop",
    version,
    about = "top for a fleet: watch IoT/M2M devices over MQTT",
    after_help = "Try it with nothing installed:  fleetop demo\n\
                  Watch a broker:                 fleetop --broker mqtt://host:1883\n\
                  Print the fleet once:           fleetop snapshot --broker mqtt://host:1883"
)]
pub struct Cli {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub ui: UiArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How the live view draws: flags of `fleetop` itself and of `fleetop demo`, the two that
/// show it, so no other subcommand's `--help` lists them.
#[derive(Debug, Clone, Default, Args)]
pub struct UiArgs {
    /// Print NDJSON events on stdout instead of the live view.
    #[arg(long)]
    pub headless: bool,
    /// Most frames per second (default 4; the config's [ui] fps).
    #[arg(long)]
    pub fps: Option<f64>,
    /// For SSH over a bad link: at most 1 frame/s, no sparklines, ANSI-16 colours.
    #[arg(long)]
    pub slow_link: bool,
    /// Theme: default, dark, light, high-contrast, mono.
    #[arg(long)]
    pub theme: Option<String>,
    /// Ring the terminal bell when a critical alert starts firing (the config's [ui] bell).
    #[arg(long)]
    pub bell: bool,
    /// The view to start in: fleet (the table), overview, map, alerts, topics, broker.
    #[arg(long, value_name = "VIEW",
          value_parser = clap::builder::PossibleValuesParser::new(crate::app::View::NAMES))]
    pub view: Option<String>,
}

impl UiArgs {
    /// These flags, each taken from `before` (given before the subcommand) where not
    /// given here.
    pub fn or(&self, before: &UiArgs) -> UiArgs {
        UiArgs {
            headless: self.headless || before.headless,
            fps: self.fps.or(before.fps),
            slow_link: self.slow_link || before.slow_link,
            theme: self.theme.clone().or_else(|| before.theme.clone()),
            bell: self.bell || before.bell,
            view: self.view.clone().or_else(|| before.view.clone()),
        }
    }

    /// Flags over config keys over defaults.
    pub fn options(&self, config: &crate::config::UiConfig) -> crate::tui::TuiOptions {
        crate::tui::TuiOptions {
            fps: self.fps.or(config.fps).unwrap_or(4.0),
            slow_link: self.slow_link || config.slow_link,
            theme: self.theme.clone().or_else(|| config.theme.clone()),
            bell: self.bell || config.bell,
            view: self
                .view
                .as_deref()
                .and_then(crate::app::View::parse)
                .unwrap_or(crate::app::View::Fleet),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect, collect for a while, print the fleet and exit (1 if no broker could be reached).
    Snapshot {
        /// How long to collect before printing.
        #[arg(long, default_value = "3s", value_parser = duration::parse)]
        wait: Duration,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One line naming the firing alerts; exit 0 OK, 1 warning, 2 critical, 3 unknown.
    Check {
        /// How long to collect before judging. By default as long as the rules' longest
        /// `for` needs, plus 2 s (32 s with the built-in rules), at most 2 min.
        #[arg(long, value_parser = duration::parse)]
        wait: Option<Duration>,
    },
    /// Which device conventions a broker speaks, devices per convention, and a config
    /// snippet for what could only be guessed.
    Discover {
        /// How long to listen.
        #[arg(long, default_value = "10s", value_parser = duration::parse)]
        wait: Duration,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write raw traffic to a JSONL file, one message a line, for --replay.
    Record {
        #[arg(long, value_name = "FILE.jsonl")]
        out: PathBuf,
    },
    /// Send one command to a device; exit 0 success, 1 failure/timeout/read-only, 2 bad arguments.
    Cmd(CmdArgs),
    /// An embedded broker and a simulated fleet: a live demo with nothing installed.
    Demo(DemoArgs),
    /// Publish the simulated fleets to any broker.
    Simulate(SimulateArgs),
    /// Benchmarks that print figures.
    Bench(BenchArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Where messages come from; valid before or after the subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct SourceArgs {
    /// Config file (default: the XDG path, e.g. ~/.config/fleetop/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Broker URL (mqtt://, mqtts://, ws://, wss://); replaces the config's brokers.
    #[arg(long, global = true, value_name = "URL")]
    pub broker: Option<String>,
    /// Extra topic filter to subscribe to (repeatable).
    #[arg(long, global = true, value_name = "FILTER")]
    pub subscribe: Vec<String>,
    /// Feed a recording through the pipeline instead of a broker.
    #[arg(
        long,
        global = true,
        value_name = "FILE.jsonl",
        conflicts_with = "broker"
    )]
    pub replay: Option<PathBuf>,
    /// Replay speed: 1x, 10x, max.
    #[arg(long, global = true, default_value = "max")]
    pub speed: Speed,
    /// MQTT version for --broker: 5 or 3.1.1.
    #[arg(long, global = true, default_value = "5")]
    pub protocol: Protocol,
    /// Username for --broker.
    #[arg(long, global = true)]
    pub username: Option<String>,
    /// Environment variable holding the password for --broker.
    #[arg(long, global = true, value_name = "VAR")]
    pub password_env: Option<String>,
    /// File whose first line is the password for --broker.
    #[arg(long, global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Ask for the --broker password on the terminal.
    #[arg(long, global = true)]
    pub password_prompt: bool,
    /// CA certificates (PEM) for --broker instead of the system roots.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, global = true, value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(long, global = true, value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// Accept any TLS certificate. Insecure: for test brokers only.
    #[arg(long, global = true)]
    pub insecure_skip_verify: bool,
    /// Client id (default fleetop-<host>-<random>).
    #[arg(long, global = true)]
    pub client_id: Option<String>,
    /// Publish nothing, ever: command keys answer "read-only" instead of acting.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// When fleetop falls behind, drop (and count) messages instead of slowing the broker
    /// down (the config's [limits] when_behind = "drop").
    #[arg(long, global = true)]
    pub drop_when_behind: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CmdArgs {
    /// The device, by name.
    pub device: String,
    /// A [[command]] name valid for the device's fleet.
    pub command: String,
    /// Parameters as name=value.
    pub args: Vec<String>,
    /// Wait for the device's answer (or the expected state), not just the broker's ack.
    #[arg(long)]
    pub wait: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// How long to look for the device before calling it unknown (it must have reported).
    #[arg(long, default_value = "30s", value_parser = duration::parse)]
    pub find: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Simulated devices across the five fleets.
    #[arg(long, default_value_t = 200)]
    pub devices: usize,
    /// Seed: the same seed gives the same device ids and faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the demo's config (to learn the format or watch a simulated fleet elsewhere).
    #[arg(long)]
    pub print_config: bool,
    /// Topic prefix of the simulated fleets.
    #[arg(long, default_value = "demo")]
    pub prefix: String,
    #[command(flatten)]
    pub ui: UiArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Topic prefix (default: fleetop-demo/<random>, so strangers on a public broker do not collide).
    #[arg(long)]
    pub prefix: Option<String>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Total messages per second. Default: the fleets' natural pace, slowed to at most 50
    /// msg/s (public brokers throttle). Below the natural pace devices report less often
    /// than their expected interval and show as stale.
    #[arg(long)]
    pub rate: Option<f64>,
    #[arg(long, default_value_t = 200)]
    pub devices: usize,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: BenchKind,
}

#[derive(Debug, Clone, Subcommand)]
pub enum BenchKind {
    /// Ingest rate of fleetop's whole pipeline against mosquitto_sub on the same flood.
    Ingest(IngestArgs),
}

#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// Messages in the flood.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Use a loopback stand-in broker that streams pre-encoded packets, so the subscriber
    /// is the bottleneck.
    #[arg(long)]
    pub ceiling: bool,
    /// With --ceiling: also run with this many alert rules over the flood's metrics, and
    /// print how much they cost (the drop in msg/s).
    #[arg(long, default_value_t = 0)]
    pub rules: usize,
    /// Devices the flood is spread over (default 1,000).
    #[arg(long, default_value_t = crate::bench::flood::DEVICES)]
    pub devices: usize,
    /// With --ceiling: rounds of each measurement, fleetop's and mosquitto_sub's alike;
    /// the best of each counts (a busy machine only ever slows a round down).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
    /// With --broker: a steady stream at this many messages a second instead of a flood;
    /// prints the CPU per message of `fleetop --headless` and of mosquitto_sub.
    #[arg(long, value_name = "MSG_PER_S")]
    pub steady: Option<f64>,
    /// How long the --steady stream runs, in seconds.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
}

impl SourceArgs {
    /// Loads the config (file, XDG, or none) and decides where messages come from.
    pub fn resolve(&self) -> Result<(Config, Input), String> {
        let mut config = Config::discover(self.config.as_deref()).map_err(|e| e.0)?;
        if self.drop_when_behind {
            config.limits.when_behind = crate::config::WhenBehind::Drop;
        }
        // Compile what the config describes now, so a bad template or rule fails at load
        // with its file:line, before any connection (a replay compiles nothing else here).
        Mapper::from_config(&config).map_err(|e| e.0)?;
        RuleSet::from_config(&config).map_err(|e| e.0)?;
        CommandSet::from_config(&config).map_err(|e| e.0)?;
        let input = self.input(&config)?;
        Ok((config, input))
    }

    /// The input for an already-loaded config.
    pub fn input(&self, config: &Config) -> Result<Input, String> {
        if let Some(path) = &self.replay {
            return Ok(Input::Replay {
                path: path.clone(),
                speed: self.speed,
            });
        }
        let brokers = match &self.broker {
            Some(url) => vec![self.broker_from_flags(url)?],
            None => config.brokers.clone(),
        };
        if brokers.is_empty() {
            let where_ = self
                .config
                .clone()
                .or_else(Config::default_path)
                .map_or("a config file".into(), |p| p.display().to_string());
            return Err(format!(
                "no broker to watch: pass --broker mqtt://host:1883, add a [[broker]] to {where_}, \
                 or try `fleetop demo`"
            ));
        }
        let mapper = Mapper::new(&config.fleets)?;
        let commands = CommandSet::from_config(config).map_err(|e| e.0)?;
        let read_only = self.read_only || config.read_only;
        let specs = brokers
            .iter()
            .map(|b| {
                let mut subs = self.subscriptions(b, &mapper, config);
                let may_publish = !(read_only || b.read_only);
                if may_publish {
                    // Replies to commands arrive on their reply topics.
                    subs.extend(commands.reply_filters().into_iter().map(|f| (f, 1)));
                    subs = without_overlaps(subs);
                }
                let mut spec = ConnectionSpec::from_config(b, subs, read_only)?;
                if may_publish && spec.protocol == Protocol::V5 && commands.any_response() {
                    spec.response_topic = Some(response_topic(&spec.client_id));
                }
                Ok(spec)
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Input::Brokers(specs))
    }

    /// The fleets' filters, the broker's own and --subscribe; `#` when that leaves none.
    fn subscriptions(
        &self,
        b: &BrokerConfig,
        mapper: &Mapper,
        config: &Config,
    ) -> Vec<(String, u8)> {
        let mut subs = mapper.filters_for(&b.name);
        // Without fleets everything is watched (`#`); with them, the conventions' topics too.
        let conventions = if subs.is_empty() {
            Vec::new()
        } else {
            crate::conventions::enabled_filters(&config.conventions, true)
        };
        let extra = b
            .subscribe
            .iter()
            .map(|s| (s.filter().to_string(), s.qos()))
            .chain(self.subscribe.iter().map(|f| (f.clone(), 0)))
            .chain(conventions.iter().map(|f| (f.clone(), 0)));
        for (f, q) in extra {
            if !subs.iter().any(|(x, _)| *x == f) {
                subs.push((f, q));
            }
        }
        if subs.is_empty() {
            subs.push(("#".into(), 0));
        }
        without_overlaps(subs)
    }

    fn broker_from_flags(&self, url: &str) -> Result<BrokerConfig, String> {
        let parsed = BrokerUrl::parse(url).map_err(|e| format!("--broker: {e}"))?;
        Ok(BrokerConfig {
            name: format!("{}:{}", parsed.host, parsed.port),
            url: toml::Spanned::new(0..0, url.to_string()),
            protocol: self.protocol,
            username: self.username.clone(),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
            password_prompt: self.password_prompt,
            ca_file: self.ca_file.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            client_id: self.client_id.clone(),
            keepalive: None,
            max_backoff: None,
            read_only: self.read_only,
            subscribe: Vec::<Subscription>::new(),
        })
    }
}

/// Where MQTT 5 replies to this client's commands come: one topic per client.
fn response_topic(client_id: &str) -> String {
    let safe: String = client_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("fleetop/replies/{safe}")
}

/// Drops filters another filter already covers (keeping the higher QoS): brokers deliver
/// a message once per matching subscription, and every sample would count twice.
fn without_overlaps(subs: Vec<(String, u8)>) -> Vec<(String, u8)> {
    let mut kept: Vec<(String, u8)> = Vec::new();
    for (f, q) in subs {
        if let Some(k) = kept.iter_mut().find(|(k, _)| covers(k, &f)) {
            k.1 = k.1.max(q);
            continue;
        }
        let qos = kept
            .iter()
            .filter(|(k, _)| covers(&f, k))
            .map(|(_, q)| *q)
            .fold(q, u8::max);
        kept.retain(|(k, _)| !covers(&f, k));
        kept.push((f, qos));
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_filters_collapse() {
        let subs = vec![
            ("a/+/telemetry".to_string(), 1),
            ("a/+/status".to_string(), 0),
            ("#".to_string(), 0),
        ];
        assert_eq!(without_overlaps(subs), vec![("#".to_string(), 1)]);
        let subs = vec![
            ("a/b".to_string(), 0),
            ("a/+".to_string(), 0),
            ("c/#".to_string(), 0),
        ];
        assert_eq!(
            without_overlaps(subs),
            vec![("a/+".to_string(), 0), ("c/#".to_string(), 0)]
        );
    }

    #[test]
    fn view_flag_names_the_starting_view_before_or_after_the_subcommand() {
        use crate::app::View;
        let start = |args: &[&str]| {
            Cli::try_parse_from(args).map(|c| {
                let ui = match &c.command {
                    Some(Command::Demo(d)) => d.ui.or(&c.ui),
                    _ => c.ui.clone(),
                };
                ui.options(&Default::default()).view
            })
        };
        assert_eq!(start(&["fleetop"]).ok(), Some(View::Fleet));
        assert_eq!(
            start(&["fleetop", "--view", "overview"]).ok(),
            Some(View::Overview)
        );
        assert_eq!(
            start(&["fleetop", "demo", "--view", "map"]).ok(),
            Some(View::Map)
        );
        let err = start(&["fleetop", "--view", "chart"]).expect_err("unknown view");
        assert!(err.to_string().contains("overview"), "{err}");
    }

    #[test]
    fn the_live_views_flags_belong_to_the_commands_that_show_it() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let longs = |name: &str| -> Vec<String> {
            let c = if name.is_empty() {
                cli.clone()
            } else {
                cli.find_subcommand(name)
                    .cloned()
                    .unwrap_or_else(|| panic!("{name}"))
            };
            c.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string))
                .collect()
        };
        for live in ["", "demo"] {
            assert!(longs(live).contains(&"theme".to_string()), "{live}");
        }
        for other in ["snapshot", "check", "discover", "record", "cmd", "simulate"] {
            let flags = longs(other);
            for ui in ["theme", "fps", "slow-link", "bell", "view", "headless"] {
                assert!(
                    !flags.contains(&ui.to_string()),
                    "{other} --help lists --{ui}"
                );
            }
        }
        assert!(Cli::try_parse_from(["fleetop", "snapshot", "--theme", "dark"]).is_err());
        let demo = Cli::try_parse_from(["fleetop", "--slow-link", "demo", "--theme", "dark"])
            .unwrap_or_else(|e| panic!("{e}"));
        let Some(Command::Demo(d)) = &demo.command else {
            panic!("not demo")
        };
        let ui = d.ui.or(&demo.ui);
        assert!(ui.slow_link && ui.theme.as_deref() == Some("dark"));
    }
}
