//! Layouts learned from traffic (`conventions::layout`) applied to what was already
//! routed: topics under a newly learned root that went to the unmapped list or the
//! generic fallback are classified afresh, and the unmapped ones' last payloads (retained
//! attributes a device publishes once, like Homie's `$name`) are applied again.

use super::apply::LAST_PAYLOAD_CAP;
use super::route::Route;
use super::*;

impl FleetState {
    pub(super) fn learn_layout(&mut self, conn: ConnId, topic: &str, payload: &[u8]) {
        let Some(root) = self.layouts.learn(topic, payload) else {
            return;
        };
        let under = format!("{root}/");
        let Some(routes) = self.routes.get_mut(conn.index()) else {
            return;
        };
        // Configured fleets keep their topics: explicit configuration wins.
        routes.retain(|t, r| {
            !t.starts_with(under.as_bytes())
                || matches!(
                    r,
                    Route::Telemetry { .. }
                        | Route::Availability { .. }
                        | Route::Convention {
                            convention: Convention::Homie,
                            ..
                        }
                )
        });
        for u in &mut self.unmapped {
            // A payload cut at the cap is not what the device sent.
            if u.conn != conn
                || !u.topic.starts_with(&under)
                || u.messages == 0
                || u.last_payload.len() >= LAST_PAYLOAD_CAP
            {
                continue;
            }
            self.replays.push(RawMessage {
                conn,
                topic: bytes::Bytes::copy_from_slice(u.topic.as_bytes()),
                payload: bytes::Bytes::copy_from_slice(&u.last_payload),
                retain: u.retained,
                at_ms: u.last_ms,
            });
            // Its messages go to the convention from now on.
            u.messages = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/fixtures/homie-custom-root.jsonl`: a Homie 4 device under `site/homie`,
    /// published by paho-mqtt and recorded through Mosquitto (`tests/paho/record_homie_root.py`).
    fn recording() -> Vec<RawMessage> {
        #[derive(serde::Deserialize)]
        struct Line {
            topic: String,
            retain: bool,
            payload_hex: String,
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/homie-custom-root.jsonl");
        let text = std::fs::read_to_string(path).expect("fixture");
        text.lines()
            .enumerate()
            .map(|(i, l)| {
                let l: Line = serde_json::from_str(l).expect("fixture line");
                RawMessage {
                    conn: crate::vocab::ConnId(0),
                    topic: l.topic.into(),
                    payload: hex::decode(l.payload_hex).expect("hex").into(),
                    retain: l.retain,
                    at_ms: 1_000 + i as i64,
                }
            })
            .collect()
    }

    fn check(s: &FleetState) {
        let d = s.find_device("boiler").expect("the boiler is a device");
        assert_eq!(s.fleet_name(d), "homie");
        assert_eq!(d.status, Status::Online);
        let f = d.facts.as_ref().expect("facts");
        assert_eq!(f.display_name.as_deref(), Some("Boiler room"));
        assert_eq!(s.unit(d, "heater.temperature"), Some("°C"));
        assert_eq!(
            d.metric("heater.temperature").map(|m| &m.value),
            Some(&MetricValue::Number(61.5))
        );
        assert!(
            f.commands
                .iter()
                .any(|c| &*c.topic == "site/homie/boiler/heater/power/set")
        );
        assert_eq!(s.devices.len(), 1, "nothing else was made of its topics");
    }

    fn state() -> FleetState {
        FleetState::new(Mapper::default(), Limits::default(), &["local".to_string()])
            .with_conventions(ConventionsConfig::default())
    }

    #[test]
    fn homie_under_a_custom_root_needs_no_config() {
        let mut s = state();
        for m in recording() {
            s.apply(&m);
        }
        check(&s);
    }

    #[test]
    fn what_came_before_the_announcement_is_applied_once_the_root_is_known() {
        let mut s = state();
        let mut messages = recording();
        // Retained topics arrive in the broker's order, not the device's.
        let announcement = messages.remove(0);
        messages.push(announcement);
        for m in &messages {
            s.apply(m);
        }
        check(&s);
        let before = s.find_device("boiler").map(|d| d.messages);
        s.apply(&messages[messages.len() - 2]);
        assert_eq!(
            s.find_device("boiler").map(|d| d.messages),
            before.map(|n| n + 1),
            "its topics are routed to it now"
        );
    }
}
