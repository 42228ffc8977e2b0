//! The demo and the simulator through the real binary.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FLEETS: [&str; 5] = ["meters", "poles", "tanks", "vehicles", "weather"];

#[test]
fn demo_headless_shows_all_five_fleets_within_seconds_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(["demo", "--headless", "--devices", "60", "--seed", "7"])
        .env("XDG_STATE_HOME", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run demo");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut fleets = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while fleets.len() < FLEETS.len() && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&line).expect("every line is JSON");
        if v["type"] == "device_appeared" {
            fleets.insert(v["fleet"].as_str().unwrap_or("").to_string());
        }
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait().expect("wait");
    assert_eq!(
        fleets.iter().map(String::as_str).collect::<Vec<_>>(),
        FLEETS
    );
    assert!(status.success(), "demo exited with {status:?}");
}

#[test]
fn demo_refuses_absurd_options_with_a_reason() {
    for args in [
        &["demo", "--devices", "0"][..],
        &["demo", "--prefix", "a/#"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fleetop"))
            .args(args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("fleetop:") && err.len() > 20, "{err}");
    }
}

#[test]
fn simulate_on_mosquitto_is_seen_by_a_snapshot_with_the_printed_config() {
    if !common::mosquitto_or_skip(
        "simulate_on_mosquitto_is_seen_by_a_snapshot_with_the_printed_config",
    ) {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_fleetop");
    let prefix = common::unique_prefix("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("demo.toml");
    let printed = Command::new(bin)
        .args(["demo", "--print-config", "--prefix", &prefix])
        .output()
        .expect("print config");
    assert!(printed.status.success());
    std::fs::write(&cfg, &printed.stdout).expect("write config");
    let mut sim = Command::new(bin)
        .args([
            "simulate",
            "--broker",
            "mqtt://127.0.0.1:1883",
            "--prefix",
            &prefix,
        ])
        .args(["--rate", "400", "--devices", "40"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("simulate");
    let out = Command::new(bin)
        .args([
            "snapshot",
            "--broker",
            "mqtt://127.0.0.1:1883",
            "--wait",
            "5s",
            "--format",
            "json",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .expect("snapshot");
    let _ = Command::new("kill")
        .args(["-INT", &sim.id().to_string()])
        .status();
    let sim_status = sim.wait().expect("wait simulate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let devices = snap["devices"].as_array().expect("devices");
    // A shared broker may hold other devices (conventions, other runs): the five are there.
    let fleets: BTreeSet<&str> = devices
        .iter()
        .filter_map(|d| d["fleet"].as_str())
        .filter(|f| FLEETS.contains(f))
        .collect();
    assert_eq!(fleets.into_iter().collect::<Vec<_>>(), FLEETS);
    // Plausible values: tank levels are percentages.
    for d in devices.iter().filter(|d| d["fleet"] == "tanks") {
        if let Some(l) = d["metrics"]["level_pct"]["value"].as_f64() {
            assert!((0.0..=100.0).contains(&l), "{d}");
        }
    }
    assert!(sim_status.success(), "simulate exited with {sim_status:?}");
}
