//! Alerts that carry on across a restart: raised ones resume with their original times
//! and without firing again; a compacted log restores what the long one did.

use super::tests::{MIN, book, feed};
use super::*;
use crate::fleet::testutil::device;
use AlertState::*;

const LOW: &str = r#"
[[alert]]
name = "low"
when = "level_pct < 15"
clear = "level_pct > 20"
for = "2m"
severity = "critical"
"#;

/// A book that saw tank-01 fire at 2m and its log, as lines.
fn fired_and_logged() -> (AlertBook, Vec<LogEntry>) {
    let mut b = book(LOW);
    let mut d = device("tank-01", &[]);
    feed(&mut b, &mut d, "level_pct", 10.0, 0);
    feed(&mut b, &mut d, "level_pct", 9.0, 2 * MIN);
    let log: Vec<LogEntry> = b.drain().map(|t| LogEntry::from(&t)).collect();
    assert_eq!(log.len(), 2, "pending, then firing");
    (b, log)
}

#[test]
fn a_raised_alert_resumes_as_firing_since_it_fired() {
    let (_, log) = fired_and_logged();
    let mut b = book(LOW);
    b.restore(log, 30 * MIN, Resume::Raised);
    assert_eq!(b.awaiting_resume(), 1);
    let mut d = device("tank-01", &[]);
    d.id = crate::vocab::DeviceId(5);
    feed(&mut b, &mut d, "level_pct", 9.0, 31 * MIN);
    assert_eq!(
        b.drain().count(),
        0,
        "nothing changed: no transition, no on_fire"
    );
    let a = b.active()[0].clone();
    assert_eq!((a.state, a.since_ms, a.started_ms), (Firing, 2 * MIN, 0));
    assert_eq!(a.fired_ms, Some(2 * MIN));
    assert_eq!(b.awaiting_resume(), 0);
}

#[test]
fn a_resumed_alert_whose_condition_cleared_resolves_and_says_so() {
    let (_, log) = fired_and_logged();
    let mut b = book(LOW);
    b.restore(log, 30 * MIN, Resume::Raised);
    let mut d = device("tank-01", &[]);
    feed(&mut b, &mut d, "level_pct", 80.0, 31 * MIN);
    let t: Vec<_> = b.drain().collect();
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!((t[0].from, t[0].to), (Firing, Resolved));
    assert!(
        t[0].is_resolve(),
        "on_resolve runs for the episode on_fire began"
    );
}

#[test]
fn check_honours_silences_but_judges_alerts_afresh() {
    let (_, log) = fired_and_logged();
    let mut b = book(LOW);
    b.restore(log, 30 * MIN, Resume::OperatorState);
    assert_eq!(b.awaiting_resume(), 0);
    let mut d = device("tank-01", &[]);
    feed(&mut b, &mut d, "level_pct", 9.0, 31 * MIN);
    assert_eq!(b.active()[0].state, Pending, "its `for` runs again");
}

#[test]
fn a_compacted_log_restores_what_the_whole_log_did() {
    let (mut b, mut log) = fired_and_logged();
    let rule = b.rules().find("low").unwrap_or(0);
    let d = b.active()[0].device;
    log.push(
        b.ack(d, rule, "ann@ops", Some("truck"), 3 * MIN)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let req = crate::alerts::parse_silence_command("site=south 2h works")
        .unwrap_or_else(|e| panic!("{e}"));
    log.push(
        b.silence(req, "ann@ops", 3 * MIN)
            .unwrap_or_else(|e| panic!("{e}")),
    );
    // Restored but never seen again: a compaction must keep it waiting, not lose it.
    let ghost = LogEntry::Raised {
        key: AlertKey {
            rule: "low".into(),
            fleet: "tanks".into(),
            device: "tank-99".into(),
        },
        raised: Raised {
            started_ms: MIN,
            fired_ms: MIN,
            severity: Severity::Critical,
        },
    };
    log.push(ghost.clone());
    b.restore([ghost], 3 * MIN, Resume::Raised);

    let mut history = log.clone();
    history.push(LogEntry::Checkpoint { at_ms: 4 * MIN });
    history.extend(b.compact());
    for entries in [log, history] {
        let r = crate::alerts::log::replay(entries, 5 * MIN);
        assert_eq!(r.silences.len(), 1);
        assert_eq!(r.raised.len(), 2, "{:?}", r.raised);
        assert_eq!(r.acks.len(), 1);
        let tank = r.raised.iter().find(|(k, _)| k.device == "tank-01");
        assert_eq!(
            tank.map(|(_, r)| (r.started_ms, r.fired_ms)),
            Some((0, 2 * MIN))
        );
    }
}

#[test]
fn a_checkpoint_forgets_what_came_before_it() {
    let (_, mut log) = fired_and_logged();
    log.push(LogEntry::Checkpoint { at_ms: 10 * MIN });
    let r = crate::alerts::log::replay(log, 11 * MIN);
    assert!(
        r.raised.is_empty(),
        "history before a checkpoint is history"
    );
}
