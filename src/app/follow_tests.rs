//! Selections follow items as rows arrive (the events pane), and `n` / `N` walk through
//! the devices in trouble.

use super::*;
use crate::config::Config;
use crate::mapping::Mapper;
use crate::vocab::RawMessage;

const T0: i64 = 1_764_000_000_000;

fn state() -> FleetState {
    let c = Config::parse(
        "[[fleet]]\nname=\"tanks\"\ntopic=\"t/{device}\"\nformat=\"json\"\nexpected_interval=\"10s\"\n\
         [[fleet.availability]]\ntopic=\"t/{device}/status\"\n",
        None,
    )
    .expect("config");
    let mut s = FleetState::new(
        Mapper::new(&c.fleets).expect("fleets"),
        Default::default(),
        &["b".into()],
    );
    let mut send = |topic: &str, payload: &str, at_ms| {
        s.apply(&RawMessage {
            conn: crate::vocab::ConnId(0),
            topic: topic.as_bytes().to_vec().into(),
            payload: payload.as_bytes().to_vec().into(),
            retain: false,
            at_ms,
        })
    };
    for i in 0..6 {
        send(&format!("t/tank-0{i}"), r#"{"level_pct":50}"#, T0);
    }
    // tank-01 goes offline, tank-03 sends garbage; the rest stay well.
    send("t/tank-01/status", "offline", T0 + 1000);
    send("t/tank-03", "{broken", T0 + 1000);
    s.tick(T0 + 2000);
    s
}

fn app() -> App {
    App::new(crate::theme::Theme::monochrome(), false)
}

fn name_at_cursor(a: &App, s: &FleetState) -> String {
    a.selected_device()
        .map(|id| s.devices[id.index()].name.to_string())
        .unwrap_or_default()
}

#[test]
fn the_events_cursor_stays_on_its_event_as_new_ones_arrive() {
    let mut s = state();
    let mut a = app();
    for e in s.drain_events().collect::<Vec<_>>() {
        a.observe(&s, &e);
    }
    a.update(Action::NextPane, &s);
    assert_eq!(
        a.event_selected, 0,
        "entering the pane starts at the newest"
    );
    a.update(Action::Down, &s);
    let chosen = a.events[a.event_selected].clone();
    for i in 0..3 {
        a.observe_hook(format!("hook {i} failed"), T0 + 5000);
    }
    assert_eq!(a.events[a.event_selected], chosen);
    // Enter opens the device of the event chosen, not of one that arrived above it.
    a.update(Action::Enter, &s);
    assert_eq!(a.view, View::Device(chosen.device.expect("a device event")));
}

#[test]
fn n_and_shift_n_walk_through_devices_in_trouble() {
    let s = state();
    let mut a = app();
    a.run_command("sort name", &s);
    a.refresh(&s);
    assert_eq!(name_at_cursor(&a, &s), "tank-00");
    a.update(Action::NextProblem, &s);
    assert_eq!(name_at_cursor(&a, &s), "tank-01", "offline");
    a.update(Action::NextProblem, &s);
    assert_eq!(
        name_at_cursor(&a, &s),
        "tank-03",
        "a payload that did not decode"
    );
    a.update(Action::NextProblem, &s);
    assert_eq!(name_at_cursor(&a, &s), "tank-01", "wraps around");
    a.update(Action::PrevProblem, &s);
    assert_eq!(name_at_cursor(&a, &s), "tank-03");
    // A device with a raised alert is in trouble too.
    let alerting = s.find_device("tank-05").expect("tank-05").id;
    a.alerting.insert(alerting, crate::vocab::Severity::Minor);
    a.update(Action::NextProblem, &s);
    assert_eq!(name_at_cursor(&a, &s), "tank-05");
}

#[test]
fn n_says_so_when_nothing_is_wrong() {
    let c = Config::parse("[[fleet]]\nname=\"t\"\ntopic=\"t/{device}\"\n", None).expect("config");
    let s = FleetState::new(
        Mapper::new(&c.fleets).expect("fleets"),
        Default::default(),
        &["b".into()],
    );
    let mut a = app();
    a.refresh(&s);
    a.update(Action::NextProblem, &s);
    assert_eq!(
        a.message.as_deref(),
        Some("no device with a problem in this view")
    );
}

#[test]
fn alerting_devices_sort_first_and_the_cursor_starts_at_the_top() {
    let mut s = state();
    let mut a = app();
    let alerting = s.find_device("tank-04").expect("tank-04").id;
    a.alerting
        .insert(alerting, crate::vocab::Severity::Critical);
    a.refresh(&s);
    let order: Vec<String> = a
        .rows
        .iter()
        .filter_map(|r| match r {
            Row::Device(id) => Some(s.devices[(*id).index()].name.to_string()),
            Row::Group { .. } => None,
        })
        .take(2)
        .collect();
    assert_eq!(order, ["tank-04", "tank-01"], "alerting, then offline");
    // A device arriving (sorted above others) does not drag an untouched cursor along.
    s.apply(&RawMessage {
        conn: crate::vocab::ConnId(0),
        topic: b"t/tank-06/status".to_vec().into(),
        payload: b"offline".to_vec().into(),
        retain: false,
        at_ms: T0 + 3000,
    });
    a.fleet_changed();
    a.refresh(&s);
    assert_eq!(
        (a.selected, name_at_cursor(&a, &s).as_str()),
        (0, "tank-04")
    );
    // Once the operator moves, the cursor follows the device chosen.
    a.update(Action::Down, &s);
    let chosen = name_at_cursor(&a, &s);
    a.alerting.clear();
    a.fleet_changed();
    a.refresh(&s);
    assert_eq!(name_at_cursor(&a, &s), chosen);
}
