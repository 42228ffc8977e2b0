//! Devices found by device conventions: the decoders' answers applied to the fleet state.
//! A convention device belongs to the convention's fleet, keeps what the convention said
//! about it in [`Device::facts`], and goes offline with its gateway.

pub(super) mod homeassistant;
mod sparkplug;

use super::apply::{
    has_control, note_arrival, note_delivery, record_error, sample_time, store_value,
    store_value_at,
};
use super::caps::Cap;
use super::route::Route;
use super::{Device, FleetState, LastError, MetricValue};
use crate::conventions::homeassistant::{self as ha, Template};
use crate::conventions::sparkplug::{self as spb, Kind};
use crate::conventions::{self, CommandDescriptor, Convention, DeviceFacts, Event, MetricFacts};
use crate::decode::Value;
use crate::vocab::{ConnId, DeviceId, RawMessage};

/// Commands kept per device (metrics are capped by `[limits] max_metrics_per_device`).
const MAX_COMMANDS: usize = 64;
/// Characters kept of a device's own name, a unit or a datatype.
const MAX_NAME_CHARS: usize = 128;
pub(super) const MAX_UNIT_CHARS: usize = 32;
const MAX_FORMAT_CHARS: usize = 1024;

/// A convention topic's device, resolved on its first message and cached in the route.
#[derive(Debug, Clone, Copy)]
pub(super) struct Resolved {
    pub(super) device: DeviceId,
    pub(super) topic: u16,
    /// Sparkplug: the edge node (the device itself for node and host messages).
    node: DeviceId,
    /// Generic JSON: the topic's payload shape (an index into `FleetState::shapes`), so
    /// its messages take the same fast path as a configured fleet's; else `NO_SHAPE`.
    pub(super) shape: u32,
}

impl Resolved {
    /// Whether messages routed here reach device `id`.
    pub(super) fn points_to(&self, id: DeviceId) -> bool {
        self.device == id || self.node == id
    }
}

impl FleetState {
    /// A metric's unit: what its device said (conventions), else its fleet's declaration,
    /// else what its convention's firmware fixes.
    pub fn unit<'a>(&'a self, d: &'a Device, metric: &str) -> Option<&'a str> {
        let facts = d.facts.as_ref();
        facts
            .and_then(|f| f.metric(metric))
            .and_then(|m| m.unit.as_deref())
            .or_else(|| {
                self.mapper
                    .fleets
                    .get(d.fleet as usize)
                    .and_then(|f| f.metric_decl(metric))
                    .and_then(|m| m.unit.as_deref())
            })
            .or_else(|| super::delivery::unit(metric))
            .or_else(|| {
                let text = |name: &str| match &d.metric(name)?.value {
                    MetricValue::Text(t) => Some(&**t),
                    _ => None,
                };
                conventions::fixed_unit(facts?.convention, metric, &text)
            })
    }

    /// The device a convention says this one reaches the broker through.
    pub fn gateway_of(&self, d: &Device) -> Option<&Device> {
        let id = d.facts.as_ref()?.gateway?;
        self.devices.get(id.index())
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
            Convention::Senml => return self.apply_senml_convention(msg, topic),
            _ => {}
        }
        let oversize = msg.payload.len() > self.limits.max_payload_bytes;
        let mut out = std::mem::take(&mut self.convention_out);
        let payload: &[u8] = if oversize { b"" } else { &msg.payload };
        conventions::decode(
            convention,
            &self.conventions,
            &self.layouts,
            topic,
            payload,
            &mut out,
        );
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
            note_arrival(&mut self.devices[id.index()], msg, r.topic);
        }
        if oversize {
            let cap = self.limits.max_payload_bytes;
            self.payload_too_big(msg, id, cap, "max_payload_bytes");
            return;
        }
        for event in out.events.drain(..) {
            self.convention_event(msg, convention, id, event);
        }
        let (history, max_metrics) = (self.limits.history, self.limits.max_metrics_per_device);
        let at = sample_time(out.values.timestamp_ms, msg.at_ms);
        let d = &mut self.devices[id.index()];
        let mut refused = 0u64;
        let mut slots = std::mem::take(&mut self.leaf_metrics);
        slots.clear();
        for (i, (name, value)) in out.values.values().enumerate() {
            if conventions::ignored(convention, name) {
                continue;
            }
            match store_value_at(d, i, name, value, at, history, max_metrics) {
                Some(slot) => slots.push(slot as u32),
                None => refused += 1,
            }
        }
        if r.shape != super::route::NO_SHAPE {
            // The next payload of the same shape skips the decoder; a refused leaf or a
            // decode error means this one cannot teach it.
            let learnable = refused == 0 && !out.values.is_empty();
            let slots = learnable.then_some(slots.as_slice());
            self.learn_generic_shape(r.shape, &msg.payload, &out.values, slots);
        }
        self.leaf_metrics = slots;
        if !out.request {
            let stamp = out.values.timestamp_ms;
            let d = &mut self.devices[id.index()];
            refused += note_delivery(d, msg, r.topic, stamp, history, max_metrics);
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
        let d = &mut self.devices[id.index()];
        let topic = String::from_utf8_lossy(&msg.topic);
        let topic_idx = d.topic_index(&topic);
        let shape = if convention == Convention::Generic {
            self.take_shape()
        } else {
            super::route::NO_SHAPE
        };
        let resolved = Resolved {
            device: id,
            topic: topic_idx,
            node: node.unwrap_or(id),
            shape,
        };
        if let Some((Route::Convention { device, .. }, _)) =
            self.routes[msg.conn.index()].get_mut(&msg.topic[..])
        {
            *device = Some(resolved);
        }
        Some(resolved)
    }

    /// Finds or creates a device of a convention's fleet; `None` when refused.
    pub(super) fn convention_device(
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
        let d = &mut self.devices[id.index()];
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
                facts(&mut self.devices[id.index()], convention).display_name =
                    Some(capped(&name, MAX_NAME_CHARS));
            }
            Event::Gateway(key) => {
                if facts(&mut self.devices[id.index()], convention)
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
                let f = facts(&mut self.devices[id.index()], convention);
                let name = m.name.clone();
                merge_metric(f, m, max);
                declare(f, &name);
            }
            Event::Command(c) => {
                let f = facts(&mut self.devices[id.index()], convention);
                let name = c.name.clone();
                add_command(f, c);
                declare(f, &name);
            }
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
                let f = facts(&mut self.devices[child.index()], convention);
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
                &mut self.devices[id.index()],
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
        let gw_name = self.devices[gateway.index()].name.clone();
        let gw_offline = self.devices[gateway.index()].available == Some(false);
        let d = &mut self.devices[id.index()];
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
        let d = &mut self.devices[id.index()];
        let changed = d.available != Some(online);
        d.available = Some(online);
        self.refresh_status(id);
        if changed {
            for child in self.children(id) {
                self.devices[child.index()].group_offline = !online;
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

    /// A payload over `cap` (the `[limits]` key `key`) is refused and shown on the device.
    fn payload_too_big(&mut self, msg: &RawMessage, id: DeviceId, cap: usize, key: &str) {
        self.refuse(Cap::PayloadSize, msg.conn, 1);
        record_error(
            &mut self.devices[id.index()],
            &mut self.counters,
            msg.at_ms,
            &msg.topic,
            format!(
                "payload of {} bytes exceeds the {cap} byte cap ([limits] {key})",
                msg.payload.len()
            ),
        );
        self.refresh_status(id);
    }

    pub(super) fn refused_metrics(&mut self, msg: &RawMessage, id: DeviceId, refused: u64) {
        if refused == 0 {
            return;
        }
        let max = self.limits.max_metrics_per_device;
        self.refuse(Cap::Metrics, msg.conn, refused);
        self.devices[id.index()].last_error = Some(LastError {
            at_ms: msg.at_ms,
            topic: String::from_utf8_lossy(&msg.topic).into_owned(),
            message: format!(
                "{refused} metric(s) refused: device already has {max} ([limits] max_metrics_per_device)"
            ),
        });
    }
}

/// The device's convention facts, created if missing.
pub(super) fn facts(d: &mut Device, convention: Convention) -> &mut DeviceFacts {
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

pub(super) fn merge_metric(f: &mut DeviceFacts, mut m: MetricFacts, max: usize) {
    m.unit = m.unit.map(|u| capped(&u, MAX_UNIT_CHARS));
    m.datatype = m.datatype.map(|t| capped(&t, MAX_UNIT_CHARS));
    // An enum's words are the longest format a device declares.
    m.format = m.format.map(|t| capped(&t, MAX_FORMAT_CHARS));
    match f.metrics.iter().position(|x| x.name == m.name) {
        Some(i) => {
            let x = &mut f.metrics[i];
            if m.unit.is_some() {
                x.unit = m.unit;
            }
            if m.datatype.is_some() {
                x.datatype = m.datatype;
            }
            if m.format.is_some() {
                x.format = m.format;
            }
        }
        None if f.metrics.len() < max => f.metrics.push(m),
        None => {}
    }
}

/// Brings the command named like metric `name` to what the device declared about the
/// metric, whichever of the two came first.
fn declare(f: &mut DeviceFacts, name: &str) {
    let Some(accepts) = f
        .metric(name)
        .and_then(|m| conventions::declared_accepts(f.convention, m))
    else {
        return;
    };
    if let Some(c) = f.commands.iter_mut().find(|c| &*c.name == name) {
        c.accepts = accepts;
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

#[cfg(test)]
mod command_tests;
