//! Alert hooks with real processes: the alert as JSON on stdin, a hook that hangs killed
//! at its timeout and reported, and a storm limited to `max_running` runs at once.

use fleetop::alerts::AlertBook;
use fleetop::config::Config;
use fleetop::engine::Engine;
use fleetop::mapping::Mapper;
use fleetop::vocab::RawMessage;
use std::path::Path;
use std::time::Duration;

const T0: i64 = 1_764_000_000_000;

/// An engine fed by hand with the tanks fleet and the given `[[alert]]`/`[hooks]` text.
fn engine(alerts: &str) -> Engine {
    let text = format!(
        "[[fleet]]\nname = \"tanks\"\ntopic = \"tanks/{{device}}\"\nformat = \"json\"\n{alerts}"
    );
    let config = Config::parse(&text, None).unwrap_or_else(|e| panic!("{}", e.0));
    let (mut engine, _outlets) = Engine::detached(
        Mapper::new(&config.fleets).unwrap(),
        config.limits.clone(),
        &["local".to_string()],
    );
    engine.alerts = AlertBook::new(fleetop::alerts::RuleSet::from_config(&config).unwrap());
    engine.hooks = fleetop::output::hooks::HookRunner::new(config.hooks.max_running.unwrap_or(8));
    engine.hook_groups = fleetop::alerts::hooks::HookGroups::from_config(&config.hooks);
    engine
}

fn level(engine: &mut Engine, device: &str, level: f64, at_ms: i64) {
    engine.apply(&RawMessage {
        conn: fleetop::vocab::ConnId(0),
        topic: format!("tanks/{device}").into_bytes().into(),
        payload: format!("{{\"level_pct\":{level}}}").into_bytes().into(),
        retain: false,
        at_ms,
    });
}

/// Polls `done` every 20 ms for up to 10 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A hook that appends its stdin to the file named by its last argument.
fn recorder(out: &Path) -> String {
    format!(r#"["sh", "-c", "cat >> \"$0\"", "{}"]"#, out.display())
}

#[tokio::test]
async fn on_fire_and_on_resolve_get_the_alert_as_json_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let fired = dir.path().join("fired.jsonl");
    let resolved = dir.path().join("resolved.jsonl");
    let mut e = engine(&format!(
        "[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\nseverity = \"critical\"\n\
         on_fire = {}\non_resolve = {}\n",
        recorder(&fired),
        recorder(&resolved)
    ));
    level(&mut e, "tank-01", 10.0, T0);
    assert_eq!(e.drain_alerts().len(), 1);
    eventually("the on_fire hook", || read(&fired).ends_with('\n')).await;
    let alert: serde_json::Value = serde_json::from_str(read(&fired).trim()).unwrap();
    assert_eq!(alert["type"], "alert");
    assert_eq!(alert["rule"], "low");
    assert_eq!(alert["device"], "tank-01");
    assert_eq!(alert["to"], "firing");
    assert_eq!(alert["severity"], "critical");
    level(&mut e, "tank-01", 50.0, T0 + 1000);
    e.drain_alerts();
    eventually("the on_resolve hook", || {
        read(&resolved).contains("\"to\":\"resolved\"")
    })
    .await;
    assert_eq!(
        read(&fired).lines().count(),
        1,
        "resolving does not run on_fire"
    );
    assert!(e.drain_hook_reports().is_empty(), "both hooks succeeded");
}

#[tokio::test]
async fn a_hook_that_hangs_is_killed_at_its_timeout_and_reported() {
    // A marker argument makes this test's sleep findable in /proc.
    let marker = format!("100.{}", std::process::id());
    let mut e = engine(&format!(
        "[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\n\
         on_fire = [\"sleep\", \"{marker}\"]\nhook_timeout = \"300ms\"\n"
    ));
    level(&mut e, "tank-01", 10.0, T0);
    e.drain_alerts();
    eventually("the sleep hook to start", || running(&marker)).await;
    let mut reports = Vec::new();
    eventually("a timeout report", || {
        reports.extend(e.drain_hook_reports());
        !reports.is_empty()
    })
    .await;
    assert!(
        reports[0].contains(
            "hook on_fire `sleep` for low on tank-01 ran past its timeout of 300ms and was killed"
        ),
        "{reports:?}"
    );
    eventually("the sleep hook to be gone", || !running(&marker)).await;
}

#[tokio::test]
async fn a_timeout_also_ends_what_the_hook_started() {
    let marker = format!("101.{}", std::process::id());
    let mut e = engine(&format!(
        "[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\n\
         on_fire = [\"sh\", \"-c\", \"sleep {marker} & wait\"]\nhook_timeout = \"300ms\"\n"
    ));
    level(&mut e, "tank-01", 10.0, T0);
    e.drain_alerts();
    eventually("the hook's own sleep to start", || running(&marker)).await;
    eventually("the hook and its sleep to be gone", || !running(&marker)).await;
}

#[tokio::test]
async fn an_alert_storm_runs_at_most_max_running_hooks_and_counts_the_rest() {
    let mut e = engine(
        "[hooks]\non_fire = [\"sleep\", \"1\"]\nmax_running = 2\ngroup_interval = \"0s\"\n\
         [[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\n",
    );
    for i in 0..5 {
        level(&mut e, &format!("tank-{i:02}"), 10.0, T0);
    }
    assert_eq!(e.drain_alerts().len(), 5);
    assert_eq!(e.hooks.skipped(), 3);
    let reports = e.drain_hook_reports();
    assert_eq!(
        reports,
        ["3 hook run(s) skipped: 2 hooks were already running ([hooks] max_running)"]
    );
    assert!(e.drain_hook_reports().is_empty(), "reported once");
}

#[tokio::test]
async fn a_storm_of_one_rule_runs_its_hook_for_the_group_not_per_device() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let hook = format!(
        r#"["sh", "-c", "echo \"run of $FLEETOP_ALERTS\" >> \"$0\"; cat >> \"$0\"", "{}"]"#,
        out.display()
    );
    let mut e = engine(&format!(
        "[hooks]\non_fire = {hook}\ngroup_interval = \"30s\"\n\
         [[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\n"
    ));
    e.clock = fleetop::source::Clock::Fixed(T0);
    for i in 0..40 {
        level(&mut e, &format!("tank-{i:02}"), 10.0, T0);
    }
    e.settle();
    eventually("the first alert's run", || {
        read(&out).contains("run of 1\n")
    })
    .await;
    e.clock = fleetop::source::Clock::Fixed(T0 + 30_000);
    e.settle();
    eventually("the group's run", || {
        read(&out).lines().count() == 1 + 1 + 1 + 39
    })
    .await;
    let text = read(&out);
    assert_eq!(text.matches("run of").count(), 2, "{text}");
    assert!(text.contains("run of 39\n"), "{text}");
    let alerts: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 40, "every alert's line, once");
    assert!(
        alerts
            .iter()
            .all(|a| a["rule"] == "low" && a["to"] == "firing")
    );
}

#[tokio::test]
async fn a_missing_program_and_a_failing_one_are_reported() {
    let mut e = engine(
        "[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\non_fire = [\"/nonexistent/hook\"]\n\
         [[alert]]\nname = \"high\"\nwhen = \"level_pct > 90\"\non_fire = [\"sh\", \"-c\", \"exit 3\"]\n",
    );
    level(&mut e, "tank-01", 10.0, T0);
    level(&mut e, "tank-02", 95.0, T0);
    e.drain_alerts();
    let mut reports = Vec::new();
    eventually("two reports", || {
        reports.extend(e.drain_hook_reports());
        reports.len() == 2
    })
    .await;
    reports.sort();
    assert!(
        reports[0].contains("`/nonexistent/hook` for low on tank-01 could not start"),
        "{reports:?}"
    );
    assert!(
        reports[1].contains("`sh` for high on tank-02 exited with status 3"),
        "{reports:?}"
    );
}

#[test]
fn a_hook_must_be_an_argv_array() {
    let e = Config::parse(
        "[[alert]]\nname = \"low\"\nwhen = \"x < 1\"\non_fire = \"notify-send low\"\n",
        None,
    )
    .err()
    .map(|e| e.0)
    .unwrap_or_default();
    assert!(e.contains("on_fire"), "{e}");
}

/// True while a process whose arguments include `marker` runs.
fn running(marker: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .any(|c| c.split(|&b| b == 0).any(|arg| arg == marker.as_bytes()))
}
