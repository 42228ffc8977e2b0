//! fleetop stopped and started again over the same broker and config: a device that died
//! without a word is still known and still stale, and its alert resumes as firing (no
//! second `on_fire`), resolving with `on_resolve` once the device speaks again.

use fleetop::demo::EmbeddedBroker;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A headless fleetop and the lines it prints, read on a thread of their own.
struct Headless {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Headless {
    fn start(config: &Path, state: &Path, port: u16) -> Headless {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fleetop"))
            .args([
                "--headless",
                "--broker",
                &format!("mqtt://127.0.0.1:{port}"),
            ])
            .arg("--config")
            .arg(config)
            .env("XDG_STATE_HOME", state)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run fleetop");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Headless { child, lines }
    }

    /// The first line within 15 s that has every one of `parts`.
    fn wait_for(&self, what: &str, parts: &[&str]) -> String {
        let end = Instant::now() + Duration::from_secs(15);
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if parts.iter().all(|p| line.contains(p)) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("timed out waiting for {what}");
    }

    /// Lines printed within `d` that have every one of `parts`.
    fn lines_within(&self, d: Duration, parts: &[&str]) -> Vec<String> {
        let end = Instant::now() + d;
        let mut seen = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if parts.iter().all(|p| line.contains(p)) => seen.push(line),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        seen
    }

    /// Stops it as a service manager would (SIGTERM) and waits for it to exit.
    fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let status = self.child.wait().expect("wait");
        assert!(status.code().is_some(), "exited on its own: {status:?}");
    }
}

fn publish(port: u16, topic: &str, payload: &str) {
    let mut o = rumqttc::MqttOptions::new(format!("pub-{}", fastrand::u32(..)), "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = rumqttc::Client::new(o, 8);
    client
        .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
        .expect("publish");
    for event in connection.iter().take(6) {
        if matches!(
            event,
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))
        ) {
            break;
        }
    }
}

fn lines_in(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn a_silent_device_and_its_alert_outlive_a_restart() {
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let (fired, resolved) = (dir.path().join("fired"), dir.path().join("resolved"));
    let recorder = |out: &Path| format!(r#"["sh", "-c", "cat >> \"$0\"", "{}"]"#, out.display());
    let config = dir.path().join("fleetop.toml");
    std::fs::write(
        &config,
        format!(
            "[[fleet]]\nname = \"tanks\"\ntopic = \"restart/{{device}}\"\nformat = \"json\"\n\
             expected_interval = \"1s\"\n[hooks]\non_fire = {}\non_resolve = {}\n",
            recorder(&fired),
            recorder(&resolved)
        ),
    )
    .expect("write config");

    let first = Headless::start(&config, dir.path(), broker.port());
    first.wait_for("the first run connected", &["\"connected\""]);
    publish(broker.port_v311(), "restart/tank-01", r#"{"level_pct":40}"#);
    first.wait_for(
        "tank-01 stale",
        &["device_stale", "tank-01", "\"to\":\"firing\""],
    );
    first.stop();
    assert_eq!(lines_in(&fired), 1, "on_fire ran once");

    let second = Headless::start(&config, dir.path(), broker.port());
    second.wait_for("the second run connected", &["\"connected\""]);
    let stats = second.wait_for("stats", &["\"type\":\"stats\""]);
    assert!(
        stats.contains("\"devices\":1") && stats.contains("\"stale\":1"),
        "tank-01 is still known and still stale: {stats}"
    );
    let refired = second.lines_within(Duration::from_secs(2), &["\"to\":\"firing\""]);
    assert_eq!(
        refired,
        Vec::<String>::new(),
        "the alert resumes, it does not fire again"
    );

    publish(broker.port_v311(), "restart/tank-01", r#"{"level_pct":41}"#);
    second.wait_for(
        "the resumed alert resolving",
        &["device_stale", "\"from\":\"firing\"", "\"to\":\"resolved\""],
    );
    let end = Instant::now() + Duration::from_secs(5);
    while lines_in(&resolved) == 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    second.stop();
    assert_eq!(lines_in(&fired), 1, "on_fire did not run again");
    assert_eq!(
        lines_in(&resolved),
        1,
        "on_resolve ran for the episode on_fire began"
    );
}
