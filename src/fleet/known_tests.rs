//! A fleet remembered across a restart, and silence fleetop could not see (its own outages).

use super::*;
use crate::config::{Config, Limits};
use crate::fleet::{FleetEvent, Status};
use crate::mapping::Mapper;
use crate::vocab::{LinkState, RawMessage};
use bytes::Bytes;

const CONFIG: &str = r#"
[[fleet]]
name = "tanks"
topic = "tanks/{site}/{device}/telemetry"
expected_interval = "10s"
[[fleet.availability]]
topic = "tanks/{site}/{device}/status"
"#;

const T0: i64 = 1_764_000_000_000;

fn state() -> FleetState {
    let config = Config::parse(CONFIG, None).unwrap_or_else(|e| panic!("{e}"));
    let mapper = Mapper::new(&config.fleets).unwrap_or_else(|e| panic!("{e}"));
    FleetState::new(mapper, Limits::default(), &["plant".to_string()])
}

fn msg(topic: &str, payload: &str, at_ms: i64) -> RawMessage {
    RawMessage {
        conn: ConnId(0),
        topic: Bytes::copy_from_slice(topic.as_bytes()),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        retain: false,
        at_ms,
    }
}

fn status(s: &FleetState, name: &str) -> Option<Status> {
    s.find_device(name).map(|d| d.status)
}

/// tank-a reports until the end, tank-b fell silent a minute before, tank-c said offline.
fn a_run_that_stopped_at(end: i64) -> FleetState {
    let mut s = state();
    s.link_changed(ConnId(0), LinkState::Connected, T0);
    for t in (T0..end).step_by(5_000) {
        s.apply(&msg(
            "tanks/north/tank-a/telemetry",
            r#"{"level_pct":50}"#,
            t,
        ));
        if t < end - 60_000 {
            s.apply(&msg(
                "tanks/north/tank-b/telemetry",
                r#"{"level_pct":40}"#,
                t,
            ));
        }
    }
    s.apply(&msg("tanks/south/tank-c/status", "offline", end - 1_000));
    s.tick(end);
    s
}

#[test]
fn a_restart_keeps_devices_that_died_silently_and_their_status() {
    let end = T0 + 300_000;
    let before = a_run_that_stopped_at(end);
    assert_eq!(status(&before, "tank-b"), Some(Status::Stale));
    let saved = before.known(end);
    let text = serde_json::to_string(&saved).unwrap_or_default();
    let saved: KnownFleet = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));

    // An hour later: fleetop starts again and nobody has said anything yet.
    let later = end + 3_600_000;
    let mut s = state();
    assert_eq!(s.restore_known(saved), 3);
    assert!(
        s.drain_events().next().is_none(),
        "known devices are not news"
    );
    s.tick(later);
    assert_eq!(status(&s, "tank-b"), Some(Status::Stale), "still stale");
    assert_eq!(status(&s, "tank-c"), Some(Status::Offline));
    assert_eq!(
        status(&s, "tank-a"),
        Some(Status::Online),
        "held until connected"
    );
    let b = s
        .find_device("tank-b")
        .map(|d| (d.label("site").map(str::to_string), d.last_live_ms));
    assert_eq!(b, Some((Some("north".into()), Some(end - 60_000 - 5_000))));

    // Connected: tank-a was alive when fleetop stopped, so it gets a fresh allowance.
    s.link_changed(ConnId(0), LinkState::Connected, later);
    s.tick(later + 15_000);
    assert_eq!(status(&s, "tank-a"), Some(Status::Online));
    assert_eq!(status(&s, "tank-b"), Some(Status::Stale));
    s.tick(later + 21_000);
    assert_eq!(
        status(&s, "tank-a"),
        Some(Status::Stale),
        "it did not report since"
    );
    // A message finds the restored device, not a new one.
    s.apply(&msg(
        "tanks/north/tank-b/telemetry",
        r#"{"level_pct":41}"#,
        later + 22_000,
    ));
    assert_eq!(status(&s, "tank-b"), Some(Status::Online));
    assert_eq!(s.devices.len(), 3);
}

#[test]
fn devices_of_a_fleet_or_broker_no_longer_configured_are_skipped() {
    let end = T0 + 120_000;
    let mut saved = a_run_that_stopped_at(end).known(end);
    saved.devices[0].fleet = "gone".into();
    saved.devices[1].conn = "other-broker".into();
    let mut s = state();
    assert_eq!(s.restore_known(saved), 1);
}

#[test]
fn a_device_stale_before_the_outage_stays_stale_through_it_and_after() {
    let mut s = state();
    s.link_changed(ConnId(0), LinkState::Connected, T0);
    s.apply(&msg(
        "tanks/north/tank-01/telemetry",
        r#"{"level_pct":50}"#,
        T0,
    ));
    s.tick(T0 + 30_000);
    assert_eq!(s.devices[0].status, Status::Stale);
    let down = LinkState::Down {
        reason: "timeout".into(),
        retry_in: std::time::Duration::from_secs(1),
    };
    s.link_changed(ConnId(0), down, T0 + 31_000);
    s.tick(T0 + 40_000);
    assert_eq!(s.devices[0].status, Status::Stale);
    // Back: it was stale before fleetop went blind, and nothing since says otherwise.
    s.link_changed(ConnId(0), LinkState::Connected, T0 + 41_000);
    s.tick(T0 + 42_000);
    assert_eq!(s.devices[0].status, Status::Stale);
    let changes: Vec<_> = s
        .drain_events()
        .filter_map(|e| match e {
            FleetEvent::StatusChanged { to, at_ms, .. } => Some((to, at_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [(Status::Online, T0), (Status::Stale, T0 + 30_000)],
        "stale once, never online again in between"
    );
}

#[test]
fn fleetops_own_outage_leaves_statuses_alone_and_staleness_counts_from_the_reconnect() {
    let mut s = state();
    s.link_changed(ConnId(0), LinkState::Connected, T0);
    s.apply(&msg(
        "tanks/north/tank-01/telemetry",
        r#"{"level_pct":50}"#,
        T0 + 1_000,
    ));
    s.drain_events().for_each(drop);
    let down = LinkState::Down {
        reason: "connection refused".into(),
        retry_in: std::time::Duration::from_secs(1),
    };
    s.link_changed(ConnId(0), down, T0 + 5_000);
    s.link_changed(ConnId(0), LinkState::Connecting, T0 + 6_000);
    // A 45 s outage is more than twice the 10 s interval: the device is not stale for it.
    s.tick(T0 + 50_000);
    assert_eq!(s.devices[0].status, Status::Online);
    assert!(s.connections[0].is_blind());
    let back = T0 + 50_000;
    s.link_changed(ConnId(0), LinkState::Connected, back);
    assert!(!s.connections[0].is_blind());
    s.tick(back + 20_000);
    assert_eq!(
        s.devices[0].status,
        Status::Online,
        "20 s after the reconnect"
    );
    s.tick(back + 20_001);
    assert_eq!(
        s.devices[0].status,
        Status::Stale,
        "silent since the reconnect"
    );
    let changes: Vec<_> = s
        .drain_events()
        .filter_map(|e| match e {
            FleetEvent::StatusChanged { to, at_ms, .. } => Some((to, at_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(changes, [(Status::Stale, back + 20_001)]);
}
