//! Devices found by device conventions: the decoders' answers applied to the fleet state.
//! A convention device belongs to the convention's fleet, keeps what the convention said
//! about it in [`Device::facts`], and goes offline with its gateway.

use super::apply::{has_control, note_arrival, record_error, sample_time, store_value};
use super::route::Route;
use super::{Device, FleetState, LastError};
use crate::conventions::homeassistant::{self as ha, Template};
use crate::conventions::sparkplug::{self as spb, Kind};
use crate::conventions::{self, CommandDescriptor, Convention, DeviceFacts, Event, MetricFacts};
use crate::decode::Value;
use crate::vocab::{ConnId, DeviceId, RawMessage};

/// Commands kept per device (metrics are capped by `[limits] max_metrics_per_device`).
const MAX_COMMANDS: usize = 64;
/// Characters kept of a device's own name, a unit or a datatype.
const MAX_NAME_CHARS: usize = 128;
const MAX_UNIT_CHARS: usize = 32;

/// A convention topic's device, resolved on its first message and cached in the route.
#[derive(Debug, Clone, Copy)]
pub(super) struct Resolved {
    device: DeviceId,
    topic: u16,
    /// Sparkplug: the edge node (the device itself for node and host messages).
    node: DeviceId,
}

impl FleetState {
    /// A metric's unit: what its device said (conventions), else its fleet's declaration.
    pub fn unit<'a>(&'a self, d: &'a Device, metric: &str) -> Option<&'a str> {
        d.facts
            .as_ref()
            .and_then(|f| f.metric(metric))
            .and_then(|m| m.unit.as_deref())
            .or_else(|| {
                self.mapper
                    .fleets
                    .get(d.fleet as usize)
                    .and_then(|f| f.metric_decl(metric))
                    .and_then(|m| m.unit.as_deref())
            })
    }

    /// The device a convention says this one reaches the broker through.
    pub fn gateway_of(&self, d: &Device) -> Option<&Device> {
        let id = d.facts.as_ref()?.gateway?;
        self.devices.get(id as usize)
    }

    pub(super) fn apply_convention(
        &mut self,
        msg: &RawMessage,
        convention: Convention,
        resolved: Option<Resolved>,
    ) {
        // Routes are only made for UTF-8 topics.
        let Ok(topic) = std::str::from_utf8(&msg.topic) else {
            return;
        };
        match convention {
            Convention::Sparkplug => return self.apply_sparkplug(msg, topic, resolved),
            Convention::HomeAssistant => return self.apply_homeassistant(msg, topic),
            _ => {}
        }
        let oversize = msg.payload.len() > self.limits.max_payload_bytes;
        let mut out = std::mem::take(&mut self.convention_out);
        let payload: &[u8] = if oversize { b"" } else { &msg.payload };
        conventions::decode(convention, &self.conventions, topic, payload, &mut out);
        let resolved = match resolved {
            Some(r) => Some(r),
            None if out.device.is_empty() => None,
            None => {
                let labels = out.labels.clone();
                self.resolve(msg, convention, &out.device.clone(), &labels, None)
            }
        };
        if let Some(r) = resolved {
            self.apply_output(msg, convention, r, &mut out, oversize);
        }
        self.convention_out = out;
    }

    fn apply_output(
        &mut self,
        msg: &RawMessage,
        convention: Convention,
        r: Resolved,
        out: &mut conventions::Output,
        oversize: bool,
    ) {
        let id = r.device;
        self.touched = Some(id);
        if !out.request {
            note_arrival(&mut self.devices[id as usize], msg, r.topic);
        }
        if oversize {
            self.payload_too_big(msg, id);
            return;
        }
        for event in out.events.drain(..) {
            self.convention_event(msg, convention, id, event);
        }
        let (history, max_metrics) = (self.limits.history, self.limits.max_metrics_per_device);
        let at = sample_time(out.values.timestamp_ms, msg.at_ms);
        let d = &mut self.devices[id as usize];
        let mut refused = 0u64;
        for (i, (name, value)) in out.values.values().enumerate() {
            if conventions::ignored(convention, name) {
                continue;
            }
            if !store_value(d, i, name, value, at, history, max_metrics) {
                refused += 1;
            }
        }
        self.refused_metrics(msg, id, refused);
        self.refresh_status(id);
    }

    /// Finds or creates the device `key` of `convention` for the message's topic and
    /// caches it in the route.
    fn resolve(
        &mut self,
        msg: &RawMessage,
        convention: Convention,
        key: &str,
        labels: &[(&'static str, String)],
        node: Option<DeviceId>,
    ) -> Option<Resolved> {
        let id = self.convention_device(msg.conn, convention, key, labels)?;
        let d = &mut self.devices[id as usize];
        let topic = String::from_utf8_lossy(&msg.topic);
        let topic_idx = d.topic_index(&topic);
        let resolved = Resolved {
            device: id,
            topic: topic_idx,
            node: node.unwrap_or(id),
        };
        if let Some(Route::Convention { device, .. }) =
            self.routes[msg.conn as usize].get_mut(&msg.topic[..])
        {
            *device = Some(resolved);
        }
        Some(resolved)
    }

    /// Finds or creates a device of a convention's fleet; `None` when refused.
    fn convention_device(
        &mut self,
        conn: ConnId,
        convention: Convention,
        key: &str,
        labels: &[(&'static str, String)],
    ) -> Option<DeviceId> {
        if key.is_empty() || has_control(key) {
            self.counters.refused_bad_topic += 1;
            return None;
        }
        let fleet = self
            .kin_fleet(conn, convention, key)
            .or_else(|| self.mapper.convention_fleet(convention))?;
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let id = self.device_for(conn, fleet, key, labels)?;
        let d = &mut self.devices[id as usize];
        if d.facts.is_none() {
            d.facts = Some(Box::new(DeviceFacts::new(convention)));
        }
        Some(id)
    }

    fn convention_event(
        &mut self,
        msg: &RawMessage,
        convention: Convention,
        id: DeviceId,
        event: Event,
    ) {
        match event {
            Event::Name(name) => {
                facts(&mut self.devices[id as usize], convention).display_name =
                    Some(capped(&name, MAX_NAME_CHARS));
            }
            Event::Gateway(key) => {
                if facts(&mut self.devices[id as usize], convention)
                    .gateway
                    .is_none()
                    && let Some(gw) = self.convention_device(msg.conn, convention, &key, &[])
                {
                    self.set_gateway(id, gw);
                }
            }
            Event::Online(online) => self.set_online(id, online),
            Event::MetricFacts(m) => {
                let max = self.limits.max_metrics_per_device;
                merge_metric(facts(&mut self.devices[id as usize], convention), m, max);
            }
            Event::Command(c) => add_command(facts(&mut self.devices[id as usize], convention), c),
            Event::Child {
                key,
                name,
                metrics,
                commands,
            } => {
                let Some(child) = self.convention_device(msg.conn, convention, &key, &[]) else {
                    return;
                };
                self.set_gateway(child, id);
                let max = self.limits.max_metrics_per_device;
                let f = facts(&mut self.devices[child as usize], convention);
                if let Some(name) = name {
                    f.display_name = Some(capped(&name, MAX_NAME_CHARS));
                }
                for m in metrics {
                    merge_metric(f, m, max);
                }
                for c in commands {
                    add_command(f, c);
                }
            }
            Event::Error(message) => record_error(
                &mut self.devices[id as usize],
                &mut self.counters,
                msg.at_ms,
                &msg.topic,
                message,
            ),
        }
    }

    /// Makes `gateway` the gateway of `id`: a `gateway` label for grouping, and offline
    /// with it.
    fn set_gateway(&mut self, id: DeviceId, gateway: DeviceId) {
        if id == gateway {
            return;
        }
        let gw_name = self.devices[gateway as usize].name.clone();
        let gw_offline = self.devices[gateway as usize].available == Some(false);
        let d = &mut self.devices[id as usize];
        if let Some(f) = d.facts.as_mut() {
            f.gateway = Some(gateway);
        }
        d.labels.retain(|(k, _)| &**k != "gateway");
        d.labels.push(("gateway".into(), gw_name));
        d.group_offline = gw_offline;
        self.refresh_status(id);
    }

    /// Records a device's own online state; its devices (if it is a gateway) follow.
    fn set_online(&mut self, id: DeviceId, online: bool) {
        let d = &mut self.devices[id as usize];
        let changed = d.available != Some(online);
        d.available = Some(online);
        self.refresh_status(id);
        if changed {
            for child in self.children(id) {
                self.devices[child as usize].group_offline = !online;
                self.refresh_status(child);
            }
        }
    }

    fn children(&self, gateway: DeviceId) -> Vec<DeviceId> {
        self.devices
            .iter()
            .filter(|d| d.facts.as_ref().and_then(|f| f.gateway) == Some(gateway))
            .map(|d| d.id)
            .collect()
    }

    fn payload_too_big(&mut self, msg: &RawMessage, id: DeviceId) {
        self.counters.refused_payload_too_big += 1;
        let cap = self.limits.max_payload_bytes;
        record_error(
            &mut self.devices[id as usize],
            &mut self.counters,
            msg.at_ms,
            &msg.topic,
            format!(
                "payload of {} bytes exceeds the {cap} byte cap ([limits] max_payload_bytes)",
                msg.payload.len()
            ),
        );
        self.refresh_status(id);
    }

    fn refused_metrics(&mut self, msg: &RawMessage, id: DeviceId, refused: u64) {
        if refused == 0 {
            return;
        }
        let max = self.limits.max_metrics_per_device;
        self.counters.refused_metric_cap += refused;
        self.devices[id as usize].last_error = Some(LastError {
            at_ms: msg.at_ms,
            topic: String::from_utf8_lossy(&msg.topic).into_owned(),
            message: format!(
                "{refused} metric(s) refused: device already has {max} ([limits] max_metrics_per_device)"
            ),
        });
    }

    fn apply_sparkplug(&mut self, msg: &RawMessage, topic: &str, resolved: Option<Resolved>) {
        let Some(t) = spb::parse_topic(topic) else {
            return;
        };
        let r = match resolved {
            Some(r) => r,
            None => {
                let Some(r) = self.resolve_sparkplug(msg, &t) else {
                    return;
                };
                r
            }
        };
        self.touched = Some(r.device);
        if matches!(t.kind, Kind::NCmd | Kind::DCmd) {
            return;
        }
        note_arrival(&mut self.devices[r.device as usize], msg, r.topic);
        if msg.payload.len() > self.limits.max_payload_bytes {
            self.payload_too_big(msg, r.device);
            return;
        }
        let (history, max_metrics) = (self.limits.history, self.limits.max_metrics_per_device);
        let now = msg.at_ms;
        let device = (r.device != r.node && t.kind != Kind::State).then_some(r.device);
        let mut refused = 0u64;
        {
            let d = &mut self.devices[r.device as usize];
            self.sparkplug.apply(
                &t,
                r.node,
                device,
                &msg.payload,
                &mut self.sparkplug_report,
                |hint, name, value, at| {
                    let at = sample_time(at, now);
                    if !store_value(d, hint, name, value, at, history, max_metrics) {
                        refused += 1;
                    }
                },
            );
        }
        self.refused_metrics(msg, r.device, refused);
        let report = std::mem::take(&mut self.sparkplug_report);
        self.sparkplug_outcome(msg, &t, r, report);
        self.refresh_status(r.device);
    }

    fn resolve_sparkplug(&mut self, msg: &RawMessage, t: &spb::Topic<'_>) -> Option<Resolved> {
        if t.kind == Kind::State {
            return self.resolve(
                msg,
                Convention::Sparkplug,
                &t.device_key(),
                &[("role", "host application".into())],
                None,
            );
        }
        let group = [("group", t.group.to_string())];
        let node =
            self.convention_device(msg.conn, Convention::Sparkplug, &t.node_key(), &group)?;
        if t.device.is_none() {
            return self.resolve(msg, Convention::Sparkplug, &t.node_key(), &group, None);
        }
        let r = self.resolve(
            msg,
            Convention::Sparkplug,
            &t.device_key(),
            &group,
            Some(node),
        )?;
        self.set_gateway(r.device, node);
        Some(r)
    }

    fn sparkplug_outcome(
        &mut self,
        msg: &RawMessage,
        t: &spb::Topic<'_>,
        r: Resolved,
        mut report: spb::Report,
    ) {
        let c = &mut self.counters;
        c.sparkplug_unknown_alias += report.unknown_aliases;
        c.sparkplug_before_birth += u64::from(report.before_birth);
        c.sparkplug_seq_gaps += u64::from(report.seq_gap);
        c.sparkplug_stale_deaths += u64::from(report.stale_death);
        if let Some(e) = report.error.take() {
            record_error(
                &mut self.devices[r.device as usize],
                &mut self.counters,
                msg.at_ms,
                &msg.topic,
                e,
            );
        }
        let node = facts(&mut self.devices[r.node as usize], Convention::Sparkplug);
        node.sequence_gaps += u64::from(report.seq_gap);
        if t.kind == Kind::NBirth {
            node.rebirth_needed = None;
        }
        if let Some(why) = report.rebirth {
            node.rebirth_needed = Some(why.into());
        }
        let max = self.limits.max_metrics_per_device;
        let f = facts(&mut self.devices[r.device as usize], Convention::Sparkplug);
        for m in report.facts.drain(..) {
            merge_metric(f, m, max);
        }
        for c in report.commands.drain(..) {
            add_command(f, c);
        }
        if let Some(online) = report.online {
            self.set_online(r.device, online);
        }
        if report.node_death {
            // Sparkplug devices stay offline until their next DBIRTH, even once the node
            // is born again.
            for child in self.children(r.node) {
                self.devices[child as usize].available = Some(false);
                self.refresh_status(child);
            }
        }
        self.sparkplug_report = report;
    }
}

/// What a Home Assistant state or availability topic means for one entity.
#[derive(Debug, Clone)]
pub(super) struct HaBinding {
    device: DeviceId,
    topic: u16,
    kind: HaKind,
}

#[derive(Debug, Clone)]
enum HaKind {
    State {
        metric: Box<str>,
        template: Template,
    },
    Availability {
        online: Box<str>,
        offline: Box<str>,
    },
}

impl FleetState {
    fn apply_homeassistant(&mut self, msg: &RawMessage, topic: &str) {
        if msg.payload.len() > self.limits.max_payload_bytes {
            self.counters.refused_payload_too_big += 1;
            return;
        }
        if ha::claims(topic) {
            return self.homeassistant_config(msg, topic);
        }
        let Some(bindings) = self.ha_bindings.get(topic).cloned() else {
            return;
        };
        let (history, max_metrics) = (self.limits.history, self.limits.max_metrics_per_device);
        for b in bindings {
            self.touched = Some(b.device);
            let d = &mut self.devices[b.device as usize];
            note_arrival(d, msg, b.topic);
            match b.kind {
                HaKind::Availability { online, offline } => {
                    match crate::decode::availability::parse(&msg.payload, &online, &offline) {
                        Some(v) => self.set_online(b.device, v),
                        None => record_error(
                            d,
                            &mut self.counters,
                            msg.at_ms,
                            &msg.topic,
                            format!("availability payload is neither `{online}` nor `{offline}`"),
                        ),
                    }
                }
                HaKind::State { metric, template } => {
                    let stored = match &template {
                        Template::Value => {
                            let out = &mut self.convention_out;
                            crate::decode::decode(
                                &msg.payload,
                                crate::config::PayloadFormat::Auto,
                                &metric,
                                &mut out.values,
                            )
                            .map_err(|e| e.to_string())
                            .map(|()| {
                                out.values.values().all(|(name, v)| {
                                    store_value(d, 0, name, v, msg.at_ms, history, max_metrics)
                                })
                            })
                        }
                        Template::Json(path) => serde_json::from_slice(&msg.payload)
                            .map_err(|e| format!("state is not JSON: {e}"))
                            .and_then(|json: serde_json::Value| {
                                let leaf = ha::extract(path, &json)
                                    .ok_or_else(|| format!("state has no `{}`", path.join(".")))?;
                                let value = match leaf {
                                    serde_json::Value::Number(n) => n.as_f64().map(Value::Number),
                                    serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
                                    serde_json::Value::String(s) => Some(
                                        crate::decode::bool_word(s)
                                            .map_or(Value::Text(s), Value::Bool),
                                    ),
                                    _ => None,
                                }
                                .ok_or_else(|| format!("`{}` is not a value", path.join(".")))?;
                                Ok(store_value(
                                    d,
                                    0,
                                    &metric,
                                    value,
                                    msg.at_ms,
                                    history,
                                    max_metrics,
                                ))
                            }),
                    };
                    match stored {
                        Ok(true) => {}
                        Ok(false) => self.refused_metrics(msg, b.device, 1),
                        Err(e) => record_error(d, &mut self.counters, msg.at_ms, &msg.topic, e),
                    }
                }
            }
            self.refresh_status(b.device);
        }
    }

    /// A discovery config: the entity's device, facts, and the topics to read it from.
    fn homeassistant_config(&mut self, msg: &RawMessage, topic: &str) {
        let conv = Convention::HomeAssistant;
        let entity = match ha::parse_config(topic, &msg.payload) {
            Ok(e) => e,
            Err((device, why)) => {
                match device.and_then(|d| self.convention_device(msg.conn, conv, &d, &[])) {
                    Some(id) => record_error(
                        &mut self.devices[id as usize],
                        &mut self.counters,
                        msg.at_ms,
                        &msg.topic,
                        why,
                    ),
                    None => self.counters.decode_errors += 1,
                }
                return;
            }
        };
        let Some(id) = self.convention_device(msg.conn, conv, &entity.device, &[]) else {
            return;
        };
        self.touched = Some(id);
        let max = self.limits.max_metrics_per_device;
        let f = facts(&mut self.devices[id as usize], conv);
        if let Some(name) = entity.device_name {
            f.display_name = Some(capped(&name, MAX_NAME_CHARS));
        }
        merge_metric(
            f,
            MetricFacts {
                name: entity.metric.as_str().into(),
                unit: entity.unit.map(Into::into),
                datatype: entity.device_class.map(Into::into),
            },
            max,
        );
        if let Some(t) = entity.command_topic {
            add_command(
                f,
                CommandDescriptor {
                    name: entity.metric.as_str().into(),
                    topic: t.into(),
                    kind: conventions::CommandKind::Text { datatype: None },
                },
            );
        }
        if let Some(t) = entity.state_topic {
            let kind = HaKind::State {
                metric: entity.metric.into(),
                template: entity.template,
            };
            self.bind_homeassistant(msg.conn, id, t, kind);
        }
        for (t, online, offline) in entity.availability {
            let kind = HaKind::Availability {
                online: online.into(),
                offline: offline.into(),
            };
            self.bind_homeassistant(msg.conn, id, t, kind);
        }
    }

    /// Routes `topic` to an entity; a topic already routed elsewhere is routed again.
    fn bind_homeassistant(&mut self, conn: ConnId, id: DeviceId, topic: String, kind: HaKind) {
        // The topic may be subscribed to: nothing a broker would refuse (or worse).
        if topic.is_empty()
            || topic.contains(['+', '#'])
            || topic.len() > self.limits.max_topic_len
            || has_control(&topic)
        {
            self.counters.refused_bad_topic += 1;
            return;
        }
        if !self.ha_bindings.contains_key(topic.as_str())
            && self.ha_bindings.len() >= self.limits.max_unmapped_topics
        {
            self.counters.refused_unmapped_cap += 1;
            return;
        }
        let d = &mut self.devices[id as usize];
        let topic_idx = d.topic_index(&topic);
        let same = |b: &HaBinding| {
            b.device == id
                && match (&b.kind, &kind) {
                    (HaKind::State { metric: a, .. }, HaKind::State { metric: b, .. }) => a == b,
                    (HaKind::Availability { .. }, HaKind::Availability { .. }) => true,
                    _ => false,
                }
        };
        if !self.ha_bindings.contains_key(topic.as_str()) {
            self.to_follow.push((conn, topic.as_str().into()));
        }
        let list = self.ha_bindings.entry(topic.as_str().into()).or_default();
        list.retain(|b| !same(b));
        // Many entities may share one state topic; a device's entities are capped.
        if list.len() < self.limits.max_metrics_per_device {
            list.push(HaBinding {
                device: id,
                topic: topic_idx,
                kind,
            });
        }
        self.routes[conn as usize].remove(topic.as_bytes());
    }
}

/// The device's convention facts, created if missing.
fn facts(d: &mut Device, convention: Convention) -> &mut DeviceFacts {
    d.facts
        .get_or_insert_with(|| Box::new(DeviceFacts::new(convention)))
}

/// At most `max` characters of a device-provided string.
fn capped(s: &str, max: usize) -> Box<str> {
    match s.char_indices().nth(max) {
        Some((end, _)) => s[..end].into(),
        None => s.into(),
    }
}

fn merge_metric(f: &mut DeviceFacts, mut m: MetricFacts, max: usize) {
    m.unit = m.unit.map(|u| capped(&u, MAX_UNIT_CHARS));
    m.datatype = m.datatype.map(|t| capped(&t, MAX_UNIT_CHARS));
    match f.metrics.iter().position(|x| x.name == m.name) {
        Some(i) => {
            let x = &mut f.metrics[i];
            if m.unit.is_some() {
                x.unit = m.unit;
            }
            if m.datatype.is_some() {
                x.datatype = m.datatype;
            }
        }
        None if f.metrics.len() < max => f.metrics.push(m),
        None => {}
    }
}

fn add_command(f: &mut DeviceFacts, c: CommandDescriptor) {
    match f.commands.iter().position(|x| x.name == c.name) {
        Some(i) => f.commands[i] = c,
        None if f.commands.len() < MAX_COMMANDS => f.commands.push(c),
        None => {}
    }
}

#[cfg(test)]
mod tests;
