//! Layouts learned from traffic: where an installation put a convention that lets its
//! devices live under any topic root. A root is learned from a topic only that
//! convention publishes, and then every topic under it is that convention's.
//!
//! Homie: `<root>/<id>/$homie` (3.x/4.x, the version) or `<root>/5/<id>/$description`
//! (Homie 5, a JSON document with `"homie": "5…"`); the root is any number of levels.
//!
//! Tasmota: a FullTopic places the prefix word (`tele`, `stat`, `cmnd`) and the device's
//! topic anywhere among literal levels, so one device's topics tell nothing about
//! another's; what every device does publish is its LWT, `Online`/`Offline` on the
//! FullTopic with `tele` + `LWT`. Each device's stem (`site/%prefix%/pump`) is learned
//! from it, and only `tele`/`stat` topics on a learned stem are that device's.
//!
//! ESPHome: a node's `topic_prefix` is learned once two kinds of its topics were seen
//! (`super::esphome`), as a Shelly's is.

use super::Convention;
use super::zigbee2mqtt::Evidence;
use crate::config::conventions::ConventionsConfig;

/// Roots kept: enough for the installations one broker carries, bounded against a device
/// that announces itself under a new root every message.
const MAX_ROOTS: usize = 32;
/// Tasmota stems kept, one per device under a FullTopic other than the default: a large
/// installation's worth, bounded against a publisher that invents a device a message.
const MAX_TASMOTA_STEMS: usize = 8192;
/// Zigbee2MQTT bases with half their evidence: a few bridges starting at once, bounded
/// against topics that only look like a bridge's (the oldest is forgotten).
const MAX_PENDING_BASES: usize = 8;
/// A bridge's device list held until its base is known, up to this size: it is published
/// once, retained, and may come before `bridge/state`.
const MAX_HELD_LIST: usize = 1 << 20;
/// Shelly prefixes kept (one per device, as Tasmota's stems), and those half-seen: a
/// broker's retained `online`s arrive all at once, before any status.
const MAX_SHELLY_PREFIXES: usize = 8192;
const MAX_SHELLY_PENDING: usize = 1024;
/// ESPHome nodes kept, and those half-seen, for the same reasons.
const MAX_ESPHOME_NODES: usize = 8192;
const MAX_ESPHOME_PENDING: usize = 1024;

/// What was learned so far, per connection's traffic alike (roots are topic prefixes).
#[derive(Debug, Clone, PartialEq)]
pub struct Layouts {
    /// Homie roots, the default `homie` among them, longest first so the most specific
    /// root wins (`site/homie` before `site`).
    homie: Vec<Box<str>>,
    /// Tasmota devices' stems (`super::tasmota::stem`); the default FullTopic's devices
    /// need none.
    tasmota: std::collections::HashSet<Box<str>>,
    /// Home Assistant discovery prefixes, the default `homeassistant` among them, longest
    /// first.
    homeassistant: Vec<Box<str>>,
    /// Shelly prefixes of more than one level (a one-level prefix is the default form).
    shelly: std::collections::HashSet<Box<str>>,
    /// Shelly prefixes with an `online` or a status seen (`true` for the status).
    shelly_pending: std::collections::VecDeque<(Box<str>, bool)>,
    /// ESPHome nodes' prefixes.
    esphome: std::collections::HashSet<Box<str>>,
    /// ESPHome prefixes with some of a node's topics seen (`esphome::Kind::evidence` bits).
    esphome_pending: std::collections::VecDeque<(Box<str>, u8)>,
    /// Zigbee2MQTT bases learned, longest first; the configured one is not among them.
    zigbee2mqtt: Vec<Box<str>>,
    /// Bases a bridge has shown half of itself under.
    pending: std::collections::VecDeque<Pending>,
}

/// A base with some of a bridge's evidence seen.
#[derive(Debug, Clone, PartialEq)]
struct Pending {
    base: Box<str>,
    state: bool,
    /// `bridge/devices` or `bridge/info`.
    described: bool,
    /// The `bridge/devices` payload, applied once the base is known.
    devices: Option<Vec<u8>>,
}

impl Default for Layouts {
    fn default() -> Self {
        Layouts {
            homie: vec!["homie".into()],
            tasmota: Default::default(),
            homeassistant: vec!["homeassistant".into()],
            shelly: Default::default(),
            shelly_pending: Default::default(),
            esphome: Default::default(),
            esphome_pending: Default::default(),
            zigbee2mqtt: Vec::new(),
            pending: Default::default(),
        }
    }
}

impl Layouts {
    /// The default layouts plus those `[conventions]` pins, known before any traffic.
    pub fn pinned(config: &ConventionsConfig) -> Layouts {
        let mut l = Layouts::default();
        for root in &config.homie_roots {
            if !l.homie.iter().any(|r| **r == **root) {
                l.homie.push(root.as_str().into());
            }
        }
        l.homie.sort_by_key(|r| std::cmp::Reverse(r.len()));
        for prefix in &config.homeassistant_prefixes {
            if !l.homeassistant.iter().any(|p| **p == **prefix) {
                l.homeassistant.push(prefix.as_str().into());
            }
        }
        l.homeassistant.sort_by_key(|p| std::cmp::Reverse(p.len()));
        l.shelly
            .extend(config.shelly_prefixes.iter().map(|p| p.as_str().into()));
        l.esphome
            .extend(config.esphome_prefixes.iter().map(|p| p.as_str().into()));
        l
    }
}

/// What one topic taught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learned {
    HomieRoot(Box<str>),
    TasmotaStem(Box<str>),
    HomeAssistantPrefix(Box<str>),
    ShellyPrefix(Box<str>),
    EspHomeNode(Box<str>),
    /// A Zigbee2MQTT base, with its bridge's device list if that came first.
    Zigbee2MqttBase {
        base: Box<str>,
        devices: Option<Vec<u8>>,
    },
}

impl Learned {
    pub fn convention(&self) -> Convention {
        match self {
            Learned::HomieRoot(_) => Convention::Homie,
            Learned::TasmotaStem(_) => Convention::Tasmota,
            Learned::HomeAssistantPrefix(_) => Convention::HomeAssistant,
            Learned::ShellyPrefix(_) => Convention::Shelly,
            Learned::EspHomeNode(_) => Convention::EspHome,
            Learned::Zigbee2MqttBase { .. } => Convention::Zigbee2Mqtt,
        }
    }

    /// Whether a topic lies in what was learned, so what was routed before can be routed
    /// afresh.
    pub fn covers(&self, topic: &str) -> bool {
        match self {
            Learned::HomieRoot(root)
            | Learned::HomeAssistantPrefix(root)
            | Learned::Zigbee2MqttBase { base: root, .. } => topic
                .strip_prefix(&**root)
                .is_some_and(|rest| rest.starts_with('/')),
            Learned::TasmotaStem(stem) => super::tasmota::on_stem(topic, stem),
            Learned::ShellyPrefix(prefix) => super::shelly::prefix_of(topic) == Some(&**prefix),
            Learned::EspHomeNode(prefix) => super::esphome::on_node(topic, prefix),
        }
    }
}

impl Layouts {
    /// What was learned beyond the conventions' defaults, a line each, for `discover`:
    /// roots, prefixes and bases by name; per-device Tasmota stems and Shelly prefixes
    /// counted, with a few examples.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let named = |what: &str, items: &[Box<str>], default: &str, lines: &mut Vec<String>| {
            for item in items.iter().filter(|i| ***i != *default) {
                lines.push(format!("{what} {item}"));
            }
        };
        named("Homie root", &self.homie, "homie", &mut lines);
        named("Zigbee2MQTT base", &self.zigbee2mqtt, "", &mut lines);
        named(
            "Home Assistant discovery prefix",
            &self.homeassistant,
            "homeassistant",
            &mut lines,
        );
        let counted =
            |what: &str, set: &std::collections::HashSet<Box<str>>, lines: &mut Vec<String>| {
                if set.is_empty() {
                    return;
                }
                let mut examples: Vec<&str> = set.iter().map(|s| &**s).collect();
                examples.sort_unstable();
                examples.truncate(3);
                lines.push(format!(
                    "{what}: {} device(s), e.g. {}",
                    set.len(),
                    examples.join(", ")
                ));
            };
        counted(
            "Tasmota FullTopic other than %prefix%/%topic%/",
            &self.tasmota,
            &mut lines,
        );
        counted(
            "Shelly topic_prefix of more than one level",
            &self.shelly,
            &mut lines,
        );
        counted(
            "ESPHome node (native MQTT, no discovery)",
            &self.esphome,
            &mut lines,
        );
        lines
    }

    /// Homie roots, longest first.
    pub fn homie_roots(&self) -> impl Iterator<Item = &str> {
        self.homie.iter().map(|r| &**r)
    }

    /// Home Assistant discovery prefixes, longest first.
    pub fn homeassistant_prefixes(&self) -> impl Iterator<Item = &str> {
        self.homeassistant.iter().map(|p| &**p)
    }

    /// Zigbee2MQTT bases: the configured one, then those learned, longest first.
    pub fn zigbee2mqtt_bases<'a>(
        &'a self,
        config: &'a ConventionsConfig,
    ) -> impl Iterator<Item = &'a str> {
        self.zigbee2mqtt
            .iter()
            .map(|b| &**b)
            .chain(std::iter::once(config.zigbee2mqtt_base.as_str()))
    }

    /// Whether a Shelly showed itself under this prefix.
    pub fn shelly_prefix(&self, prefix: &str) -> bool {
        self.shelly.contains(prefix)
    }

    /// Whether an ESPHome node showed itself under this prefix.
    pub fn esphome_node(&self, prefix: &str) -> bool {
        self.esphome.contains(prefix)
    }

    /// Whether a Tasmota device announced itself on this stem.
    pub fn tasmota_stem(&self, stem: &str) -> bool {
        self.tasmota.contains(stem)
    }

    /// Learns from a topic that announces a device of an enabled convention; what it
    /// taught, if that is new.
    pub fn learn(
        &mut self,
        config: &ConventionsConfig,
        topic: &str,
        payload: &[u8],
    ) -> Option<Learned> {
        if config.homie
            && let Some(root) = homie_root(topic, payload)
        {
            if self.homie.iter().any(|r| **r == *root) || self.homie.len() >= MAX_ROOTS {
                return None;
            }
            self.homie.push(root.into());
            self.homie.sort_by_key(|r| std::cmp::Reverse(r.len()));
            return Some(Learned::HomieRoot(root.into()));
        }
        if config.tasmota
            && let Some(stem) = super::tasmota::announced_stem(topic, payload)
            && self.tasmota.len() < MAX_TASMOTA_STEMS
            && self.tasmota.insert(stem.as_str().into())
        {
            return Some(Learned::TasmotaStem(stem.into()));
        }
        if config.homeassistant
            && let Some(prefix) = super::homeassistant::announced_prefix(topic, payload)
        {
            if self.homeassistant.iter().any(|p| **p == *prefix)
                || self.homeassistant.len() >= MAX_ROOTS
            {
                return None;
            }
            self.homeassistant.push(prefix.into());
            self.homeassistant
                .sort_by_key(|p| std::cmp::Reverse(p.len()));
            return Some(Learned::HomeAssistantPrefix(prefix.into()));
        }
        if config.shelly
            && let Some((prefix, kind)) = super::shelly::evidence(topic, payload)
        {
            return self.shelly_evidence(prefix, kind);
        }
        if config.zigbee2mqtt
            && let Some((base, shown)) = super::zigbee2mqtt::evidence(topic, payload)
        {
            return self.bridge_evidence(config, base, shown, payload);
        }
        if config.esphome
            && let Some((prefix, kind)) = super::esphome::evidence(topic, payload)
        {
            return self.esphome_evidence(prefix, kind.evidence());
        }
        None
    }

    /// What a topic shows of an ESPHome node under `prefix`; the prefix once two kinds of
    /// its topics were seen.
    fn esphome_evidence(&mut self, prefix: &str, shown: u8) -> Option<Learned> {
        if self.esphome.contains(prefix) || self.esphome.len() >= MAX_ESPHOME_NODES {
            return None;
        }
        let seen = match self
            .esphome_pending
            .iter()
            .position(|(p, _)| **p == *prefix)
        {
            Some(at) => {
                self.esphome_pending[at].1 |= shown;
                self.esphome_pending[at].1
            }
            None => {
                if self.esphome_pending.len() >= MAX_ESPHOME_PENDING {
                    self.esphome_pending.pop_front();
                }
                self.esphome_pending.push_back((prefix.into(), shown));
                shown
            }
        };
        if seen.count_ones() < 2 {
            return None;
        }
        self.esphome_pending.retain(|(p, _)| **p != *prefix);
        self.esphome.insert(prefix.into());
        Some(Learned::EspHomeNode(prefix.into()))
    }

    /// What a topic shows of a Shelly under `prefix`; the prefix once it is enough.
    fn shelly_evidence(&mut self, prefix: &str, kind: super::shelly::Kind) -> Option<Learned> {
        use super::shelly::Kind;
        if self.shelly.contains(prefix) || self.shelly.len() >= MAX_SHELLY_PREFIXES {
            return None;
        }
        let status = matches!(kind, Kind::Status(_));
        if kind != Kind::Rpc {
            match self.shelly_pending.iter().position(|(p, _)| **p == *prefix) {
                Some(at) if self.shelly_pending[at].1 != status => {
                    self.shelly_pending.remove(at);
                }
                Some(_) => return None,
                None => {
                    if self.shelly_pending.len() >= MAX_SHELLY_PENDING {
                        self.shelly_pending.pop_front();
                    }
                    self.shelly_pending.push_back((prefix.into(), status));
                    return None;
                }
            }
        }
        self.shelly_pending.retain(|(p, _)| **p != *prefix);
        self.shelly.insert(prefix.into());
        Some(Learned::ShellyPrefix(prefix.into()))
    }

    /// One piece of a bridge's evidence; the base once both are seen.
    fn bridge_evidence(
        &mut self,
        config: &ConventionsConfig,
        base: &str,
        shown: Evidence,
        payload: &[u8],
    ) -> Option<Learned> {
        if self.zigbee2mqtt_bases(config).any(|b| b == base) || self.zigbee2mqtt.len() >= MAX_ROOTS
        {
            return None;
        }
        let at = match self.pending.iter().position(|p| *p.base == *base) {
            Some(at) => at,
            None => {
                if self.pending.len() >= MAX_PENDING_BASES {
                    self.pending.pop_front();
                }
                self.pending.push_back(Pending {
                    base: base.into(),
                    state: false,
                    described: false,
                    devices: None,
                });
                self.pending.len() - 1
            }
        };
        let p = &mut self.pending[at];
        match shown {
            Evidence::State => p.state = true,
            Evidence::Info => p.described = true,
            Evidence::Devices => {
                p.described = true;
                if payload.len() <= MAX_HELD_LIST {
                    p.devices = Some(payload.to_vec());
                }
            }
        }
        if !(p.state && p.described) {
            return None;
        }
        let p = self.pending.remove(at)?;
        self.zigbee2mqtt.push(p.base.clone());
        self.zigbee2mqtt.sort_by_key(|b| std::cmp::Reverse(b.len()));
        Some(Learned::Zigbee2MqttBase {
            base: p.base,
            // The list that completes the evidence is applied as it is routed.
            devices: p.devices.filter(|_| shown != Evidence::Devices),
        })
    }
}

/// The root of a topic that announces a Homie device, checked against its payload so a
/// stray `$homie` level is not enough.
fn homie_root<'t>(topic: &'t str, payload: &[u8]) -> Option<&'t str> {
    let (rest, attribute) = topic.rsplit_once('/')?;
    let (root, device) = rest.rsplit_once('/')?;
    if device.is_empty() || device.starts_with('$') || root.is_empty() || root.contains('$') {
        return None;
    }
    match attribute {
        // `3.0.1`, `4.0.0`: the convention's version.
        "$homie" => payload
            .first()
            .is_some_and(u8::is_ascii_digit)
            .then_some(root),
        "$description" => {
            let root = root.strip_suffix("/5")?;
            #[derive(serde::Deserialize)]
            struct Version {
                homie: String,
            }
            let v: Version = serde_json::from_slice(payload).ok()?;
            (v.homie.starts_with('5') && !root.is_empty()).then_some(root)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learn(l: &mut Layouts, topic: &str, payload: &[u8]) -> Option<Box<str>> {
        match l.learn(&ConventionsConfig::default(), topic, payload)? {
            Learned::HomieRoot(r)
            | Learned::TasmotaStem(r)
            | Learned::HomeAssistantPrefix(r)
            | Learned::ShellyPrefix(r)
            | Learned::EspHomeNode(r)
            | Learned::Zigbee2MqttBase { base: r, .. } => Some(r),
        }
    }

    #[test]
    fn a_homie_root_is_learned_from_the_announcement_alone() {
        let mut l = Layouts::default();
        assert_eq!(
            learn(&mut l, "devices/lamp/$homie", b"4.0.0").as_deref(),
            Some("devices")
        );
        assert_eq!(learn(&mut l, "devices/fan/$homie", b"4.0.0"), None, "known");
        assert_eq!(
            learn(
                &mut l,
                "site/a/5/bulb/$description",
                br#"{"homie":"5.0","nodes":{}}"#
            )
            .as_deref(),
            Some("site/a")
        );
        assert_eq!(
            l.homie_roots().collect::<Vec<_>>(),
            ["devices", "site/a", "homie"]
        );
        for (topic, payload) in [
            ("x/lamp/$homie", &b"yes"[..]),
            ("lamp/$homie", b"4.0.0"),
            ("x/$y/lamp/$homie", b"4.0.0"),
            ("x/5/bulb/$description", br#"{"homie":"4.0"}"#),
            ("x/5/bulb/$description", b"\xff{"),
            ("x/lamp/$state", b"ready"),
        ] {
            assert_eq!(learn(&mut l, topic, payload), None, "{topic}");
        }
    }

    #[test]
    fn roots_are_bounded() {
        let mut l = Layouts::default();
        for i in 0..2 * MAX_ROOTS {
            learn(&mut l, &format!("r{i}/d/$homie"), b"4.0.0");
        }
        assert_eq!(l.homie_roots().count(), MAX_ROOTS);
    }

    #[test]
    fn a_zigbee2mqtt_base_needs_the_state_and_a_description() {
        let c = ConventionsConfig::default();
        let info = br#"{"version":"2.1.3","coordinator":{}}"#;
        let mut l = Layouts::default();
        assert_eq!(l.learn(&c, "lab/bridge/state", b"online"), None);
        assert_eq!(
            l.learn(&c, "lab/bridge/state", b"online"),
            None,
            "twice is once"
        );
        assert_eq!(
            l.learn(&c, "zigbee2mqtt/bridge/info", info),
            None,
            "configured"
        );
        assert_eq!(l.learn(&c, "z/bridge/info", info), None);
        assert_eq!(
            l.learn(&c, "z/bridge/state", b"offline"),
            Some(Learned::Zigbee2MqttBase {
                base: "z".into(),
                devices: None
            })
        );
        assert_eq!(
            l.zigbee2mqtt_bases(&c).collect::<Vec<_>>(),
            ["z", "zigbee2mqtt"]
        );
        assert_eq!(l.learn(&c, "z/bridge/info", info), None, "known");
        // Half-seen bases are bounded: the oldest is forgotten.
        for i in 0..MAX_PENDING_BASES {
            l.learn(&c, &format!("p{i}/bridge/state"), b"online");
        }
        assert_eq!(
            l.learn(&c, "lab/bridge/info", info),
            None,
            "lab was forgotten"
        );
    }

    #[test]
    fn what_was_learned_is_described_beyond_the_defaults() {
        let c = ConventionsConfig::default();
        let mut l = Layouts::default();
        assert!(l.describe().is_empty());
        l.learn(&c, "site/homie/lamp/$homie", b"4.0.0");
        l.learn(&c, "a/tele/b/LWT", b"Online");
        l.learn(&c, "tele/plug/LWT", b"Online");
        l.learn(&c, "garden/status", b"online");
        l.learn(&c, "garden/sensor/t/state", b"21");
        assert_eq!(
            l.describe(),
            [
                "Homie root site/homie",
                "Tasmota FullTopic other than %prefix%/%topic%/: 1 device(s), e.g. a/%prefix%/b",
                "ESPHome node (native MQTT, no discovery): 1 device(s), e.g. garden"
            ]
        );
    }
}

#[cfg(test)]
#[path = "layout_pinned_tests.rs"]
mod pinned_tests;
