//! `fleetop check` exit codes and alert lines in the NDJSON stream, replaying the shared
//! recording (tank levels there: 71.99, 61.99, 60 … at the end).

mod common;

use std::process::Command;

fn config(rules: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.toml");
    let text = format!(
        "[[fleet]]\nname = \"tanks\"\ntopic = \"fleet/tanks/{{device}}/telemetry\"\nformat = \"json\"\n{rules}"
    );
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

fn check(cfg: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(["check", "--wait", "5s", "--config"])
        .arg(cfg)
        .env("XDG_STATE_HOME", cfg.parent().expect("dir"))
        .arg("--replay")
        .arg(common::fixture("mixed-fleet.jsonl"))
        .output()
        .expect("run check");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const LOW: &str = "[[alert]]\nname = \"tank_low\"\nfleet = \"tanks\"\nwhen = \"level_pct < 65\"\n";

#[test]
fn check_exit_codes_follow_severity() {
    let (_d, cfg) = config(&format!("{LOW}severity = \"critical\"\n"));
    let (code, line) = check(&cfg);
    assert_eq!(code, Some(2), "{line}");
    assert!(
        line.contains("tank-01") && line.contains("tank-02") && !line.contains("tank-00"),
        "{line}"
    );

    let (_d, cfg) = config(&format!("{LOW}severity = \"warning\"\n"));
    assert_eq!(check(&cfg).0, Some(1));

    let (_d, cfg) = config("[[alert]]\nname = \"never\"\nwhen = \"level_pct > 1000\"\n");
    let (code, line) = check(&cfg);
    assert_eq!(code, Some(0), "{line}");
}

#[test]
fn rules_can_watch_a_conventions_fleet() {
    // The recording's Tasmota plugs draw 51.7, 69.6 and 60.3 W at the end.
    let (_d, cfg) = config(
        "[[alert]]\nname = \"plug_busy\"\nfleet = \"tasmota\"\nwhen = \"ENERGY.Power > 55\"\n\
         severity = \"critical\"\n",
    );
    let (code, line) = check(&cfg);
    assert_eq!(code, Some(2), "{line}");
    assert!(
        line.contains("tasmota_plug1")
            && line.contains("tasmota_plug2")
            && !line.contains("tasmota_plug0"),
        "{line}"
    );
}

#[test]
fn check_is_unknown_without_a_broker_or_with_a_bad_rule() {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(["check", "--broker", "mqtt://127.0.0.1:9", "--wait", "1s"])
        .output()
        .expect("run check");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("UNKNOWN"));

    let (_d, cfg) = config("[[alert]]\nname = \"bad\"\nwhen = \"level_pct <\"\n");
    let (code, line) = check(&cfg);
    assert_eq!(code, Some(3));
    assert!(line.contains("f.toml:") && line.contains("when"), "{line}");
}

#[test]
fn headless_stream_carries_alert_transitions() {
    let (_d, cfg) = config(&format!(
        "{LOW}severity = \"major\"\nmessage = \"{{device}} at {{level_pct}}%\"\n"
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .args(["--headless", "--config"])
        .arg(&cfg)
        .env("XDG_STATE_HOME", cfg.parent().expect("dir"))
        .arg("--replay")
        .arg(common::fixture("mixed-fleet.jsonl"))
        .output()
        .expect("run headless");
    assert!(out.status.success());
    let alerts: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "alert")
        .collect();
    assert!(
        alerts
            .iter()
            .any(|a| a["device"] == "tank-01" && a["to"] == "firing" && a["severity"] == "major")
    );
    // Built-in rules also fire for the recording's convention devices (an offline
    // Tasmota plug), under their convention's fleet; the custom rule's messages are its
    // template's.
    assert!(
        alerts
            .iter()
            .any(|a| a["device"] == "tasmota_plug9" && a["fleet"] == "tasmota"),
        "{alerts:?}"
    );
    assert!(alerts.iter().all(|a| a["fleet"] != "?"), "{alerts:?}");
    assert!(
        alerts
            .iter()
            .filter(|a| a["rule"] == "tank_low")
            .all(|a| a["message"].as_str().unwrap_or("").ends_with('%'))
    );
}

/// With no `--wait`, `check` waits as long as the rules' longest `for` needs: a device
/// whose retained availability says offline is reported, named, exit 2 (device_offline
/// is major). Its `for` of 12 s is longer than the old fixed 10 s wait, which said OK.
#[test]
fn check_with_defaults_reports_a_device_retained_offline() {
    let broker = fleetop::demo::EmbeddedBroker::start().expect("embedded broker starts");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let o = rumqttc::MqttOptions::new("lwt-pub", "127.0.0.1", broker.port_v311());
        let (c, mut ev) = rumqttc::AsyncClient::new(o, 16);
        c.publish(
            "fleet/tanks/tank-07/status",
            rumqttc::QoS::AtLeastOnce,
            true,
            "offline",
        )
        .await
        .expect("publish");
        for _ in 0..6 {
            let _ = tokio::time::timeout(std::time::Duration::from_millis(200), ev.poll()).await;
        }
    });
    let (_d, cfg) = config(
        "[[fleet.availability]]\ntopic = \"fleet/tanks/{device}/status\"\n\
         [[alert]]\nname = \"device_offline\"\nfor = \"12s\"\n",
    );
    let run = |wait: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_fleetop"))
            .arg("check")
            .args(wait)
            .arg("--config")
            .arg(&cfg)
            .arg("--broker")
            .arg(broker.url())
            .env("XDG_STATE_HOME", cfg.parent().expect("dir"))
            .output()
            .expect("run check");
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), line)
    };
    let (code, line) = run(&[]);
    assert_eq!(code, Some(2), "{line}");
    assert!(line.contains("tank-07 device_offline (major)"), "{line}");
    // A wait shorter than the `for` cannot judge it, and the line says so.
    let (code, line) = run(&["--wait", "3s"]);
    assert_eq!(code, Some(0), "{line}");
    assert!(
        line.contains("1 pending (their `for` outlasted the wait)"),
        "{line}"
    );
}
