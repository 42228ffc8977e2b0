use super::*;
use crate::config::Config;
use crate::fleet::Status;
use crate::mapping::Mapper;
use crate::vocab::RawMessage;

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
            conn: crate::vocab::ConnId(0),
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
            Row::Device(id) => s.devices[(*id).index()].name.to_string(),
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

const COMMANDS: &str = r#"
[[fleet]]
name = "tanks"
topic = "t/{site}/{device}"
[[fleet]]
name = "poles"
topic = "p/{site}/{device}"

[[command]]
name = "light-dim"
fleet = "poles"
topic = "cmd/{site}/{device}"
payload = { cmd = "light-dim", level = "{level}" }
[[command.param]]
name = "level"
type = "int"
min = 0
max = 100
default = 50

[[command]]
name = "light-off"
fleet = "poles"
topic = "cmd/{site}/{device}"
payload = "off"

[[command]]
name = "reboot"
topic = "cmd/{device}"
payload = "reboot"
dangerous = true
"#;

fn commanding_app(s: &FleetState) -> App {
    let mut a = app();
    a.commands = std::sync::Arc::new(
        crate::commands::CommandSet::from_config(&Config::parse(COMMANDS, None).unwrap()).unwrap(),
    );
    a.refresh(s);
    a
}

fn select(a: &mut App, s: &FleetState, name: &str) -> DeviceId {
    let id = s.find_device(name).unwrap().id;
    a.selected = a.rows.iter().position(|r| *r == Row::Device(id)).unwrap();
    id
}

fn type_text(a: &mut App, s: &FleetState, text: &str) {
    for c in text.chars() {
        a.update(Action::Input(c), s);
    }
}

#[test]
fn palette_then_parameters_then_send() {
    let s = state();
    let mut a = commanding_app(&s);
    let pole = select(&mut a, &s, "pole-01");
    a.update(Action::OpenCompose, &s);
    let Mode::Compose(c) = &a.mode else {
        panic!("{:?}", a.mode)
    };
    let names: Vec<String> = c
        .choices(&a.commands, &s)
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["light-dim", "light-off", "reboot"]);
    // Fuzzy: "ldm" finds light-dim.
    type_text(&mut a, &s, "ldm");
    let Mode::Compose(c) = &a.mode else { panic!() };
    assert_eq!(c.choices(&a.commands, &s)[0].name, "light-dim");
    a.update(Action::Submit, &s);
    let Mode::Compose(c) = &a.mode else { panic!() };
    assert!(matches!(&c.stage, compose::Stage::Params { fields, .. } if fields[0].text == "50"));
    a.update(Action::Backspace, &s);
    a.update(Action::Backspace, &s);
    type_text(&mut a, &s, "140");
    // Out of range: the preview says so and Enter refuses.
    let Mode::Compose(c) = &a.mode else { panic!() };
    assert!(
        c.preview(&a.commands, &s)
            .unwrap()
            .unwrap_err()
            .contains("between 0 and 100")
    );
    assert!(a.update(Action::Submit, &s).is_empty());
    assert!(a.message.as_deref().unwrap().contains("between 0 and 100"));
    a.update(Action::Backspace, &s);
    a.update(Action::Backspace, &s);
    a.update(Action::Backspace, &s);
    type_text(&mut a, &s, "40");
    let Mode::Compose(c) = &a.mode else { panic!() };
    let (topic, payload) = c.preview(&a.commands, &s).unwrap().unwrap();
    assert_eq!(
        (topic.as_str(), payload.as_str()),
        ("cmd/north/pole-01", r#"{"cmd":"light-dim","level":40}"#)
    );
    let effects = a.update(Action::Submit, &s);
    assert_eq!(
        effects,
        [Effect::Command(CommandOp::Send {
            devices: vec![pole],
            command: "light-dim".into(),
            args: vec![("level".into(), "40".into())],
        })]
    );
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn dangerous_commands_want_the_device_name_and_bulk_the_count() {
    let s = state();
    let mut a = commanding_app(&s);
    select(&mut a, &s, "tank-01");
    a.update(Action::OpenCompose, &s);
    type_text(&mut a, &s, "reboot");
    a.update(Action::Submit, &s);
    // Without parameters the preview shows first; Enter alone does not send.
    assert!(a.update(Action::Submit, &s).is_empty());
    assert!(a.message.as_deref().unwrap().contains("type `tank-01`"));
    type_text(&mut a, &s, "tank-01");
    let effects = a.update(Action::Submit, &s);
    assert!(
        matches!(&effects[..], [Effect::Command(CommandOp::Send { command, .. })] if command == "reboot")
    );

    // Bulk over every row shown: only commands all of them take, and the count to type.
    a.update(Action::OpenBulkCompose, &s);
    let Mode::Compose(c) = &a.mode else { panic!() };
    let names: Vec<String> = c
        .choices(&a.commands, &s)
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["reboot"]);
    a.update(Action::Submit, &s);
    type_text(&mut a, &s, "2");
    assert!(a.update(Action::Submit, &s).is_empty());
    a.update(Action::Backspace, &s);
    type_text(&mut a, &s, "3");
    let effects = a.update(Action::Submit, &s);
    assert!(
        matches!(&effects[..], [Effect::Command(CommandOp::Send { devices, .. })] if devices.len() == 3)
    );

    // Marked rows, then Esc: nothing sent.
    a.update(Action::Cancel, &s);
    select(&mut a, &s, "pole-01");
    a.update(Action::Mark, &s);
    assert_eq!(a.marked.len(), 1);
    a.update(Action::OpenCompose, &s);
    assert!(a.update(Action::Cancel, &s).is_empty());
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn read_only_and_raw_publish() {
    let s = state();
    let mut a = commanding_app(&s);
    a.read_only = true;
    select(&mut a, &s, "pole-01");
    a.update(Action::OpenCompose, &s);
    assert_eq!(a.mode, Mode::Normal);
    assert!(a.message.as_deref().unwrap().starts_with("read-only"));
    a.run_command("publish a/b hi", &s);
    assert!(a.message.as_deref().unwrap().starts_with("read-only"));

    a.read_only = false;
    a.run_command("publish site/x/cmd hello there --qos 0 --retain", &s);
    assert!(
        a.update(Action::Submit, &s).is_empty(),
        "retained wants `retain` typed"
    );
    type_text(&mut a, &s, "retain");
    let effects = a.update(Action::Submit, &s);
    assert!(
        matches!(&effects[..], [Effect::Command(CommandOp::Publish { topic, payload, qos: 0, retain: true, .. })]
        if topic == "site/x/cmd" && payload == "hello there")
    );

    // :cmd NAME k=v fills the dialog in.
    a.run_command("cmd light-dim level=7", &s);
    let Mode::Compose(c) = &a.mode else {
        panic!("{:?}", a.message)
    };
    assert!(matches!(&c.stage, compose::Stage::Params { fields, .. } if fields[0].text == "7"));
}

/// The test fleet with `low` (level_pct < 15, critical) and `high` (level_pct > 50,
/// minor) rules evaluated: tank-01 fires `low`, tank-02 fires `high`.
fn alerting() -> (FleetState, crate::alerts::AlertBook) {
    let c = Config::parse(
        "[[fleet]]\nname=\"tanks\"\ntopic=\"t/{site}/{device}\"\nformat=\"json\"\n\
         [[fleet]]\nname=\"poles\"\ntopic=\"p/{site}/{device}\"\nformat=\"json\"\n\
         [[alert]]\nname=\"low\"\nwhen=\"level_pct < 15\"\nseverity=\"critical\"\n\
         [[alert]]\nname=\"high\"\nwhen=\"level_pct > 50\"\nseverity=\"minor\"\n",
        None,
    )
    .unwrap();
    let s = state();
    let mut book = crate::alerts::AlertBook::new(crate::alerts::RuleSet::from_config(&c).unwrap());
    for d in &s.devices {
        book.evaluate_device(d, T0);
    }
    (s, book)
}

fn listed(a: &App, book: &crate::alerts::AlertBook) -> Vec<String> {
    a.alerts
        .rows
        .iter()
        .map(|r| {
            let al = book.get(r.device, r.rule).unwrap();
            format!("{}@{}", al.rule_name, al.device_name)
        })
        .collect()
}

#[test]
fn alert_pane_lists_by_severity_and_enter_opens_the_device_and_escape_returns() {
    let (s, book) = alerting();
    let mut a = app();
    a.update(Action::Alerts, &s);
    assert_eq!(a.view, View::Alerts);
    a.refresh_alerts(&book);
    assert_eq!(listed(&a, &book), ["low@tank-01", "high@tank-02"]);
    a.update(Action::Down, &s);
    a.update(Action::Enter, &s);
    let tank02 = s
        .devices
        .iter()
        .position(|d| &*d.name == "tank-02")
        .unwrap();
    assert_eq!(a.view, View::Device(DeviceId::nth(tank02)));
    a.update(Action::Back, &s);
    assert_eq!(a.view, View::Alerts, "Esc goes back where Enter came from");
    a.update(Action::Back, &s);
    assert_eq!(a.view, View::Fleet);
}

#[test]
fn alert_pane_acks_silences_and_unsilences_the_selected_alert() {
    let (s, mut book) = alerting();
    let mut a = app();
    a.run_command("alerts", &s);
    a.refresh_alerts(&book);
    let low = a.alerts.rows[0].clone();
    assert_eq!(
        a.update(Action::Ack, &s),
        [Effect::Alert(AlertOp::Ack {
            device: low.device,
            rule: low.rule
        })]
    );
    // S opens the command line with matchers; the operator adds duration and reason.
    a.update(Action::Silence, &s);
    assert_eq!(
        a.mode,
        Mode::Command("silence device=tank-01 rule=low ".into())
    );
    assert!(a.command_hint.as_deref().unwrap().contains("site=north"));
    for c in "2h \"refill due\"".chars() {
        a.update(Action::Input(c), &s);
    }
    let fx = a.update(Action::Submit, &s);
    let Some(Effect::Alert(AlertOp::Silence(args))) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!(args, "device=tank-01 rule=low 2h \"refill due\"");
    assert_eq!(a.command_hint, None);
    // The engine carries it out; the pane then knows which silence covers the alert.
    let req = crate::alerts::parse_silence_command(args).unwrap();
    book.silence(req, "op@host", T0).unwrap();
    a.refresh_alerts(&book);
    assert_eq!(a.alerts.rows[0].silence, Some(1));
    assert_eq!(
        a.update(Action::Unsilence, &s),
        [Effect::Alert(AlertOp::Unsilence(1))]
    );
    a.update(Action::Down, &s);
    assert!(a.update(Action::Unsilence, &s).is_empty());
    assert_eq!(a.message.as_deref(), Some("this alert is not silenced"));
}

#[test]
fn alert_pane_filters_by_state() {
    let (s, mut book) = alerting();
    let mut a = app();
    a.run_command("alerts silenced", &s);
    a.refresh_alerts(&book);
    assert!(a.alerts.rows.is_empty());
    let req = crate::alerts::parse_silence_command("rule=high 1h \"known\"").unwrap();
    book.silence(req, "op@host", T0).unwrap();
    a.refresh_alerts(&book);
    assert_eq!(listed(&a, &book), ["high@tank-02"]);
    // f cycles: silenced -> all -> unhandled -> firing -> ...
    a.update(Action::CycleAlertFilter, &s);
    a.update(Action::CycleAlertFilter, &s);
    assert_eq!(a.alerts.filter, alerts::StateFilter::Unhandled);
    a.refresh_alerts(&book);
    assert_eq!(listed(&a, &book).len(), 1, "the silenced one is in hand");
    a.update(Action::CycleAlertFilter, &s);
    assert_eq!(a.alerts.filter, alerts::StateFilter::Firing);
    a.refresh_alerts(&book);
    assert_eq!(listed(&a, &book).len(), 2);
    a.run_command("alerts pending", &s);
    a.refresh_alerts(&book);
    assert!(a.alerts.rows.is_empty());
    a.run_command("alerts bogus", &s);
    assert!(a.message.as_deref().unwrap().contains("firing|pending"));
}

#[test]
fn s_on_a_fleet_row_prefills_a_silence_for_that_device() {
    let s = state();
    let mut a = app();
    a.run_command("sort name", &s);
    a.refresh(&s);
    a.update(Action::Silence, &s);
    assert_eq!(a.mode, Mode::Command("silence device=pole-01 ".into()));
    a.update(Action::Cancel, &s);
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(a.command_hint, None);
}

#[test]
fn the_bell_rings_once_for_a_new_critical_only_when_turned_on() {
    let (_, mut book) = alerting();
    let transitions: Vec<_> = book.drain().collect();
    assert!(
        transitions
            .iter()
            .any(|t| t.severity == crate::vocab::Severity::Critical)
    );
    let mut a = app();
    assert_eq!(a.bell_for(&transitions), None, "off by default");
    a.bell = true;
    assert_eq!(a.bell_for(&transitions), Some(Effect::Bell));
    let minor: Vec<_> = transitions
        .iter()
        .filter(|t| t.severity != crate::vocab::Severity::Critical)
        .cloned()
        .collect();
    assert_eq!(a.bell_for(&minor), None);
    let silenced: Vec<_> = transitions
        .iter()
        .cloned()
        .map(|mut t| {
            t.silenced = true;
            t
        })
        .collect();
    assert_eq!(a.bell_for(&silenced), None);
}

#[test]
fn a_gateway_alert_opens_its_devices_and_silences_by_its_labels() {
    let (s, mut book) = alerting();
    let gw = crate::fleet::Group {
        fleet: 0,
        conn: crate::vocab::ConnId(0),
        labels: vec![("site".into(), "north".into())],
        online: false,
        since_ms: T0,
    };
    for t in [T0, T0 + 60_000] {
        book.evaluate_groups(std::slice::from_ref(&gw), t);
    }
    let mut a = app();
    a.run_command("alerts", &s);
    a.refresh_alerts(&book);
    assert_eq!(listed(&a, &book)[0], "gateway_offline@site=north");
    a.update(Action::Silence, &s);
    assert_eq!(
        a.mode,
        Mode::Command("silence site=north rule=gateway_offline ".into())
    );
    a.update(Action::Cancel, &s);
    a.update(Action::Enter, &s);
    assert_eq!(a.view, View::Fleet);
    a.refresh(&s);
    let mut shown = names(&a, &s);
    shown.sort();
    assert_eq!(shown, ["pole-01", "tank-01"]);
}

/// `:theme NAME` reads no file in `update`: it asks the edge to load the theme, and the
/// theme (or why it could not be loaded) comes back through `theme_loaded`.
#[test]
fn theme_is_loaded_by_the_edge_not_by_update() {
    let s = state();
    let mut a = app();
    a.update(Action::OpenCommand, &s);
    for c in "theme light".chars() {
        a.update(Action::Input(c), &s);
    }
    let effects = a.update(Action::Submit, &s);
    assert_eq!(effects, [Effect::LoadTheme("light".into())]);
    assert_eq!(
        a.theme,
        Theme::monochrome(),
        "nothing installed before the edge answers"
    );
    assert_eq!(a.message, None);
    a.theme_loaded(Err("no theme `light`".into()));
    assert_eq!(a.message.as_deref(), Some("no theme `light`"));
    let mut light = Theme::monochrome();
    light.name = "light".into();
    a.theme_loaded(Ok(light.clone()));
    assert_eq!(a.theme, light);
}
