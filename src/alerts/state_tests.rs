//! The state machine with injected time: no sleeps, no clock.

use super::*;
use crate::alerts::log::parse_log;
use crate::alerts::silence::parse_silence_command;
use crate::config::Origin;
use crate::config::alerts::AlertRuleConfig;
use crate::fleet::testutil::{device, set};
use AlertState::*;

pub(super) const MIN: i64 = 60_000;

pub(super) fn compile(toml_text: &str) -> Result<RuleSet, String> {
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        alert: Vec<AlertRuleConfig>,
    }
    let doc: Doc = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    let origin = Origin {
        path: Some("f.toml".into()),
        text: toml_text.into(),
    };
    RuleSet::compile(&doc.alert, &["tanks"], &origin).map_err(|e| e.0)
}

pub(super) fn book(toml_text: &str) -> AlertBook {
    AlertBook::new(compile(toml_text).unwrap_or_else(|e| panic!("{e}")))
}

/// `(from, to, at)` of the drained transitions of one rule.
fn moves(b: &mut AlertBook, rule: &str) -> Vec<(AlertState, AlertState, i64)> {
    b.drain()
        .filter(|t| t.rule_name == rule)
        .map(|t| (t.from, t.to, t.at_ms))
        .collect()
}

/// Sets a metric and evaluates, keeping the device live.
pub(super) fn feed(b: &mut AlertBook, d: &mut crate::fleet::Device, metric: &str, v: f64, at: i64) {
    set(d, metric, at, v);
    b.evaluate_device(d, at);
}

const LOW: &str = r#"
[[alert]]
name = "low"
when = "level_pct < 15"
for = "2m"
severity = "critical"
message = "{device} level {level_pct}% at {site}"
"#;

#[test]
fn pending_until_for_has_elapsed() {
    let mut b = book(LOW);
    let mut d = device("tank-01", &[]);
    d.labels.push(("site".into(), "north".into()));
    feed(&mut b, &mut d, "level_pct", 10.0, 0);
    assert_eq!(moves(&mut b, "low"), [(Inactive, Pending, 0)]);
    feed(&mut b, &mut d, "level_pct", 11.0, MIN);
    b.tick(std::slice::from_ref(&d), MIN + 59_999);
    assert_eq!(moves(&mut b, "low"), []);
    b.tick(std::slice::from_ref(&d), 2 * MIN);
    let t: Vec<_> = b.drain().filter(|t| t.rule_name == "low").collect();
    assert_eq!((t[0].from, t[0].to, t[0].at_ms), (Pending, Firing, 2 * MIN));
    assert_eq!(t[0].message, "tank-01 level 11% at north");
    assert_eq!(t[0].value, "11");
    assert_eq!(t[0].severity, Severity::Critical);
    // A dip that recovers before `for` never fires.
    feed(&mut b, &mut d, "level_pct", 50.0, 3 * MIN);
    feed(&mut b, &mut d, "level_pct", 10.0, 4 * MIN);
    feed(&mut b, &mut d, "level_pct", 50.0, 5 * MIN);
    assert_eq!(
        moves(&mut b, "low"),
        [
            (Firing, Resolved, 3 * MIN),
            (Resolved, Pending, 4 * MIN),
            (Pending, Inactive, 5 * MIN)
        ]
    );
}

#[test]
fn hysteresis_holds_between_raise_and_clear() {
    let mut b =
        book("[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\nclear = \"level_pct > 20\"\n");
    let mut d = device("tank-01", &[]);
    for (i, v) in [10.0, 17.0, 14.0, 19.9, 21.0, 17.0, 14.0]
        .into_iter()
        .enumerate()
    {
        feed(&mut b, &mut d, "level_pct", v, i as i64 * 1000);
    }
    assert_eq!(
        moves(&mut b, "low"),
        [
            (Inactive, Firing, 0),
            (Firing, Resolved, 4000),
            (Resolved, Firing, 6000)
        ]
    );
}

#[test]
fn keep_firing_for_outlasts_a_brief_recovery() {
    let mut b =
        book("[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\nkeep_firing_for = \"5m\"\n");
    let mut d = device("tank-01", &[]);
    feed(&mut b, &mut d, "level_pct", 10.0, 0);
    feed(&mut b, &mut d, "level_pct", 30.0, MIN);
    b.tick(std::slice::from_ref(&d), 5 * MIN);
    // Raised again inside the grace: the clock starts over.
    feed(&mut b, &mut d, "level_pct", 10.0, 5 * MIN + 1);
    feed(&mut b, &mut d, "level_pct", 30.0, 6 * MIN);
    b.tick(std::slice::from_ref(&d), 11 * MIN - 1);
    assert_eq!(moves(&mut b, "low"), [(Inactive, Firing, 0)]);
    b.tick(std::slice::from_ref(&d), 11 * MIN);
    assert_eq!(moves(&mut b, "low"), [(Firing, Resolved, 11 * MIN)]);
}

#[test]
fn flapping_is_damped_until_it_settles() {
    let mut b = book(
        "[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\nflap_flips = 4\nflap_window = \"10m\"\n",
    );
    let mut d = device("tank-01", &[]);
    for i in 0..12 {
        let v = if i % 2 == 0 { 10.0 } else { 30.0 };
        feed(&mut b, &mut d, "level_pct", v, i * 10_000);
    }
    assert_eq!(
        moves(&mut b, "low"),
        [
            (Inactive, Firing, 0),
            (Firing, Resolved, 10_000),
            (Resolved, Firing, 20_000),
            (Firing, Flapping, 30_000),
        ]
    );
    let a = b.active()[0];
    assert_eq!((a.state, a.severity), (Flapping, Severity::Warning));
    // Quiet (raised) for a whole window after the last flip: it settles as firing.
    feed(&mut b, &mut d, "level_pct", 10.0, 120_000);
    b.tick(std::slice::from_ref(&d), 120_000 + 10 * MIN - 1);
    assert_eq!(moves(&mut b, "low"), []);
    b.tick(std::slice::from_ref(&d), 120_000 + 10 * MIN);
    assert_eq!(
        moves(&mut b, "low"),
        [(Flapping, Firing, 120_000 + 10 * MIN)]
    );
}

#[test]
fn ack_survives_resolve_but_not_the_next_episode() {
    let mut b = book("[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\n");
    let mut d = device("tank-01", &[]);
    feed(&mut b, &mut d, "level_pct", 10.0, 0);
    let r = b.rules().find("low").unwrap_or(0);
    assert_eq!(
        b.ack(d.id, 99, "ann@ops", None, 1),
        Err(AlertError::NoSuchAlert)
    );
    let entry = b
        .ack(d.id, r, "ann@ops", Some("on it\x1b[2J"), 1000)
        .unwrap();
    assert!(matches!(entry, LogEntry::Ack { .. }));
    let ack = b.get(d.id, r).and_then(|a| a.ack.clone()).unwrap();
    assert_eq!(
        (ack.by.as_str(), ack.comment.as_deref()),
        ("ann@ops", Some("on it\\e[2J"))
    );
    feed(&mut b, &mut d, "level_pct", 30.0, 2000);
    let a = b.get(d.id, r).unwrap();
    assert_eq!((a.state, a.ack.is_some()), (Resolved, true));
    feed(&mut b, &mut d, "level_pct", 10.0, 3000);
    let a = b.get(d.id, r).unwrap();
    assert_eq!((a.state, a.ack.is_some()), (Firing, false));
}

#[test]
fn silences_mute_until_they_expire_or_are_lifted() {
    let mut b = book(
        "[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\nseverity = \"major\"\n\
         [[alert]]\nname = \"device_stale\"\nenabled = false\n",
    );
    let mut d = device("tank-01", &[]);
    d.labels.push(("site".into(), "north".into()));
    let req = parse_silence_command("site=north 1h \"pump maintenance\"").unwrap();
    let LogEntry::Silence(s) = b.silence(req, "ann@ops", 0).unwrap() else {
        panic!("not a silence entry")
    };
    feed(&mut b, &mut d, "level_pct", 10.0, 1000);
    let t: Vec<_> = b.drain().filter(|t| t.rule_name == "low").collect();
    assert!(t[0].silenced && !t[0].is_new_fire());
    assert_eq!(b.counts(), [0; 5]);
    assert_eq!(b.worst_for(d.id), None);
    assert_eq!(b.silenced_by(b.active()[0]).map(|s| s.id), Some(s.id));
    b.tick(std::slice::from_ref(&d), 60 * MIN);
    assert!(b.silences().is_empty());
    assert_eq!(b.counts(), [0, 1, 0, 0, 0]);
    assert_eq!(b.worst_for(d.id), Some(Severity::Major));
    // Unsilence lifts one early.
    let req = parse_silence_command("rule=low 1h maintenance").unwrap();
    let LogEntry::Silence(s) = b.silence(req, "ann@ops", 61 * MIN).unwrap() else {
        panic!("not a silence entry")
    };
    assert_eq!(b.counts(), [0; 5]);
    assert!(b.unsilence(s.id, "ann@ops", 62 * MIN).is_ok());
    assert_eq!(
        b.unsilence(s.id, "ann@ops", 62 * MIN),
        Err(AlertError::NoSuchSilence(s.id))
    );
    assert_eq!(b.counts(), [0, 1, 0, 0, 0]);
}

#[test]
fn a_silence_ending_while_its_alert_fires_shows_it_again() {
    let mut b = book(
        "[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\nseverity = \"critical\"\n\
         [[alert]]\nname = \"device_stale\"\nenabled = false\n",
    );
    let mut d = device("tank-01", &[]);
    let req = parse_silence_command("device=tank-01 1h \"refill booked\"").unwrap();
    b.silence(req, "ann@ops", 0).unwrap();
    feed(&mut b, &mut d, "level_pct", 10.0, 1000);
    assert!(b.drain().all(|t| t.silenced));
    // Still silenced a minute before expiry: nothing new.
    b.tick(std::slice::from_ref(&d), 59 * MIN);
    assert_eq!(b.drain().count(), 0);
    b.tick(std::slice::from_ref(&d), 60 * MIN);
    let t: Vec<_> = b.drain().collect();
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!((t[0].from, t[0].to, t[0].silenced), (Firing, Firing, false));
    assert!(
        t[0].is_resurfaced() && t[0].is_new_fire(),
        "rings the bell, runs on_fire"
    );
    assert_eq!(t[0].at_ms, 60 * MIN);
    // Lifting a silence early does the same; an alert another silence still covers, or
    // one that is no longer raised, stays quiet.
    for cmd in ["rule=low 1h a", "device=tank-* 1h b"] {
        b.silence(parse_silence_command(cmd).unwrap(), "ann@ops", 61 * MIN)
            .unwrap();
    }
    assert!(b.unsilence(2, "ann@ops", 62 * MIN).is_ok());
    assert_eq!(b.drain().count(), 0, "silence 3 still covers it");
    assert!(b.unsilence(3, "ann@ops", 63 * MIN).is_ok());
    assert_eq!(b.drain().filter(|t| t.is_resurfaced()).count(), 1);
    feed(&mut b, &mut d, "level_pct", 50.0, 64 * MIN);
    b.silence(
        parse_silence_command("rule=low 1m c").unwrap(),
        "ann@ops",
        64 * MIN,
    )
    .unwrap();
    b.drain().for_each(drop);
    b.tick(std::slice::from_ref(&d), 70 * MIN);
    assert_eq!(
        b.drain().filter(|t| t.is_resurfaced()).count(),
        0,
        "resolved by then"
    );
}

#[test]
fn an_offline_gateway_raises_one_alert_and_inhibits_its_devices_liveness_alerts() {
    let mut b = book("");
    let mut devices = [
        device("tank-01", &[("level_pct", 50.0)]),
        device("tank-02", &[("level_pct", 50.0)]),
    ];
    devices[1].id = crate::vocab::DeviceId(1);
    for d in &mut devices {
        d.labels.push(("gateway".into(), "gw-1".into()));
        d.group_offline = true;
        d.available = Some(false);
        b.evaluate_device(d, 10_000);
    }
    let mut gw = crate::fleet::Group {
        fleet: 0,
        conn: crate::vocab::ConnId(0),
        labels: vec![("gateway".into(), "gw-1".into())],
        online: false,
        since_ms: 10_000,
    };
    for t in [10_000, 40_000, 5 * MIN, 10 * MIN] {
        b.evaluate_groups(std::slice::from_ref(&gw), t);
        b.tick(&devices, t);
    }
    let t: Vec<_> = b
        .drain()
        .map(|t| (t.rule_name, t.device_name, t.from, t.to))
        .collect();
    let gw1 = || ("gateway_offline".to_string(), "gateway=gw-1".to_string());
    assert_eq!(
        t,
        [
            (gw1().0, gw1().1, Inactive, Pending),
            (gw1().0, gw1().1, Pending, Firing),
        ],
        "one alert for the gateway, none for the devices behind it"
    );
    // A silence on the gateway's label covers its alert.
    let a = b.active()[0];
    assert!(is_group_alert(a.device));
    let req = parse_silence_command("gateway=gw-1 1h swap").unwrap();
    b.silence(req, "ann@ops", 10 * MIN).unwrap();
    assert_eq!(b.counts(), [0; 5]);
    // The gateway returns: the device's own facts count again.
    gw.online = true;
    devices[0].group_offline = false;
    devices[1].group_offline = false;
    b.evaluate_groups(std::slice::from_ref(&gw), 11 * MIN);
    b.tick(&devices, 11 * MIN);
    let t: Vec<_> = b
        .drain()
        .map(|t| (t.rule_name, t.device_name, t.to))
        .collect();
    assert!(t.contains(&(gw1().0, gw1().1, Resolved)), "{t:?}");
    for d in ["tank-01", "tank-02"] {
        assert!(
            t.contains(&("device_offline".into(), d.into(), Pending)),
            "{t:?}"
        );
    }
    assert_eq!(t.len(), 3, "{t:?}");
}

#[test]
fn a_broker_link_down_inhibits_and_staleness_counts_from_reconnect() {
    let mut b = book("");
    let d = device("tank-01", &[("level_pct", 50.0)]);
    b.link_changed(crate::vocab::ConnId(0), true, 0);
    b.evaluate_device(&d, 0);
    b.link_changed(crate::vocab::ConnId(0), false, 10_000);
    b.tick(std::slice::from_ref(&d), 30 * MIN);
    assert_eq!(moves(&mut b, "device_stale"), []);
    b.link_changed(crate::vocab::ConnId(0), true, 40 * MIN);
    b.tick(std::slice::from_ref(&d), 40 * MIN + 1000);
    assert_eq!(moves(&mut b, "device_stale"), []);
    b.tick(std::slice::from_ref(&d), 42 * MIN);
    assert_eq!(moves(&mut b, "device_stale"), []);
    // Two expected intervals (2 × 60 s) after the reconnect with nothing heard: stale.
    b.tick(std::slice::from_ref(&d), 42 * MIN + 1);
    assert_eq!(
        moves(&mut b, "device_stale"),
        [(Inactive, Firing, 42 * MIN + 1)]
    );
    // A firing liveness alert is held while the link is down, and not counted.
    b.link_changed(crate::vocab::ConnId(0), false, 43 * MIN);
    b.tick(std::slice::from_ref(&d), 44 * MIN);
    let a = b.active()[0];
    assert_eq!((a.state, a.inhibited), (Firing, true));
    assert_eq!(b.counts(), [0; 5]);
}

#[test]
fn without_inhibition_the_same_silence_is_stale() {
    let mut b = book("");
    let d = device("tank-01", &[("level_pct", 50.0)]);
    b.link_changed(crate::vocab::ConnId(0), true, 0);
    b.evaluate_device(&d, 0);
    b.tick(std::slice::from_ref(&d), 2 * MIN + 1);
    assert_eq!(
        moves(&mut b, "device_stale"),
        [(Inactive, Firing, 2 * MIN + 1)]
    );
    assert_eq!(b.counts(), [0, 0, 0, 1, 0]);
}

#[test]
fn new_decode_errors_raise_for_a_window() {
    let mut b =
        book("[[alert]]\nname = \"decode_errors\"\nwindow = \"1m\"\nseverity = \"minor\"\n");
    let mut d = device("tank-01", &[("level_pct", 50.0)]);
    b.evaluate_device(&d, 0);
    d.decode_errors = 1;
    d.last_error = Some(crate::fleet::LastError {
        at_ms: 1000,
        topic: "t".into(),
        message: "expected value at line 1".into(),
    });
    b.evaluate_device(&d, 1000);
    b.tick(std::slice::from_ref(&d), 60_999);
    b.tick(std::slice::from_ref(&d), 61_000);
    let t: Vec<_> = b
        .drain()
        .filter(|t| t.rule_name == "decode_errors")
        .collect();
    assert_eq!(
        (t[0].to, t[0].severity, t[0].value.as_str()),
        (Firing, Severity::Minor, "expected value at line 1")
    );
    assert_eq!((t[1].to, t[1].at_ms), (Resolved, 61_000));
}

#[test]
fn missing_metrics_and_nan_never_fire_and_no_data_holds() {
    let mut b = book("[[alert]]\nname = \"hot\"\nwhen = \"temp > 30\"\n");
    let mut d = device("tank-01", &[("level_pct", 50.0)]);
    b.evaluate_device(&d, 0);
    feed(&mut b, &mut d, "temp", f64::NAN, 1000);
    assert_eq!(moves(&mut b, "hot"), []);
    assert!(b.alerts().next().is_none());
    feed(&mut b, &mut d, "temp", 35.0, 2000);
    feed(&mut b, &mut d, "temp", f64::NAN, 3000);
    assert_eq!(moves(&mut b, "hot"), [(Inactive, Firing, 2000)]);
}

#[test]
fn active_is_sorted_by_severity_then_newest() {
    let text = "[[alert]]\nname = \"a\"\nwhen = \"v > 1\"\nseverity = \"minor\"\n\
                [[alert]]\nname = \"b\"\nwhen = \"v > 2\"\nseverity = \"critical\"\n\
                [[alert]]\nname = \"c\"\nwhen = \"w > 2\"\nseverity = \"minor\"\n";
    let mut b = book(text);
    let mut d = device("tank-01", &[]);
    feed(&mut b, &mut d, "v", 5.0, 0);
    feed(&mut b, &mut d, "w", 5.0, 1000);
    let names: Vec<_> = b.active().iter().map(|a| a.rule_name.to_string()).collect();
    assert_eq!(names, ["b", "c", "a"]);
    assert_eq!(b.counts(), [1, 0, 2, 0, 0]);
    let s = crate::alerts::check::check_summary(&b);
    assert_eq!(s.code, 2);
    assert!(
        s.line
            .starts_with("FLEETOP CRITICAL - 3 firing: tank-01 b (critical)"),
        "{}",
        s.line
    );
}

#[test]
fn restart_restores_acks_and_silences_from_log_lines() {
    let text = "[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\n\
                [[alert]]\nname = \"hot\"\nwhen = \"temp > 30\"\n";
    let mut b = book(text);
    let mut d = device("tank-01", &[]);
    let mut log = Vec::new();
    feed(&mut b, &mut d, "level_pct", 10.0, 0);
    feed(&mut b, &mut d, "temp", 40.0, 0);
    log.extend(b.drain().map(|t| LogEntry::from(&t)));
    let (low, hot) = (
        b.rules().find("low").unwrap_or(0),
        b.rules().find("hot").unwrap_or(0),
    );
    log.push(
        b.ack(d.id, low, "ann@ops", Some("refill booked"), 1000)
            .unwrap(),
    );
    log.push(b.ack(d.id, hot, "ann@ops", None, 1000).unwrap());
    let keep = b
        .silence(
            parse_silence_command("site=north 2h \"pump\"").unwrap(),
            "ann@ops",
            1000,
        )
        .unwrap();
    let lifted = b
        .silence(
            parse_silence_command("site=south 2h x").unwrap(),
            "ann@ops",
            1000,
        )
        .unwrap();
    log.extend([keep, lifted]);
    log.push(b.unsilence(2, "bob@ops", 2000).unwrap());
    // `hot` resolves before the restart: its ack belonged to an episode that ended.
    feed(&mut b, &mut d, "temp", 20.0, 3000);
    log.extend(b.drain().map(|t| LogEntry::from(&t)));
    let file: String =
        log.iter().map(|e| e.to_line() + "\n").collect::<String>() + "{\"kind\":\"ack\",\"rul";

    let (entries, errors) = parse_log(&file);
    assert_eq!(entries, log);
    assert_eq!(errors.len(), 1, "the torn last line is reported, not fatal");
    let mut b2 = book(text);
    b2.restore(entries, 10 * MIN, Resume::OperatorState);
    assert_eq!(b2.silences().iter().map(|s| s.id).collect::<Vec<_>>(), [1]);
    assert_eq!(b2.silences()[0].reason, "pump");
    let mut d2 = device("tank-01", &[]);
    d2.id = crate::vocab::DeviceId(7);
    feed(&mut b2, &mut d2, "level_pct", 10.0, 11 * MIN);
    feed(&mut b2, &mut d2, "temp", 40.0, 11 * MIN);
    let ack = b2
        .get(crate::vocab::DeviceId(7), low)
        .and_then(|a| a.ack.clone());
    assert_eq!(ack.and_then(|a| a.comment), Some("refill booked".into()));
    assert!(
        b2.get(crate::vocab::DeviceId(7), hot)
            .is_some_and(|a| a.ack.is_none())
    );
    // The silence, both raised alerts and the ack of one.
    assert_eq!(b2.compact().len(), 4);
    // New silence ids continue after the restored ones.
    let LogEntry::Silence(s) = b2
        .silence(parse_silence_command("a=b 1h c").unwrap(), "x", 11 * MIN)
        .unwrap()
    else {
        panic!("not a silence entry")
    };
    assert_eq!(s.id, 3);
}

#[test]
fn config_errors_point_at_file_line_and_column() {
    let e = compile("[[alert]]\nname = \"x\"\nwhen = \"level_pct <> 3\"\n").unwrap_err();
    assert!(
        e.starts_with("f.toml:3:20: alert `x` when: expected a metric"),
        "{e}"
    );
    assert!(e.contains("(column 12 of the when)"), "{e}");
    let e = compile("[[alert]]\nname = \"x\"\nfleet = \"pumps\"\nwhen = \"a > 1\"\n").unwrap_err();
    assert!(
        e.starts_with("f.toml:3:9:") && e.contains("known: tanks"),
        "{e}"
    );
    let e = compile("[[alert]]\nname = \"device_offline\"\nwhen = \"a > 1\"\n").unwrap_err();
    assert!(e.contains("built-in"), "{e}");
    let e = compile("[[alert]]\nname = \"x\"\n").unwrap_err();
    assert!(e.contains("needs a `when`"), "{e}");
    let e = compile(
        "[[alert]]\nname = \"x\"\nwhen = \"a > 1\"\n[[alert]]\nname = \"x\"\nwhen = \"a > 1\"\n",
    )
    .unwrap_err();
    assert!(e.starts_with("f.toml:5:8:") && e.contains("twice"), "{e}");
    let e =
        compile("[[alert]]\nname = \"x\"\nwhen = \"a > 1\"\nmessage = \"{device\"\n").unwrap_err();
    assert!(e.starts_with("f.toml:4:12:"), "{e}");
    let set = compile("[[alert]]\nname = \"device_stale\"\nenabled = false\n").unwrap();
    let names: Vec<_> = set.rules().iter().map(|r| r.name.to_string()).collect();
    assert_eq!(
        names,
        ["device_offline", "decode_errors", "gateway_offline"]
    );
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary values and times never panic, and each alert's transitions chain.
    #[test]
    fn transitions_chain_and_nothing_panics(
        steps in proptest::collection::vec((any::<f64>(), 0i64..600_000, any::<bool>(), any::<bool>()), 1..60),
    ) {
        let mut b = book(
            "[[alert]]\nname = \"low\"\nwhen = \"v < 15\"\nclear = \"v > 20\"\nfor = \"1m\"\nkeep_firing_for = \"2m\"\nflap_flips = 3\n\
             [[alert]]\nname = \"avg\"\nwhen = \"avg(v, 5m) > 100 or age(v) > 3m\"\n",
        );
        let mut d = device("tank-01", &[]);
        let mut now = 0i64;
        let mut last: std::collections::HashMap<String, AlertState> = Default::default();
        for (v, dt, tick, link_up) in steps {
            now += dt;
            if tick {
                b.link_changed(crate::vocab::ConnId(0), link_up, now);
                b.tick(std::slice::from_ref(&d), now);
            } else {
                d.group_offline = v.is_sign_negative();
                feed(&mut b, &mut d, "v", v, now);
            }
            for t in b.drain() {
                let prev = last.insert(t.rule_name.clone(), t.to).unwrap_or(Inactive);
                // A resolved alert forgotten after RESOLVED_KEEP_MS comes back from inactive.
                let forgotten = t.from == Inactive && prev == Resolved;
                prop_assert!(prev == t.from || forgotten, "{:?} after {:?}", t, prev);
                prop_assert!(t.from != t.to, "{:?}", t);
            }
        }
        let _ = b.active();
        let _ = b.counts();
    }
}

#[test]
fn coalesced_messages_are_evaluated_once_the_interval_passes_or_at_the_tick() {
    let mut b = book("[[alert]]\nname = \"low\"\nwhen = \"level_pct < 15\"\n");
    b.coalesce(1000);
    let mut d = device("tank-01", &[]);
    feed(&mut b, &mut d, "level_pct", 50.0, 0);
    // 300 ms later: held back, nothing evaluated yet.
    feed(&mut b, &mut d, "level_pct", 10.0, 300);
    assert_eq!(b.drain().count(), 0);
    b.evaluate_deferred(std::slice::from_ref(&d), 400);
    let t: Vec<_> = b.drain().map(|t| (t.to, t.at_ms)).collect();
    assert_eq!(t, [(Firing, 400)]);
    // A message after the interval is evaluated at once.
    feed(&mut b, &mut d, "level_pct", 50.0, 1500);
    assert_eq!(b.drain().map(|t| t.to).collect::<Vec<_>>(), [Resolved]);
}
