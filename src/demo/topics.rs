//! The demo's topic layout, in one place: the demo config prints these templates and the
//! simulator fills the same templates in, so the two cannot drift apart.
//!
//! ```text
//! P/tanks/{site}/{gateway}/{device}/telemetry   JSON      tank-north-003
//! P/tanks/{site}/{gateway}/{device}/status      online|offline (retained; the tank's LWT)
//! P/tanks/{site}/{gateway}/status               online|offline (retained; the cellular gateway's real LWT)
//! P/poles/{gateway}/{device}/{metric}           one value a topic: light, dim, pm2_5, pm10, no2, bay_occupied
//! P/poles/{gateway}/status                      online|offline (retained; the LoRaWAN gateway's real LWT)
//! P/weather/{site}/{device}/data                nested JSON, ~25 readings    wx-ridge-02
//! P/weather/{site}/{device}/status              online|offline (retained)
//! P/meters/{device}/reading                     JSON with ts, retained       meter-0042
//! P/vehicles/{device}/telemetry                 JSON                         van-07
//! P/vehicles/{device}/status                    online|offline (retained)
//! P/cmd/{fleet}/{device}                        commands (JSON), see `sim::commands`
//! P/cmd/{fleet}/{device}/reply                  replies for MQTT 3.1.1 requesters
//! ```
//!
//! Commands live under their own `P/cmd/` tree rather than under each device's telemetry
//! path: the poles' `{metric}` template would otherwise read a command as a metric.

use std::fmt;

/// The five demo fleets. Names are fixed: configs, scripts and the docs use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Tank,
    Pole,
    Weather,
    Meter,
    Vehicle,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Tank,
        Kind::Pole,
        Kind::Weather,
        Kind::Meter,
        Kind::Vehicle,
    ];

    /// The fleet name, as in `[[fleet]] name`.
    pub fn fleet(self) -> &'static str {
        match self {
            Kind::Tank => "tanks",
            Kind::Pole => "poles",
            Kind::Weather => "weather",
            Kind::Meter => "meters",
            Kind::Vehicle => "vehicles",
        }
    }

    pub fn from_fleet(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.fleet() == name)
    }

    /// Telemetry topic template, without the prefix.
    fn telemetry(self) -> &'static str {
        match self {
            Kind::Tank => "tanks/{site}/{gateway}/{device}/telemetry",
            Kind::Pole => "poles/{gateway}/{device}/{metric}",
            Kind::Weather => "weather/{site}/{device}/data",
            Kind::Meter => "meters/{device}/reading",
            Kind::Vehicle => "vehicles/{device}/telemetry",
        }
    }

    /// The device's own availability (LWT) template, if the fleet has one.
    fn device_status(self) -> Option<&'static str> {
        match self {
            Kind::Tank => Some("tanks/{site}/{gateway}/{device}/status"),
            Kind::Weather => Some("weather/{site}/{device}/status"),
            Kind::Vehicle => Some("vehicles/{device}/status"),
            // LoRaWAN poles have no connection of their own (their gateway does), and M2M
            // meters sleep between reports: staleness by expected_interval covers them.
            Kind::Pole | Kind::Meter => None,
        }
    }

    /// The gateway's availability template, for fleets behind gateways.
    fn gateway_status(self) -> Option<&'static str> {
        match self {
            Kind::Tank => Some("tanks/{site}/{gateway}/status"),
            Kind::Pole => Some("poles/{gateway}/status"),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.fleet())
    }
}

/// Availability payloads, as the config declares them.
pub const ONLINE: &str = "online";
pub const OFFLINE: &str = "offline";

/// `P/<template>`: a template for the config.
pub fn telemetry_template(prefix: &str, kind: Kind) -> String {
    format!("{prefix}/{}", kind.telemetry())
}

pub fn device_status_template(prefix: &str, kind: Kind) -> Option<String> {
    kind.device_status().map(|t| format!("{prefix}/{t}"))
}

pub fn gateway_status_template(prefix: &str, kind: Kind) -> Option<String> {
    kind.gateway_status().map(|t| format!("{prefix}/{t}"))
}

/// Where commands to one device go.
pub fn command_topic(prefix: &str, kind: Kind, device: &str) -> String {
    format!("{prefix}/cmd/{}/{device}", kind.fleet())
}

/// The filter the simulator subscribes to: every command topic, and not the replies.
pub fn command_filter(prefix: &str) -> String {
    format!("{prefix}/cmd/+/+")
}

/// Where a reply goes when the request carried no MQTT 5 response topic.
pub fn reply_topic(command_topic: &str) -> String {
    format!("{command_topic}/reply")
}

/// Splits a command topic into (fleet kind, device id).
pub fn parse_command_topic<'t>(prefix: &str, topic: &'t str) -> Option<(Kind, &'t str)> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix("/cmd/")?;
    let (fleet, device) = rest.split_once('/')?;
    if device.is_empty() || device.contains('/') {
        return None;
    }
    Some((Kind::from_fleet(fleet)?, device))
}

/// Concrete topics for one device or gateway.
#[derive(Debug, Clone, Default)]
pub struct Vars<'a> {
    pub site: Option<&'a str>,
    pub gateway: Option<&'a str>,
    pub device: Option<&'a str>,
    pub metric: Option<&'a str>,
}

/// Fills `{name}` levels; a missing value is a bug in the simulator's layout, so it panics.
fn fill(template: &str, v: &Vars<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    for (i, level) in template.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let value = match level {
            "{site}" => v.site,
            "{gateway}" => v.gateway,
            "{device}" => v.device,
            "{metric}" => v.metric,
            literal => Some(literal),
        };
        match value {
            Some(s) => out.push_str(s),
            None => panic!("demo topic layout: no value for {level} in {template}"),
        }
    }
    out
}

pub fn telemetry_topic(prefix: &str, kind: Kind, v: &Vars<'_>) -> String {
    fill(&telemetry_template(prefix, kind), v)
}

pub fn device_status_topic(prefix: &str, kind: Kind, v: &Vars<'_>) -> Option<String> {
    device_status_template(prefix, kind).map(|t| fill(&t, v))
}

pub fn gateway_status_topic(prefix: &str, kind: Kind, v: &Vars<'_>) -> Option<String> {
    gateway_status_template(prefix, kind).map(|t| fill(&t, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_templates_and_parses_command_topics() {
        let v = Vars {
            site: Some("north"),
            gateway: Some("cgw-north"),
            device: Some("tank-north-003"),
            metric: None,
        };
        assert_eq!(
            telemetry_topic("p/q", Kind::Tank, &v),
            "p/q/tanks/north/cgw-north/tank-north-003/telemetry"
        );
        assert_eq!(
            gateway_status_topic("p", Kind::Tank, &v).unwrap(),
            "p/tanks/north/cgw-north/status"
        );
        let c = command_topic("p/q", Kind::Pole, "pole-017");
        assert_eq!(c, "p/q/cmd/poles/pole-017");
        assert_eq!(
            parse_command_topic("p/q", &c),
            Some((Kind::Pole, "pole-017"))
        );
        assert_eq!(parse_command_topic("p/q", &reply_topic(&c)), None);
        assert_eq!(parse_command_topic("p/q", "p/q/cmd/boats/b-1"), None);
    }
}
