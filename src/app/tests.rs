use super::*;
use crate::config::Config;
use crate::mapping::Mapper;
use crate::source::RawMessage;

const T0: i64 = 1_764_000_000_000;

fn state() -> FleetState {
    let c = Config::parse(
        "[[fleet]]\nname=\"tanks\"\ntopic=\"t/{site}/{device}\"\nformat=\"json\"\n\
         [[fleet]]\nname=\"poles\"\ntopic=\"p/{site}/{device}\"\nformat=\"json\"\n",
        None,
    )
    .unwrap();
    let mut s = FleetState::new(
        Mapper::new(&c.fleets).unwrap(),
        Default::default(),
        &["b".into()],
    );
    for (topic, payload) in [
        ("t/north/tank-01", r#"{"level_pct":12}"#),
        ("t/south/tank-02", r#"{"level_pct":55}"#),
        ("p/north/pole-01", r#"{"light":"ON","dim":80}"#),
    ] {
        s.apply(&RawMessage {
            conn: 0,
            topic: topic.as_bytes().to_vec().into(),
            payload: payload.as_bytes().to_vec().into(),
            retain: false,
            at_ms: T0,
        });
    }
    s
}

fn app() -> App {
    App::new(Theme::monochrome(), false)
}

fn names(app: &App, s: &FleetState) -> Vec<String> {
    app.rows
        .iter()
        .map(|r| match r {
            Row::Device(id) => s.devices[*id as usize].name.to_string(),
            Row::Group { key, devices, .. } => format!("[{key}:{devices}]"),
        })
        .collect()
}

#[test]
fn filter_as_you_type_then_escape_clears() {
    let s = state();
    let mut a = app();
    a.refresh(&s);
    assert_eq!(a.rows.len(), 3);
    a.update(Action::OpenFilter, &s);
    for c in "level_pct<20".chars() {
        a.update(Action::Input(c), &s);
        a.refresh(&s);
    }
    assert_eq!(names(&a, &s), ["tank-01"]);
    a.update(Action::Submit, &s);
    assert_eq!(a.mode, Mode::Normal);
    a.update(Action::Back, &s);
    a.refresh(&s);
    assert_eq!(a.rows.len(), 3);
}

#[test]
fn a_bad_filter_keeps_the_old_one_and_says_why() {
    let s = state();
    let mut a = app();
    a.run_command("filter site=north", &s);
    a.refresh(&s);
    assert_eq!(a.rows.len(), 2);
    a.run_command("filter level<x", &s);
    assert!(
        a.message
            .as_deref()
            .unwrap_or("")
            .contains("needs a number")
    );
    a.refresh(&s);
    assert_eq!(a.rows.len(), 2);
}

#[test]
fn sort_by_metric_and_group_with_folding() {
    let s = state();
    let mut a = app();
    a.run_command("sort level_pct desc", &s);
    a.refresh(&s);
    assert_eq!(names(&a, &s), ["tank-02", "tank-01", "pole-01"]);
    a.run_command("group site", &s);
    a.refresh(&s);
    assert_eq!(
        names(&a, &s),
        ["[north:2]", "tank-01", "pole-01", "[south:1]", "tank-02"]
    );
    a.update(Action::Top, &s);
    a.update(Action::Enter, &s); // folds north
    a.refresh(&s);
    assert_eq!(names(&a, &s), ["[north:2]", "[south:1]", "tank-02"]);
}

#[test]
fn enter_opens_a_device_and_escape_returns() {
    let s = state();
    let mut a = app();
    a.refresh(&s);
    a.update(Action::Enter, &s);
    assert!(matches!(a.view, View::Device(_)));
    a.update(Action::NextWindow, &s);
    assert_eq!(a.window, Window::Hour1);
    let fx = a.update(Action::Copy, &s);
    assert!(matches!(fx.as_slice(), [Effect::Copy(_)]));
    a.update(Action::Back, &s);
    assert_eq!(a.view, View::Fleet);
}

#[test]
fn export_writes_the_selected_metric_as_csv() {
    let s = state();
    let mut a = app();
    a.refresh(&s);
    a.update(Action::Enter, &s);
    let fx = a.run_command("export csv /tmp/x.csv", &s);
    match fx.as_slice() {
        [Effect::Write { path, contents }] => {
            assert_eq!(path, "/tmp/x.csv");
            assert!(
                contents.starts_with("time,value\n2025-11-24T16:00:00.000Z,"),
                "{contents}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn help_and_quit() {
    let s = state();
    let mut a = app();
    a.update(Action::Help, &s);
    assert_eq!(a.mode, Mode::Help);
    a.update(Action::Down, &s);
    assert_eq!(a.mode, Mode::Normal);
    a.run_command("nope", &s);
    assert!(
        a.message
            .as_deref()
            .unwrap_or("")
            .contains("unknown command")
    );
    a.update(Action::Quit, &s);
    assert!(a.quit);
}

#[test]
fn status_changes_reach_the_events_pane() {
    let mut s = state();
    s.tick(T0 + 10 * 60_000);
    let mut a = app();
    let events: Vec<_> = s.drain_events().collect();
    for e in &events {
        a.observe(&s, e);
    }
    assert_eq!(
        a.events
            .iter()
            .filter(|e| e.status == Some(Status::Stale))
            .count(),
        3
    );
    assert!(a.events[0].text.contains("went quiet"));
}
