use super::*;
use crate::config::Config;
use std::time::Duration;

const CONFIG: &str = r#"
[[fleet]]
name = "poles"
topic = "city/poles/{gateway}/{device}/{metric}"

[[fleet]]
name = "tanks"
topic = "city/tanks/{site}/{device}/telemetry"

[[command]]
name = "light-dim"
fleet = "poles"
topic = "city/cmd/poles/{device}"
payload = { cmd = "light-dim", level = "{level}", id = "{id}", via = "{gateway}" }
response = true
reply_topic = "city/cmd/poles/{device}/reply"
expect = "dim == {level}"

[[command.param]]
name = "level"
type = "int"
min = 0
max = 100

[[command]]
name = "reboot"
topic = "city/cmd/{fleet}/{device}"
payload = "reboot id={id}"
qos = 0
dangerous = true
timeout = "3s"
"#;

fn set() -> CommandSet {
    CommandSet::from_config(&Config::parse(CONFIG, None).unwrap()).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(Box<str>, Box<str>)> {
    pairs
        .iter()
        .map(|(k, v)| (Box::from(*k), Box::from(*v)))
        .collect()
}

fn args(s: &str) -> Vec<(String, String)> {
    parse_args(s.split_whitespace()).unwrap()
}

#[test]
fn prepares_json_with_typed_parameters() {
    let set = set();
    let l = labels(&[("gateway", "gw-1")]);
    let target = Target {
        device: "pole-017",
        fleet: "poles",
        labels: &l,
        now_ms: 0,
    };
    let cmd = set.find("light-dim", "poles").unwrap();
    let p = cmd.prepare(target, &args("level=40"), "fo1-7").unwrap();
    assert_eq!(p.topic, "city/cmd/poles/pole-017");
    let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"cmd": "light-dim", "level": 40, "id": "fo1-7", "via": "gw-1"})
    );
    assert_eq!(p.qos, 1);
    let reply = p.reply.as_ref().unwrap();
    assert_eq!(
        reply.topic.as_deref(),
        Some("city/cmd/poles/pole-017/reply")
    );
    assert_eq!(p.expect.as_ref().unwrap().source(), "dim == 40");
    assert!(matches!(Wait::choose(&p, true), Wait::Response));
    assert!(matches!(Wait::choose(&p, false), Wait::ReplyTopic(t) if t.ends_with("/reply")));
}

#[test]
fn bad_arguments_send_nothing_and_say_why() {
    let set = set();
    let l = labels(&[("gateway", "gw-1")]);
    let target = Target {
        device: "pole-017",
        fleet: "poles",
        labels: &l,
        now_ms: 0,
    };
    let cmd = set.find("light-dim", "poles").unwrap();
    let err = |a: &str| cmd.prepare(target, &args(a), "t").unwrap_err();
    assert_eq!(err("level=140"), "level must be between 0 and 100, got 140");
    assert!(err("").contains("needs level=<int 0..100>"), "{}", err(""));
    assert!(err("level=3 lvl=4").contains("has no parameter `lvl`"));
    assert!(err("level=3 level=4").contains("twice"));
    // A device without the label the payload names.
    let bare = Target {
        device: "pole-018",
        fleet: "poles",
        labels: &[],
        now_ms: 0,
    };
    let e = cmd.prepare(bare, &args("level=3"), "t").unwrap_err();
    assert!(e.contains("needs label `gateway`"), "{e}");
    // Text payloads and any-fleet commands.
    let reboot = set.find("reboot", "tanks").unwrap();
    let t = Target {
        device: "tank-1",
        fleet: "tanks",
        labels: &[],
        now_ms: 0,
    };
    let p = reboot.prepare(t, &[], "x9").unwrap();
    assert_eq!(
        (p.topic.as_str(), p.payload.as_slice()),
        ("city/cmd/tanks/tank-1", &b"reboot id=x9"[..])
    );
    assert_eq!(p.timeout, Duration::from_secs(3));
    assert!(
        reboot
            .prepare(t, &args("now=1"), "x")
            .unwrap_err()
            .contains("takes no parameters")
    );
    assert!(set.find("light-dim", "tanks").is_none());
    assert_eq!(set.reply_filters(), ["city/cmd/poles/+/reply"]);
}

#[test]
fn config_errors_point_at_the_line() {
    let bad = |extra: &str| {
        let text = format!("{CONFIG}\n{extra}");
        CommandSet::from_config(&Config::parse(&text, None).unwrap())
            .unwrap_err()
            .0
    };
    let e = bad("[[command]]\nname = \"x\"\nfleet = \"boats\"\ntopic = \"a\"\npayload = \"b\"");
    assert!(
        e.contains("fleet `boats`") && e.contains("<config>:"),
        "{e}"
    );
    let e = bad(
        "[[command]]\nname = \"x\"\nfleet = \"tanks\"\ntopic = \"a/{gateway}\"\npayload = \"b\"",
    );
    assert!(e.contains("`{gateway}`"), "{e}");
    let e = bad("[[command]]\nname = \"x\"\ntopic = \"a/#\"\npayload = \"b\"");
    assert!(e.contains("must not be empty or contain #"), "{e}");
    let e = bad("[[command]]\nname = \"x\"\ntopic = \"a\"\npayload = \"b\"\nexpect = \"light ==\"");
    assert!(e.contains("expect"), "{e}");
    let e = bad("[[command]]\nname = \"reboot\"\ntopic = \"a\"\npayload = \"b\"");
    assert!(e.contains("defined twice"), "{e}");
    let e = bad("[[command]]\nname = \"x\"\ntopic = \"a/{oops\"\npayload = \"b\"");
    assert!(e.contains("never closed"), "{e}");
}

fn prepared(set: &CommandSet, name: &str, fleet: &str, a: &str, tag: &str) -> Prepared {
    let l = labels(&[("gateway", "gw-1")]);
    let target = Target {
        device: "pole-017",
        fleet,
        labels: &l,
        now_ms: 0,
    };
    set.find(name, fleet)
        .unwrap()
        .prepare(target, &args(a), tag)
        .unwrap()
}

fn opening(wait: Wait) -> Opening {
    Opening {
        conn: crate::vocab::ConnId(0),
        device_id: Some(crate::vocab::DeviceId(0)),
        by: "op@host".into(),
        wait,
        queued: false,
    }
}

#[test]
fn request_response_success_failure_and_duplicates() {
    let set = set();
    let mut t = Tracker::new();
    let p = prepared(&set, "light-dim", "poles", "level=40", "fo-1");
    let id = t.open(p, opening(Wait::Response), 1_000);
    assert_eq!(t.get(id).unwrap().state, RequestState::Pending);
    t.published(id, 1_020);
    assert_eq!(t.get(id).unwrap().state, RequestState::Sent);
    t.response(crate::vocab::ConnId(0), b"someone-else", b"{}", 1_100);
    assert_eq!(t.unknown_replies, 1);
    t.response(
        crate::vocab::ConnId(0),
        b"fo-1",
        br#"{"id":"fo-1","ok":true,"result":"light on at 40%"}"#,
        1_250,
    );
    let r = t.get(id).unwrap();
    assert_eq!(r.state, RequestState::Succeeded("light on at 40%".into()));
    assert_eq!(r.latency_ms(), Some(250));
    t.response(crate::vocab::ConnId(0), b"fo-1", br#"{"ok":false}"#, 1_300);
    assert_eq!(t.duplicate_replies, 1);
    assert_eq!(
        t.get(id).unwrap().state,
        RequestState::Succeeded("light on at 40%".into())
    );

    let p = prepared(&set, "light-dim", "poles", "level=5", "fo-2");
    let id = t.open(p, opening(Wait::Response), 2_000);
    t.published(id, 2_010);
    t.response(
        crate::vocab::ConnId(0),
        b"fo-2",
        br#"{"ok":false,"error":"busy\u001b[2J"}"#,
        2_100,
    );
    assert_eq!(
        t.get(id).unwrap().state,
        RequestState::Failed("busy\\e[2J".into())
    );
    assert_eq!(t.drain_settled().len(), 2);
}

#[test]
fn reply_topic_matches_on_the_echoed_id() {
    let set = set();
    let mut t = Tracker::new();
    let p = prepared(&set, "light-dim", "poles", "level=40", "fo-9");
    let topic = p.reply.as_ref().unwrap().topic.clone().unwrap();
    let id = t.open(p, opening(Wait::ReplyTopic(topic.clone())), 0);
    t.published(id, 5);
    // Another client's reply on the same topic is not ours.
    t.message(
        crate::vocab::ConnId(0),
        topic.as_bytes(),
        br#"{"id":"other","ok":true}"#,
        10,
    );
    t.message(crate::vocab::ConnId(0), topic.as_bytes(), b"not json", 11);
    assert_eq!(t.get(id).unwrap().state, RequestState::Sent);
    t.message(
        crate::vocab::ConnId(0),
        topic.as_bytes(),
        br#"{"id":"fo-9","ok":true,"result":"ok"}"#,
        40,
    );
    assert_eq!(
        t.get(id).unwrap().state,
        RequestState::Succeeded("ok".into())
    );
    t.message(
        crate::vocab::ConnId(0),
        topic.as_bytes(),
        br#"{"id":"fo-9","ok":true,"result":"ok"}"#,
        50,
    );
    assert_eq!(t.duplicate_replies, 1);
}

#[test]
fn shelly_rpc_answers_on_the_runs_own_topic_and_its_errors_fail_the_command() {
    use crate::conventions::{CommandDescriptor, CommandKind, Convention, DeviceFacts};
    let mut facts = DeviceFacts::new(Convention::Shelly);
    facts.commands = vec![CommandDescriptor {
        confirms: None,
        name: "Switch.Set".into(),
        topic: "shelly1/rpc".into(),
        kind: CommandKind::ShellyRpc {
            method: "Switch.Set".into(),
            channel: 0,
        },
        accepts: crate::conventions::Accepts::boolean(),
    }];
    let templates = convention::templates(&facts);
    let target = Target {
        device: "shelly1",
        fleet: "shelly",
        labels: &[],
        now_ms: 0,
    };
    let mut t = Tracker::new();
    let mut send = |value: &str, tag: &str, answer: &[u8]| {
        let args = [("value".to_string(), value.to_string())];
        let p = templates[0].prepare(target, &args, tag).unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
        assert_eq!(sent["src"], "fleetop-00abcd", "{sent}");
        assert_eq!(sent["id"], tag);
        let wait = Wait::choose(&p, true);
        assert!(matches!(&wait, Wait::ReplyTopic(t) if t == "fleetop-00abcd/rpc"));
        let id = t.open(p, opening(wait), 0);
        t.published(id, 5);
        t.message(crate::vocab::ConnId(0), b"fleetop-00abcd/rpc", answer, 30);
        t.get(id).unwrap().state.clone()
    };
    assert_eq!(
        send(
            "true",
            "fo00abcd-1",
            br#"{"id":"fo00abcd-1","src":"shelly1","dst":"fleetop-00abcd","result":{"was_on":false}}"#,
        ),
        RequestState::Succeeded(r#"{"was_on":false}"#.into())
    );
    assert_eq!(
        send(
            "false",
            "fo00abcd-2",
            br#"{"id":"fo00abcd-2","src":"shelly1","error":{"code":-103,"message":"Invalid argument"}}"#,
        ),
        RequestState::Failed("Invalid argument (code -103)".into())
    );
    assert_eq!(rpc_inbox(0x00abcd), "fleetop-00abcd/rpc");
    // The palette's preview has no run yet, and says so.
    assert_eq!(rpc_source("<id>"), "fleetop-<run>");
}

#[test]
fn expectation_timeout_ack_and_lost_link() {
    use crate::fleet::testutil::device;
    let device_with = |_id: u32, m: &[(&str, f64)]| device("pole-017", m);
    let set = set();
    let mut t = Tracker::new();
    let p = prepared(&set, "light-dim", "poles", "level=40", "a");
    let expect = p.expect.clone().unwrap();
    let id = t.open(p, opening(Wait::Expect(expect)), 0);
    t.published(id, 10);
    t.device_updated(&device_with(0, &[("dim", 30.0)]), 500);
    assert_eq!(t.get(id).unwrap().state, RequestState::Sent);
    t.device_updated(&device_with(0, &[("dim", 40.0)]), 900);
    assert_eq!(
        t.get(id).unwrap().state,
        RequestState::Succeeded("device reports dim == 40".into())
    );

    // No reply within the timeout.
    let p = prepared(&set, "reboot", "poles", "", "b");
    let id = t.open(p, opening(Wait::Response), 0);
    t.published(id, 10);
    t.tick(2_999);
    assert_eq!(t.get(id).unwrap().state, RequestState::Sent);
    t.tick(3_000);
    assert_eq!(t.get(id).unwrap().state, RequestState::TimedOut);

    // QoS 0 with nothing to wait for: written is all there is.
    let p = prepared(&set, "reboot", "poles", "", "c");
    let id = t.open(p, opening(Wait::Ack), 0);
    t.published(id, 3);
    assert!(matches!(&t.get(id).unwrap().state, RequestState::Succeeded(r) if r.contains("QoS 0")));

    // The link drops before the broker acknowledged.
    let p = prepared(&set, "reboot", "poles", "", "d");
    let id = t.open(p, opening(Wait::Ack), 0);
    t.link_lost(crate::vocab::ConnId(0), "broker closed the connection", 20);
    assert!(
        matches!(&t.get(id).unwrap().state, RequestState::Failed(r) if r.contains("connection lost"))
    );
}

#[test]
fn queued_requests_start_their_clock_when_sent() {
    let set = set();
    let mut t = Tracker::new();
    let p = prepared(&set, "reboot", "poles", "", "q");
    let id = t.open(
        p,
        Opening {
            queued: true,
            ..opening(Wait::Response)
        },
        0,
    );
    t.tick(60_000);
    assert_eq!(t.get(id).unwrap().state, RequestState::Queued);
    t.start(id, 60_000);
    t.tick(62_000);
    assert_eq!(t.get(id).unwrap().state, RequestState::Pending);
    t.tick(63_000);
    assert_eq!(t.get(id).unwrap().state, RequestState::TimedOut);
}

#[test]
fn keeps_a_bounded_history() {
    let set = set();
    let mut t = Tracker::new();
    for i in 0..1500 {
        let p = prepared(&set, "reboot", "poles", "", &format!("t{i}"));
        let id = t.open(p, opening(Wait::Ack), i);
        t.failed(id, "x".into(), i);
    }
    assert_eq!(t.recent().count(), 1000);
    assert_eq!(t.recent().next().unwrap().tag, "t1499");
    assert!(t.get(crate::commands::RequestId(1)).is_none());
    assert!(t.get(crate::commands::RequestId(1500)).is_some());
}
