//! Operator actions survive a restart: acks and silences go to the alert log and come
//! back when the next run opens it.

use fleetop::alerts::{AlertBook, RuleSet, check_summary};
use fleetop::app::AlertOp;
use fleetop::config::Config;
use fleetop::engine::Engine;
use fleetop::mapping::Mapper;
use fleetop::output::alert_log::AlertLog;
use fleetop::source::Clock;
use fleetop::vocab::RawMessage;

const T0: i64 = 1_764_000_000_000;
const CONFIG: &str = r#"
[[fleet]]
name = "tanks"
topic = "tanks/{site}/{device}"
format = "json"
[[alert]]
name = "tank_low"
when = "level_pct < 50"
severity = "critical"
"#;

fn engine(log: &std::path::Path) -> Engine {
    let config = Config::parse(CONFIG, None).expect("config");
    let (mut e, _outlets) = Engine::detached(
        Mapper::new(&config.fleets).expect("fleets"),
        config.limits.clone(),
        &["b".into()],
    );
    e.clock = Clock::Fixed(T0);
    e.alerts = AlertBook::new(RuleSet::from_config(&config).expect("rules"));
    e.alert_log = Some(AlertLog::open(log, &mut e.alerts, T0).expect("log"));
    e.apply(&RawMessage {
        conn: fleetop::vocab::ConnId(0),
        topic: b"tanks/north/tank-1".to_vec().into(),
        payload: br#"{"level_pct":12}"#.to_vec().into(),
        retain: false,
        at_ms: T0,
    });
    let _ = e.drain_alerts();
    e
}

#[test]
fn acks_and_silences_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("alerts.jsonl");
    let mut first = engine(&log);
    assert_eq!(check_summary(&first.alerts).code, 2);
    let msg = first
        .alert_op(&AlertOp::AckDevice(fleetop::vocab::DeviceId(0)), "noc@host")
        .expect("ack");
    assert!(msg.contains("acknowledged 1"), "{msg}");
    let msg = first
        .alert_op(
            &AlertOp::Silence("site=north 2h \"pump maintenance\"".into()),
            "noc@host",
        )
        .expect("silence");
    assert!(msg.contains("silence"), "{msg}");
    assert_eq!(
        check_summary(&first.alerts).code,
        0,
        "a silenced alert is not counted"
    );
    drop(first);

    let second = engine(&log);
    assert_eq!(second.alerts.silences().len(), 1);
    let active = second.alerts.active();
    assert_eq!(active.len(), 1);
    assert!(active[0].ack.is_some(), "the ack came back");
    assert_eq!(check_summary(&second.alerts).code, 0);

    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.lines().any(|l| l.contains("pump maintenance")));
}

#[test]
fn bad_operator_input_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut e = engine(&dir.path().join("alerts.jsonl"));
    assert!(e.alert_op(&AlertOp::Silence("2h".into()), "x").is_err());
    assert!(e.alert_op(&AlertOp::Unsilence(99), "x").is_err());
}
