//! Replaying the shared mixed-fleet recording through the real binary.

mod common;

use std::process::Command;

const TANKS: &str = r#"
[[fleet]]
name = "tanks"
topic = "fleet/tanks/{device}/telemetry"
format = "json"
[[fleet.metric]]
name = "level_pct"
unit = "%"
"#;

/// The tanks alone: device conventions off (tests/conventions.rs covers them).
const TANKS_ONLY: &str = r#"
[[fleet]]
name = "tanks"
topic = "fleet/tanks/{device}/telemetry"
format = "json"
[[fleet.metric]]
name = "level_pct"
unit = "%"
[conventions]
sparkplug = false
homie = false
zigbee2mqtt = false
tasmota = false
shelly = false
"#;

fn snapshot_json(config: &str, recording: &std::path::Path) -> serde_json::Value {
    let args = [
        "snapshot", "--format", "json", "--speed", "max", "--wait", "20s",
    ];
    let out = common::replay(config, recording, &args);
    serde_json::from_slice(common::succeeded(&out)).expect("snapshot is JSON")
}

#[test]
fn without_conventions_mixed_fleet_yields_the_tanks_and_lists_everything_else_as_unmapped() {
    let fixture = common::fixture("mixed-fleet.jsonl");
    let snap = snapshot_json(TANKS_ONLY, &fixture);
    let devices = snap["devices"].as_array().expect("devices");
    let ids: Vec<&str> = devices.iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids, ["tank-00", "tank-01", "tank-02"]);
    for d in devices {
        assert_eq!(d["fleet"], "tanks");
        assert_eq!(d["status"], "online");
        for m in ["level_pct", "temp_c", "battery_v"] {
            assert!(d["metrics"][m]["value"].is_number(), "{m} in {d}");
        }
        assert_eq!(d["metrics"]["level_pct"]["unit"], "%");
    }

    // Every topic of the recording that is not a tank's lands in the unmapped list.
    let text = std::fs::read_to_string(&fixture).expect("fixture");
    let mut others: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["topic"].as_str().map(str::to_string))
        .filter(|t| !t.starts_with("fleet/tanks/"))
        .collect();
    others.sort();
    others.dedup();
    let mut unmapped: Vec<String> = snap["unmapped"]
        .as_array()
        .expect("unmapped")
        .iter()
        .filter_map(|u| u["topic"].as_str().map(str::to_string))
        .collect();
    unmapped.sort();
    assert_eq!(unmapped, others);
    assert_eq!(snap["unmapped_topics"], others.len());
}

#[test]
fn record_then_replay_gives_the_same_fleet() {
    // Record from a replay (no broker needed), then replay the recording.
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("fleetop.toml");
    std::fs::write(&cfg, TANKS).expect("write config");
    let rec = dir.path().join("rec.jsonl");
    let status = Command::new(env!("CARGO_BIN_EXE_fleetop"))
        .arg("record")
        .arg("--out")
        .arg(&rec)
        .arg("--config")
        .arg(&cfg)
        .arg("--replay")
        .arg(common::fixture("mixed-fleet.jsonl"))
        .status()
        .expect("run record");
    assert!(status.success());
    let lines = std::fs::read_to_string(&rec).expect("recording");
    assert_eq!(lines.lines().count(), 121);
    assert!(lines.lines().all(|l| l.contains("\"ts\":")));
    let snap = snapshot_json(TANKS_ONLY, &rec);
    assert_eq!(snap["devices"].as_array().map(Vec::len), Some(3));
}

#[test]
fn a_bad_recording_line_is_reported_not_fatal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = dir.path().join("bad.jsonl");
    std::fs::write(
        &rec,
        "{\"topic\":\"fleet/tanks/t1/telemetry\",\"payload_hex\":\"7b2261223a317d\"}\nnot json\n\
         {\"topic\":\"fleet/tanks/t1/telemetry\",\"payload_hex\":\"7b2261223a\"}\n",
    )
    .expect("write");
    let snap = snapshot_json(TANKS, &rec);
    assert_eq!(snap["devices"][0]["decode_errors"], 1);
    let notice = snap["connections"][0]["notice"]
        .as_str()
        .unwrap_or_default();
    assert!(notice.contains(":2: skipped"), "{notice}");
}

#[test]
fn a_replay_of_a_directory_or_a_missing_file_exits_2_before_anything_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.jsonl");
    for (recording, says) in [
        (dir.path(), "is a directory"),
        (missing.as_path(), "missing.jsonl"),
    ] {
        for args in [
            &["snapshot", "--wait", "20s"][..],
            &["check", "--wait", "20s"],
            &["discover", "--wait", "20s"],
            &[],
        ] {
            let out = common::replay(TANKS, recording, args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            if !args.is_empty() {
                assert!(stderr.contains(says), "{args:?}: {stderr}");
            }
        }
    }
}
