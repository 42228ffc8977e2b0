//! A storm of one rule folds into one row of the alert pane; Enter lists its alerts, `a`
//! acknowledges them all, `S` silences the rule; the cursor stays on the group.

use super::*;
use crate::config::Config;
use crate::mapping::Mapper;
use crate::vocab::RawMessage;

const T0: i64 = 1_764_000_000_000;

/// Eight tanks low (one rule, a storm) and one hot: `low` folds, `hot` stays a row.
fn storm() -> (FleetState, crate::alerts::AlertBook) {
    let c = Config::parse(
        "[[fleet]]\nname=\"tanks\"\ntopic=\"t/{device}\"\nformat=\"json\"\n\
         [[alert]]\nname=\"low\"\nwhen=\"level_pct < 15\"\nseverity=\"critical\"\n\
         [[alert]]\nname=\"hot\"\nwhen=\"temp > 50\"\nseverity=\"minor\"\n",
        None,
    )
    .expect("config");
    let mut s = FleetState::new(
        Mapper::new(&c.fleets).expect("fleets"),
        Default::default(),
        &["b".into()],
    );
    for i in 0..8 {
        s.apply(&RawMessage {
            conn: crate::vocab::ConnId(0),
            topic: format!("t/tank-{i:02}").into_bytes().into(),
            payload: format!(
                r#"{{"level_pct":{i},"temp":{}}}"#,
                if i == 3 { 60 } else { 20 }
            )
            .into_bytes()
            .into(),
            retain: false,
            at_ms: T0 + i64::from(i),
        });
    }
    let rules = crate::alerts::RuleSet::from_config(&c).expect("rules");
    let mut book = crate::alerts::AlertBook::new(rules);
    for d in &s.devices {
        book.evaluate_device(d, T0 + 10);
    }
    (s, book)
}

fn rows(a: &App) -> Vec<(String, usize, bool)> {
    a.alerts
        .rows
        .iter()
        .map(|r| (r.rule_name.to_string(), r.members, r.in_group))
        .collect()
}

#[test]
fn a_storm_of_one_rule_is_one_row_that_opens_and_acts_on_the_group() {
    let (s, book) = storm();
    let mut a = App::new(crate::theme::Theme::monochrome(), false);
    a.update(Action::Alerts, &s);
    a.refresh_alerts(&book);
    assert_eq!(
        rows(&a),
        [("low".into(), 8, false), ("hot".into(), 0, false)]
    );

    a.update(Action::Enter, &s);
    a.refresh_alerts(&book);
    assert_eq!(
        a.alerts.rows.len(),
        1 + 8 + 1,
        "the head, its alerts, then hot"
    );
    assert!(
        a.alerts.rows[1..9]
            .iter()
            .all(|r| r.in_group && r.rule_name.as_ref() == "low")
    );
    assert_eq!(a.alerts.selected, 0, "the cursor stays on the head");

    let low = a.alerts.rows[0].rule;
    assert_eq!(
        a.update(Action::Ack, &s),
        [Effect::Alert(AlertOp::AckRule(low))]
    );
    a.update(Action::Silence, &s);
    assert_eq!(a.mode, Mode::Command("silence rule=low ".into()));
    a.update(Action::Cancel, &s);

    // On a member, keys act on that one alert, and Enter opens its device.
    a.update(Action::Down, &s);
    let member = a.alerts.rows[1].clone();
    assert_eq!(
        a.update(Action::Ack, &s),
        [Effect::Alert(AlertOp::Ack {
            device: member.device,
            rule: member.rule
        })]
    );
    a.update(Action::Enter, &s);
    assert_eq!(a.view, View::Device(member.device));
}

#[test]
fn the_cursor_stays_on_a_group_as_it_grows_and_on_an_alert_as_it_folds() {
    let (s, mut book) = storm();
    let mut a = App::new(crate::theme::Theme::monochrome(), false);
    a.update(Action::Alerts, &s);
    a.refresh_alerts(&book);
    a.update(Action::Down, &s);
    assert_eq!(
        a.alerts.selected_row().map(|r| r.rule_name.to_string()),
        Some("hot".into())
    );
    // tank-07 is low as well as hot... a ninth low alert joins the folded group above.
    let mut d = s.devices[7].clone();
    crate::fleet::testutil::set(&mut d, "level_pct", T0 + 20, 1.0);
    book.evaluate_device(&d, T0 + 20);
    a.refresh_alerts(&book);
    assert_eq!(
        a.alerts.selected_row().map(|r| r.rule_name.to_string()),
        Some("hot".into())
    );
}
