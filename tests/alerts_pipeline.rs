//! The alert core end to end, with no broker: messages through the fleet state into the
//! alert book, transitions to log lines, and a restart that keeps acks and silences.

use bytes::Bytes;
use fleetop::alerts::{
    AlertBook, AlertState, LogEntry, Resume, RuleSet, parse_log, parse_silence_command,
};
use fleetop::config::alerts::AlertRuleConfig;
use fleetop::config::{Config, Origin};
use fleetop::fleet::FleetState;
use fleetop::mapping::Mapper;
use fleetop::vocab::RawMessage;

const FLEETS: &str = r#"
[[fleet]]
name = "tanks"
topic = "tanks/{site}/{gateway}/{device}/telemetry"
format = "json"
expected_interval = "10s"
[[fleet.availability]]
topic = "tanks/{site}/{gateway}/status"
"#;

const ALERTS: &str = r#"
[[alert]]
name = "low_level"
fleet = "tanks"
labels = { site = "north" }
when = "level_pct < 15"
clear = "level_pct > 20"
for = "20s"
severity = "critical"
message = "{device} level {level_pct}% at {site}"
"#;

const T0: i64 = 1_764_000_000_000;

fn msg(topic: &str, payload: &str, at_ms: i64) -> RawMessage {
    RawMessage {
        conn: fleetop::vocab::ConnId(0),
        topic: Bytes::copy_from_slice(topic.as_bytes()),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        retain: false,
        at_ms,
    }
}

fn start() -> (FleetState, AlertBook) {
    let config = Config::parse(FLEETS, None).expect("fleet config");
    let mapper = Mapper::new(&config.fleets).expect("mapper");
    let fleets: Vec<&str> = mapper.fleets.iter().map(|f| f.name.as_str()).collect();
    #[derive(serde::Deserialize)]
    struct Doc {
        alert: Vec<AlertRuleConfig>,
    }
    let doc: Doc = toml::from_str(ALERTS).expect("alert config");
    let origin = Origin {
        path: None,
        text: ALERTS.into(),
    };
    let rules = RuleSet::compile(&doc.alert, &fleets, &origin).expect("rules");
    let mut book = AlertBook::new(rules);
    book.link_changed(fleetop::vocab::ConnId(0), true, T0);
    let state = FleetState::new(mapper, Default::default(), &["local".to_string()]);
    (state, book)
}

/// What the engine does per message: apply, then evaluate the device it touched.
fn deliver(state: &mut FleetState, book: &mut AlertBook, m: RawMessage) {
    let before = state.devices.len();
    state.apply(&m);
    let touched = state
        .devices
        .iter()
        .filter(|d| d.last_seen_ms == m.at_ms || d.id.index() >= before);
    for d in touched {
        book.evaluate_device(d, m.at_ms);
    }
}

#[test]
fn messages_raise_inhibit_log_and_survive_a_restart() {
    let (mut state, mut book) = start();
    let tank = "tanks/north/gw-1/tank-01/telemetry";
    deliver(&mut state, &mut book, msg(tank, r#"{"level_pct": 50}"#, T0));
    deliver(
        &mut state,
        &mut book,
        msg(tank, r#"{"level_pct": 10}"#, T0 + 10_000),
    );
    book.tick(&state.devices, T0 + 30_000);
    let fired: Vec<_> = book.drain().collect();
    let moves: Vec<_> = fired.iter().map(|t| (t.rule_name.as_str(), t.to)).collect();
    assert_eq!(
        moves,
        [
            ("low_level", AlertState::Pending),
            ("low_level", AlertState::Firing)
        ]
    );
    assert_eq!(fired[1].message, "tank-01 level 10% at north");
    assert!(fired[1].is_new_fire());

    // The gateway drops: its devices' liveness alerts are inhibited, the gateway's fires.
    deliver(
        &mut state,
        &mut book,
        msg("tanks/north/gw-1/status", "offline", T0 + 40_000),
    );
    for t in [T0 + 40_000, T0 + 80_000, T0 + 120_000] {
        state.tick(t);
        book.evaluate_groups(&state.groups, t);
        book.tick(&state.devices, t);
    }
    let moves: Vec<_> = book.drain().map(|t| (t.rule_name, t.to)).collect();
    assert_eq!(
        moves,
        [
            ("gateway_offline".to_string(), AlertState::Pending),
            ("gateway_offline".to_string(), AlertState::Firing),
        ]
    );

    // The operator acks and silences; the engine appends the entries to the log.
    let mut log: Vec<String> = fired.iter().map(|t| LogEntry::from(t).to_line()).collect();
    let d = state
        .find_device("tank-01")
        .map(|d| d.id)
        .unwrap_or(fleetop::vocab::DeviceId(0));
    let rule = book.rules().find("low_level").unwrap_or(0);
    let ack = book.ack(d, rule, "ann@ops", Some("truck booked"), T0 + 130_000);
    log.push(ack.expect("ack").to_line());
    let req = parse_silence_command("gateway=gw-1 2h \"gateway swap\"").expect("silence");
    log.push(
        book.silence(req, "ann@ops", T0 + 130_000)
            .expect("silence")
            .to_line(),
    );
    assert_eq!(book.counts(), [0; 5], "everything on gw-1 is silenced");

    // Restart: fresh state and book, the log replayed, the same data arrives again.
    let (mut state, mut book) = start();
    let (entries, errors) = parse_log(&log.join("\n"));
    assert!(errors.is_empty(), "{errors:?}");
    book.restore(entries, T0 + 200_000, Resume::Raised);
    assert_eq!(book.silences().len(), 1);
    deliver(
        &mut state,
        &mut book,
        msg(tank, r#"{"level_pct": 12}"#, T0 + 210_000),
    );
    book.tick(&state.devices, T0 + 230_000);
    assert!(
        book.drain().all(|t| !t.is_new_fire()),
        "a resumed alert does not fire (nor run on_fire) again"
    );
    let a = book.active();
    let names: Vec<_> = a.iter().map(|a| (&*a.rule_name, a.state)).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(a[0].state, AlertState::Firing);
    let first_fire = fired
        .iter()
        .find(|t| t.rule_name == "low_level" && t.is_new_fire());
    assert_eq!(
        a[0].fired_ms,
        first_fire.map(|t| t.at_ms),
        "it resumes as firing since it first fired"
    );
    assert_eq!(a[0].ack.as_ref().map(|k| k.by.as_str()), Some("ann@ops"));
    assert!(book.silenced_by(a[0]).is_some());
}
