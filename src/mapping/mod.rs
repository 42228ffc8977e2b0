//! From a topic to a device: which fleet a topic belongs to, which device, which labels.
//!
//! Classification runs once per distinct topic; the fleet state caches the answer, so the
//! per-message path is one hash lookup.

pub mod filter;
pub mod template;

use crate::config::{Config, ConfigError, FleetConfig, MetricDecl, PayloadFormat};
use crate::conventions::Convention;
use std::time::Duration;
use template::TopicTemplate;

/// Index of a fleet in configuration order.
pub type FleetIdx = u16;

/// A fleet compiled for matching.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub name: String,
    pub template: TopicTemplate,
    pub format: PayloadFormat,
    /// `format = "protobuf"`: the message type its payloads are, compiled from its
    /// `proto_file` at start.
    pub proto: Option<prost_reflect::MessageDescriptor>,
    pub expected_interval: Option<Duration>,
    pub broker: Option<String>,
    pub qos: u8,
    pub table: Vec<String>,
    pub metrics: Vec<MetricDecl>,
    pub availability: Vec<Availability>,
    /// Set for the fleet of devices a convention found: such fleets match no topic by
    /// template (the convention decoder claims them) and subscribe to nothing.
    pub convention: Option<Convention>,
}

/// A compiled availability topic.
#[derive(Debug, Clone)]
pub struct Availability {
    pub template: TopicTemplate,
    pub online: String,
    pub offline: String,
}

impl Fleet {
    pub fn metric_decl(&self, name: &str) -> Option<&MetricDecl> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The subscription filters of its telemetry and availability topics.
    pub fn filters(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.template.filter())
            .chain(self.availability.iter().map(|a| a.template.filter()))
    }
}

/// What a topic is, as far as the configured fleets can tell.
#[derive(Debug, Clone, PartialEq)]
pub enum Classified {
    Telemetry {
        fleet: FleetIdx,
        device: String,
        labels: Vec<(String, String)>,
        metric: Option<String>,
    },
    /// Availability of one device, or of every device whose labels match `group`.
    Availability {
        fleet: FleetIdx,
        rule: u16,
        target: AvailabilityTarget,
    },
    Unmapped,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AvailabilityTarget {
    Device {
        device: String,
        labels: Vec<(String, String)>,
    },
    Group(Vec<(String, String)>),
}

/// The names of the fleets a [`Mapper`] built from `configs` has, indexed by [`FleetIdx`]:
/// the configured fleets, then one per device convention.
pub fn fleet_names(configs: &[FleetConfig]) -> Vec<&str> {
    configs
        .iter()
        .map(|f| f.name.as_str())
        .chain(Convention::ALL.iter().map(|c| c.name()))
        .collect()
}

/// All configured fleets, in priority order, then the conventions' fleets.
#[derive(Debug, Clone)]
pub struct Mapper {
    pub fleets: Vec<Fleet>,
}

/// No configured fleet: the conventions' fleets alone.
impl Default for Mapper {
    fn default() -> Mapper {
        Mapper {
            fleets: Convention::ALL.into_iter().map(convention_fleet).collect(),
        }
    }
}

/// The fleet of a convention's devices: it matches no topic by template (the convention's
/// decoder claims them) and subscribes to nothing.
fn convention_fleet(convention: Convention) -> Fleet {
    Fleet {
        name: convention.name().into(),
        template: TopicTemplate::device_only(),
        // The generic fallback claims JSON objects only; its devices' topics are read as
        // JSON, through the same payload shapes as a configured JSON fleet's.
        format: if convention == Convention::Generic {
            PayloadFormat::Json
        } else {
            PayloadFormat::Auto
        },
        proto: None,
        expected_interval: Some(convention.expected_interval()),
        broker: None,
        qos: 0,
        table: Vec::new(),
        metrics: Vec::new(),
        availability: Vec::new(),
        convention: Some(convention),
    }
}

impl Mapper {
    /// The config's fleets, compiled; a bad topic template, a fleet named like a device
    /// convention or a protobuf fleet whose `.proto` does not compile is an error at
    /// file:line:column.
    pub fn from_config(config: &Config) -> Result<Mapper, ConfigError> {
        let err = |span: std::ops::Range<usize>, msg: String| {
            ConfigError(format!("{}: {msg}", config.origin.locate(span)))
        };
        let base = config
            .origin
            .path
            .as_deref()
            .and_then(std::path::Path::parent);
        let mut protos = Vec::with_capacity(config.fleets.len());
        for f in &config.fleets {
            protos.push(
                proto_of(f, base)
                    .map_err(|(span, msg)| err(span.unwrap_or_else(|| f.topic.span()), msg))?,
            );
            if Convention::ALL.iter().any(|c| c.name() == f.name) {
                return Err(err(
                    f.topic.span(),
                    format!(
                        "fleet name `{}` is taken by the device convention of that name (its \
                         devices' fleet); pick another name",
                        f.name
                    ),
                ));
            }
            TopicTemplate::parse(f.topic.get_ref())
                .and_then(|t| t.require_device())
                .map_err(|e| err(f.topic.span(), format!("fleet `{}` topic: {e}", f.name)))?;
            for a in &f.availability {
                TopicTemplate::parse(a.topic.get_ref()).map_err(|e| {
                    err(
                        a.topic.span(),
                        format!("fleet `{}` availability topic: {e}", f.name),
                    )
                })?;
            }
        }
        Mapper::build(&config.fleets, protos)
            .map_err(|e| ConfigError(format!("{}: {e}", config.origin.name())))
    }

    /// Compiles fleets (`proto_file`s relative to the working directory);
    /// [`Mapper::from_config`] checks them with locations.
    pub fn new(configs: &[FleetConfig]) -> Result<Mapper, String> {
        let protos = configs
            .iter()
            .map(|f| proto_of(f, None).map_err(|(_, e)| format!("fleet `{}`: {e}", f.name)))
            .collect::<Result<Vec<_>, String>>()?;
        Mapper::build(configs, protos)
    }

    fn build(
        configs: &[FleetConfig],
        protos: Vec<Option<prost_reflect::MessageDescriptor>>,
    ) -> Result<Mapper, String> {
        let mut fleets = Vec::with_capacity(configs.len());
        for (f, proto) in configs.iter().zip(protos) {
            let template = TopicTemplate::parse(f.topic.get_ref())?.require_device()?;
            let availability = f
                .availability
                .iter()
                .map(|a| {
                    Ok(Availability {
                        template: TopicTemplate::parse(a.topic.get_ref())?,
                        online: a.online.clone(),
                        offline: a.offline.clone(),
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            fleets.push(Fleet {
                name: f.name.clone(),
                template,
                format: f.format,
                proto,
                expected_interval: f.expected_interval,
                broker: f.broker.clone(),
                qos: f.qos,
                table: f.table.clone(),
                metrics: f.metrics.clone(),
                availability,
                convention: None,
            });
        }
        // Every convention's fleet follows the configured ones, in a fixed order, whether
        // or not its devices ever show up: alert rules compiled from the config refer to
        // fleets by these indices (see [`fleet_names`]).
        fleets.extend(Convention::ALL.into_iter().map(convention_fleet));
        if fleets.len() > usize::from(FleetIdx::MAX) {
            return Err("too many fleets".into());
        }
        Ok(Mapper { fleets })
    }

    /// True when at least one `[[fleet]]` is configured.
    pub fn has_configured_fleets(&self) -> bool {
        self.fleets.iter().any(|f| f.convention.is_none())
    }

    /// The fleet of `convention`'s devices.
    pub fn convention_fleet(&self, convention: Convention) -> Option<FleetIdx> {
        self.fleets
            .iter()
            .position(|f| f.convention == Some(convention))
            .map(|i| i as FleetIdx)
    }

    /// Subscription filters (with QoS) the fleets need on a broker.
    pub fn filters_for(&self, broker: &str) -> Vec<(String, u8)> {
        let mut out: Vec<(String, u8)> = Vec::new();
        for f in self.fleets.iter().filter(|f| f.serves(broker)) {
            for filter in f.filters() {
                match out.iter_mut().find(|(x, _)| *x == filter) {
                    Some((_, q)) => *q = (*q).max(f.qos),
                    None => out.push((filter, f.qos)),
                }
            }
        }
        out
    }

    /// Classifies a topic received from the broker named `broker`.
    pub fn classify(&self, broker: &str, topic: &str) -> Classified {
        for (i, f) in self.fleets.iter().enumerate() {
            if !f.serves(broker) {
                continue;
            }
            let fleet = i as FleetIdx;
            for (rule, a) in f.availability.iter().enumerate() {
                if let Some(caps) = a.template.captures(topic) {
                    let (device, labels) = split_captures(caps);
                    let target = match device {
                        Some(device) => AvailabilityTarget::Device { device, labels },
                        None => AvailabilityTarget::Group(labels),
                    };
                    return Classified::Availability {
                        fleet,
                        rule: rule as u16,
                        target,
                    };
                }
            }
            if let Some(caps) = f.template.captures(topic) {
                let metric = caps
                    .iter()
                    .find(|(k, _)| *k == "metric")
                    .map(|(_, v)| v.to_string());
                let (device, labels) = split_captures(caps);
                if let Some(device) = device {
                    return Classified::Telemetry {
                        fleet,
                        device,
                        labels,
                        metric,
                    };
                }
            }
        }
        Classified::Unmapped
    }
}

/// A protobuf fleet's message type, compiled from its `.proto` (relative to `base`, the
/// config file's folder); an error says where in the config (`None`: the fleet's topic).
fn proto_of(
    f: &FleetConfig,
    base: Option<&std::path::Path>,
) -> Result<Option<prost_reflect::MessageDescriptor>, (Option<std::ops::Range<usize>>, String)> {
    let name = &f.name;
    match (f.format, &f.proto_file, &f.message) {
        (PayloadFormat::Protobuf, Some(file), Some(message)) => {
            let path = base.map_or_else(|| file.get_ref().clone(), |b| b.join(file.get_ref()));
            crate::decode::protobuf::compile(&path, message.get_ref())
                .map(Some)
                .map_err(|e| (Some(file.span()), format!("fleet `{name}` proto_file: {e}")))
        }
        (PayloadFormat::Protobuf, file, _) => Err((
            file.as_ref().map(|f| f.span()),
            format!(
                "fleet `{name}` has format = \"protobuf\" but no {}: add proto_file = \
                 \"path/to/file.proto\" and message = \"package.Message\"",
                if file.is_none() {
                    "proto_file"
                } else {
                    "message"
                }
            ),
        )),
        (_, Some(file), _) => Err((
            Some(file.span()),
            format!(
                "fleet `{name}` has a proto_file but its format is not \"protobuf\": add format = \"protobuf\" or remove proto_file"
            ),
        )),
        (_, None, Some(message)) => Err((
            Some(message.span()),
            format!(
                "fleet `{name}` has a message but its format is not \"protobuf\": add format = \"protobuf\" and a proto_file, or remove message"
            ),
        )),
        (_, None, None) => Ok(None),
    }
}

impl Fleet {
    fn serves(&self, broker: &str) -> bool {
        self.convention.is_none() && self.broker.as_deref().is_none_or(|b| b == broker)
    }
}

fn split_captures(caps: template::Captures<'_>) -> (Option<String>, Vec<(String, String)>) {
    let mut device = None;
    let mut labels = Vec::new();
    for (k, v) in caps {
        match k {
            "device" => device = Some(v.to_string()),
            "metric" => {}
            _ => labels.push((k.to_string(), v.to_string())),
        }
    }
    (device, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn mapper(toml: &str) -> Mapper {
        Mapper::new(&Config::parse(toml, None).unwrap().fleets).unwrap()
    }

    #[test]
    fn bad_template_points_at_its_line() {
        let text = "[[fleet]]\nname = \"x\"\ntopic = \"a/b\"\n";
        let config = Config::parse(text, Some(Path::new("f.toml"))).unwrap();
        let e = Mapper::from_config(&config).unwrap_err().0;
        assert!(e.starts_with("f.toml:3:"), "{e}");
        assert!(e.contains("{device}"), "{e}");
    }

    #[test]
    fn protobuf_fleets_compile_their_proto_with_errors_at_file_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("m.proto"),
            "syntax = \"proto3\";\npackage p;\nmessage M { double t = 1; }\n",
        )
        .unwrap();
        let config_path = dir.path().join("fleetop.toml");
        let parse = |text: &str| {
            let config = Config::parse(text, Some(&config_path)).unwrap();
            Mapper::from_config(&config).map_err(|e| e.0)
        };
        let fleet = "[[fleet]]\nname = \"m\"\ntopic = \"m/{device}\"\nformat = \"protobuf\"\n";
        let ok = parse(&format!(
            "{fleet}proto_file = \"m.proto\"\nmessage = \"p.M\"\n"
        ))
        .unwrap();
        assert_eq!(
            ok.fleets[0].proto.as_ref().map(|m| m.full_name()),
            Some("p.M")
        );

        let e = parse(&format!(
            "{fleet}proto_file = \"m.proto\"\nmessage = \"p.X\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("fleetop.toml:5:") && e.contains("p.M"), "{e}");
        let e = parse(&format!(
            "{fleet}proto_file = \"gone.proto\"\nmessage = \"p.M\"\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("fleetop.toml:5:") && e.contains("gone.proto"),
            "{e}"
        );
        let e = parse(fleet).unwrap_err();
        assert!(
            e.contains("fleetop.toml:3:") && e.contains("add proto_file"),
            "{e}"
        );
        let e = parse("[[fleet]]\nname = \"m\"\ntopic = \"m/{device}\"\nmessage = \"p.M\"\n")
            .unwrap_err();
        assert!(
            e.contains("fleetop.toml:4:") && e.contains("not \"protobuf\""),
            "{e}"
        );
    }

    #[test]
    fn a_fleet_may_not_take_a_conventions_name() {
        let text = "[[fleet]]\nname = \"tasmota\"\ntopic = \"tele/{device}/SENSOR\"\n";
        let config = Config::parse(text, Some(Path::new("f.toml"))).unwrap();
        let e = Mapper::from_config(&config).unwrap_err().0;
        assert!(e.starts_with("f.toml:3:"), "{e}");
        assert!(e.contains("device convention"), "{e}");
    }

    const POLES: &str = r#"
[[fleet]]
name = "poles"
topic = "{site}/poles/{device}/{metric}"
[[fleet.availability]]
topic = "{site}/gateways/{gateway}/status"
[[fleet.availability]]
topic = "{site}/poles/{device}/status"
"#;

    #[test]
    fn fleet_names_follow_the_mappers_indices() {
        let config = Config::parse(POLES, None).unwrap();
        let m = Mapper::new(&config.fleets).unwrap();
        let names: Vec<&str> = m.fleets.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, fleet_names(&config.fleets));
        assert_eq!(names[0], "poles");
        let tasmota = m.convention_fleet(Convention::Tasmota).unwrap();
        assert_eq!(names[tasmota as usize], "tasmota");
        assert!(m.has_configured_fleets());
        assert!(!Mapper::new(&[]).unwrap().has_configured_fleets());
    }

    #[test]
    fn telemetry_captures_device_labels_and_metric() {
        let m = mapper(POLES);
        assert_eq!(
            m.classify("any", "north/poles/pole-017/pm25"),
            Classified::Telemetry {
                fleet: 0,
                device: "pole-017".into(),
                labels: vec![("site".into(), "north".into())],
                metric: Some("pm25".into()),
            }
        );
        assert_eq!(m.classify("any", "north/other/x"), Classified::Unmapped);
    }

    #[test]
    fn availability_wins_over_a_telemetry_template_that_also_matches() {
        let m = mapper(POLES);
        match m.classify("any", "north/poles/pole-017/status") {
            Classified::Availability {
                rule: 1,
                target: AvailabilityTarget::Device { device, .. },
                ..
            } => {
                assert_eq!(device, "pole-017")
            }
            other => panic!("{other:?}"),
        }
        match m.classify("any", "north/gateways/gw-1/status") {
            Classified::Availability {
                target: AvailabilityTarget::Group(labels),
                ..
            } => {
                assert_eq!(
                    labels,
                    vec![
                        ("site".into(), "north".into()),
                        ("gateway".into(), "gw-1".into())
                    ]
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn filters_merge_and_respect_broker_restriction() {
        let m = mapper(
            "[[broker]]\nname=\"a\"\nurl=\"mqtt://h\"\n[[broker]]\nname=\"b\"\nurl=\"mqtt://h\"\n\
             [[fleet]]\nname=\"x\"\ntopic=\"x/{device}\"\nbroker=\"a\"\nqos=1\n\
             [[fleet]]\nname=\"y\"\ntopic=\"x/{device}\"\n",
        );
        assert_eq!(m.filters_for("a"), vec![("x/+".to_string(), 1)]);
        assert_eq!(m.filters_for("b"), vec![("x/+".to_string(), 0)]);
        assert!(matches!(
            m.classify("b", "x/d"),
            Classified::Telemetry { fleet: 1, .. }
        ));
    }
}
