//! Tasmota: `tele/<dev>/LWT` (`Online`/`Offline`), `tele/<dev>/SENSOR` and `STATE` (JSON,
//! nested: `ENERGY.Power`), `stat/<dev>/RESULT` (JSON) and `stat/<dev>/POWER` (plain).
//! Commands are `cmnd/<dev>/<Command>` with the reply in `stat/<dev>/RESULT`.

use super::{CommandDescriptor, CommandKind, Event, Output, online_word, quote};

/// Keys of a state or result payload that are also commands of the same name.
const SETTABLE: &[&str] = &[
    "POWER", "POWER1", "POWER2", "POWER3", "POWER4", "Dimmer", "CT", "Color", "HSBColor",
];

/// `tele/<dev>/<kind>` or `stat/<dev>/<kind>`.
pub fn claims(topic: &str) -> bool {
    let mut levels = topic.split('/');
    matches!(levels.next(), Some("tele" | "stat"))
        && levels.next().is_some_and(|d| !d.is_empty())
        && levels.next().is_some_and(|k| !k.is_empty())
        && levels.next().is_none()
}

pub fn decode(topic: &str, payload: &[u8], out: &mut Output) {
    let mut levels = topic.split('/');
    let (Some(prefix), Some(device), Some(kind)) = (levels.next(), levels.next(), levels.next())
    else {
        return;
    };
    out.device.push_str(device);
    if prefix == "tele" && kind == "LWT" {
        match online_word(payload) {
            Some(online) => out.events.push(Event::Online(online)),
            None => out.events.push(Event::Error(format!(
                "LWT payload `{}` is neither Online nor Offline",
                quote(payload)
            ))),
        }
        return;
    }
    if payload.trim_ascii_start().starts_with(b"{") {
        out.json(payload, "");
    } else {
        out.plain(payload, kind);
    }
    let settable: Vec<&str> = out
        .values
        .values()
        .map(|(name, _)| name)
        .filter(|name| SETTABLE.contains(name))
        .collect();
    for name in settable {
        out.events.push(Event::Command(CommandDescriptor {
            name: name.into(),
            topic: format!("cmnd/{device}/{name}").into(),
            kind: CommandKind::Text { datatype: None },
        }));
    }
}

/// The unit Tasmota's firmware fixes for a field it names: the energy monitor's
/// `ENERGY.*` (`ENERGY.Power` is W on every build, `ENERGY.Power.1` its second channel),
/// and sensor readings whose unit the payload declares beside them (`TempUnit: "C"` for
/// every `<sensor>.Temperature` at that level or below). `text` reads another metric of
/// the same device as text.
pub fn unit<'a>(metric: &str, text: &dyn Fn(&str) -> Option<&'a str>) -> Option<&'static str> {
    let path = strip_channel(metric);
    let (parent, field) = path.rsplit_once('.').unwrap_or(("", path));
    if parent == "ENERGY" || parent.ends_with(".ENERGY") {
        return energy_unit(field);
    }
    let (declared, words): (&str, &[(&str, &'static str)]) = match field {
        "Temperature" | "DewPoint" => ("TempUnit", &[("C", "°C"), ("F", "°F")]),
        "Pressure" | "SeaPressure" => (
            "PressureUnit",
            &[("hPa", "hPa"), ("mmHg", "mmHg"), ("inHg", "inHg")],
        ),
        "Humidity" => return Some("%"),
        "Illuminance" => return Some("lx"),
        _ => return None,
    };
    // The nearest declaration among the field's ancestors wins.
    let mut scope = parent;
    loop {
        let name = if scope.is_empty() {
            declared.to_string()
        } else {
            format!("{scope}.{declared}")
        };
        if let Some(said) = text(&name) {
            return words.iter().find(|(w, _)| *w == said).map(|(_, u)| *u);
        }
        if scope.is_empty() {
            return None;
        }
        scope = scope.rsplit_once('.').map_or("", |(up, _)| up);
    }
}

/// `ENERGY` fields as the energy driver (xdrv_03) reports them.
fn energy_unit(field: &str) -> Option<&'static str> {
    Some(match field {
        "Total" | "Yesterday" | "Today" | "ExportActive" | "ImportActive" => "kWh",
        "ExportReactive" | "ImportReactive" => "kvarh",
        "Period" => "Wh",
        "Power" | "ActivePower" => "W",
        "ApparentPower" => "VA",
        "ReactivePower" => "var",
        "Voltage" => "V",
        "Current" => "A",
        "Frequency" => "Hz",
        "PhaseAngle" => "°",
        _ => return None,
    })
}

/// A multi-channel meter reports arrays (`"Power":[10,20]` is `ENERGY.Power.0`, `.1`): the
/// channel is not part of the field's name.
fn strip_channel(metric: &str) -> &str {
    match metric.rsplit_once('.') {
        Some((head, last)) if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => metric,
    }
}

/// Tasmota's `Time` is the device's local time without a zone: not a metric, not a
/// trustworthy sample time.
pub fn ignored(metric: &str) -> bool {
    metric == "Time"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conventions::testutil::{pairs, values};

    fn run(topic: &str, payload: &[u8]) -> Output {
        crate::conventions::testutil::run(claims, decode, topic, payload)
    }

    #[test]
    fn lwt_is_online_state() {
        let out = run("tele/plug0/LWT", b"Online");
        assert_eq!(out.device, "plug0");
        assert_eq!(out.events, [Event::Online(true)]);
        assert_eq!(
            run("tele/plug0/LWT", b"Offline").events,
            [Event::Online(false)]
        );
        assert!(matches!(
            run("tele/plug0/LWT", b"\x1b[2J").events[..],
            [Event::Error(_)]
        ));
    }

    #[test]
    fn sensor_json_is_nested_metrics() {
        let out = run(
            "tele/plug0/SENSOR",
            br#"{"Time":"2026-11-24T21:50:27","ENERGY":{"Power":40.5,"Voltage":231}}"#,
        );
        assert_eq!(
            values(&out),
            pairs(&[
                ("Time", "'2026-11-24T21:50:27'"),
                ("ENERGY.Power", "40.5"),
                ("ENERGY.Voltage", "231")
            ])
        );
        assert!(ignored("Time"));
    }

    #[test]
    fn the_firmware_fixes_energy_units_and_the_payload_declares_sensor_units() {
        let none = |_: &str| None;
        assert_eq!(unit("ENERGY.Power", &none), Some("W"));
        assert_eq!(unit("ENERGY.Power.1", &none), Some("W"));
        assert_eq!(unit("StatusSNS.ENERGY.Total", &none), Some("kWh"));
        assert_eq!(unit("ENERGY.ApparentPower", &none), Some("VA"));
        assert_eq!(unit("ENERGY.ReactivePower", &none), Some("var"));
        assert_eq!(unit("ENERGY.Voltage", &none), Some("V"));
        assert_eq!(unit("ENERGY.Current", &none), Some("A"));
        assert_eq!(unit("ENERGY.Factor", &none), None);
        assert_eq!(
            unit("Power", &none),
            None,
            "only the energy driver's fields"
        );
        assert_eq!(
            unit("AM2301.Temperature", &none),
            None,
            "no TempUnit, no guess"
        );
        let celsius = |n: &str| (n == "TempUnit").then_some("C");
        assert_eq!(unit("AM2301.Temperature", &celsius), Some("°C"));
        let nested = |n: &str| (n == "StatusSNS.TempUnit").then_some("F");
        assert_eq!(unit("StatusSNS.DS18B20.Temperature", &nested), Some("°F"));
        let odd = |_: &str| Some("K");
        assert_eq!(unit("AM2301.Temperature", &odd), None);
        assert_eq!(unit("AM2301.Humidity", &none), Some("%"));
    }

    #[test]
    fn results_and_plain_stat_topics_name_commands() {
        let out = run("stat/plug0/RESULT", br#"{"POWER":"ON","Dimmer":40}"#);
        assert_eq!(values(&out), pairs(&[("POWER", "true"), ("Dimmer", "40")]));
        let names: Vec<_> = out
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Command(c) => Some((&*c.name, &*c.topic)),
                _ => None,
            })
            .collect();
        assert_eq!(
            names,
            [
                ("POWER", "cmnd/plug0/POWER"),
                ("Dimmer", "cmnd/plug0/Dimmer")
            ]
        );
        let out = run("stat/plug0/POWER", b"OFF");
        assert_eq!(values(&out), pairs(&[("POWER", "false")]));
    }

    #[test]
    fn other_topics_are_not_tasmota() {
        assert!(!claims("cmnd/plug0/POWER"));
        assert!(!claims("tele/plug0"));
        assert!(!claims("tele/plug0/SENSOR/x"));
        assert!(!claims("tele//SENSOR"));
    }

    #[test]
    fn malformed_json_is_an_error() {
        let out = run("tele/plug0/SENSOR", b"{\"ENERGY\":");
        assert!(matches!(out.events[..], [Event::Error(_)]));
        assert!(out.values.is_empty());
    }
}
