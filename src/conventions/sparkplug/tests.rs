use super::proto::{Metric, Payload, PropertyScalar, PropertySet, PropertyValue, Value as PValue};
use super::*;

pub(super) fn metric(name: Option<&str>, alias: Option<u64>, dt: u32, value: PValue) -> Metric {
    Metric {
        name: name.map(str::to_string),
        alias,
        timestamp: None,
        datatype: Some(dt),
        is_historical: None,
        is_null: None,
        properties: None,
        value: Some(value),
    }
}

pub(super) fn payload(seq: Option<u64>, metrics: Vec<Metric>) -> Vec<u8> {
    Payload {
        timestamp: Some(1_764_000_000_000),
        metrics,
        seq,
        uuid: None,
    }
    .encode_to_vec()
}

/// Runs one message and returns (report, values as "name=value").
pub(super) fn run(
    s: &mut Sessions,
    topic: &str,
    node: DeviceId,
    device: Option<DeviceId>,
    bytes: &[u8],
) -> (Report, Vec<String>) {
    let t = parse_topic(topic).unwrap();
    let mut report = Report::default();
    let mut got = Vec::new();
    s.apply(&t, node, device, bytes, &mut report, |_, name, v, _| {
        got.push(format!("{name}={v:?}"))
    });
    (report, got)
}

pub(super) fn nbirth(bd: u64) -> Vec<u8> {
    let mut temp = metric(
        Some("Temperature"),
        Some(1),
        datatype::DOUBLE,
        PValue::Double(20.5),
    );
    temp.properties = Some(PropertySet {
        keys: vec!["engUnit".into()],
        values: vec![PropertyValue {
            r#type: Some(12),
            is_null: None,
            value: Some(PropertyScalar::String("°C".into())),
        }],
    });
    payload(
        Some(0),
        vec![
            metric(Some("bdSeq"), None, datatype::INT64, PValue::Long(bd)),
            metric(
                Some("Node Control/Rebirth"),
                Some(9),
                datatype::BOOLEAN,
                PValue::Boolean(false),
            ),
            temp,
            metric(
                Some("Offset"),
                Some(2),
                datatype::INT16,
                PValue::Int(0xFFFE),
            ),
        ],
    )
}

#[test]
fn topics() {
    let t = parse_topic("spBv1.0/plant1/DDATA/edge1/pump1").unwrap();
    assert_eq!(
        (t.kind, t.group, t.node, t.device),
        (Kind::DData, "plant1", "edge1", Some("pump1"))
    );
    assert_eq!(t.device_key(), "plant1/edge1/pump1");
    assert_eq!(t.node_key(), "plant1/edge1");
    assert_eq!(
        parse_topic("spBv1.0/STATE/scada").unwrap().device_key(),
        "host:scada"
    );
    assert_eq!(parse_topic("STATE/scada").unwrap().kind, Kind::State);
    assert!(
        parse_topic("spBv1.0/g/DDATA/n").is_none(),
        "device message without device"
    );
    assert!(parse_topic("spBv1.0/g/NDATA/n/d").is_none());
    assert!(parse_topic("spBv1.0/g/XDATA/n").is_none());
    assert!(parse_topic("spBv1.0//NDATA/n").is_none());
}

#[test]
fn birth_defines_aliases_units_and_datatypes() {
    let mut s = Sessions::new(256);
    let (r, got) = run(
        &mut s,
        "spBv1.0/g/NBIRTH/n",
        crate::vocab::DeviceId(0),
        None,
        &nbirth(3),
    );
    assert_eq!(r.online, Some(true));
    assert_eq!(
        got,
        [
            "bdSeq=Number(3.0)",
            "Node Control/Rebirth=Bool(false)",
            "Temperature=Number(20.5)",
            "Offset=Number(-2.0)"
        ]
    );
    let temp = r.facts.iter().find(|f| &*f.name == "Temperature").unwrap();
    assert_eq!(
        (temp.unit.as_deref(), temp.datatype.as_deref()),
        (Some("°C"), Some("Double"))
    );
    assert_eq!(&*r.commands[0].topic, "spBv1.0/g/NCMD/n");

    // NDATA by alias only.
    let data = payload(
        Some(1),
        vec![metric(
            None,
            Some(1),
            datatype::DOUBLE,
            PValue::Double(21.0),
        )],
    );
    let (r, got) = run(
        &mut s,
        "spBv1.0/g/NDATA/n",
        crate::vocab::DeviceId(0),
        None,
        &data,
    );
    assert_eq!(got, ["Temperature=Number(21.0)"]);
    assert_eq!(r.rebirth, None);

    // An alias never born is counted and asks for a rebirth.
    let data = payload(
        Some(2),
        vec![metric(
            None,
            Some(77),
            datatype::DOUBLE,
            PValue::Double(1.0),
        )],
    );
    let (r, got) = run(
        &mut s,
        "spBv1.0/g/NDATA/n",
        crate::vocab::DeviceId(0),
        None,
        &data,
    );
    assert!(got.is_empty());
    assert_eq!(r.unknown_aliases, 1);
    assert!(r.rebirth.is_some());
}

#[test]
fn sequence_gaps_and_deaths() {
    let mut s = Sessions::new(256);
    run(
        &mut s,
        "spBv1.0/g/NBIRTH/n",
        crate::vocab::DeviceId(0),
        None,
        &nbirth(3),
    );
    let dbirth = payload(
        Some(1),
        vec![metric(
            Some("rpm"),
            Some(5),
            datatype::UINT32,
            PValue::Int(1200),
        )],
    );
    let (r, _) = run(
        &mut s,
        "spBv1.0/g/DBIRTH/n/d",
        crate::vocab::DeviceId(0),
        Some(crate::vocab::DeviceId(1)),
        &dbirth,
    );
    assert_eq!((r.online, r.seq_gap), (Some(true), false));
    let skip = payload(
        Some(5),
        vec![metric(None, Some(5), datatype::UINT32, PValue::Int(1300))],
    );
    let (r, got) = run(
        &mut s,
        "spBv1.0/g/DDATA/n/d",
        crate::vocab::DeviceId(0),
        Some(crate::vocab::DeviceId(1)),
        &skip,
    );
    assert!(r.seq_gap);
    assert_eq!(got, ["rpm=Number(1300.0)"]);

    // A death from an older session (other bdSeq) is stale and ignored.
    let old_death = payload(
        None,
        vec![metric(
            Some("bdSeq"),
            None,
            datatype::INT64,
            PValue::Long(2),
        )],
    );
    let (r, _) = run(
        &mut s,
        "spBv1.0/g/NDEATH/n",
        crate::vocab::DeviceId(0),
        None,
        &old_death,
    );
    assert!(r.stale_death);
    assert_eq!(r.online, None);
    let death = payload(
        None,
        vec![metric(
            Some("bdSeq"),
            None,
            datatype::INT64,
            PValue::Long(3),
        )],
    );
    let (r, _) = run(
        &mut s,
        "spBv1.0/g/NDEATH/n",
        crate::vocab::DeviceId(0),
        None,
        &death,
    );
    assert_eq!((r.online, r.node_death), (Some(false), true));

    let (r, _) = run(
        &mut s,
        "spBv1.0/g/DDEATH/n/d",
        crate::vocab::DeviceId(0),
        Some(crate::vocab::DeviceId(1)),
        &payload(Some(6), vec![]),
    );
    assert_eq!(r.online, Some(false));
    assert_eq!(s.len(), 0);
}

#[test]
fn data_before_birth_is_counted_named_data_still_shown() {
    let mut s = Sessions::new(256);
    let data = payload(
        Some(4),
        vec![
            metric(Some("flow"), None, datatype::FLOAT, PValue::Float(1.5)),
            metric(None, Some(3), datatype::FLOAT, PValue::Float(1.5)),
        ],
    );
    let (r, got) = run(
        &mut s,
        "spBv1.0/g/DDATA/n/d",
        crate::vocab::DeviceId(0),
        Some(crate::vocab::DeviceId(1)),
        &data,
    );
    assert!(r.before_birth);
    assert_eq!(r.unknown_aliases, 1);
    assert_eq!(got, ["flow=Number(1.5)"]);
    assert!(r.rebirth.is_some());
}

#[test]
fn spb_wrapper_data_folder_is_shown_by_bare_name() {
    let mut s = Sessions::new(256);
    let birth = payload(
        Some(0),
        vec![
            metric(
                Some("DATA/pressure_bar"),
                None,
                datatype::DOUBLE,
                PValue::Double(2.5),
            ),
            metric(
                Some("CMD/reset"),
                None,
                datatype::BOOLEAN,
                PValue::Boolean(false),
            ),
        ],
    );
    let (r, got) = run(
        &mut s,
        "spBv1.0/g/DBIRTH/n/d",
        crate::vocab::DeviceId(0),
        Some(crate::vocab::DeviceId(1)),
        &birth,
    );
    assert_eq!(got, ["pressure_bar=Number(2.5)", "CMD/reset=Bool(false)"]);
    assert!(
        r.commands
            .iter()
            .any(|c| &*c.name == "CMD/reset" && &*c.topic == "spBv1.0/g/DCMD/n/d")
    );
    let data = payload(
        Some(1),
        vec![metric(
            Some("pressure_bar"),
            None,
            datatype::DOUBLE,
            PValue::Double(2.7),
        )],
    );
    let (r, got) = run(
        &mut s,
        "spBv1.0/g/DDATA/n/d",
        crate::vocab::DeviceId(0),
        Some(crate::vocab::DeviceId(1)),
        &data,
    );
    assert_eq!(got, ["pressure_bar=Number(2.7)"]);
    assert!(!r.before_birth);
}

#[test]
fn malformed_payloads_and_host_state() {
    let mut s = Sessions::new(256);
    let (r, _) = run(
        &mut s,
        "spBv1.0/g/NDATA/n",
        crate::vocab::DeviceId(0),
        None,
        b"\xff\xff\xff",
    );
    assert!(r.error.unwrap().contains("malformed Sparkplug B payload"));
    let (r, _) = run(
        &mut s,
        "spBv1.0/STATE/scada",
        crate::vocab::DeviceId(5),
        None,
        br#"{"online":true,"timestamp":1}"#,
    );
    assert_eq!(r.online, Some(true));
    let (r, _) = run(
        &mut s,
        "STATE/scada",
        crate::vocab::DeviceId(5),
        None,
        b"OFFLINE",
    );
    assert_eq!(r.online, Some(false));
    let (r, _) = run(
        &mut s,
        "STATE/scada",
        crate::vocab::DeviceId(5),
        None,
        b"maybe",
    );
    assert!(r.error.is_some());
}

#[test]
fn command_payloads_round_trip() {
    let bytes = command_payload("Node Control/Rebirth", datatype::BOOLEAN, "true", 5).unwrap();
    let p = Payload::decode(&bytes[..]).unwrap();
    assert_eq!(p.metrics[0].name.as_deref(), Some("Node Control/Rebirth"));
    assert_eq!(p.metrics[0].value, Some(PValue::Boolean(true)));
    let bytes = command_payload("setpoint", datatype::INT16, "-3", 5).unwrap();
    let mut s = Sessions::new(8);
    let (_, got) = run(
        &mut s,
        "spBv1.0/g/NDATA/n",
        crate::vocab::DeviceId(0),
        None,
        &bytes,
    );
    assert_eq!(got, ["setpoint=Number(-3.0)"]);
    assert!(command_payload("x", datatype::BOOLEAN, "maybe", 5).is_err());
    assert!(command_payload("x", 16, "1", 5).is_err());
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), kind in 0usize..6) {
            let topics = ["spBv1.0/g/NBIRTH/n", "spBv1.0/g/NDATA/n", "spBv1.0/g/NDEATH/n",
                          "spBv1.0/g/DBIRTH/n/d", "spBv1.0/g/DDATA/n/d", "spBv1.0/STATE/h"];
            let mut s = Sessions::new(256);
            run(&mut s, "spBv1.0/g/NBIRTH/n", crate::vocab::DeviceId(0), None, &nbirth(1));
            let device = topics[kind].ends_with("/d").then_some(crate::vocab::DeviceId(1));
            run(&mut s, topics[kind], crate::vocab::DeviceId(0), device, &bytes);
        }

        #[test]
        fn mutated_births_never_panic(flip in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
            let mut bytes = nbirth(1);
            for (i, b) in flip {
                let at = i.index(bytes.len());
                bytes[at] = b;
            }
            let mut s = Sessions::new(256);
            run(&mut s, "spBv1.0/g/NBIRTH/n", crate::vocab::DeviceId(0), None, &bytes);
            run(&mut s, "spBv1.0/g/NDATA/n", crate::vocab::DeviceId(0), None, &bytes);
        }
    }
}

#[test]
fn a_birth_larger_than_the_metric_cap_still_places_all_its_data() {
    let mut s = Sessions::new(2);
    let node = DeviceId(0);
    let metrics: Vec<Metric> = (0..10)
        .map(|i| {
            metric(
                Some(&format!("m{i}")),
                Some(i),
                datatype::INT32,
                PValue::Int(1),
            )
        })
        .collect();
    let (report, _) = run(
        &mut s,
        "spBv1.0/g/NBIRTH/n",
        node,
        None,
        &payload(Some(0), metrics),
    );
    assert_eq!(report.facts.len(), 2, "facts for the first max_metrics");
    let (report, got) = run(
        &mut s,
        "spBv1.0/g/NDATA/n",
        node,
        None,
        &payload(
            Some(1),
            vec![metric(None, Some(9), datatype::INT32, PValue::Int(5))],
        ),
    );
    assert_eq!((report.unknown_aliases, report.rebirth), (0, None));
    assert_eq!(
        got,
        ["m9=Number(5.0)"],
        "the device's metric cap decides what it keeps"
    );
}

#[test]
fn a_device_birth_offers_its_scalar_metrics_as_dcmd_writes() {
    let mut s = Sessions::new(100);
    run(&mut s, "spBv1.0/g/NBIRTH/n", DeviceId(0), None, &nbirth(0));
    let (report, _) = run(
        &mut s,
        "spBv1.0/g/DBIRTH/n/pump",
        DeviceId(0),
        Some(DeviceId(1)),
        &payload(
            Some(1),
            vec![
                metric(Some("setpoint"), Some(1), datatype::UINT8, PValue::Int(3)),
                metric(
                    Some("blob"),
                    Some(2),
                    datatype::BYTES,
                    PValue::Bytes(vec![1]),
                ),
            ],
        ),
    );
    let got: Vec<(&str, &str, &Accepts)> = report
        .commands
        .iter()
        .map(|c| (&*c.name, &*c.topic, &c.accepts))
        .collect();
    assert_eq!(
        got,
        [(
            "setpoint",
            "spBv1.0/g/DCMD/n/pump",
            &Accepts::Integer {
                min: Some(0),
                max: Some(255)
            }
        )]
    );
}
