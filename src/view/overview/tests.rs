use super::*;
use crate::alerts::{AlertBook, RuleSet};
use crate::commands::Tracker;
use crate::config::Config;
use crate::fleet::FleetState;
use crate::mapping::Mapper;
use crate::vocab::RawMessage;

const T0: i64 = 1_764_000_000_000;

const CONFIG: &str = r#"
[[fleet]]
name = "tanks"
topic = "tanks/{device}"
format = "json"
table = ["level_pct", "battery_v"]
[[fleet.metric]]
name = "level_pct"
unit = "%"
[[fleet.availability]]
topic = "tanks/{device}/status"

[[fleet]]
name = "loose"
topic = "loose/{device}"
format = "json"

[[fleet]]
name = "empty"
topic = "empty/{device}"

[[alert]]
name = "tank_low"
fleet = "tanks"
when = "level_pct < 15"
for = "10m"
severity = "critical"

[[alert]]
name = "anything_high"
when = "level_pct > 95"
"#;

struct World {
    state: FleetState,
    alerts: AlertBook,
    tracker: Tracker,
}

impl World {
    fn view(&self, now_ms: i64) -> CoreView<'_> {
        CoreView {
            state: &self.state,
            alerts: &self.alerts,
            tracker: &self.tracker,
            conns: &[],
            now_ms,
            msg_rate: 0.0,
            dropped: 0,
            bulk_rate: 1.0,
        }
    }
}

fn world(messages: &[(&str, &str)]) -> World {
    let config = Config::parse(CONFIG, None).expect("config");
    let mut state = FleetState::new(
        Mapper::new(&config.fleets).expect("fleets"),
        config.limits.clone(),
        &["local".to_string()],
    );
    for (i, (topic, payload)) in messages.iter().enumerate() {
        state.apply(&RawMessage {
            conn: crate::vocab::ConnId(0),
            topic: topic.as_bytes().to_vec().into(),
            payload: payload.as_bytes().to_vec().into(),
            retain: false,
            at_ms: T0 + i as i64,
        });
    }
    let mut alerts = AlertBook::new(RuleSet::from_config(&config).expect("rules"));
    for d in &state.devices {
        alerts.evaluate_device(d, T0 + 1_000);
    }
    World {
        state,
        alerts,
        tracker: Tracker::new(),
    }
}

fn tanks() -> World {
    world(&[
        ("tanks/t1", r#"{"level_pct":10,"battery_v":3.5}"#),
        ("tanks/t2", r#"{"level_pct":40,"battery_v":3.6}"#),
        ("tanks/t3", r#"{"level_pct":60}"#),
        ("tanks/t4", r#"{"level_pct":"n/a","battery_v":3.9}"#),
        ("tanks/t5", r#"{"level_pct":97,"battery_v":3.7}"#),
        ("tanks/t5/status", "offline"),
        ("loose/a", r#"{"temp":20,"hum":40,"note":"x"}"#),
        ("loose/b", r#"{"temp":22,"wind":3}"#),
        ("loose/c", r#"{"temp":30}"#),
    ])
}

#[test]
fn every_fleet_with_devices_in_config_order_with_status_counts() {
    let w = tanks();
    let all = fleets(&w.view(T0 + 1_000));
    let names: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["tanks", "loose"]);
    assert_eq!(all[0].devices, 5);
    assert_eq!(all[0].by_status, [4, 0, 1, 0]);
    assert_eq!(all[1].by_status, [3, 0, 0, 0]);
}

#[test]
fn table_metrics_spread_min_median_max_over_numeric_values_only() {
    let w = tanks();
    let all = fleets(&w.view(T0 + 1_000));
    let level = &all[0].metrics[0];
    assert_eq!(&*level.name, "level_pct");
    assert_eq!(level.unit.as_deref(), Some("%"));
    // t4 reports text: it is not in the spread.
    assert_eq!(level.devices, 4);
    assert_eq!((level.min, level.p50, level.max), (10.0, 50.0, 97.0));
    assert_eq!(level.bins.iter().sum::<u32>(), 4);
    assert_eq!(level.bins[0], 1);
    assert_eq!(level.bins[BINS - 1], 1);
    let battery = &all[0].metrics[1];
    assert_eq!(battery.devices, 4);
    assert!((battery.p50 - 3.65).abs() < 1e-9, "{}", battery.p50);
}

#[test]
fn a_fleet_without_a_table_shows_its_most_common_numeric_metrics() {
    let w = tanks();
    let all = fleets(&w.view(T0 + 1_000));
    let names: Vec<&str> = all[1].metrics.iter().map(|m| &*m.name).collect();
    // temp: 3 devices; hum and wind: 1 each, by name; text `note` is left out.
    assert_eq!(names, ["temp", "hum", "wind"]);
    assert_eq!(all[1].metrics[0].bins.iter().sum::<u32>(), 3);
}

#[test]
fn beyond_counts_devices_past_a_rule_reading_the_metric_before_its_for_elapses() {
    let w = tanks();
    let all = fleets(&w.view(T0 + 1_000));
    let level = &all[0].metrics[0];
    // t1 < 15 (tank_low, still pending: for = 10m), t5 > 95 (a rule for every fleet).
    assert_eq!(level.beyond, 2);
    let rules: Vec<&str> = level.rules.iter().map(|r| &**r).collect();
    assert_eq!(rules, ["tank_low", "anything_high"]);
    assert_eq!(all[0].metrics[1].beyond, 0);
    assert!(all[0].metrics[1].rules.is_empty());
}

#[test]
fn equal_values_fill_the_first_bucket() {
    let w = world(&[("loose/a", r#"{"v":5}"#), ("loose/b", r#"{"v":5}"#)]);
    let all = fleets(&w.view(T0 + 1_000));
    let v = &all[0].metrics[0];
    assert_eq!((v.min, v.p50, v.max, v.bins[0]), (5.0, 5.0, 5.0, 2));
}

#[test]
fn the_worst_devices_come_offline_first_then_stale_and_at_most_three() {
    let w = tanks();
    // Minutes later every device but the offline one is stale.
    let mut state_later = w;
    state_later.state.tick(T0 + 600_000);
    let all = fleets(&state_later.view(T0 + 600_000));
    let worst: Vec<(&str, Status)> = all[0]
        .worst
        .iter()
        .map(|t| (&*state_later.state.devices[t.device.index()].name, t.status))
        .collect();
    assert_eq!(worst.len(), WORST);
    assert_eq!(worst[0], ("t5", Status::Offline));
    assert!(
        worst[1..].iter().all(|(_, s)| *s == Status::Stale),
        "{worst:?}"
    );
    // Fresh, only the offline one is in trouble.
    let fresh = tanks();
    let all = fleets(&fresh.view(T0 + 1_000));
    assert_eq!(all[0].worst.len(), 1);
}
