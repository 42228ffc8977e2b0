//! What the live view costs a terminal, measured through a real pty at 120×40:
//! start to first frame, bytes written per second on the demo fleet (default and
//! `--slow-link`), and CPU with no traffic. Goals (issue 5): ≤ 100 ms, ≤ 4 KB/s,
//! ≤ 1 KB/s, ≤ 0.5 %.

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fleetop");

struct Run {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    bytes: Arc<AtomicU64>,
    screen: Arc<Mutex<vt100::Parser>>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
    _dir: tempfile::TempDir,
}

fn start(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let mut cmd = CommandBuilder::new(BIN);
    cmd.args(args);
    cmd.env("TERM", "xterm-256color");
    cmd.env("HOME", dir.path());
    cmd.env("XDG_STATE_HOME", dir.path());
    let child = pty.slave.spawn_command(cmd).expect("spawn");
    let mut reader = pty.master.try_clone_reader().expect("reader");
    let bytes = Arc::new(AtomicU64::new(0));
    let screen = Arc::new(Mutex::new(vt100::Parser::new(40, 120, 0)));
    let (b, s) = (bytes.clone(), screen.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            b.fetch_add(n as u64, Ordering::Relaxed);
            if let Ok(mut p) = s.lock() {
                p.process(&buf[..n]);
            }
        }
    });
    Run {
        child,
        bytes,
        screen,
        _master: pty.master,
        _dir: dir,
    }
}

impl Run {
    fn shows(&self, needle: &str) -> bool {
        self.screen
            .lock()
            .map(|p| p.screen().contents().contains(needle))
            .unwrap_or(false)
    }
    fn wait_for(&self, needle: &str) -> Duration {
        let t = Instant::now();
        while !self.shows(needle) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "never showed {needle}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        t.elapsed()
    }
    fn cpu_ticks(&self) -> Option<u64> {
        let pid = self.child.process_id()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = after.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bytes_per_second(args: &[&str], label: &str) {
    let run = start(args);
    run.wait_for("Fleet ·");
    std::thread::sleep(Duration::from_secs(3));
    let before = run.bytes.load(Ordering::Relaxed);
    let secs = 20;
    std::thread::sleep(Duration::from_secs(secs));
    let rate = (run.bytes.load(Ordering::Relaxed) - before) as f64 / secs as f64;
    println!(
        "terminal: {label}: {:.2} KB/s written over {secs} s",
        rate / 1000.0
    );
}

fn main() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/mixed-fleet.jsonl"
    );
    let mut firsts = Vec::new();
    for _ in 0..5 {
        let run = start(&["--replay", fixture]);
        firsts.push(run.wait_for("Fleet ·"));
    }
    firsts.sort();
    println!(
        "terminal: start to first frame: median {:.0} ms (of 5 runs, replaying the fixture); goal <= 100 ms",
        firsts[2].as_secs_f64() * 1000.0
    );

    bytes_per_second(
        &["demo", "--seed", "1"],
        "demo fleet, fleet view, default (4 fps)",
    );
    bytes_per_second(
        &["demo", "--seed", "1", "--slow-link"],
        "demo fleet, fleet view, --slow-link",
    );

    let idle = start(&["--replay", fixture]);
    idle.wait_for("replay finished");
    std::thread::sleep(Duration::from_secs(2));
    let hz = 100.0; // USER_HZ on Linux
    let (t0, c0) = (Instant::now(), idle.cpu_ticks().unwrap_or(0));
    std::thread::sleep(Duration::from_secs(15));
    let (dt, dc) = (
        t0.elapsed().as_secs_f64(),
        idle.cpu_ticks().unwrap_or(0) - c0,
    );
    println!(
        "terminal: CPU with no traffic: {:.2} % over {dt:.0} s; goal <= 0.5 %",
        dc as f64 / hz / dt * 100.0
    );
}
