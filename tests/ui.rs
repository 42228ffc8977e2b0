//! Rendering snapshots of each view at 80×24 and 120×40 on a fixed fleet, and hostile
//! topics drawn escaped.

mod common;

use fleetop::app::{Action, App};
use fleetop::config::Config;
use fleetop::engine::Engine;
use fleetop::mapping::Mapper;
use fleetop::source::Clock;
use fleetop::theme::Theme;
use fleetop::vocab::RawMessage;

const T0: i64 = 1_764_000_000_000;

const CONFIG: &str = r#"
[[fleet]]
name = "tanks"
topic = "tanks/{site}/{device}/telemetry"
format = "json"
expected_interval = "30s"
table = ["level_pct", "battery_v"]
[[fleet.metric]]
name = "level_pct"
unit = "%"
min = 0
max = 100
display = "level"
[[fleet.metric]]
name = "battery_v"
unit = "V"
[[fleet.availability]]
topic = "tanks/{site}/{device}/status"
"#;

fn engine() -> Engine {
    let config = Config::parse(CONFIG, None).expect("config");
    let (mut engine, _outlets) = Engine::detached(
        Mapper::new(&config.fleets).expect("fleets"),
        config.limits.clone(),
        &["local".to_string()],
    );
    engine.clock = Clock::Fixed(T0 + 60_000);
    let mut send = |topic: &str, payload: &str, at: i64| {
        common::feed(&mut engine, topic, payload.as_bytes(), at)
    };
    for i in 0..20 {
        let t = T0 + i * 3000;
        send(
            "tanks/north/tank-north-001/telemetry",
            &format!(r#"{{"level_pct":{},"battery_v":3.7,"pump":"ON"}}"#, 50 + i),
            t,
        );
        send(
            "tanks/north/tank-north-002/telemetry",
            &format!(r#"{{"level_pct":{},"battery_v":3.6}}"#, 30 - i),
            t,
        );
        send(
            "tanks/south/tank-south-001/telemetry",
            &format!(r#"{{"level_pct":{}.5,"battery_v":3.9}}"#, 70 + (i % 3)),
            t,
        );
    }
    send(
        "tanks/south/tank-south-002/telemetry",
        r#"{"level_pct":12,"battery_v":3.1}"#,
        T0,
    );
    send("tanks/south/tank-south-002/status", "offline", T0 + 1000);
    send(
        "tanks/south/tank-south-001/telemetry",
        "{broken",
        T0 + 58_000,
    );
    send("weather/ws-1/temp", "21.5", T0 + 59_000);
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
fn fleet_view() {
    let mut e = engine();
    let mut a = app();
    insta::assert_snapshot!("fleet_80x24", render(&mut a, &mut e, 80, 24));
    insta::assert_snapshot!("fleet_120x40", render(&mut a, &mut e, 120, 40));
}

/// While fleetop's own link is down, the header says so and what it holds: the offline
/// device's firing alert is held, not counted as unhandled, and no status changes.
#[test]
fn header_says_the_link_is_down_and_what_it_holds() {
    use fleetop::source::SourceEvent;
    use fleetop::vocab::LinkState;
    let mut e = engine();
    let mut a = app();
    let first = render(&mut a, &mut e, 120, 40);
    let header = first.lines().next().unwrap_or_default().to_string();
    assert!(header.contains("!1 maj"), "{header}");
    let link = |state, at_ms| SourceEvent::Link {
        conn: fleetop::vocab::ConnId(0),
        state,
        at_ms,
    };
    e.handle(link(LinkState::Connected, T0 + 60_000));
    e.handle(link(
        LinkState::Down {
            reason: "connection refused".into(),
            retry_in: std::time::Duration::from_secs(2),
        },
        T0 + 60_500,
    ));
    e.clock = Clock::Fixed(T0 + 600_000);
    e.tick();
    let screen = render(&mut a, &mut e, 120, 40);
    let header = screen.lines().next().unwrap_or_default();
    assert!(
        header.contains("1 link down: statuses and 1 alert held"),
        "{header}"
    );
    assert!(!header.contains("!1 maj"), "{header}");
    assert!(
        header.contains("● 3 ◐ 0 ○ 1"),
        "nobody went stale: {header}"
    );
}

/// A silence being typed says how many active alerts it would cover, before Enter sets it.
#[test]
fn a_silence_being_typed_shows_what_it_would_cover() {
    let mut e = engine();
    let mut a = app();
    let bar = |a: &mut App, e: &mut Engine| {
        let screen = render(a, e, 120, 40);
        screen.lines().last().unwrap_or_default().to_string()
    };
    a.mode = fleetop::app::Mode::Command("silence site=south ".into());
    let line = bar(&mut a, &mut e);
    assert!(line.contains("matches 2 active alerts"), "{line}");
    a.mode = fleetop::app::Mode::Command("silence site=south rule=device_offline 2h".into());
    let line = bar(&mut a, &mut e);
    assert!(line.contains("matches 1 active alert "), "{line}");
    a.mode = fleetop::app::Mode::Command("silence site=nowhere".into());
    let line = bar(&mut a, &mut e);
    assert!(line.contains("matches 0 active alerts"), "{line}");
}

#[test]
fn fleet_grouped_and_filtered() {
    let mut e = engine();
    let mut a = app();
    a.run_command("group site", &e.state);
    a.run_command("filter level_pct<60", &e.state);
    insta::assert_snapshot!("fleet_grouped_120x40", render(&mut a, &mut e, 120, 40));
}

#[test]
fn device_view() {
    let mut e = engine();
    let mut a = app();
    a.run_command("sort name", &e.state);
    a.refresh(&e.state);
    let _ = a.update(Action::Enter, &e.state);
    insta::assert_snapshot!("device_80x24", render(&mut a, &mut e, 80, 24));
    insta::assert_snapshot!("device_120x40", render(&mut a, &mut e, 120, 40));
}

#[test]
fn topics_and_help() {
    let mut e = engine();
    let mut a = app();
    let _ = a.update(Action::Topics, &e.state);
    insta::assert_snapshot!("topics_120x40", render(&mut a, &mut e, 120, 40));
    // Unfold `tanks`, go into it, unfold `north`, go into it, unfold its first device.
    for action in [Action::Enter, Action::Right, Action::Right, Action::Right] {
        let _ = a.update(action, &e.state);
    }
    assert_eq!(
        a.topics.cursor.as_deref(),
        Some("tanks/north/tank-north-001")
    );
    let _ = a.update(Action::Right, &e.state);
    let _ = a.update(Action::Down, &e.state);
    let copied = a.update(Action::Copy, &e.state);
    let topic = "tanks/north/tank-north-001/telemetry";
    assert_eq!(copied, [fleetop::app::Effect::Copy(topic.into())]);
    insta::assert_snapshot!("topics_unfolded_120x40", render(&mut a, &mut e, 120, 40));
    insta::assert_snapshot!("topics_unfolded_80x24", render(&mut a, &mut e, 80, 24));
    // `/` searches the tree, not the fleet table; Enter keeps it, Esc clears it.
    let _ = a.update(Action::OpenFilter, &e.state);
    for c in "STATUS".chars() {
        let _ = a.update(Action::Input(c), &e.state);
    }
    insta::assert_snapshot!("topics_search_80x24", render(&mut a, &mut e, 80, 24));
    let _ = a.update(Action::Submit, &e.state);
    assert!(a.filter.is_empty(), "the fleet filter is untouched");
    assert_eq!(a.topics.search, "STATUS");
    let _ = a.update(Action::Back, &e.state);
    assert_eq!(a.topics.search, "");
    assert_eq!(
        a.view,
        fleetop::app::View::Topics,
        "Esc cleared the search first"
    );
    let _ = a.update(Action::Topics, &e.state);
    let _ = a.update(Action::Help, &e.state);
    insta::assert_snapshot!("help_80x24", render(&mut a, &mut e, 80, 24));
}

/// Clock times (`16:01:00`) depend on the local time zone: masked for snapshots.
fn mask_clock(screen: String) -> String {
    let mut out: Vec<char> = screen.chars().collect();
    for i in 0..out.len().saturating_sub(8) {
        let w = &out[i..i + 8];
        let digit = |j: usize| w[j].is_ascii_digit();
        if digit(0)
            && digit(1)
            && w[2] == ':'
            && digit(3)
            && digit(4)
            && w[5] == ':'
            && digit(6)
            && digit(7)
        {
            out.splice(i..i + 8, "hh:mm:ss".chars());
        }
    }
    out.into_iter().collect()
}

#[test]
fn alert_pane() {
    let mut e = engine();
    let mut a = app();
    let _ = a.update(Action::Alerts, &e.state);
    insta::assert_snapshot!("alerts_80x24", render(&mut a, &mut e, 80, 24));
    // Ack the first (most severe), silence the second: the flags and the detail say so.
    a.refresh_alerts(&e.alerts);
    for fx in a.update(Action::Ack, &e.state) {
        if let fleetop::app::Effect::Alert(op) = fx {
            e.alert_op(&op, "op@host").expect("ack");
        }
    }
    let _ = a.update(Action::Down, &e.state);
    let _ = a.update(Action::Silence, &e.state);
    for c in "30m \"bad firmware\"".chars() {
        let _ = a.update(Action::Input(c), &e.state);
    }
    insta::assert_snapshot!(
        "alerts_silence_prefilled_120x40",
        mask_clock(render(&mut a, &mut e, 120, 40))
    );
    for fx in a.update(Action::Submit, &e.state) {
        if let fleetop::app::Effect::Alert(op) = fx {
            e.alert_op(&op, "op@host").expect("silence");
        }
    }
    insta::assert_snapshot!("alerts_120x40", mask_clock(render(&mut a, &mut e, 120, 40)));
    let _ = a.update(Action::Help, &e.state);
    insta::assert_snapshot!("alerts_help_80x24", render(&mut a, &mut e, 80, 24));
}

#[test]
fn too_small() {
    let mut e = engine();
    let mut a = app();
    let screen = render(&mut a, &mut e, 60, 20);
    assert!(screen.contains("terminal too small: 60×20"), "{screen}");
}

#[test]
fn hostile_topics_and_values_are_drawn_escaped() {
    let mut e = engine();
    for (topic, payload) in [
        (
            "tanks/north/\x1b]0;pwned\x07/telemetry",
            r#"{"level_pct":1}"#,
        ),
        ("evil/\x1b[2J/x", "\x1b[31mred\x1b[0m"),
        ("evil/\x1b]0;pwned\x07", "1"),
        (
            "tanks/north/tank-x/telemetry",
            "{\"note\":\"\\u001b[2J\\u202eevil\"}",
        ),
    ] {
        e.apply(&RawMessage {
            conn: fleetop::vocab::ConnId(0),
            topic: topic.as_bytes().to_vec().into(),
            payload: payload.as_bytes().to_vec().into(),
            retain: false,
            at_ms: T0 + 59_000,
        });
    }
    let mut a = app();
    let _ = a.update(Action::Topics, &e.state);
    // Every branch unfolded.
    a.topics.unfolded = fleetop::app::topics::entries(&e.state)
        .into_iter()
        .flat_map(|(topic, _)| {
            let levels: Vec<&str> = topic.split('/').collect();
            (1..levels.len())
                .map(|d| levels[..d].join("/"))
                .collect::<Vec<_>>()
        })
        .collect();
    let screen = render(&mut a, &mut e, 120, 40);
    assert!(
        !screen.contains('\x1b'),
        "raw ESC reached the screen:\n{screen}"
    );
    assert!(screen.contains("\\e[2J"), "{screen}");
    assert!(screen.contains("\\e[31mred"), "{screen}");
    assert!(screen.contains("\\e]0;pwned\\x07"), "{screen}");
    // In the payload pane a binary payload (ESC is a control character) is a hex dump.
    a.topics.cursor = Some("evil/\x1b[2J/x".into());
    let screen = render(&mut a, &mut e, 120, 40);
    assert!(!screen.contains('\x1b'), "{screen}");
    assert!(screen.contains("0000  1b 5b 33 31 6d 72 65 64"), "{screen}");
    // The device whose name would carry an OSC sequence is refused, not drawn.
    assert!(e.state.counters.refused_bad_topic >= 1);
    let _ = a.update(Action::Topics, &e.state);
    a.run_command("filter tank-x", &e.state);
    a.refresh(&e.state);
    let _ = a.update(Action::Enter, &e.state);
    let screen = render(&mut a, &mut e, 120, 40);
    assert!(
        !screen.contains('\x1b') && !screen.contains('\u{202e}'),
        "{screen}"
    );
    assert!(screen.contains("\\e[2J\\u{202e}e"), "{screen}");
}

/// The command dialog: parameters with their check and the exact topic and payload.
#[test]
fn command_dialog() {
    let mut e = engine();
    let mut a = app();
    let config = Config::parse(
        &format!(
            "{CONFIG}\n[[command]]\nname = \"pump-start\"\nfleet = \"tanks\"\ndescription = \"Start the pump\"\n\
             topic = \"cmd/{{site}}/{{device}}\"\npayload = {{ cmd = \"pump-start\", minutes = \"{{minutes}}\" }}\n\
             [[command.param]]\nname = \"minutes\"\ntype = \"int\"\nmin = 1\nmax = 60\ndefault = 10\n\
             [[command]]\nname = \"reboot\"\ntopic = \"cmd/{{device}}\"\npayload = \"reboot\"\ndangerous = true\n"
        ),
        None,
    )
    .expect("config");
    let commands = fleetop::commands::CommandSet::from_config(&config).expect("commands");
    a.commands = std::sync::Arc::new(commands);
    a.run_command("sort name", &e.state);
    a.refresh(&e.state);
    let _ = a.update(Action::OpenCompose, &e.state);
    insta::assert_snapshot!("command_palette_80x24", render(&mut a, &mut e, 80, 24));
    let _ = a.update(Action::Submit, &e.state);
    let _ = a.update(Action::Input('0'), &e.state);
    insta::assert_snapshot!("command_params_120x40", render(&mut a, &mut e, 120, 40));
}

/// Ten minutes of silence from every tank: a storm of `device_stale`, folded into one row
/// with its count, unfolded by Enter.
#[test]
fn an_alert_storm_folds_into_one_row() {
    let mut e = engine();
    for i in 0..6 {
        e.apply(&RawMessage {
            conn: fleetop::vocab::ConnId(0),
            topic: format!("tanks/east/tank-east-{i:03}/telemetry")
                .into_bytes()
                .into(),
            payload: br#"{"level_pct":40,"battery_v":3.8}"#.to_vec().into(),
            retain: false,
            at_ms: T0 + 59_000,
        });
    }
    e.clock = Clock::Fixed(T0 + 600_000);
    e.tick();
    let mut a = app();
    let _ = a.update(Action::Alerts, &e.state);
    let folded = render(&mut a, &mut e, 80, 24);
    assert!(folded.contains("▸ 9 devices"), "{folded}");
    insta::assert_snapshot!("alerts_storm_folded_80x24", folded);
    let _ = a.update(Action::Down, &e.state);
    let _ = a.update(Action::Enter, &e.state);
    insta::assert_snapshot!(
        "alerts_storm_unfolded_120x40",
        mask_clock(render(&mut a, &mut e, 120, 40))
    );
}
