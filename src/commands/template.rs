//! Command templates: `{name}` placeholders in topics, payloads and `expect`, filled from
//! the device (its name, fleet and labels), the request id and the checked parameters.

use super::params::{ParamSpec, ParamValue};
use super::placeholders::Placeholders;
use crate::config::commands::CommandConfig;
use crate::config::{Config, ConfigError, Origin};
use crate::expr::Expr;
use std::time::Duration;

/// How long a command may take unless its template says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest payload fleetop publishes.
const MAX_PAYLOAD: usize = 64 * 1024;

/// How a command's payload is built.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// Sent as text after filling in placeholders.
    Text(Placeholders),
    /// A TOML table or array sent as JSON; a string that is exactly `"{param}"` takes the
    /// parameter's type, other strings have placeholders filled in (and JSON-escaped).
    Json(toml::Value),
    /// A device convention's own encoding of the `value` parameter, what it accepts and
    /// how the device confirms it.
    Convention(crate::conventions::CommandDescriptor),
}

/// How the result of a command is known, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplySpec {
    pub response: bool,
    pub topic: Option<Placeholders>,
    pub id_field: String,
    pub ok_field: String,
    pub error_field: String,
}

/// One compiled `[[command]]`.
#[derive(Debug, Clone)]
pub struct CommandTemplate {
    pub name: String,
    /// The fleet (by name) whose devices take it; `None`: every fleet.
    pub fleet: Option<String>,
    pub description: String,
    pub topic: Placeholders,
    pub payload: Payload,
    pub params: Vec<ParamSpec>,
    pub qos: u8,
    pub retain: bool,
    pub dangerous: bool,
    pub timeout: Duration,
    pub reply: ReplySpec,
    pub expect: Option<Placeholders>,
}

/// The device a command is for, as far as templates are concerned.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub device: &'a str,
    pub fleet: &'a str,
    pub labels: &'a [(Box<str>, Box<str>)],
    /// Now, epoch ms, for payloads that carry a timestamp (Sparkplug).
    pub now_ms: i64,
}

/// A command filled in for one device, ready to publish.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub command: String,
    pub device: String,
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    /// The request id, as `{id}` put it in the payload.
    pub tag: String,
    pub timeout: Duration,
    pub reply: Option<PreparedReply>,
    pub expect: Option<Expr>,
}

/// Reply settings with the reply topic filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedReply {
    pub response: bool,
    pub topic: Option<String>,
    pub id_field: String,
    pub ok_field: String,
    pub error_field: String,
}

impl CommandTemplate {
    /// Whether devices of `fleet` take this command.
    pub fn applies_to(&self, fleet: &str) -> bool {
        self.fleet.as_deref().is_none_or(|f| f == fleet)
    }

    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// `level=<int 0..100>`, for usage lines and the palette.
    pub fn usage(&self) -> String {
        let mut s = self.name.clone();
        for p in &self.params {
            match &p.default {
                Some(d) => s.push_str(&format!(" [{}={d}]", p.name)),
                None => s.push_str(&format!(" {}=<{}>", p.name, p.hint())),
            }
        }
        s
    }

    /// Checks `args` (`name=value` pairs as typed) and fills in every placeholder for
    /// `target`. Nothing here sends anything: an error means nothing is sent.
    pub fn prepare(
        &self,
        target: Target<'_>,
        args: &[(String, String)],
        tag: &str,
    ) -> Result<Prepared, String> {
        let values = self.check_args(args)?;
        let lookup = |name: &str, for_topic: bool| -> Result<String, String> {
            let v = match name {
                "device" => target.device.to_string(),
                "fleet" => target.fleet.to_string(),
                "id" => tag.to_string(),
                _ => match values.iter().find(|(n, _)| n == name) {
                    Some((_, v)) => v.to_string(),
                    None => target
                        .labels
                        .iter()
                        .find(|(k, _)| &**k == name)
                        .map(|(_, v)| v.to_string())
                        .ok_or_else(|| {
                            format!(
                                "command `{}` needs label `{name}`, which device {} does not have",
                                self.name, target.device
                            )
                        })?,
                },
            };
            if for_topic && (v.is_empty() || v.contains(['/', '+', '#', '\u{0}'])) {
                return Err(format!(
                    "`{v}` cannot go into the topic as {{{name}}}: it must be non-empty and without / + # or NUL"
                ));
            }
            Ok(v)
        };
        let topic = self.topic.render(|n| lookup(n, true))?;
        let payload = match &self.payload {
            Payload::Text(t) => t.render(|n| lookup(n, false))?.into_bytes(),
            Payload::Json(v) => {
                let json = to_json(v, &values, &|n| lookup(n, false))?;
                serde_json::to_vec(&json).map_err(|e| format!("cannot encode the payload: {e}"))?
            }
            Payload::Convention(c) => {
                let value = values
                    .iter()
                    .find(|(n, _)| n == "value")
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default();
                super::convention::payload(c, &value, tag, target.now_ms)?
            }
        };
        if payload.len() > MAX_PAYLOAD {
            return Err(format!(
                "payload of {} bytes is larger than {MAX_PAYLOAD}",
                payload.len()
            ));
        }
        let convention_reply = match &self.payload {
            Payload::Convention(c) => super::convention::reply_topic(&c.kind, tag),
            _ => None,
        };
        let reply =
            (self.reply.response || self.reply.topic.is_some() || convention_reply.is_some())
                .then(|| -> Result<PreparedReply, String> {
                    Ok(PreparedReply {
                        response: self.reply.response,
                        topic: match (&self.reply.topic, convention_reply) {
                            (Some(t), _) => Some(t.render(|n| lookup(n, true))?),
                            (None, answered_on) => answered_on,
                        },
                        id_field: self.reply.id_field.clone(),
                        ok_field: self.reply.ok_field.clone(),
                        error_field: self.reply.error_field.clone(),
                    })
                })
                .transpose()?;
        let expect = match (&self.expect, &self.payload) {
            (Some(e), _) => {
                let text = e.render(|n| lookup(n, false))?;
                Some(Expr::parse(&text).map_err(|err| {
                    format!(
                        "expect `{text}` of command `{}`: {}",
                        self.name, err.message
                    )
                })?)
            }
            // The device's own report of the value sent, where its convention has one.
            (None, Payload::Convention(c)) => super::convention::expectation(c, &values),
            (None, _) => None,
        };
        Ok(Prepared {
            command: self.name.clone(),
            device: target.device.to_string(),
            topic,
            payload,
            qos: self.qos,
            retain: self.retain,
            tag: tag.to_string(),
            timeout: self.timeout,
            reply,
            expect,
        })
    }

    /// Every parameter's value: typed, else its default; unknown or missing ones are errors.
    pub fn check_args(
        &self,
        args: &[(String, String)],
    ) -> Result<Vec<(String, ParamValue)>, String> {
        for (i, (name, _)) in args.iter().enumerate() {
            if self.param(name).is_none() {
                return Err(if self.params.is_empty() {
                    format!("command `{}` takes no parameters, got `{name}`", self.name)
                } else {
                    format!(
                        "command `{}` has no parameter `{name}`; usage: {}",
                        self.name,
                        self.usage()
                    )
                });
            }
            if args[..i].iter().any(|(n, _)| n == name) {
                return Err(format!("parameter `{name}` is given twice"));
            }
        }
        self.params
            .iter()
            .map(|p| {
                let v = match args.iter().find(|(n, _)| *n == p.name) {
                    Some((_, text)) => p.parse(text)?,
                    None => p.default.clone().ok_or_else(|| {
                        format!("command `{}` needs {}=<{}>", self.name, p.name, p.hint())
                    })?,
                };
                Ok((p.name.clone(), v))
            })
            .collect()
    }
}

/// Turns a TOML payload template into JSON, filling in placeholders.
fn to_json(
    v: &toml::Value,
    params: &[(String, ParamValue)],
    lookup: &dyn Fn(&str) -> Result<String, String>,
) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        toml::Value::String(s) => {
            let t = Placeholders::parse(s)?;
            match t
                .whole_var()
                .and_then(|n| params.iter().find(|(p, _)| p == n))
            {
                Some((_, value)) => value.to_json(),
                None => J::String(t.render(lookup)?),
            }
        }
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(
            a.iter()
                .map(|x| to_json(x, params, lookup))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, x)| Ok((k.clone(), to_json(x, params, lookup)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// What compiling a command needs to know about a fleet.
#[derive(Debug, Clone)]
pub struct FleetInfo {
    pub name: String,
    pub labels: Vec<String>,
}

/// Every `[[command]]`, compiled.
#[derive(Debug, Clone, Default)]
pub struct CommandSet {
    pub commands: Vec<CommandTemplate>,
}

impl CommandSet {
    /// The config's command templates, compiled against its fleets and their label names
    /// (errors at file:line:column).
    pub fn from_config(config: &Config) -> Result<CommandSet, ConfigError> {
        let fleets: Vec<FleetInfo> = config
            .fleets
            .iter()
            .map(|f| FleetInfo {
                name: f.name.clone(),
                labels: crate::mapping::template::TopicTemplate::parse(f.topic.get_ref())
                    .map(|t| {
                        t.vars()
                            .filter(|v| !["device", "metric"].contains(v))
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        CommandSet::compile(&config.commands, &fleets, &config.origin).map_err(ConfigError)
    }

    /// Compiles and checks every entry; an error names file, line and column.
    pub fn compile(
        configs: &[CommandConfig],
        fleets: &[FleetInfo],
        origin: &Origin,
    ) -> Result<CommandSet, String> {
        let mut commands: Vec<CommandTemplate> = Vec::new();
        for c in configs {
            let at = |span: std::ops::Range<usize>, msg: String| {
                format!("{}: {msg}", origin.locate(span))
            };
            let cmd = compile_one(c, fleets, origin)?;
            if commands.iter().any(|o| {
                o.name == cmd.name
                    && (o.fleet.is_none() || cmd.fleet.is_none() || o.fleet == cmd.fleet)
            }) {
                return Err(at(
                    c.name.span(),
                    format!("command `{}` is defined twice for the same fleet", cmd.name),
                ));
            }
            commands.push(cmd);
        }
        Ok(CommandSet { commands })
    }

    /// Commands devices of `fleet` take, in config order.
    pub fn for_fleet<'a>(
        &'a self,
        fleet: &'a str,
    ) -> impl Iterator<Item = &'a CommandTemplate> + 'a {
        self.commands.iter().filter(move |c| c.applies_to(fleet))
    }

    /// Every command a device takes: its fleet's, then those its convention announced
    /// (a configured command of the same name wins).
    pub fn for_device(
        &self,
        fleet: &str,
        facts: Option<&crate::conventions::DeviceFacts>,
    ) -> Vec<CommandTemplate> {
        let mut v: Vec<CommandTemplate> = self.for_fleet(fleet).cloned().collect();
        if let Some(f) = facts {
            for t in super::convention::templates(f) {
                if !v.iter().any(|c| c.name == t.name) {
                    v.push(t);
                }
            }
        }
        v
    }

    pub fn find(&self, name: &str, fleet: &str) -> Option<&CommandTemplate> {
        self.commands
            .iter()
            .find(|c| c.name == name && c.applies_to(fleet))
    }

    /// Filters for the reply topics, so replies reach fleetop.
    pub fn reply_filters(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .commands
            .iter()
            .filter_map(|c| c.reply.topic.as_ref().map(Placeholders::filter))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn any_response(&self) -> bool {
        self.commands.iter().any(|c| c.reply.response)
    }
}

fn compile_one(
    c: &CommandConfig,
    fleets: &[FleetInfo],
    origin: &Origin,
) -> Result<CommandTemplate, String> {
    let name = c.name.get_ref().clone();
    let at = |span: std::ops::Range<usize>, msg: String| format!("{}: {msg}", origin.locate(span));
    if name.is_empty()
        || name.len() > 64
        || name.chars().any(|ch| ch.is_control() || ch.is_whitespace())
    {
        return Err(at(
            c.name.span(),
            "command `name` must be 1 to 64 printable characters without spaces".into(),
        ));
    }
    let fleet = match &c.fleet {
        Some(f) => {
            let info = fleets
                .iter()
                .find(|i| i.name == *f.get_ref())
                .ok_or_else(|| {
                    at(
                        f.span(),
                        format!(
                            "command `{name}` names fleet `{}`, which no [[fleet]] defines",
                            f.get_ref()
                        ),
                    )
                })?;
            Some(info)
        }
        None => None,
    };
    let mut params = Vec::new();
    for p in &c.params {
        let spec = ParamSpec::compile(p)
            .map_err(|e| at(p.name.span(), format!("command `{name}`: {e}")))?;
        if ["device", "fleet", "id"].contains(&spec.name.as_str())
            || params.iter().any(|q: &ParamSpec| q.name == spec.name)
        {
            return Err(at(
                p.name.span(),
                format!("command `{name}`: parameter name `{}` is taken", spec.name),
            ));
        }
        params.push(spec);
    }
    if c.qos > 2 {
        return Err(at(
            c.name.span(),
            format!("command `{name}`: qos must be 0, 1 or 2"),
        ));
    }
    // Every placeholder must be something fleetop can fill in.
    let known = |n: &str| {
        ["device", "fleet", "id"].contains(&n)
            || params.iter().any(|p| p.name == n)
            || fleet.is_none_or(|f| f.labels.iter().any(|l| l == n))
    };
    let check = |text: &str,
                 span: std::ops::Range<usize>,
                 what: &str|
     -> Result<Placeholders, String> {
        let t = Placeholders::parse(text)
            .map_err(|e| at(span.clone(), format!("command `{name}` {what}: {e}")))?;
        if let Some(bad) = t.names().find(|n| !known(n)) {
            let labels = fleet.map(|f| f.labels.join(", ")).unwrap_or_default();
            return Err(at(
                span,
                format!(
                    "command `{name}` {what} names `{{{bad}}}`, which is not a parameter, a label of its fleet ({labels}), device, fleet or id"
                ),
            ));
        }
        Ok(t)
    };
    let topic = check(c.topic.get_ref(), c.topic.span(), "topic")?;
    if topic.filter().contains('#') || c.topic.get_ref().is_empty() {
        return Err(at(
            c.topic.span(),
            format!("command `{name}`: a topic to publish to must not be empty or contain #"),
        ));
    }
    let payload = match c.payload.get_ref() {
        toml::Value::String(s) => Payload::Text(check(s, c.payload.span(), "payload")?),
        v @ (toml::Value::Table(_) | toml::Value::Array(_)) => {
            check_strings(v, &mut |s| {
                check(s, c.payload.span(), "payload").map(|_| ())
            })?;
            Payload::Json(v.clone())
        }
        _ => {
            return Err(at(
                c.payload.span(),
                format!("command `{name}`: payload must be a string (text) or a table (JSON)"),
            ));
        }
    };
    let reply_topic = match &c.reply_topic {
        Some(t) => Some(check(t.get_ref(), t.span(), "reply_topic")?),
        None => None,
    };
    let expect = match &c.expect {
        Some(e) => {
            let t = check(e.get_ref(), e.span(), "expect")?;
            // Parse once with sample values so a bad expression fails at load.
            let sample = t.render(|_| Ok("0".into())).unwrap_or_default();
            Expr::parse(&sample).map_err(|err| {
                at(
                    e.span(),
                    format!("command `{name}` expect: {}", err.message),
                )
            })?;
            Some(t)
        }
        None => None,
    };
    if c.retain {
        tracing::warn!(command = %name, "command publishes retained: every later subscriber gets it");
    }
    Ok(CommandTemplate {
        name,
        fleet: fleet.map(|f| f.name.clone()),
        description: c.description.clone(),
        topic,
        payload,
        params,
        qos: c.qos,
        retain: c.retain,
        dangerous: c.dangerous,
        timeout: c.timeout.unwrap_or(DEFAULT_TIMEOUT),
        reply: ReplySpec {
            response: c.response,
            topic: reply_topic,
            id_field: c.reply_id.clone(),
            ok_field: c.reply_ok.clone(),
            error_field: c.reply_error.clone(),
        },
        expect,
    })
}

fn check_strings(
    v: &toml::Value,
    f: &mut dyn FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    match v {
        toml::Value::String(s) => f(s),
        toml::Value::Array(a) => a.iter().try_for_each(|x| check_strings(x, f)),
        toml::Value::Table(t) => t.values().try_for_each(|x| check_strings(x, f)),
        _ => Ok(()),
    }
}
