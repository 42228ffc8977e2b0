//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use fleetop::config::{BrokerConfig, Config, Protocol};
use fleetop::engine::{Engine, Input};
use fleetop::source::mqtt::ConnectionSpec;
use std::time::Duration;

pub const MOSQUITTO: &str = "127.0.0.1:1883";

/// True when Mosquitto answers at 127.0.0.1:1883; otherwise says why the test skips.
pub fn mosquitto_or_skip(test: &str) -> bool {
    let ok = std::net::TcpStream::connect_timeout(
        &MOSQUITTO.parse().expect("address"),
        Duration::from_millis(500),
    )
    .is_ok();
    if !ok {
        eprintln!(
            "SKIP {test}: needs Mosquitto at {MOSQUITTO} (start it with `mosquitto -d -c /etc/mosquitto/mosquitto.conf`)"
        );
    }
    ok
}

/// A topic prefix no other test run uses.
pub fn unique_prefix(tag: &str) -> String {
    format!("fleetop-test/{tag}-{:08x}", fastrand::u32(..))
}

/// Runs the fleetop binary with `args` off the test's thread; its state, config and home
/// directories are `state`, so nothing of the user's is read or written.
pub async fn fleetop(state: &std::path::Path, args: Vec<String>) -> std::process::Output {
    let state = state.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_fleetop"))
            .args(&args)
            .env("XDG_STATE_HOME", &state)
            .env("XDG_CONFIG_HOME", &state)
            .env("HOME", &state)
            .env("RUST_LOG", "off")
            .output()
            .expect("run fleetop")
    })
    .await
    .expect("join")
}

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(name)
}

/// Runs fleetop with `args`, a config file holding `config` and `--replay recording`; its
/// state lives in a temporary directory.
pub fn replay(config: &str, recording: &std::path::Path, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("fleetop.toml");
    std::fs::write(&cfg, config).expect("write config");
    std::process::Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(args)
        .arg("--config")
        .arg(&cfg)
        .arg("--replay")
        .arg(recording)
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .expect("run fleetop")
}

/// The standard output of a run that must have succeeded (its stderr otherwise).
pub fn succeeded(out: &std::process::Output) -> &[u8] {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    &out.stdout
}

/// A config for `toml`, with one broker at `url` speaking `protocol`.
pub fn engine_for(toml: &str, url: &str, protocol: Protocol) -> Engine {
    let config = Config::parse(toml, None).expect("test config parses");
    let broker = BrokerConfig {
        name: "test".into(),
        url: toml::Spanned::new(0..0, url.to_string()),
        protocol,
        username: None,
        password_env: None,
        password_file: None,
        password_prompt: false,
        ca_file: None,
        client_cert: None,
        client_key: None,
        insecure_skip_verify: false,
        client_id: None,
        keepalive: None,
        max_backoff: None,
        read_only: false,
        subscribe: Vec::new(),
    };
    let mapper = fleetop::mapping::Mapper::new(&config.fleets).expect("fleets");
    let mut subs = mapper.filters_for("test");
    if subs.is_empty() {
        subs.push(("#".into(), 0));
    }
    let spec = ConnectionSpec::from_config(&broker, subs, false).expect("spec");
    Engine::start(&config, Input::Brokers(vec![spec])).expect("engine starts")
}

/// Pumps the engine until `done` holds; panics with `what` after 15 s (a deadline for a
/// broken test, not a performance assertion).
pub async fn wait_for(engine: &mut Engine, what: &str, mut done: impl FnMut(&Engine) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        engine.pump_ready();
        engine.tick();
        if done(engine) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let names: Vec<String> = engine
                .state
                .devices
                .iter()
                .map(|d| format!("{}={}", d.name, d.status))
                .collect();
            panic!(
                "timed out waiting for {what}; link: {}; devices: {names:?}",
                engine.state.connections[0].state
            );
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), engine.pump(1024)).await;
    }
}

/// Waits until the engine's first connection is up.
pub async fn connected(engine: &mut Engine) {
    wait_for(engine, "connection", |e| e.ever_connected(0)).await;
    // Subscriptions are sent right after CONNACK; give the SUBACK a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// An MQTT 5 client subscribed to `filter` on the broker at 127.0.0.1:`port`: every
/// message it receives, as (topic, payload). Keep the client: dropping it ends the feed.
pub async fn watcher(
    port: u16,
    filter: &str,
) -> (
    rumqttc::v5::AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    use rumqttc::v5::{AsyncClient, Event, MqttOptions, mqttbytes::QoS, mqttbytes::v5::Packet};
    let id = format!("watch-{:08x}", fastrand::u32(..));
    let (client, mut events) = AsyncClient::new(MqttOptions::new(id, "127.0.0.1", port), 64);
    client
        .subscribe(filter, QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let topic = String::from_utf8_lossy(&p.topic).into_owned();
                if tx.send((topic, p.payload.to_vec())).is_err() {
                    return;
                }
            }
        }
    });
    (client, rx)
}

/// The screen `fleetop::ui::draw` draws for `app` over `engine`, as text, one line a row:
/// what rendering snapshots compare.
pub fn screen(app: &mut fleetop::app::App, engine: &mut Engine, w: u16, h: u16) -> String {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    app.fleet_changed();
    app.refresh_alerts(&engine.alerts);
    app.refresh(&engine.state);
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| fleetop::ui::draw(f, app, &engine.view()))
        .expect("draw");
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// Applies one message on connection 0 at `at_ms`, as if a broker had delivered it.
pub fn feed(engine: &mut Engine, topic: &str, payload: &[u8], at_ms: i64) {
    engine.apply(&fleetop::vocab::RawMessage {
        conn: fleetop::vocab::ConnId(0),
        topic: topic.as_bytes().to_vec().into(),
        payload: payload.to_vec().into(),
        retain: false,
        at_ms,
    });
}
