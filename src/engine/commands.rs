//! The engine's command desk: turns a prepared command into an audited publish on the
//! device's connection, follows it to its result, and paces bulk sends.

use super::Engine;
use crate::commands::{
    CommandSet, Opening, Pacer, Prepared, RequestId, RequestState, Target, Tracker, Wait, tag_for,
};
use crate::output::audit::AuditLog;
use crate::source::mqtt::{Publish, Publisher};
use crate::vocab::ConnId;
use crate::vocab::DeviceId;
use std::collections::VecDeque;

/// The request id of alert publishes: no request of the tracker has it (ids start at 1),
/// so their acknowledgements settle nothing.
const ALERT_PUBLISH: RequestId = RequestId(0);

/// Commands: templates, requests, connections to publish on, the audit log.
pub struct Desk {
    pub set: CommandSet,
    pub tracker: Tracker,
    /// Per connection: its publisher, or why nothing may be published there (read-only,
    /// a recording), for the refusal message.
    publishers: Vec<Result<Publisher, String>>,
    audit: Result<AuditLog, String>,
    run: u32,
    /// Where answers to this run's Shelly RPC requests arrive.
    inbox: String,
    next_tag: u64,
    bulk: VecDeque<RequestId>,
    pacer: Pacer,
}

impl Desk {
    pub fn new(
        set: CommandSet,
        publishers: Vec<Result<Publisher, String>>,
        bulk_rate: f64,
    ) -> Desk {
        let run = fastrand::u32(..0x100_0000);
        Desk {
            set,
            tracker: Tracker::new(),
            publishers,
            audit: Err("no audit log is kept by this front end".into()),
            run,
            inbox: crate::commands::rpc_inbox(run),
            next_tag: 1,
            bulk: VecDeque::new(),
            pacer: Pacer::new(bulk_rate),
        }
    }

    /// True for this run's own reply topic: what arrives there answers a command and
    /// is no device's telemetry.
    pub fn is_inbox(&self, topic: &[u8]) -> bool {
        topic == self.inbox.as_bytes()
    }

    /// Records every publish in the audit log at `path`.
    pub fn keep_audit_log(&mut self, path: &std::path::Path) {
        self.audit = AuditLog::open(path);
    }

    /// Whether anything at all may be published.
    pub fn read_only(&self) -> bool {
        self.publishers.iter().all(Result::is_err)
    }

    /// Why publishing on `conn` is refused, if it is.
    pub fn refusal(&self, conn: ConnId) -> Option<String> {
        match self.publishers.get(conn.index()) {
            Some(Ok(_)) => None,
            Some(Err(why)) => Some(why.clone()),
            None => Some("no such connection to publish on".into()),
        }
    }

    pub fn bulk_rate(&self) -> f64 {
        self.pacer.per_sec()
    }
}

impl Engine {
    /// Fills in `command` for `device` with `args`, checking everything; sends nothing.
    pub fn prepare(
        &mut self,
        device: DeviceId,
        command: &str,
        args: &[(String, String)],
    ) -> Result<Prepared, String> {
        let d = self
            .state
            .devices
            .get(device.index())
            .ok_or_else(|| "no such device".to_string())?;
        let fleet = self.state.fleet_name(d);
        let commands = self.desk.set.for_device(fleet, d.facts.as_deref());
        let template = commands.iter().find(|c| c.name == command).ok_or_else(|| {
            let known: Vec<&str> = commands.iter().map(|c| c.name.as_str()).collect();
            if known.is_empty() {
                format!(
                    "no command applies to device {} (fleet {fleet}): add a [[command]] for it",
                    d.name
                )
            } else {
                format!(
                    "unknown command `{command}` for device {} (fleet {fleet}); it takes {}",
                    d.name,
                    known.join(", ")
                )
            }
        })?;
        let tag = tag_for(self.desk.run, self.desk.next_tag);
        let target = Target {
            device: &d.name,
            fleet,
            labels: &d.labels,
            now_ms: self.clock.now_ms(),
        };
        let p = template.prepare(target, args, &tag)?;
        self.desk.next_tag += 1;
        Ok(p)
    }

    /// Sends a prepared command to its device now. `Err`: refused and nothing sent
    /// (read-only, no audit log). A request that could not go out (broker down) is
    /// returned as failed, with the reason.
    pub fn send(&mut self, p: Prepared, device: DeviceId, by: &str) -> Result<RequestId, String> {
        let conn = self.conn_of(device)?;
        self.check_may_publish(conn)?;
        let id = self.open(p, conn, Some(device), by, false);
        self.dispatch(id)?;
        Ok(id)
    }

    /// Queues one command per device, sent no faster than the bulk rate.
    pub fn send_bulk(
        &mut self,
        items: Vec<(Prepared, DeviceId)>,
        by: &str,
    ) -> Result<Vec<RequestId>, String> {
        let mut conns = Vec::with_capacity(items.len());
        for (_, d) in &items {
            let conn = self.conn_of(*d)?;
            self.check_may_publish(conn)?;
            conns.push(conn);
        }
        let ids: Vec<RequestId> = items
            .into_iter()
            .zip(conns)
            .map(|((p, d), conn)| self.open(p, conn, Some(d), by, true))
            .collect();
        self.desk.bulk.extend(ids.iter().copied());
        self.release_bulk();
        Ok(ids)
    }

    /// `:publish`: a raw message on connection `conn`, audited like any command.
    pub fn publish_raw(
        &mut self,
        conn: ConnId,
        topic: &str,
        payload: &[u8],
        qos: u8,
        retain: bool,
        by: &str,
    ) -> Result<RequestId, String> {
        if !crate::mapping::filter::is_topic(topic) {
            return Err(
                "a topic to publish to must be non-empty, without + # or NUL, at most 65,535 bytes"
                    .into(),
            );
        }
        if qos > 2 {
            return Err("qos must be 0, 1 or 2".into());
        }
        self.check_may_publish(conn)?;
        let p = Prepared {
            command: "publish".into(),
            device: String::new(),
            topic: topic.to_string(),
            payload: payload.to_vec(),
            qos,
            retain,
            tag: tag_for(self.desk.run, self.desk.next_tag),
            timeout: crate::commands::template::DEFAULT_TIMEOUT,
            reply: None,
            expect: None,
        };
        self.desk.next_tag += 1;
        let id = self.open(p, conn, None, by, false);
        self.dispatch(id)?;
        Ok(id)
    }

    fn conn_of(&self, device: DeviceId) -> Result<ConnId, String> {
        self.state
            .devices
            .get(device.index())
            .map(|d| d.conn)
            .ok_or_else(|| "no such device".to_string())
    }

    fn check_may_publish(&self, conn: ConnId) -> Result<(), String> {
        if let Some(why) = self.desk.refusal(conn) {
            return Err(why);
        }
        if let Err(why) = &self.desk.audit {
            return Err(format!("command refused: no audit log ({why})"));
        }
        Ok(())
    }

    fn open(
        &mut self,
        p: Prepared,
        conn: ConnId,
        device: Option<DeviceId>,
        by: &str,
        queued: bool,
    ) -> RequestId {
        let mqtt5 = self
            .desk
            .publishers
            .get(conn.index())
            .and_then(|p| p.as_ref().ok())
            .is_some_and(Publisher::request_response);
        let wait = Wait::choose(&p, mqtt5);
        let how = Opening {
            conn,
            device_id: device,
            by: by.to_string(),
            wait,
            queued,
        };
        let now = self.clock.now_ms();
        self.desk.tracker.open(p, how, now)
    }

    /// Audits and hands a request to its connection.
    fn dispatch(&mut self, id: RequestId) -> Result<(), String> {
        let now = self.clock.now_ms();
        self.desk.tracker.start(id, now);
        let Some(r) = self.desk.tracker.get(id) else {
            return Err("request vanished".into());
        };
        let broker = self.broker_name(r.conn);
        let audited = match &mut self.desk.audit {
            Ok(log) => log.request(r, &broker),
            Err(why) => Err(why.clone()),
        };
        if let Err(why) = audited {
            let msg = format!("command refused: {why}");
            self.desk.tracker.failed(id, msg.clone(), now);
            self.desk.tracker.drain_settled();
            return Err(msg);
        }
        // A reply topic no subscription brings (a Shelly's answers to this run) is
        // subscribed before the request goes out on the same connection.
        if let Wait::ReplyTopic(topic) = &r.wait
            && let Some(Some(subs)) = self.subscriptions.get(r.conn.index())
            && let Err(why) = subs.follow(topic)
        {
            tracing::warn!(%why, "the answer to a command may go unheard");
        }
        let publish = Publish {
            id,
            topic: r.topic.clone(),
            payload: r.payload.clone(),
            qos: r.qos,
            retain: r.retain,
            correlation: matches!(r.wait, Wait::Response).then(|| r.tag.clone().into_bytes()),
        };
        let sent = match self
            .desk
            .publishers
            .get(r.conn.index())
            .and_then(|p| p.as_ref().ok())
        {
            Some(p) => p.publish(publish),
            None => Err(self.desk.refusal(r.conn).unwrap_or_default()),
        };
        if let Err(why) = sent {
            self.desk.tracker.failed(id, why, now);
        }
        self.audit_settled();
        Ok(())
    }

    /// Publishes alert transitions to `[hooks] publish_topic`, on the first connection that
    /// may publish. They are recorded in the alert log, not the command audit log.
    pub(super) fn publish_alerts(&mut self, transitions: &[crate::alerts::Transition]) {
        let Some(out) = &self.alert_publish else {
            return;
        };
        let Some(publisher) = self.desk.publishers.iter().find_map(|p| p.as_ref().ok()) else {
            return;
        };
        for t in transitions.iter().filter(|t| !t.silenced) {
            let publish = Publish {
                id: ALERT_PUBLISH,
                topic: out.topic_for(t),
                payload: crate::output::headless::alert(t).to_string().into_bytes(),
                qos: out.qos,
                retain: out.retain,
                correlation: None,
            };
            if let Err(e) = publisher.publish(publish) {
                tracing::warn!("alert not published: {e}");
            }
        }
    }

    /// Sends the bulk requests whose turn has come.
    fn release_bulk(&mut self) {
        if self.desk.bulk.is_empty() {
            return;
        }
        let n = self
            .desk
            .pacer
            .take(self.clock.now_ms(), self.desk.bulk.len());
        for _ in 0..n {
            let Some(id) = self.desk.bulk.pop_front() else {
                break;
            };
            // A refused dispatch has already marked the request failed.
            let _ = self.dispatch(id);
        }
    }

    /// Asks the Sparkplug nodes whose data could not be placed for a rebirth, as a primary
    /// host does: an audited command like any other, never where publishing is refused
    /// (read-only, a recording), where the node's `rebirth_needed` still says why.
    pub(super) fn ask_rebirths(&mut self) {
        for node in self.state.take_rebirths() {
            let sent = self
                .prepare(node, "Node Control/Rebirth", &[])
                .and_then(|p| self.send(p, node, "fleetop (automatic rebirth)"));
            if let Err(e) = sent {
                tracing::debug!(error = %e, "no automatic rebirth");
            }
        }
    }

    /// Commands' share of a tick: timeouts and the bulk queue.
    pub(super) fn tick_commands(&mut self) {
        self.release_bulk();
        self.desk.tracker.tick(self.clock.now_ms());
        self.audit_settled();
    }

    /// Writes the result line of every request settled since the last call.
    pub(super) fn audit_settled(&mut self) {
        for id in self.desk.tracker.drain_settled() {
            let Some(r) = self.desk.tracker.get(id) else {
                continue;
            };
            let broker = self.broker_name(r.conn);
            if let Ok(log) = &mut self.desk.audit
                && let Err(e) = log.result(r, &broker)
            {
                tracing::warn!("{e}");
            }
        }
    }

    fn broker_name(&self, conn: ConnId) -> String {
        self.conns
            .get(conn.index())
            .map_or_else(String::new, |c| c.name.clone())
    }

    /// A request's current state, for front ends waiting on one.
    pub fn request_state(&self, id: RequestId) -> Option<&RequestState> {
        self.desk.tracker.get(id).map(|r| &r.state)
    }
}
