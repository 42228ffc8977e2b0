use super::*;

fn read(topic: &str, payload: &str) -> Option<Reading> {
    parse(topic.as_bytes(), payload.as_bytes())
}

fn fed(readings: &[(&str, &str, i64)]) -> BrokerHealth {
    let mut h = BrokerHealth::default();
    for (topic, payload, at) in readings {
        if let Some(r) = read(topic, payload) {
            h.apply(r, *at);
        }
    }
    h
}

#[test]
fn mosquitto_loads_are_per_minute_and_its_counter_is_its_own_topic() {
    // As Mosquitto 2.0.11 publishes them (recorded from 127.0.0.1:1883).
    let h = fed(&[
        ("$SYS/broker/version", "mosquitto version 2.0.11", 0),
        ("$SYS/broker/clients/connected", "7", 0),
        ("$SYS/broker/load/messages/received/1min", "31.17", 0),
        ("$SYS/broker/load/messages/sent/1min", "120.00", 0),
        ("$SYS/broker/publish/messages/dropped", "17\n", 0),
    ]);
    assert_eq!(h.flavour, Flavour::Mosquitto);
    assert_eq!(h.version.as_deref(), Some("mosquitto version 2.0.11"));
    assert_eq!(h.clients(), Some(7));
    assert!((h.received_per_s().unwrap_or(0.0) - 31.17 / 60.0).abs() < 1e-9);
    assert_eq!(h.sent_per_s(), Some(2.0));
    assert_eq!(h.dropped(), Some(17));
    assert_eq!(h.nodes(), 0);
}

#[test]
fn hivemq_loads_are_per_second_and_its_counter_has_another_name() {
    let h = fed(&[
        ("$SYS/broker/version", "3.4.2", 0),
        ("$SYS/broker/load/messages/received/1min", "2.5", 0),
        ("$SYS/broker/messages/publish/dropped", "4", 0),
        ("$SYS/broker/clients/connected", "12", 0),
    ]);
    assert_eq!(h.flavour, Flavour::HiveMq);
    assert_eq!(h.received_per_s(), Some(2.5));
    assert_eq!((h.dropped(), h.clients()), (Some(4), Some(12)));
}

#[test]
fn emqx_totals_become_rates_summed_over_its_nodes() {
    let a = "$SYS/brokers/emqx@10.0.0.1";
    let b = "$SYS/brokers/emqx@10.0.0.2";
    let t = |n: &str, what: &str| format!("{n}/{what}");
    let topics = [
        (t(a, "version"), "5.3.0", 0),
        (t(a, "stats/connections/count"), "40", 0),
        // Before 5.0 the stats kept their dots.
        (t(b, "stats/connections.count"), "2", 0),
        (t(a, "metrics/messages/received"), "1000", 0),
        (t(b, "metrics/messages/received"), "50", 0),
        (t(a, "metrics/messages/dropped"), "3", 0),
        (t(a, "metrics/messages/received"), "7000", 60_000),
        (t(b, "metrics/messages/received"), "110", 60_000),
        (t(a, "metrics/messages/dropped"), "5", 60_000),
    ];
    let readings: Vec<(&str, &str, i64)> = topics
        .iter()
        .map(|(t, p, at)| (t.as_str(), *p, *at))
        .collect();
    let h = fed(&readings);
    assert_eq!(h.flavour, Flavour::Emqx);
    assert_eq!(h.nodes(), 2);
    assert_eq!(h.clients(), Some(42));
    assert_eq!(h.received_per_s(), Some(101.0));
    assert_eq!(h.sent_per_s(), None);
    assert_eq!(h.dropped(), Some(5));
    assert_eq!(h.version.as_deref(), Some("5.3.0"));
}

#[test]
fn a_restarted_node_or_a_repeated_reading_gives_no_made_up_rate() {
    let topic = "$SYS/brokers/n1/metrics/messages/sent";
    let h = fed(&[(topic, "500", 0), (topic, "100", 10_000)]);
    assert_eq!(h.sent_per_s(), None);
    let h = fed(&[
        (topic, "500", 0),
        (topic, "100", 10_000),
        (topic, "200", 20_000),
    ]);
    assert_eq!(h.sent_per_s(), Some(10.0));
    // The retained value again, at the same time: the rate stands.
    let h = fed(&[
        (topic, "0", 0),
        (topic, "600", 60_000),
        (topic, "600", 60_000),
    ]);
    assert_eq!(h.sent_per_s(), Some(10.0));
}

#[test]
fn what_is_not_a_figure_is_no_reading() {
    assert_eq!(read("$SYS/broker/clients/connected", "many"), None);
    assert_eq!(read("$SYS/broker/clients/connected", "-3"), None);
    assert_eq!(read("$SYS/broker/load/messages/sent/1min", "NaN"), None);
    assert_eq!(read("$SYS/broker/load/messages/sent/1min", "inf"), None);
    assert_eq!(read("$SYS/broker/publish/messages/dropped", "1.5"), None);
    assert_eq!(read("$SYS/broker/uptime", "12 seconds"), None);
    assert_eq!(read("$SYS/brokers", "emqx@a,emqx@b"), None);
    assert_eq!(read("$SYS/brokers/n1/clients/c1/connected", "{}"), None);
    assert_eq!(read("tele/x/SENSOR", "1"), None);
    assert_eq!(parse(b"$SYS/broker/clients/connected", b"\xff\xfe"), None);
    assert_eq!(read("$SYS/broker/version", "  "), None);
}

#[test]
fn a_version_reaches_the_screen_sanitised_and_short() {
    let Some(Reading::Version(v)) = read("$SYS/broker/version", "evil\x1b[2J broker") else {
        panic!("a version");
    };
    assert!(!v.contains('\x1b'), "{v:?}");
    let long = "v".repeat(500);
    let Some(Reading::Version(v)) = read("$SYS/broker/version", &long) else {
        panic!("a version");
    };
    assert!(v.chars().count() <= MAX_VERSION, "{}", v.len());
}

#[test]
fn a_broker_naming_endless_nodes_is_held_to_a_bound() {
    let mut h = BrokerHealth::default();
    for i in 0..1000 {
        let topic = format!("$SYS/brokers/n{i}/stats/connections/count");
        if let Some(r) = read(&topic, "1") {
            h.apply(r, 0);
        }
    }
    assert_eq!(h.nodes(), MAX_NODES);
    assert_eq!(h.clients(), Some(MAX_NODES as u64));
}

#[test]
fn nothing_heard_is_nothing_known() {
    let h = BrokerHealth::default();
    assert!(!h.is_known());
    assert_eq!(
        (h.clients(), h.dropped(), h.received_per_s()),
        (None, None, None)
    );
}
