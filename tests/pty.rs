//! The real binary in a pseudo-terminal: keys in, screen out, terminal restored after.

mod common;

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TANKS: &str = r#"
[[fleet]]
name = "tanks"
topic = "fleet/tanks/{device}/telemetry"
format = "json"
expected_interval = "1h"
"#;

struct Session {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    /// While set, nobody reads the terminal: what fleetop writes piles up and then blocks.
    paused: Arc<AtomicBool>,
    dir: tempfile::TempDir,
}

impl Session {
    fn start(args: &[&str]) -> Session {
        Session::with_config(TANKS, args)
    }

    fn with_config(config: &str, args: &[&str]) -> Session {
        Session::on_terminal(config, args, "xterm-256color")
    }

    /// On a terminal that calls itself `term` and says nothing of truecolour.
    fn on_terminal(config: &str, args: &[&str], term: &str) -> Session {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("f.toml");
        std::fs::write(&cfg, config).expect("config");
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_fleetop"));
        cmd.arg("--config");
        cmd.arg(&cfg);
        for a in args {
            cmd.arg(a);
        }
        cmd.env("TERM", term);
        cmd.env_remove("COLORTERM");
        // Logs and state go to the temp dir, never to the user's.
        cmd.env("XDG_STATE_HOME", dir.path());
        cmd.env("HOME", dir.path());
        let child = pty.slave.spawn_command(cmd).expect("spawn fleetop");
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let writer = pty.master.take_writer().expect("writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(40, 120, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let paused = Arc::new(AtomicBool::new(false));
        let (s, r, p) = (screen.clone(), raw.clone(), paused.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                while p.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let Ok(n) = reader.read(&mut buf) else { break };
                if n == 0 {
                    break;
                }
                s.lock().expect("screen").process(&buf[..n]);
                r.lock().expect("raw").extend_from_slice(&buf[..n]);
            }
        });
        // The master must outlive the child; leak it for the test's lifetime.
        std::mem::forget(pty.master);
        Session {
            child,
            writer,
            screen,
            raw,
            paused,
            dir,
        }
    }

    fn text(&self) -> String {
        self.screen.lock().expect("screen").screen().contents()
    }

    /// Waits until the screen shows `needle` (a deadline for a broken test, not a timing check).
    fn wait_for(&self, needle: &str) {
        self.wait_up_to(needle, Duration::from_secs(20));
    }

    fn wait_up_to(&self, needle: &str, patience: Duration) {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if self.text().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("screen never showed {needle:?}:\n{}", self.text());
    }

    fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).expect("write keys");
        self.writer.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(150));
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "fleetop did not exit:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True once the output shows the terminal restored. The reader thread may still be
    /// catching up with the last bytes after the child exits, so this waits a little.
    fn restored(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.restored_now() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn restored_now(&self) -> bool {
        let raw = self.raw.lock().expect("raw");
        let s = String::from_utf8_lossy(&raw);
        let entered = s.rfind("\x1b[?1049h");
        let left = s.rfind("\x1b[?1049l");
        let shown = s.rfind("\x1b[?25h");
        matches!((entered, left, shown), (Some(e), Some(l), Some(c)) if l > e && c > e)
    }
}

#[test]
fn filter_open_a_device_help_and_quit() {
    let fixture = common::fixture("mixed-fleet.jsonl");
    let mut s = Session::start(&["--replay", fixture.to_str().expect("path")]);
    s.wait_for("tank-02");
    s.keys("/tank-01\r");
    s.wait_for("1 shown");
    assert!(!s.text().contains("tank-02"), "{}", s.text());
    s.keys("\r");
    s.wait_for("level_pct");
    s.wait_for("last payload");
    s.keys("?");
    s.wait_for("any key closes");
    s.keys("x");
    s.keys("\x1b");
    s.wait_for("Fleet ·");
    s.keys("t");
    s.wait_for("unmapped");
    s.keys("q");
    let status = s.wait_exit();
    assert!(status.success());
    assert!(
        s.restored(),
        "alternate screen not left or cursor not shown"
    );
}

#[test]
fn the_demo_filter_open_a_pole_help_and_quit() {
    let mut s = Session::start(&["demo", "--seed", "1", "--devices", "60"]);
    s.wait_for("embedded: connected");
    s.wait_for("pole-");
    s.keys("/pole-00");
    s.keys("\r");
    s.wait_for("filter: pole-00");
    s.keys("\r");
    s.wait_for("last payload");
    s.keys("?");
    s.wait_for("chart window");
    s.keys("x");
    s.keys("q");
    assert!(s.wait_exit().success());
    assert!(
        s.restored(),
        "alternate screen not left or cursor not shown"
    );
}

#[test]
fn the_demo_dim_a_pole_and_see_it_succeed_and_the_telemetry_follow() {
    let mut s = Session::start(&["demo", "--seed", "1", "--devices", "60"]);
    s.wait_for("embedded: connected");
    s.wait_for("pole-001");
    s.keys("/pole-001\r");
    s.wait_for("1 shown");
    s.keys("\r");
    s.wait_for("last payload");
    s.keys("c");
    s.wait_for("Command for pole-001");
    s.keys("dim");
    s.keys("\r");
    s.wait_for("level = 50");
    s.keys("\x7f\x7f40");
    s.wait_for(r#""level":40"#);
    s.keys("\r");
    s.wait_for("light-dim sent to pole-001");
    // The device detail lists the request; the reply settles it with its latency.
    s.wait_for("light-dim succeeded");
    s.keys("\x1b");
    s.wait_for("Fleet ·");
    // The pole's next report shows the new level.
    s.wait_up_to("dim 40%", Duration::from_secs(45));
    s.keys("q");
    assert!(s.wait_exit().success());
}

#[cfg(unix)]
/// The colour escapes a session wrote: 24-bit (`38;2;`), 256-colour (`38;5;`) ones.
fn colour_escapes(s: &Session) -> (usize, usize) {
    let raw = s.raw.lock().expect("raw");
    let text = String::from_utf8_lossy(&raw);
    let count =
        |p: &str| text.matches(&format!("[{p}")).count() + text.matches(&format!(";{p}")).count();
    (
        count("38;2;") + count("48;2;"),
        count("38;5;") + count("48;5;"),
    )
}

#[test]
fn colours_fit_the_terminal_a_slow_link_gets_ansi_16() {
    // A truecolour theme on a terminal that announces 256 colours: no 24-bit escapes.
    let fixture = common::fixture("mixed-fleet.jsonl");
    let replay = ["--replay", fixture.to_str().expect("path")];
    let with = |more: &[&'static str]| -> Vec<&str> {
        replay.iter().copied().chain(more.iter().copied()).collect()
    };
    let mut s = Session::on_terminal(TANKS, &with(&["--theme", "dark"]), "xterm-256color");
    s.wait_for("tank-02");
    s.keys("q");
    s.wait_exit();
    let (rgb, c256) = colour_escapes(&s);
    assert_eq!(rgb, 0, "24-bit colour sent to a 256-colour terminal");
    assert!(c256 > 0, "the 256-colour palette is used");
    // A plain xterm, and a slow link: the 16-colour codes only.
    for (args, term) in [
        (&["--theme", "dark"][..], "xterm"),
        (&["--slow-link"][..], "xterm-256color"),
    ] {
        let mut s = Session::on_terminal(TANKS, &with(args), term);
        s.wait_for("tank-02");
        s.keys("q");
        s.wait_exit();
        assert_eq!(colour_escapes(&s), (0, 0), "{args:?} on {term}");
        let raw = s.raw.lock().expect("raw").clone();
        assert!(
            String::from_utf8_lossy(&raw).contains("\x1b[36"),
            "cyan as an ANSI code"
        );
    }
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    for signal in ["-TERM", "-HUP"] {
        let fixture = common::fixture("mixed-fleet.jsonl");
        let mut s = Session::start(&["--replay", fixture.to_str().expect("path")]);
        s.wait_for("tank-00");
        let pid = s.child.process_id().expect("pid");
        let ok = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
        s.wait_exit();
        assert!(s.restored(), "{signal}: terminal not restored");
    }
}

/// Publishes `n` numbered messages on an unmapped counter topic and telemetry for 30
/// tanks, then one tank at 1 %, all at QoS 1 from a real MQTT client.
fn flood(rt: &tokio::runtime::Runtime, port: u16, n: u32) {
    use rumqttc::v5::{AsyncClient, MqttOptions, mqttbytes::QoS};
    rt.block_on(async {
        let (client, mut events) =
            AsyncClient::new(MqttOptions::new("stall-publisher", "127.0.0.1", port), 1024);
        tokio::spawn(async move { while events.poll().await.is_ok() {} });
        for i in 1..=n {
            let telemetry = format!(r#"{{"level_pct":{},"battery_v":3.{}}}"#, 40 + i % 50, i % 9);
            let tank = format!("fleet/tanks/tank-{:02}/telemetry", i % 30);
            client
                .publish("stall/counter", QoS::AtLeastOnce, false, format!("n={i}"))
                .await
                .expect("publish");
            client
                .publish(tank, QoS::AtLeastOnce, false, telemetry)
                .await
                .expect("publish");
            if i % 200 == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        client
            .publish(
                "fleet/tanks/tank-low/telemetry",
                QoS::AtLeastOnce,
                false,
                r#"{"level_pct":1}"#,
            )
            .await
            .expect("publish");
    });
}

#[test]
fn a_terminal_that_stops_reading_costs_frames_not_messages_alerts_or_hooks() {
    let broker = fleetop::demo::EmbeddedBroker::start().expect("embedded broker");
    let hooks = tempfile::tempdir().expect("tempdir");
    let fired = hooks.path().join("fired.jsonl");
    let config = format!(
        "{TANKS}\n[[alert]]\nname = \"tank_empty\"\nfleet = \"tanks\"\nwhen = \"level_pct < 5\"\n\
         severity = \"critical\"\non_fire = [\"sh\", \"-c\", \"cat >> \\\"$0\\\"\", \"{}\"]\n",
        fired.display()
    );
    let mut s = Session::with_config(&config, &["--broker", &broker.url(), "--subscribe", "#"]);
    s.wait_for("connected");
    assert!(s.dir.path().exists());
    // A stuck SSH link: nobody reads the terminal. Thirty whole-screen redraws (the
    // topics view and back) are far more than a pty buffers (64 KiB on Linux), so
    // fleetop's writes block; then 4,000 messages arrive.
    s.paused.store(true, Ordering::Release);
    for _ in 0..30 {
        s.writer.write_all(b"t").expect("key");
        s.writer.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(40));
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let messages = 2000;
    flood(&rt, broker.port(), messages);
    // The alert fires and its hook runs while the terminal is still stuck.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&fired)
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the on_fire hook did not run while the terminal was stuck"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let hook_input = std::fs::read_to_string(&fired).expect("hook output");
    assert!(hook_input.contains("tank-low"), "{hook_input}");
    s.paused.store(false, Ordering::Release);
    s.wait_for("tank-low");
    // Every message was applied: the counter topic counted all of them, none dropped.
    s.keys("t");
    s.wait_for("Topics");
    // The tree starts folded: the last branch (`stall`) unfolded shows its counter.
    s.keys("G");
    s.keys("l");
    s.wait_for("counter");
    let counted = |s: &Session| {
        s.text()
            .lines()
            .find(|l| l.contains("counter"))
            .is_some_and(|l| l.split_whitespace().any(|w| w == messages.to_string()))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !counted(&s) {
        assert!(
            Instant::now() < deadline,
            "not every message counted:\n{}",
            s.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!s.text().contains("dropped"), "{}", s.text());
    s.keys("q");
    assert!(s.wait_exit().success());
    assert!(
        s.restored(),
        "alternate screen not left or cursor not shown"
    );
}
