//! Device commands end to end: `fleetop cmd` against the demo's simulated devices on the
//! embedded broker (MQTT 5 correlation, the 3.1.1 reply topic, an expected state change, a
//! device's failure, a timeout, read-only), and on Mosquitto where it runs. Every publish
//! must leave a request and a result line in the audit log.
//!
//! Like a real field, the simulator loses a few commands and fails a few; a test that needs
//! a success tries the next pole rather than depend on one device's luck.

mod common;

use fleetop::demo::sim::layout::Layout;
use fleetop::demo::topics::Kind;
use fleetop::demo::{EmbeddedBroker, SimOptions, demo_config, run};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;
use tokio::sync::watch;

const SEED: u64 = 3;
const DEVICES: usize = 60;

/// Commands only tests need, beside the demo's own.
const EXTRA: &str = r#"
[[command]]
name = "dim-and-see"
fleet = "poles"
topic = "@P@/cmd/poles/{device}"
payload = { cmd = "light-dim", level = "{level}", id = "{id}" }
expect = "dim == {level}"
timeout = "30s"

[[command.param]]
name = "level"
type = "int"
min = 0
max = 100

[[command]]
name = "pump-start"
fleet = "poles"
topic = "@P@/cmd/poles/{device}"
payload = { cmd = "pump-start", id = "{id}" }
response = true
reply_topic = "@P@/cmd/poles/{device}/reply"

[[command]]
name = "ping"
fleet = "poles"
topic = "@P@/nobody-listens/{device}"
payload = "ping {id}"
response = true
timeout = "1s"
"#;

struct Field {
    _broker: EmbeddedBroker,
    url: String,
    url_v311: String,
    stop: watch::Sender<bool>,
    dir: tempfile::TempDir,
    config: PathBuf,
    poles: Vec<String>,
    tanks: Vec<String>,
}

impl Field {
    fn start(prefix: &str) -> Field {
        let broker = EmbeddedBroker::start().expect("embedded broker starts");
        let (stop, stop_rx) = watch::channel(false);
        let opts = SimOptions {
            prefix: prefix.into(),
            seed: SEED,
            devices: DEVICES,
            rate: None,
        };
        let url = broker.url();
        tokio::spawn(async move { run(&url, opts, stop_rx).await });
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("demo.toml");
        let text = demo_config(prefix) + &EXTRA.replace("@P@", prefix);
        std::fs::write(&config, text).expect("write config");
        let layout = Layout::new(SEED, DEVICES);
        let names = |k: Kind| {
            layout
                .devices
                .iter()
                .filter(|d| d.kind == k)
                .map(|d| d.id.clone())
                .collect()
        };
        Field {
            url: broker.url(),
            url_v311: broker.url_v311(),
            _broker: broker,
            stop,
            dir,
            config,
            poles: names(Kind::Pole),
            tanks: names(Kind::Tank),
        }
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        let path = self.dir.path().join("fleetop/audit.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
            .collect()
    }
}

impl Drop for Field {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn cmd_args(f: &Field, url: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "cmd".into(),
        "--config".into(),
        f.config.display().to_string(),
        "--broker".into(),
        url.into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn json_of(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Runs `command` on successive devices until one succeeds; returns that result.
async fn until_success(
    f: &Field,
    url: &str,
    devices: &[String],
    command: &[&str],
    extra: &[&str],
) -> serde_json::Value {
    let mut tried = Vec::new();
    for d in devices.iter().take(6) {
        let mut args = vec![d.as_str()];
        args.extend_from_slice(command);
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--wait", "--json"]);
        let out = common::fleetop(f.dir.path(), cmd_args(f, url, &args)).await;
        if out.status.code() == Some(0) {
            return json_of(&out);
        }
        tried.push(format!(
            "{d}: {:?} {} {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    panic!("no device succeeded: {tried:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_succeed_fail_and_time_out_with_an_audit_line_each() {
    let f = Field::start("t-cmd");
    // MQTT 5: the reply comes on fleetop's response topic with its correlation data.
    let r = until_success(&f, &f.url, &f.poles, &["light-dim", "level=40"], &[]).await;
    assert_eq!(
        (r["state"].as_str(), r["via"].as_str()),
        (Some("succeeded"), Some("MQTT 5 response")),
        "{r}"
    );
    assert_eq!(r["reason"], "light on at 40%");
    assert!(r["latency_ms"].as_i64().is_some_and(|ms| ms >= 0), "{r}");
    let dimmed = r["device"].as_str().expect("device").to_string();

    // MQTT 3.1.1: the reply topic, matched on the echoed id.
    let r = until_success(
        &f,
        &f.url_v311,
        &f.tanks,
        &["pump-start"],
        &["--protocol", "3.1.1"],
    )
    .await;
    assert_eq!(
        (r["state"].as_str(), r["via"].as_str()),
        (Some("succeeded"), Some("reply topic")),
        "{r}"
    );

    // An expected state change: the pole's telemetry follows.
    let r = until_success(&f, &f.url, &f.poles, &["dim-and-see", "level=25"], &[]).await;
    assert_eq!(r["via"], "state change", "{r}");
    assert_eq!(r["reason"], "device reports dim == 25");

    // A device's refusal, with its reason.
    let mut failed = None;
    for d in f.poles.iter().take(6) {
        let out = common::fleetop(
            f.dir.path(),
            cmd_args(&f, &f.url, &[d, "pump-start", "--wait", "--json"]),
        )
        .await;
        let v = json_of(&out);
        if v["state"] == "failed" {
            assert_eq!(out.status.code(), Some(1));
            failed = Some(v);
            break;
        }
    }
    let failed = failed.expect("a pole refuses pump-start");
    assert!(
        failed["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unknown command")),
        "{failed}"
    );

    // Nobody answers: a timeout, exit 1.
    let out = common::fleetop(
        f.dir.path(),
        cmd_args(&f, &f.url, &[&dimmed, "ping", "--wait", "--json"]),
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["state"], "timed out");

    // Every publish left a request line and a result line.
    let audit = f.audit();
    let requests = audit.iter().filter(|l| l["event"] == "request").count();
    let results: Vec<&serde_json::Value> =
        audit.iter().filter(|l| l["event"] == "result").collect();
    assert!(requests >= 5 && requests == results.len(), "{audit:#?}");
    let dim = results
        .iter()
        .find(|l| {
            l["device"] == dimmed.as_str()
                && l["command"] == "light-dim"
                && l["result"] == "succeeded"
        })
        .expect("the dim is audited");
    assert!(dim["by"].as_str().is_some_and(|b| b.contains('@')), "{dim}");
    assert!(
        dim["payload"]
            .as_str()
            .is_some_and(|p| p.contains("\"level\":40")),
        "{dim}"
    );
    assert!(dim["latency_ms"].is_i64());
    assert!(
        results
            .iter()
            .any(|l| l["result"] == "timed out" && l["command"] == "ping")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_exit_2_and_send_nothing() {
    let f = Field::start("t-cmdbad");
    let pole = f.poles[0].clone();
    for (args, says) in [
        (
            vec![pole.as_str(), "light-dim", "level=140"],
            "between 0 and 100",
        ),
        (
            vec![pole.as_str(), "light-dim", "lvl=4"],
            "no parameter `lvl`",
        ),
        (
            vec![pole.as_str(), "warp-drive", "--find", "5s"],
            "unknown command `warp-drive`",
        ),
        (vec![pole.as_str(), "light-dim", "level"], "not name=value"),
        (
            vec!["no-such-device", "reboot", "--find", "2s"],
            "unknown device",
        ),
    ] {
        let out = common::fleetop(f.dir.path(), cmd_args(&f, &f.url, &args)).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(
        f.audit().is_empty(),
        "nothing was published, nothing audited"
    );

    // No audit log, no command: a state "directory" that is a file cannot hold one.
    let blocked = f.dir.path().join("not-a-dir");
    std::fs::write(&blocked, "").expect("write");
    let out = common::fleetop(&blocked, cmd_args(&f, &f.url, &[&pole, "light-on"])).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no audit log"), "{err}");

    // No broker: fails fast with the reason, exit 1.
    let out = common::fleetop(
        f.dir.path(),
        cmd_args(
            &f,
            "mqtt://127.0.0.1:9",
            &[&pole, "light-on", "--find", "2s"],
        ),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not connect"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_publishes_nothing() {
    let f = Field::start("t-cmdro");
    // A subscriber on `#` sees everything published during the attempts.
    let (_watch, mut rx) = common::watcher(f._broker.port(), "#").await;
    let pole = f.poles[0].clone();
    let out = common::fleetop(
        f.dir.path(),
        cmd_args(&f, &f.url, &["--read-only", &pole, "light-off"]),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
    // Per broker, in config.
    let ro = f.dir.path().join("ro.toml");
    let text = std::fs::read_to_string(&f.config).expect("config")
        + &format!(
            "\n[[broker]]\nname = \"field\"\nurl = \"{}\"\nread_only = true\n",
            f.url
        );
    std::fs::write(&ro, text).expect("write");
    let out = common::fleetop(
        f.dir.path(),
        vec![
            "cmd".into(),
            "--config".into(),
            ro.display().to_string(),
            pole.clone(),
            "light-off".into(),
        ],
    )
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("read-only"), "{err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seen = Vec::new();
    while let Ok((t, _)) = rx.try_recv() {
        seen.push(t);
    }
    assert!(!seen.is_empty(), "the watcher works");
    assert!(
        !seen.iter().any(|t| t.contains("/cmd/")),
        "read-only published: {seen:?}"
    );
    assert!(f.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_request_response() {
    if !common::mosquitto_or_skip("mosquitto_request_response") {
        return;
    }
    let prefix = common::unique_prefix("cmd");
    let (stop, stop_rx) = watch::channel(false);
    let opts = SimOptions {
        prefix: prefix.clone(),
        seed: SEED,
        devices: DEVICES,
        rate: None,
    };
    tokio::spawn(async move { run("mqtt://127.0.0.1:1883", opts, stop_rx).await });
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("demo.toml");
    std::fs::write(&config, demo_config(&prefix)).expect("write");
    let layout = Layout::new(SEED, DEVICES);
    let poles: Vec<String> = layout
        .devices
        .iter()
        .filter(|d| d.kind == Kind::Pole)
        .map(|d| d.id.clone())
        .collect();
    let mut outcome = Vec::new();
    for pole in poles.iter().take(6) {
        let args = vec![
            "cmd".into(),
            "--config".into(),
            config.display().to_string(),
            "--broker".into(),
            "mqtt://127.0.0.1:1883".into(),
            pole.clone(),
            "light-on".into(),
            "--wait".into(),
            "--json".into(),
        ];
        let out = common::fleetop(dir.path(), args).await;
        outcome.push(
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        );
        if out.status.code() == Some(0) {
            let v = json_of(&out);
            assert_eq!(v["via"], "MQTT 5 response", "{v}");
            let _ = stop.send(true);
            return;
        }
    }
    let _ = stop.send(true);
    panic!("no pole answered through Mosquitto: {outcome:#?}");
}

/// A Tasmota plug seen with no config: the command it announces (`POWER`) goes through the
/// same path, lands on `cmnd/<dev>/POWER` and is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convention_commands_need_no_config() {
    use rumqttc::v5::mqttbytes::QoS;
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let (client, mut rx) = common::watcher(broker.port(), "cmnd/#").await;
    client
        .publish("tele/plug-t/LWT", QoS::AtLeastOnce, true, "Online")
        .await
        .expect("lwt");
    client
        .publish(
            "tele/plug-t/STATE",
            QoS::AtLeastOnce,
            true,
            r#"{"POWER":"OFF"}"#,
        )
        .await
        .expect("state");
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "cmd",
        "--broker",
        &broker.url(),
        "plug-t",
        "POWER",
        "value=ON",
        "--json",
    ];
    let out = common::fleetop(dir.path(), args.map(String::from).to_vec()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["topic"], "cmnd/plug-t/POWER");
    let (topic, payload) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the command arrives")
        .expect("watcher");
    assert_eq!(
        (topic.as_str(), payload.as_slice()),
        ("cmnd/plug-t/POWER", &b"ON"[..])
    );
    let audit = std::fs::read_to_string(dir.path().join("fleetop/audit.jsonl")).expect("audit log");
    assert!(audit.contains("\"command\":\"POWER\""), "{audit}");
}

/// A Shelly Gen2 switch, known by its convention: `Switch.Set` goes to `<id>/rpc` with this
/// run's own `src`; the device's answer on `<src>/rpc` settles the command: its result on
/// success, its JSON-RPC error (exit 1) on failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shelly_rpc_answers_settle_the_command() {
    use rumqttc::v5::mqttbytes::QoS;
    let broker = EmbeddedBroker::start().expect("embedded broker starts");
    let (shelly, mut requests) = common::watcher(broker.port(), "shelly-t1/rpc").await;
    for (topic, payload) in [
        ("shelly-t1/online", "true"),
        (
            "shelly-t1/status/switch:0",
            r#"{"id":0,"output":false,"apower":0.0}"#,
        ),
    ] {
        shelly
            .publish(topic, QoS::AtLeastOnce, true, payload)
            .await
            .expect("retained status");
    }
    // The switch: refuses to turn off, answers everything else.
    let device = shelly.clone();
    tokio::spawn(async move {
        while let Some((_, payload)) = requests.recv().await {
            let Ok(req) = serde_json::from_slice::<serde_json::Value>(&payload) else {
                continue;
            };
            let src = req["src"].as_str().unwrap_or_default().to_string();
            let mut answer = serde_json::json!({ "id": req["id"], "src": "shelly-t1", "dst": src });
            if req["params"]["on"] == false {
                answer["error"] =
                    serde_json::json!({ "code": -103, "message": "Invalid argument" });
            } else {
                answer["result"] = serde_json::json!({ "was_on": false });
            }
            let topic = format!("{src}/rpc");
            let _ = device
                .publish(topic, QoS::AtLeastOnce, false, answer.to_string())
                .await;
        }
    });

    let dir = tempfile::tempdir().expect("tempdir");
    // With a fleet configured fleetop does not subscribe to `#`: the answers' topic must
    // be subscribed on purpose.
    let config = dir.path().join("fleetop.toml");
    std::fs::write(
        &config,
        "[[fleet]]\nname = \"tanks\"\ntopic = \"t/{device}\"\n",
    )
    .expect("config");
    let config = config.display().to_string();
    let url = broker.url();
    let run = |value: &str| {
        let args = [
            "cmd",
            "--config",
            &config,
            "--broker",
            &url,
            "shelly-t1",
            "Switch.Set",
            value,
            "--wait",
            "--json",
        ];
        common::fleetop(dir.path(), args.map(String::from).to_vec())
    };
    let on = run("value=true").await;
    let v = json_of(&on);
    assert_eq!(on.status.code(), Some(0), "{v}");
    assert_eq!(
        (v["state"].as_str(), v["via"].as_str()),
        (Some("succeeded"), Some("reply topic")),
        "{v}"
    );
    assert_eq!(v["reason"], r#"{"was_on":false}"#, "{v}");
    assert_eq!(v["topic"], "shelly-t1/rpc");

    let off = run("value=false").await;
    let v = json_of(&off);
    assert_eq!(off.status.code(), Some(1), "{v}");
    assert_eq!(v["state"], "failed", "{v}");
    assert_eq!(v["reason"], "Invalid argument (code -103)", "{v}");
}
