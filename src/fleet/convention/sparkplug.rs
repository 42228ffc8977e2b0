//! Sparkplug B messages applied to the fleet state: the edge node is its devices' gateway,
//! sequence gaps are counted and what needs a rebirth is noted on the node.

use super::*;

impl FleetState {
    pub(super) fn apply_sparkplug(
        &mut self,
        msg: &RawMessage,
        topic: &str,
        resolved: Option<Resolved>,
    ) {
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
        note_arrival(&mut self.devices[r.device.index()], msg, r.topic);
        if msg.payload.len() > self.limits.max_payload_bytes {
            self.payload_too_big(msg, r.device);
            return;
        }
        let (history, max_metrics) = (self.limits.history, self.limits.max_metrics_per_device);
        let now = msg.at_ms;
        let device = (r.device != r.node && t.kind != Kind::State).then_some(r.device);
        let mut refused = 0u64;
        // The newest metric timestamp, for the delivery delay.
        let mut newest: Option<i64> = None;
        {
            let d = &mut self.devices[r.device.index()];
            self.sparkplug.apply(
                &t,
                r.node,
                device,
                &msg.payload,
                &mut self.sparkplug_report,
                |hint, name, value, at| {
                    newest = newest.max(at);
                    let at = sample_time(at, now);
                    if !store_value(d, hint, name, value, at, history, max_metrics) {
                        refused += 1;
                    }
                },
            );
            if t.kind != Kind::State {
                refused += note_delivery(d, msg, r.topic, newest, history, max_metrics);
            }
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
                &mut self.devices[r.device.index()],
                &mut self.counters,
                msg.at_ms,
                &msg.topic,
                e,
            );
        }
        let node = facts(&mut self.devices[r.node.index()], Convention::Sparkplug);
        node.sequence_gaps += u64::from(report.seq_gap);
        if t.kind == Kind::NBirth {
            node.rebirth_needed = None;
        }
        if let Some(why) = report.rebirth {
            node.rebirth_needed = Some(why.into());
        }
        let max = self.limits.max_metrics_per_device;
        let f = facts(&mut self.devices[r.device.index()], Convention::Sparkplug);
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
                self.devices[child.index()].available = Some(false);
                self.refresh_status(child);
            }
        }
        self.sparkplug_report = report;
    }
}
