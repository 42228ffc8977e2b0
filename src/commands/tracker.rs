//! Requests in flight and what became of them: pending → sent → succeeded / failed /
//! timed out. Pure: the engine passes in broker acks, replies, device updates and time.

use super::template::Prepared;
use crate::expr::{EvalCtx, Expr};
use crate::fleet::Device;
use crate::vocab::{ConnId, DeviceId};
use std::collections::{HashMap, VecDeque};

/// A command request, numbered from 1 in the order they were opened in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RequestId(pub u64);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Requests kept for display; the oldest finished ones go first.
const KEEP: usize = 1000;
/// Longest reply text kept.
const MAX_REASON: usize = 160;

#[derive(Debug, Clone, PartialEq)]
pub enum RequestState {
    /// Part of a bulk send, waiting for its turn under the rate limit.
    Queued,
    /// Handed to the connection, not yet acknowledged by the broker.
    Pending,
    /// The broker has it; waiting for the device.
    Sent,
    Succeeded(String),
    Failed(String),
    TimedOut,
}

impl RequestState {
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            RequestState::Succeeded(_) | RequestState::Failed(_) | RequestState::TimedOut
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            RequestState::Queued => "queued",
            RequestState::Pending => "pending",
            RequestState::Sent => "sent",
            RequestState::Succeeded(_) => "succeeded",
            RequestState::Failed(_) => "failed",
            RequestState::TimedOut => "timed out",
        }
    }

    /// The device's or broker's words, for succeeded and failed requests.
    pub fn reason(&self) -> Option<&str> {
        match self {
            RequestState::Succeeded(r) | RequestState::Failed(r) => Some(r),
            _ => None,
        }
    }
}

/// How a request's result is recognised.
#[derive(Debug, Clone)]
pub enum Wait {
    /// The broker's acknowledgement is all there is.
    Ack,
    /// MQTT 5 request/response: the reply carries our correlation data.
    Response,
    /// A reply on this topic whose id field echoes the request's tag.
    ReplyTopic(String),
    /// The device's metrics satisfy this condition.
    Expect(Expr),
}

impl Wait {
    /// The best way the link allows: request/response needs MQTT 5.
    pub fn choose(p: &Prepared, mqtt5: bool) -> Wait {
        match (&p.reply, &p.expect) {
            (Some(r), _) if r.response && mqtt5 => Wait::Response,
            (Some(r), _) if r.topic.is_some() => {
                Wait::ReplyTopic(r.topic.clone().unwrap_or_default())
            }
            (_, Some(e)) => Wait::Expect(e.clone()),
            _ => Wait::Ack,
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Wait::Ack => "broker ack",
            Wait::Response => "MQTT 5 response",
            Wait::ReplyTopic(_) => "reply topic",
            Wait::Expect(_) => "state change",
        }
    }
}

/// One request and its fate.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: RequestId,
    /// Sent as `{id}` and as MQTT 5 correlation data.
    pub tag: String,
    pub command: String,
    pub device: String,
    pub device_id: Option<DeviceId>,
    pub conn: ConnId,
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    /// `user@host`.
    pub by: String,
    pub created_ms: i64,
    pub sent_ms: Option<i64>,
    pub done_ms: Option<i64>,
    pub state: RequestState,
    pub wait: Wait,
    timeout_ms: i64,
    deadline_ms: Option<i64>,
    fields: Option<(String, String, String)>,
}

impl Request {
    /// From the operator's Enter to the result.
    pub fn latency_ms(&self) -> Option<i64> {
        self.done_ms.map(|d| d - self.created_ms)
    }
}

/// What a front end needs to open a request.
#[derive(Debug, Clone)]
pub struct Opening {
    pub conn: ConnId,
    pub device_id: Option<DeviceId>,
    pub by: String,
    pub wait: Wait,
    pub queued: bool,
}

/// Every request of this run (the latest [`KEEP`]).
#[derive(Debug, Default)]
pub struct Tracker {
    requests: VecDeque<Request>,
    next_id: RequestId,
    /// Keyed by topic bytes, so the per-message check needs no UTF-8 validation.
    by_topic: HashMap<Box<[u8]>, Vec<RequestId>>,
    by_device: HashMap<DeviceId, Vec<RequestId>>,
    settled: Vec<RequestId>,
    /// Replies whose correlation or id matches no request of ours.
    pub unknown_replies: u64,
    /// Second answers to a request already settled; recorded once.
    pub duplicate_replies: u64,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker {
            next_id: RequestId(1),
            ..Tracker::default()
        }
    }

    /// The id the next [`Tracker::open`] will return.
    pub fn next_id(&self) -> RequestId {
        self.next_id.max(RequestId(1))
    }

    /// Records a request about to be handed to a connection (or queued for a bulk send).
    pub fn open(&mut self, p: Prepared, how: Opening, now_ms: i64) -> RequestId {
        let id = self.next_id();
        self.next_id = RequestId(id.0 + 1);
        let fields = p.reply.as_ref().map(|r| {
            (
                r.id_field.clone(),
                r.ok_field.clone(),
                r.error_field.clone(),
            )
        });
        let timeout_ms = p.timeout.as_millis() as i64;
        let req = Request {
            id,
            tag: p.tag,
            command: p.command,
            device: p.device,
            device_id: how.device_id,
            conn: how.conn,
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            by: how.by,
            created_ms: now_ms,
            sent_ms: None,
            done_ms: None,
            state: if how.queued {
                RequestState::Queued
            } else {
                RequestState::Pending
            },
            deadline_ms: (!how.queued).then_some(now_ms + timeout_ms),
            timeout_ms,
            wait: how.wait,
            fields,
        };
        match &req.wait {
            Wait::ReplyTopic(t) => self
                .by_topic
                .entry(t.as_bytes().into())
                .or_default()
                .push(id),
            Wait::Expect(_) => {
                if let Some(d) = req.device_id {
                    self.by_device.entry(d).or_default().push(id);
                }
            }
            Wait::Ack | Wait::Response => {}
        }
        self.requests.push_back(req);
        self.evict();
        id
    }

    /// A queued request's turn has come: its timeout starts now.
    pub fn start(&mut self, id: RequestId, now_ms: i64) {
        if let Some(r) = self.get_mut(id)
            && r.state == RequestState::Queued
        {
            r.state = RequestState::Pending;
            r.deadline_ms = Some(now_ms + r.timeout_ms);
        }
    }

    /// The broker has the request (QoS 0: written; QoS 1/2: acknowledged).
    pub fn published(&mut self, id: RequestId, now_ms: i64) {
        let Some(r) = self.get_mut(id) else { return };
        if r.state != RequestState::Pending {
            return;
        }
        r.sent_ms = Some(now_ms);
        if matches!(r.wait, Wait::Ack) {
            let what = if r.qos == 0 {
                "written to the broker (QoS 0: no acknowledgement)"
            } else {
                "acknowledged by the broker"
            };
            self.settle(id, RequestState::Succeeded(what.into()), now_ms);
        } else {
            r.state = RequestState::Sent;
        }
    }

    pub fn failed(&mut self, id: RequestId, reason: String, now_ms: i64) {
        self.settle(id, RequestState::Failed(reason), now_ms);
    }

    /// An MQTT 5 response on connection `conn` with `correlation`.
    pub fn response(&mut self, conn: ConnId, correlation: &[u8], payload: &[u8], now_ms: i64) {
        let found = self
            .requests
            .iter()
            .find(|r| {
                r.conn == conn
                    && matches!(r.wait, Wait::Response)
                    && r.tag.as_bytes() == correlation
            })
            .map(|r| (r.id, r.state.is_final(), r.fields.clone()));
        match found {
            None => self.unknown_replies += 1,
            Some((_, true, _)) => self.duplicate_replies += 1,
            Some((id, false, fields)) => {
                let state = judge_reply(payload, fields.as_ref());
                self.settle(id, state, now_ms);
            }
        }
    }

    /// Any message: a reply on a reply topic settles the request whose tag it echoes.
    /// Cheap when no request of the kept history used a reply topic.
    pub fn message(&mut self, conn: ConnId, topic: &[u8], payload: &[u8], now_ms: i64) {
        if self.by_topic.is_empty() {
            return;
        }
        let Some(ids) = self.by_topic.get(topic) else {
            return;
        };
        let Ok(serde_json::Value::Object(reply)) =
            serde_json::from_slice::<serde_json::Value>(payload)
        else {
            return;
        };
        // The request whose id the reply echoes; another client's reply is not ours.
        let echoes = |r: &Request| {
            let Some((id_field, _, _)) = &r.fields else {
                return false;
            };
            r.conn == conn
                && match reply.get(id_field) {
                    Some(serde_json::Value::String(s)) => *s == r.tag,
                    Some(serde_json::Value::Number(n)) => {
                        n.as_u64().is_some_and(|n| r.tag.parse() == Ok(n))
                    }
                    _ => false,
                }
        };
        let Some(id) = ids
            .iter()
            .copied()
            .find(|&id| self.get(id).is_some_and(echoes))
        else {
            return;
        };
        let Some(r) = self.get(id) else { return };
        if r.state.is_final() {
            self.duplicate_replies += 1;
        } else {
            let state = judge_object(&reply, r.fields.as_ref());
            self.settle(id, state, now_ms);
        }
    }

    /// A device changed: requests expecting a state of it may now be done.
    pub fn device_updated(&mut self, d: &Device, now_ms: i64) {
        let Some(ids) = self.by_device.get(&d.id).cloned() else {
            return;
        };
        for id in ids {
            let Some(r) = self.get(id) else { continue };
            if let Wait::Expect(e) = &r.wait
                && r.state == RequestState::Sent
                && e.eval(d, &EvalCtx::at(now_ms)).is_true()
            {
                let state = RequestState::Succeeded(format!("device reports {}", e.source()));
                self.settle(id, state, now_ms);
            }
        }
    }

    /// Requests past their timeout.
    pub fn tick(&mut self, now_ms: i64) {
        let due: Vec<RequestId> = self
            .requests
            .iter()
            .filter(|r| !r.state.is_final() && r.deadline_ms.is_some_and(|d| now_ms >= d))
            .map(|r| r.id)
            .collect();
        for id in due {
            self.settle(id, RequestState::TimedOut, now_ms);
        }
    }

    /// Every request of connection `conn` the broker has not acknowledged fails: the link
    /// went down, and fleetop never sends a command later than asked.
    pub fn link_lost(&mut self, conn: ConnId, reason: &str, now_ms: i64) {
        let lost: Vec<RequestId> = self
            .requests
            .iter()
            .filter(|r| r.conn == conn && r.state == RequestState::Pending)
            .map(|r| r.id)
            .collect();
        for id in lost {
            self.failed(
                id,
                format!("connection lost before the broker acknowledged: {reason}"),
                now_ms,
            );
        }
    }

    fn settle(&mut self, id: RequestId, state: RequestState, now_ms: i64) {
        let Some(r) = self.get_mut(id) else { return };
        if r.state.is_final() {
            return;
        }
        r.state = state;
        r.done_ms = Some(now_ms);
        // Settled requests stay in the reply-topic index until evicted, so a second
        // answer is recognised as one.
        if let (Wait::Expect(_), Some(d)) = (&r.wait, r.device_id) {
            remove_from(&mut self.by_device, &d, id);
        }
        self.settled.push(id);
    }

    pub fn has_settled(&self) -> bool {
        !self.settled.is_empty()
    }

    /// Requests that reached a final state since the last call (for the audit log).
    pub fn drain_settled(&mut self) -> Vec<RequestId> {
        std::mem::take(&mut self.settled)
    }

    fn evict(&mut self) {
        while self.requests.len() > KEEP {
            match self.requests.iter().position(|r| r.state.is_final()) {
                Some(i) => {
                    if let Some(Request {
                        id,
                        wait: Wait::ReplyTopic(t),
                        ..
                    }) = self.requests.remove(i)
                    {
                        remove_from(&mut self.by_topic, t.as_bytes(), id);
                    }
                }
                None => break,
            }
        }
    }

    pub fn get(&self, id: RequestId) -> Option<&Request> {
        // Ids are ascending; a binary search finds one among the kept.
        let i = self.requests.binary_search_by_key(&id, |r| r.id).ok()?;
        self.requests.get(i)
    }

    fn get_mut(&mut self, id: RequestId) -> Option<&mut Request> {
        let i = self.requests.binary_search_by_key(&id, |r| r.id).ok()?;
        self.requests.get_mut(i)
    }

    /// Newest first.
    pub fn recent(&self) -> impl Iterator<Item = &Request> {
        self.requests.iter().rev()
    }

    pub fn open_count(&self) -> usize {
        self.requests.iter().filter(|r| !r.state.is_final()).count()
    }
}

fn remove_from<K, Q>(map: &mut HashMap<K, Vec<RequestId>>, key: &Q, id: RequestId)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if let Some(v) = map.get_mut(key) {
        v.retain(|x| *x != id);
        if v.is_empty() {
            map.remove(key);
        }
    }
}

/// What a reply says: `ok: false` (or "error") fails with the error field, anything else
/// succeeds with the `result` field or the reply's text.
fn judge_reply(payload: &[u8], fields: Option<&(String, String, String)>) -> RequestState {
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(payload) {
        return judge_object(&o, fields);
    }
    let text = String::from_utf8_lossy(payload);
    RequestState::Succeeded(short(if text.trim().is_empty() {
        "done"
    } else {
        text.trim()
    }))
}

/// The verdict of a JSON reply: `ok` (or its configured name) false, or an error with no
/// `ok` at all, fails; else its `result`.
fn judge_object(
    o: &serde_json::Map<String, serde_json::Value>,
    fields: Option<&(String, String, String)>,
) -> RequestState {
    let (ok_field, error_field) =
        fields.map_or(("ok", "error"), |(_, ok, err)| (ok.as_str(), err.as_str()));
    let text_of = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let error = o
        .get(error_field)
        .filter(|e| !matches!(e, serde_json::Value::Null | serde_json::Value::Bool(false)));
    let failed = match o.get(ok_field) {
        Some(serde_json::Value::Bool(b)) => !b,
        Some(serde_json::Value::String(s)) => {
            matches!(
                s.to_ascii_lowercase().as_str(),
                "false" | "error" | "failed" | "fail"
            )
        }
        // No verdict: an error alone says it failed (JSON-RPC, Shelly).
        _ => error.is_some(),
    };
    if failed {
        let reason = error
            .map(|e| match e {
                // JSON-RPC's {"code": -103, "message": "Invalid argument"}.
                serde_json::Value::Object(e) if e.contains_key("message") => match e.get("code") {
                    Some(code) => format!("{} (code {code})", text_of(&e["message"])),
                    None => text_of(&e["message"]),
                },
                other => text_of(other),
            })
            .unwrap_or_else(|| "the device reports a failure".into());
        return RequestState::Failed(short(&reason));
    }
    let result = o
        .get("result")
        .map(text_of)
        .unwrap_or_else(|| "done".into());
    RequestState::Succeeded(short(&result))
}

/// Device text, made safe and short.
fn short(s: &str) -> String {
    crate::sanitize::truncate(&crate::sanitize::text(s), MAX_REASON + 1).into_owned()
}
