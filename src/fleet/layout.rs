//! Layouts learned from traffic (`conventions::layout`) applied to what was already
//! routed: topics a newly learned root or stem covers that went to the unmapped list or
//! the generic fallback are classified afresh, and the unmapped ones' last payloads (retained
//! attributes a device publishes once, like Homie's `$name`) are applied again.

use super::apply::LAST_PAYLOAD_CAP;
use super::route::Route;
use super::*;
use crate::conventions::Learned;

impl FleetState {
    pub(super) fn learn_layout(&mut self, conn: ConnId, topic: &str, payload: &[u8]) {
        // An ESPHome node with discovery on is the discovered device's: its topics teach
        // no native node.
        if self.ha_bindings.contains_key(topic)
            && crate::conventions::esphome::evidence(topic, payload).is_some()
        {
            return;
        }
        let Some(learned) = self.layouts.learn(&self.conventions, topic, payload) else {
            return;
        };
        let convention = learned.convention();
        let covers = |t: &[u8]| std::str::from_utf8(t).is_ok_and(|t| learned.covers(t));
        let Some(routes) = self.routes.get_mut(conn.index()) else {
            return;
        };
        // Configured fleets keep their topics: explicit configuration wins.
        routes.retain(|t, (r, _)| {
            !covers(t)
                || match r {
                    Route::Telemetry { .. } | Route::Availability { .. } => true,
                    Route::Convention { convention: c, .. } => *c == convention,
                    Route::Unmapped(_) => false,
                }
        });
        let mut held = None;
        if let Learned::Zigbee2MqttBase {
            base,
            devices: Some(list),
        } = &learned
        {
            let topic = format!("{base}/bridge/devices");
            self.replays.push(RawMessage {
                conn,
                topic: bytes::Bytes::copy_from_slice(topic.as_bytes()),
                payload: bytes::Bytes::copy_from_slice(list),
                retain: true,
                at_ms: self.now_ms,
            });
            held = Some(topic);
        }
        self.replay_unmapped(conn, |t| held.as_deref() != Some(t) && covers(t.as_bytes()));
        if let Some(held) = held
            && let Some(u) = self.unmapped.iter_mut().find(|u| *u.topic == *held)
        {
            // The held list is already on its way.
            u.messages = 0;
        }
    }

    /// Applies again the last payloads of `conn`'s unmapped topics that are routed
    /// somewhere now (`routed`): a retained value the device published once, before the
    /// message that says where it goes.
    pub(super) fn replay_unmapped(&mut self, conn: ConnId, routed: impl Fn(&str) -> bool) {
        for u in &mut self.unmapped {
            // A payload cut at the cap is not what the device sent.
            if u.conn != conn
                || !routed(&u.topic)
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

    /// A fixture of `tests/fixtures`, recorded through Mosquitto from paho-mqtt publishers
    /// (the scripts in `tests/paho`).
    fn recording(fixture: &str) -> Vec<RawMessage> {
        #[derive(serde::Deserialize)]
        struct Line {
            topic: String,
            retain: bool,
            payload_hex: String,
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture);
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

    /// A Homie 4 device under `site/homie` (`record_homie_root.py`).
    fn homie() -> Vec<RawMessage> {
        recording("homie-custom-root.jsonl")
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
        for m in homie() {
            s.apply(&m);
        }
        check(&s);
    }

    #[test]
    fn what_came_before_the_announcement_is_applied_once_the_root_is_known() {
        let mut s = state();
        let mut messages = homie();
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

    /// Tasmota devices under `%topic%/%prefix%/` and `site/%prefix%/%topic%/`, and a
    /// look-alike with no LWT (`record_tasmota_fulltopic.py`).
    fn tasmota() -> Vec<RawMessage> {
        recording("tasmota-fulltopic.jsonl")
    }

    fn commands(d: &Device) -> Vec<&str> {
        d.facts
            .iter()
            .flat_map(|f| &f.commands)
            .map(|c| &*c.topic)
            .collect()
    }

    fn number(d: &Device, metric: &str) -> Option<f64> {
        match d.metric(metric).map(|m| &m.value) {
            Some(MetricValue::Number(n)) => Some(*n),
            _ => None,
        }
    }

    fn check_tasmota(s: &FleetState) {
        let kitchen = s.find_device("kitchen").expect("kitchen is a device");
        assert_eq!(s.fleet_name(kitchen), "tasmota");
        assert_eq!(kitchen.status, Status::Online);
        assert_eq!(number(kitchen, "ENERGY.Power"), Some(40.0));
        assert_eq!(s.unit(kitchen, "ENERGY.Power"), Some("W"));
        assert_eq!(commands(kitchen), ["kitchen/cmnd/POWER"]);
        assert_eq!(kitchen.messages, 8, "every message of the kitchen's");
        let pump = s.find_device("site/pump").expect("the pump is a device");
        assert_eq!(s.fleet_name(pump), "tasmota");
        assert_eq!(pump.status, Status::Offline, "its will was published");
        assert_eq!(number(pump, "DS18B20.Temperature"), Some(21.3));
        assert_eq!(s.unit(pump, "DS18B20.Temperature"), Some("°C"));
        assert_eq!(commands(pump), ["site/cmnd/pump/POWER"]);
        let tasmota: Vec<&str> = s
            .devices
            .iter()
            .filter(|d| s.fleet_name(d) == "tasmota")
            .map(|d| &*d.name)
            .collect();
        assert_eq!(tasmota.len(), 2, "the well sent no LWT: {tasmota:?}");
    }

    #[test]
    fn tasmota_under_any_full_topic_needs_no_config() {
        let mut s = state();
        for m in tasmota() {
            s.apply(&m);
        }
        check_tasmota(&s);
        let well = s.find_device("well").expect("the look-alike is a guess");
        assert_eq!(s.fleet_name(well), "generic");
    }

    #[test]
    fn a_tasmota_device_is_whole_when_its_lwt_comes_after_its_retained_state() {
        let mut s = state();
        let mut messages = tasmota();
        let lwt = messages
            .iter()
            .position(|m| &m.topic[..] == b"kitchen/tele/LWT")
            .expect("the kitchen's LWT");
        let lwt = messages.remove(lwt);
        // The broker holds POWER retained (PowerRetain 1) and sends it first.
        let power = messages
            .iter()
            .position(|m| &m.topic[..] == b"kitchen/stat/POWER")
            .expect("the kitchen's POWER");
        let power = messages.remove(power);
        messages.splice(0..0, [power, lwt]);
        for m in &messages {
            s.apply(m);
        }
        // The kitchen's count of 8 holds the POWER that came before its LWT.
        check_tasmota(&s);
    }

    /// A Zigbee2MQTT bridge under `site/zigbee`, and a look-alike `lab/bridge/state` with
    /// neither info nor device list (`record_zigbee2mqtt_base.py`).
    fn zigbee() -> Vec<RawMessage> {
        recording("zigbee2mqtt-base.jsonl")
    }

    fn check_zigbee(s: &FleetState) {
        let bridge = s
            .find_device("site/zigbee")
            .expect("the bridge is a device");
        assert_eq!(s.fleet_name(bridge), "zigbee2mqtt");
        assert_eq!(bridge.status, Status::Online);
        let thermometer = s.find_device("living/thermometer").expect("thermometer");
        assert_eq!(s.fleet_name(thermometer), "zigbee2mqtt");
        assert_eq!(number(thermometer, "temperature"), Some(21.4));
        assert_eq!(
            s.unit(thermometer, "temperature"),
            Some("°C"),
            "from the list"
        );
        assert_eq!(
            s.gateway_of(thermometer).map(|g| &*g.name),
            Some("site/zigbee")
        );
        let outlet = s.find_device("0x0017880104e45517").expect("outlet");
        let facts = outlet.facts.as_ref().expect("facts");
        assert_eq!(
            facts.display_name.as_deref(),
            Some("TRADFRI control outlet")
        );
        assert_eq!(commands(outlet), ["site/zigbee/0x0017880104e45517/set"]);
        let zigbee = s
            .devices
            .iter()
            .filter(|d| s.fleet_name(d) == "zigbee2mqtt")
            .count();
        assert_eq!(zigbee, 3 + 12, "lab showed a state and nothing else");
    }

    #[test]
    fn zigbee2mqtt_under_any_base_needs_no_config() {
        let mut s = state();
        for m in zigbee() {
            s.apply(&m);
        }
        check_zigbee(&s);
        let lab = s.find_device("lab").expect("lab/thing is a guess");
        assert_eq!(s.fleet_name(lab), "generic");
    }

    #[test]
    fn a_device_list_that_comes_before_the_bridge_state_is_applied_once_the_base_is_known() {
        let mut s = state();
        let mut messages: Vec<RawMessage> = zigbee()
            .into_iter()
            .filter(|m| !m.topic.ends_with(b"/bridge/info"))
            .collect();
        let devices = messages
            .iter()
            .position(|m| m.topic.ends_with(b"zigbee/bridge/devices"))
            .expect("the device list");
        let devices = messages.remove(devices);
        assert!(
            devices.payload.len() > LAST_PAYLOAD_CAP,
            "held, not replayed"
        );
        messages.insert(0, devices);
        for m in &messages {
            s.apply(m);
        }
        check_zigbee(&s);
    }

    /// Home Assistant discovery under `site/ha` and a look-alike config with no topic
    /// (`record_homeassistant_prefix.py`).
    #[test]
    fn home_assistant_discovery_under_any_prefix_needs_no_config() {
        let mut s = state();
        for m in recording("homeassistant-prefix.jsonl") {
            s.apply(&m);
        }
        let d = s.find_device("greenhouse-5c2f").expect("the greenhouse");
        assert_eq!(s.fleet_name(d), "homeassistant");
        assert_eq!(d.status, Status::Online);
        let f = d.facts.as_ref().expect("facts");
        assert_eq!(f.display_name.as_deref(), Some("Greenhouse"));
        assert_eq!(number(d, "temperature"), Some(23.7));
        assert_eq!(s.unit(d, "temperature"), Some("°C"));
        assert_eq!(commands(d), ["greenhouse/switch/fan/command"]);
        let ha = s
            .devices
            .iter()
            .filter(|d| s.fleet_name(d) == "homeassistant")
            .count();
        assert_eq!(ha, 1, "the probe's config names no topic");
    }

    /// Shelly Gen2 devices under `home/plug` and `barn/pump`, and a look-alike status
    /// with nothing else (`record_shelly_prefix.py`).
    #[test]
    fn shelly_under_a_custom_prefix_needs_no_config() {
        let mut s = state();
        for m in recording("shelly-prefix.jsonl") {
            s.apply(&m);
        }
        let plug = s.find_device("home/plug").expect("the plug");
        assert_eq!(s.fleet_name(plug), "shelly");
        assert_eq!(plug.status, Status::Online);
        assert_eq!(number(plug, "apower"), Some(12.5));
        assert_eq!(s.unit(plug, "apower"), Some("W"));
        assert_eq!(commands(plug), ["home/plug/rpc"]);
        let pump = s.find_device("barn/pump").expect("the pump");
        assert_eq!(s.fleet_name(pump), "shelly");
        assert_eq!(number(pump, "apower"), Some(640.2));
        let shelly = s
            .devices
            .iter()
            .filter(|d| s.fleet_name(d) == "shelly")
            .count();
        assert_eq!(shelly, 2, "lab/box showed a status and nothing else");
    }

    /// Native ESPHome nodes `garden-node` and `site/esp-hvac`, and look-alikes
    /// (`record_esphome.py`).
    fn esphome() -> Vec<RawMessage> {
        recording("esphome-native.jsonl")
    }

    fn check_esphome(s: &FleetState) {
        let garden = s.find_device("garden-node").expect("the garden node");
        assert_eq!(s.fleet_name(garden), "esphome");
        assert_eq!(garden.status, Status::Online);
        assert_eq!(number(garden, "temperature"), Some(21.5));
        assert_eq!(number(garden, "wifi_signal"), Some(-61.0));
        assert_eq!(number(garden, "garden_lights.brightness"), Some(180.0));
        let value = |d: &Device, m: &str| d.metric(m).map(|m| m.value.clone());
        assert_eq!(value(garden, "door"), Some(MetricValue::Bool(false)));
        assert_eq!(value(garden, "pump_relay"), Some(MetricValue::Bool(true)));
        assert_eq!(
            value(garden, "esphome_version"),
            Some(MetricValue::Text("2025.11.2 Dec  1 2025, 10:00:00".into()))
        );
        assert_eq!(
            value(garden, "debug"),
            Some(MetricValue::Text("[W][wifi:1351]: WiFi signal weak".into()))
        );
        assert!(
            garden.metric("soil_moisture").is_none(),
            "nan is no reading"
        );
        assert!(garden.last_error.is_none(), "{:?}", garden.last_error);
        assert_eq!(
            commands(garden),
            [
                "garden-node/switch/pump_relay/command",
                "garden-node/light/garden_lights/command",
                "garden-node/light/garden_lights/command"
            ]
        );
        let hvac = s.find_device("site/esp-hvac").expect("the hvac node");
        assert_eq!(s.fleet_name(hvac), "esphome");
        assert_eq!(hvac.status, Status::Offline, "its will was published");
        assert_eq!(number(hvac, "hvac.current_temperature"), Some(19.5));
        assert_eq!(number(hvac, "vent.position"), Some(40.0));
        assert!(commands(hvac).contains(&"site/esp-hvac/climate/hvac/mode/command"));
        assert!(commands(hvac).contains(&"site/esp-hvac/cover/vent/position/command"));
        let esphome: Vec<&str> = s
            .devices
            .iter()
            .filter(|d| s.fleet_name(d) == "esphome")
            .map(|d| &*d.name)
            .collect();
        assert_eq!(
            esphome.len(),
            2,
            "lab and plant showed one kind each: {esphome:?}"
        );
    }

    #[test]
    fn native_esphome_needs_no_config() {
        let mut s = state();
        for m in esphome() {
            s.apply(&m);
        }
        check_esphome(&s);
        assert_eq!(s.devices.len(), 2, "nothing was guessed of their topics");
    }

    #[test]
    fn states_that_come_before_the_status_are_applied_once_the_node_is_known() {
        let mut s = state();
        // Retained topics arrive in the broker's order: the status may come last.
        let (status, mut messages): (Vec<_>, Vec<_>) = esphome()
            .into_iter()
            .partition(|m| m.topic.ends_with(b"/status") && &m.payload[..] == b"online");
        messages.splice(messages.len() - 1..messages.len() - 1, status);
        for m in &messages {
            s.apply(m);
        }
        check_esphome(&s);
    }
}
