use super::*;
use bytes::Bytes;

fn msg(topic: &str, payload: &[u8], at_ms: i64) -> RawMessage {
    RawMessage {
        conn: crate::vocab::ConnId(0),
        topic: Bytes::copy_from_slice(topic.as_bytes()),
        payload: Bytes::copy_from_slice(payload),
        retain: false,
        at_ms,
    }
}

fn state(limits: Limits) -> FleetState {
    FleetState::new(Mapper::default(), limits, &["local".to_string()])
        .with_conventions(ConventionsConfig::default())
}

fn notices(s: &mut FleetState) -> Vec<String> {
    s.drain_events()
        .filter_map(|e| match e {
            FleetEvent::Notice { message, .. } => Some(message),
            _ => None,
        })
        .collect()
}

fn junk(s: &mut FleetState, range: std::ops::Range<usize>, at_ms: i64) {
    for i in range {
        s.apply(&msg(&format!("junk/j{i}/data"), br#"{"v":1}"#, at_ms));
    }
}

fn plug_arrives(s: &mut FleetState, at_ms: i64) {
    s.apply(&msg("tele/plug0/LWT", b"Online", at_ms));
    s.apply(&msg(
        "tele/plug0/SENSOR",
        br#"{"ENERGY":{"Power":40.5}}"#,
        at_ms,
    ));
}

#[test]
fn a_flood_of_guesses_leaves_room_for_a_real_plug_and_says_so() {
    let mut s = state(Limits::default());
    junk(&mut s, 0..100_000, 1_000);
    let guessed = s.limits.max_guessed_devices;
    assert_eq!(s.devices.len(), guessed);
    assert_eq!(s.counters.refused_guessed_cap, (100_000 - guessed) as u64);
    assert_eq!(s.counters.refused_device_cap, 0);
    let said = notices(&mut s);
    assert_eq!(said.len(), 1, "one notice while the flood lasts: {said:?}");
    assert!(said[0].contains("max_guessed_devices"), "{}", said[0]);
    assert!(said[0].contains("1 refused so far"), "{}", said[0]);

    plug_arrives(&mut s, 2_000);
    let plug = s.find_device("plug0").expect("the plug appears");
    assert_eq!(plug.status, Status::Online);
    assert_eq!(s.fleet_name(plug), "tasmota");

    // A minute on, the cap says again how much it has refused.
    junk(&mut s, 100_000..100_001, 62_000);
    let said = notices(&mut s);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("90001 refused so far"), "{}", said[0]);
}

#[test]
fn a_full_fleet_evicts_the_oldest_guess_for_a_recognised_device() {
    let mut s = state(Limits {
        max_devices: 100,
        max_guessed_devices: 100,
        ..Limits::default()
    });
    junk(&mut s, 0..100, 1_000);
    assert_eq!(s.devices.len(), 100);
    notices(&mut s);

    plug_arrives(&mut s, 2_000);
    assert_eq!(s.devices.len(), 100, "the plug took a guess's slot");
    let plug = s.find_device("plug0").expect("the plug appears");
    assert!(plug.metric("ENERGY.Power").is_some());
    assert!(s.find_device("j0").is_none(), "the oldest guess went first");
    assert!(s.find_device("j1").is_some());
    assert_eq!(s.counters.evicted_guessed, 1);
    let said = notices(&mut s);
    assert!(
        said.iter().any(|m| m.contains("evicted guessed device j0")),
        "{said:?}"
    );

    // The evicted guess's topic is classified afresh and cannot push a guess out.
    junk(&mut s, 0..1, 3_000);
    assert!(s.find_device("j0").is_none());
    assert_eq!(s.counters.refused_device_cap, 1);
    let plug = s.find_device("plug0").expect("the plug stays");
    assert_eq!(
        plug.messages, 2,
        "junk on the evicted topic never reaches the plug"
    );
}

#[test]
fn guesses_alone_are_refused_at_the_device_cap() {
    let mut s = state(Limits {
        max_devices: 10,
        max_guessed_devices: 100,
        ..Limits::default()
    });
    junk(&mut s, 0..20, 1_000);
    assert_eq!(s.devices.len(), 10);
    assert_eq!(s.counters.refused_device_cap, 10);
    assert_eq!(s.counters.evicted_guessed, 0);
    let said = notices(&mut s);
    assert!(
        said.iter().any(|m| m.contains("max_devices = 10")),
        "{said:?}"
    );
}
