//! A connection's subscriptions: the filters it was started with, plus topics it is asked
//! to follow while it runs (the state topics a Home Assistant discovery message names),
//! all renewed after every reconnect; and which filters each SUBSCRIBE asked for, by
//! packet id, so that a refusal names the right ones.

use super::mqtt::Client;
use crate::mapping::filter::{covers, is_topic};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Most topics one connection follows beyond the filters it started with.
pub const MAX_FOLLOWED: usize = 10_000;
/// Followed topics per SUBSCRIBE when renewing: brokers cap packet sizes and filters per
/// packet, and one refused packet must not cost the others.
const RENEW_CHUNK: usize = 64;

/// Shared by the connection task (which renews them on connect) and the core (which asks
/// to follow topics).
#[derive(Clone)]
pub struct Subscriptions(Arc<Shared>);

struct Shared {
    client: Client,
    configured: Vec<(String, u8)>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    followed: Vec<String>,
    /// The filters of each SUBSCRIBE handed to the client and not written yet, in order.
    queued: VecDeque<Vec<String>>,
    /// The filters of each SUBSCRIBE written and not answered yet, by packet id.
    written: HashMap<u16, Vec<String>>,
}

impl Subscriptions {
    pub(super) fn new(client: Client, configured: Vec<(String, u8)>) -> Subscriptions {
        Subscriptions(Arc::new(Shared {
            client,
            configured,
            state: Mutex::default(),
        }))
    }

    /// Subscribes to every filter and followed topic: after each connect, since a clean
    /// session forgets them. The configured filters go in one SUBSCRIBE, followed topics
    /// in small ones after it.
    pub(super) fn renew(&self) -> Result<(), String> {
        let mut s = self.lock();
        let followed: Vec<(String, u8)> = s.followed.iter().map(|t| (t.clone(), 0)).collect();
        let packets = std::iter::once(&self.0.configured[..]).chain(followed.chunks(RENEW_CHUNK));
        for filters in packets.filter(|f| !f.is_empty()) {
            self.send(&mut s, filters)?;
        }
        Ok(())
    }

    /// Starts following `topic` (QoS 0) unless a subscription already brings it; `Ok(true)`
    /// when it subscribed. While the link is down the next connect subscribes to it.
    pub fn follow(&self, topic: &str) -> Result<bool, String> {
        if topic.contains(['+', '#']) {
            return Ok(false);
        }
        if !is_topic(topic) {
            return Err(format!(
                "not subscribing to `{}`: not a valid MQTT topic",
                crate::sanitize::text(&topic.chars().take(64).collect::<String>())
            ));
        }
        if self.0.configured.iter().any(|(f, _)| covers(f, topic)) {
            return Ok(false);
        }
        let mut s = self.lock();
        if s.followed.iter().any(|t| t == topic) {
            return Ok(false);
        }
        if s.followed.len() >= MAX_FOLLOWED {
            return Err(format!(
                "not subscribing to `{}`: already following {MAX_FOLLOWED} topics",
                crate::sanitize::text(topic)
            ));
        }
        self.send(&mut s, &[(topic.to_string(), 0)])?;
        s.followed.push(topic.to_string());
        Ok(true)
    }

    fn send(&self, s: &mut State, filters: &[(String, u8)]) -> Result<(), String> {
        self.0.client.subscribe(filters)?;
        s.queued
            .push_back(filters.iter().map(|(f, _)| f.clone()).collect());
        Ok(())
    }

    /// The client wrote the oldest queued SUBSCRIBE as packet `pkid`.
    pub(super) fn written(&self, pkid: u16) {
        let mut s = self.lock();
        if let Some(filters) = s.queued.pop_front() {
            s.written.insert(pkid, filters);
        }
    }

    /// What the SUBSCRIBE the broker answered as `pkid` asked for; refused followed topics
    /// are no longer followed (a broker that refuses one would refuse it again).
    pub(super) fn answered(&self, pkid: u16, refused: &[usize]) -> Vec<String> {
        let mut s = self.lock();
        let asked = s.written.remove(&pkid).unwrap_or_default();
        let gone: Vec<&String> = refused.iter().filter_map(|&i| asked.get(i)).collect();
        s.followed.retain(|t| !gone.contains(&t));
        asked
    }

    /// The link went down: the client drops what it had not written, and nothing written
    /// will be answered.
    pub(super) fn link_lost(&self) {
        let mut s = self.lock();
        s.queued.clear();
        s.written.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, but a poisoned one is still sound.
        self.0
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriptions(configured: &[(&str, u8)]) -> (Subscriptions, rumqttc::EventLoop) {
        // Never connected: requests wait in the client's queue.
        let options = rumqttc::MqttOptions::new("subscriptions-test", "127.0.0.1", 9);
        let (client, events) = rumqttc::AsyncClient::new(options, 256);
        let configured = configured
            .iter()
            .map(|(f, q)| (f.to_string(), *q))
            .collect();
        (Subscriptions::new(Client::V311(client), configured), events)
    }

    #[test]
    fn follows_only_topics_no_filter_brings() {
        let (subs, _events) = subscriptions(&[("tele/#", 0), ("a/+/b", 1)]);
        assert_eq!(subs.follow("tele/plug/SENSOR"), Ok(false));
        assert_eq!(subs.follow("a/x/b"), Ok(false));
        assert_eq!(subs.follow("wild/+"), Ok(false), "never a wildcard");
        assert_eq!(subs.follow("esp/sensor/t/state"), Ok(true));
        assert_eq!(subs.follow("esp/sensor/t/state"), Ok(false), "once");
        assert!(subs.follow("bad/\0/topic").is_err());
        assert!(subs.follow(&"x".repeat(70_000)).is_err());
        assert_eq!(subs.lock().followed, ["esp/sensor/t/state"]);
        subs.written(7);
        assert_eq!(subs.answered(7, &[]), ["esp/sensor/t/state"]);
        assert!(subs.answered(7, &[]).is_empty(), "answered once");
    }

    #[test]
    fn a_reconnect_renews_filters_then_followed_topics_and_answers_go_by_packet_id() {
        let (subs, _events) = subscriptions(&[("tele/#", 0)]);
        for i in 0..70 {
            assert_eq!(subs.follow(&format!("esp/{i}/state")), Ok(true));
        }
        subs.link_lost();
        subs.renew().expect("renew");
        // Three packets: the configured filter, then 64 and 6 followed topics.
        for pkid in [3, 4, 5] {
            subs.written(pkid);
        }
        assert_eq!(subs.answered(3, &[]), ["tele/#"]);
        assert_eq!(subs.answered(5, &[]).len(), 6);
        let second = subs.answered(4, &[0]);
        assert_eq!(second.len(), RENEW_CHUNK);
        assert!(
            !subs.lock().followed.contains(&second[0]),
            "a refused topic is no longer followed"
        );
        assert_eq!(subs.lock().followed.len(), 69);
    }

    #[test]
    fn a_lost_link_forgets_unanswered_subscribes() {
        let (subs, _events) = subscriptions(&[]);
        assert_eq!(subs.follow("a/b"), Ok(true));
        subs.written(1);
        subs.link_lost();
        assert!(subs.answered(1, &[]).is_empty());
        // Written after the reconnect: nothing stale is matched to it.
        subs.written(1);
        assert!(subs.answered(1, &[]).is_empty());
    }

    #[test]
    fn following_is_capped() {
        let (subs, _events) = subscriptions(&[]);
        let mut state = subs.lock();
        state.followed = (0..MAX_FOLLOWED).map(|i| format!("t/{i}")).collect();
        drop(state);
        let refused = subs.follow("one/more").expect_err("over the cap");
        assert!(refused.contains("one/more"), "{refused}");
        assert_eq!(subs.lock().followed.len(), MAX_FOLLOWED);
    }
}
