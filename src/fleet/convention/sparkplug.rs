//! Sparkplug B messages applied to the fleet state: the edge node is its devices' gateway,
//! sequence gaps are counted, and what needs a rebirth is noted on the node and, as a
//! primary host does, asked for (`[conventions] sparkplug_rebirth`, at most once per node
//! per `sparkplug_rebirth_interval`). Any node heard of takes a rebirth command.

use super::*;

impl FleetState {
    /// Nodes to ask for a rebirth now (NCMD `Node Control/Rebirth`), since the last call.
    pub fn take_rebirths(&mut self) -> Vec<DeviceId> {
        std::mem::take(&mut self.rebirths)
    }

    /// Queues a rebirth request for `node` unless one was asked within the interval.
    fn want_rebirth(&mut self, node: DeviceId, now_ms: i64) {
        if !self.conventions.sparkplug_rebirth {
            return;
        }
        let interval = self.conventions.sparkplug_rebirth_interval.as_millis() as i64;
        let due = self
            .rebirth_asked
            .get(&node)
            .is_none_or(|&asked| now_ms - asked >= interval);
        if due && !self.rebirths.contains(&node) {
            self.rebirth_asked.insert(node, now_ms);
            self.rebirths.push(node);
        }
    }

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
        let cap = self.limits.max_sparkplug_payload_bytes;
        if msg.payload.len() > cap {
            self.payload_too_big(msg, r.device, cap, "max_sparkplug_payload_bytes");
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
        // Any message names its node: a host may ask it for a rebirth, born or not.
        add_command(
            facts(&mut self.devices[node.index()], Convention::Sparkplug),
            spb::rebirth_command(t.group, t.node),
        );
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
            self.want_rebirth(r.node, msg.at_ms);
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

#[cfg(test)]
mod tests {
    use super::super::tests::{device, msg, spb_metric, spb_payload, state};
    use crate::conventions::sparkplug::proto::{Value as V, datatype};
    use crate::fleet::ConventionsConfig;

    fn ndata(seq: u64) -> Vec<u8> {
        spb_payload(
            Some(seq),
            vec![spb_metric(None, Some(3), datatype::DOUBLE, V::Double(1.0))],
        )
    }

    #[test]
    fn a_node_heard_of_takes_a_rebirth_and_is_asked_once_per_interval() {
        let mut s = state(ConventionsConfig::default());
        s.apply(&msg("spBv1.0/plant/NDATA/edge7", &ndata(5), 1_000));
        let node = device(&s, "plant/edge7");
        let f = node.facts.as_ref().expect("facts");
        assert_eq!(&*f.commands[0].name, "Node Control/Rebirth");
        assert_eq!(&*f.commands[0].topic, "spBv1.0/plant/NCMD/edge7");
        let id = node.id;
        assert_eq!(s.take_rebirths(), [id]);
        s.apply(&msg("spBv1.0/plant/NDATA/edge7", &ndata(6), 30_000));
        assert!(s.take_rebirths().is_empty(), "rate-limited");
        s.apply(&msg("spBv1.0/plant/DDATA/edge7/pump", &ndata(7), 61_000));
        assert_eq!(s.take_rebirths(), [id], "a device's data asks its node");

        let off = ConventionsConfig {
            sparkplug_rebirth: false,
            ..ConventionsConfig::default()
        };
        let mut s = state(off);
        s.apply(&msg("spBv1.0/plant/NDATA/edge7", &ndata(5), 1_000));
        assert!(s.take_rebirths().is_empty());
        assert!(
            device(&s, "plant/edge7")
                .facts
                .as_ref()
                .is_some_and(|f| !f.commands.is_empty())
        );
    }

    #[test]
    fn births_as_large_as_real_nodes_send_fit_their_own_cap() {
        let mut s = state(ConventionsConfig::default());
        let metrics: Vec<_> = (0..100_000u64)
            .map(|i| {
                spb_metric(
                    Some(&format!("Area {}/Line {}/Sensor {i}", i / 1000, i / 100)),
                    Some(i),
                    datatype::DOUBLE,
                    V::Double(i as f64),
                )
            })
            .collect();
        let birth = spb_payload(Some(0), metrics);
        assert!(birth.len() > 3_000_000, "{}", birth.len());
        s.apply(&msg("spBv1.0/plant/NBIRTH/big", &birth, 1_000));
        let node = device(&s, "plant/big");
        assert!(
            node.last_error
                .as_ref()
                .is_none_or(|e| !e.message.contains("payload")),
            "{:?}",
            node.last_error
        );
        assert_eq!(node.metrics.len(), s.limits.max_metrics_per_device);
        assert_eq!(s.counters.refused_payload_too_big, 0);
        assert!(s.take_rebirths().is_empty(), "born");
        // Data for a metric past the device's cap is placed (and refused by the cap, said
        // so), not taken for an unknown alias that would ask for rebirths forever.
        s.apply(&msg(
            "spBv1.0/plant/NDATA/big",
            &spb_payload(
                Some(1),
                vec![spb_metric(
                    None,
                    Some(99_999),
                    datatype::DOUBLE,
                    V::Double(1.0),
                )],
            ),
            2_000,
        ));
        assert_eq!(s.counters.sparkplug_unknown_alias, 0);
        assert!(s.take_rebirths().is_empty());
        let e = device(&s, "plant/big")
            .last_error
            .as_ref()
            .expect("the cap says so");
        assert!(
            e.message.contains("max_metrics_per_device"),
            "{}",
            e.message
        );

        // Other payloads keep theirs.
        let json = format!("{{\"x\":\"{}\"}}", "a".repeat(300 * 1024));
        s.apply(&msg("tele/plug/SENSOR", json.as_bytes(), 3_000));
        assert_eq!(s.counters.refused_payload_too_big, 1);
    }
}
