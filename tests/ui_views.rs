//! Snapshots of the map and the fleet overview on a fixed fleet, at 80×24 and 120×40, and
//! the keys that move through them (zoom, pan, Tab, Enter).

mod common;

use fleetop::alerts::{AlertBook, RuleSet};
use fleetop::app::{Action, App, View};
use fleetop::config::Config;
use fleetop::engine::Engine;
use fleetop::mapping::Mapper;
use fleetop::source::Clock;
use fleetop::theme::Theme;

const T0: i64 = 1_764_000_000_000;

const CONFIG: &str = r#"
[[fleet]]
name = "vans"
topic = "vans/{device}"
format = "json"
expected_interval = "30s"
table = ["speed_kmh", "fuel_pct"]
[[fleet.metric]]
name = "speed_kmh"
unit = "km/h"
[[fleet.metric]]
name = "fuel_pct"
unit = "%"
display = "fuel"
[[fleet.availability]]
topic = "vans/{device}/status"

[[fleet]]
name = "tanks"
topic = "tanks/{device}"
format = "json"
expected_interval = "30s"
table = ["level_pct"]
[[fleet.metric]]
name = "level_pct"
unit = "%"

[[alert]]
name = "fuel_low"
fleet = "vans"
when = "fuel_pct < 15"
severity = "major"

[[alert]]
name = "tank_low"
when = "level_pct < 20"
for = "5m"
severity = "critical"
"#;

fn engine() -> Engine {
    let config = Config::parse(CONFIG, None).expect("config");
    let (mut engine, _outlets) = Engine::detached(
        Mapper::new(&config.fleets).expect("fleets"),
        config.limits.clone(),
        &["local".to_string()],
    );
    engine.alerts = AlertBook::new(RuleSet::from_config(&config).expect("rules"));
    engine.clock = Clock::Fixed(T0 + 60_000);
    let mut send = |topic: &str, payload: String, at: i64| {
        common::feed(&mut engine, topic, payload.as_bytes(), at)
    };
    // Four vans in Munich, each reporting its position its own way; one drives east.
    for i in 0..12 {
        let t = T0 + i * 5_000;
        let step = i as f64 * 0.002;
        send(
            "vans/van-01",
            format!(
                r#"{{"lat":48.137,"lon":{},"speed_kmh":40,"fuel_pct":62}}"#,
                11.55 + step
            ),
            t,
        );
        send(
            "vans/van-02",
            r#"{"gps":{"latitude":48.16,"longitude":11.62},"speed_kmh":0,"fuel_pct":9}"#.into(),
            t,
        );
        send(
            "vans/van-03",
            r#"{"position":{"type":"Point","coordinates":[11.50,48.10]},"speed_kmh":55,"fuel_pct":40}"#
                .into(),
            t,
        );
    }
    send(
        "vans/van-04",
        r#"{"lat":48.12,"lon":11.60,"fuel_pct":80}"#.into(),
        T0,
    );
    send("vans/van-04/status", "offline".into(), T0 + 1_000);
    // No fix yet: not on the map.
    send(
        "vans/van-05",
        r#"{"lat":0,"lon":0,"speed_kmh":0,"fuel_pct":50}"#.into(),
        T0 + 59_000,
    );
    for (name, level) in [("tank-a", 12), ("tank-b", 55), ("tank-c", 90)] {
        send(
            &format!("tanks/{name}"),
            format!(r#"{{"level_pct":{level}}}"#),
            T0 + 59_000,
        );
    }
    engine.tick();
    engine
}

fn render(app: &mut App, engine: &mut Engine, w: u16, h: u16) -> String {
    common::screen(app, engine, w, h)
}

fn app() -> App {
    App::new(Theme::monochrome(), false)
}

#[test]
fn map_view() {
    let mut e = engine();
    let mut a = app();
    let _ = a.update(Action::Map, &e.state);
    assert_eq!(a.view, View::Map);
    insta::assert_snapshot!("map_120x40", render(&mut a, &mut e, 120, 40));
    insta::assert_snapshot!("map_80x24", render(&mut a, &mut e, 80, 24));
}

#[test]
fn tab_labels_the_next_device_and_enter_opens_it() {
    let mut e = engine();
    let mut a = app();
    a.run_command("map", &e.state);
    let screen = render(&mut a, &mut e, 120, 40);
    assert!(screen.contains("● van-01 "), "{screen}");
    let _ = a.update(Action::NextPane, &e.state);
    let _ = a.update(Action::NextProblem, &e.state);
    let screen = render(&mut a, &mut e, 120, 40);
    assert!(screen.contains("▶● van-03"), "{screen}");
    assert!(screen.contains("48.10000°N 11.50000°E"), "{screen}");
    let _ = a.update(Action::PrevProblem, &e.state);
    let _ = a.update(Action::Enter, &e.state);
    let id = e.state.find_device("van-02").expect("van-02").id;
    assert_eq!(a.view, View::Device(id));
    let _ = a.update(Action::Back, &e.state);
    assert_eq!(a.view, View::Map);
}

#[test]
fn zoomed_in_the_map_follows_the_selected_device_and_pans() {
    let mut e = engine();
    let mut a = app();
    a.run_command("map", &e.state);
    let fitted = render(&mut a, &mut e, 120, 40);
    assert!(fitted.contains("Map · 4 of 4"), "{fitted}");
    for _ in 0..6 {
        let _ = a.update(Action::ZoomIn, &e.state);
    }
    let zoomed = render(&mut a, &mut e, 120, 40);
    // Only van-01 is still in the window, in its middle.
    assert!(zoomed.contains("Map · 1 of 4"), "{zoomed}");
    assert!(zoomed.contains("● van-01 "), "{zoomed}");
    for _ in 0..8 {
        let _ = a.update(Action::Right, &e.state);
    }
    let panned = render(&mut a, &mut e, 120, 40);
    assert!(panned.contains("Map · 0 of 4"), "{panned}");
    let _ = a.update(Action::ZoomReset, &e.state);
    assert_eq!(render(&mut a, &mut e, 120, 40), fitted);
}

#[test]
fn a_map_with_nothing_to_show_says_what_it_looks_for() {
    let mut e = engine();
    let mut a = app();
    a.run_command("filter fleet=tanks", &e.state);
    a.run_command("map", &e.state);
    let screen = render(&mut a, &mut e, 80, 24);
    assert!(
        screen.contains("No device the filter shows reports a position"),
        "{screen}"
    );
}

#[test]
fn overview() {
    let mut e = engine();
    let mut a = app();
    a.run_command("overview", &e.state);
    assert_eq!(a.view, View::Overview);
    insta::assert_snapshot!("overview_120x40", render(&mut a, &mut e, 120, 40));
    insta::assert_snapshot!("overview_80x24", render(&mut a, &mut e, 80, 24));
}

#[test]
fn enter_on_a_fleet_opens_its_table() {
    let mut e = engine();
    let mut a = app();
    a.open_view(View::Overview);
    let _ = a.update(Action::Down, &e.state);
    let _ = a.update(Action::Enter, &e.state);
    assert_eq!(a.view, View::Fleet);
    assert_eq!(a.filter.source, "fleet=tanks");
    let screen = render(&mut a, &mut e, 120, 40);
    assert!(screen.contains("3 shown"), "{screen}");
    assert!(!screen.contains("van-01"), "{screen}");
}

#[test]
fn broker_pane_and_header_show_what_the_broker_says_about_itself() {
    use fleetop::broker::parse;
    let mut e = engine();
    let mut a = app();
    let before = render(&mut a, &mut e, 120, 40);
    assert!(!before.contains("clients"), "{before}");
    for (topic, payload) in [
        ("$SYS/broker/version", "mosquitto version 2.0.18"),
        ("$SYS/broker/clients/connected", "42"),
        ("$SYS/broker/load/messages/received/1min", "600.00"),
        ("$SYS/broker/load/messages/sent/1min", "90.00"),
        ("$SYS/broker/publish/messages/dropped", "7"),
    ] {
        let reading = parse(topic.as_bytes(), payload.as_bytes()).expect("a reading");
        e.state
            .broker_reading(fleetop::vocab::ConnId(0), reading, T0 + 58_000);
    }
    let _ = a.update(Action::Broker, &e.state);
    assert_eq!(a.view, View::Broker);
    let screen = render(&mut a, &mut e, 120, 40);
    let header = screen.lines().next().unwrap_or_default();
    assert!(header.contains("42 clients ↓10 ↑1.5/s"), "{header}");
    assert!(header.contains("broker dropped 7"), "{header}");
    insta::assert_snapshot!("broker_80x24", render(&mut a, &mut e, 80, 24));
    let _ = a.update(Action::Back, &e.state);
    assert_eq!(a.view, View::Fleet);
}
