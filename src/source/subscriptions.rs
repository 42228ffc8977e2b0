//! A connection's subscriptions: the filters it was started with, plus topics it is asked
//! to follow while it runs (the state topics a Home Assistant discovery message names),
//! all renewed after every reconnect; and which filters each SUBSCRIBE asked for, so that
//! a refusal names the right ones.

use super::mqtt::Client;
use crate::mapping::filter::covers;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// Most topics one connection follows beyond the filters it started with.
pub const MAX_FOLLOWED: usize = 10_000;

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
    /// The filters of each SUBSCRIBE sent and not answered yet, oldest first.
    awaiting: VecDeque<Vec<String>>,
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
    /// session forgets them.
    pub(super) fn renew(&self) -> Result<(), String> {
        let mut s = self.lock();
        s.awaiting.clear();
        let all: Vec<(String, u8)> = self
            .0
            .configured
            .iter()
            .cloned()
            .chain(s.followed.iter().map(|t| (t.clone(), 0)))
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        self.0.client.subscribe(&all)?;
        s.awaiting
            .push_back(all.into_iter().map(|(f, _)| f).collect());
        Ok(())
    }

    /// Starts following `topic` (QoS 0) unless a subscription already brings it; `Ok(true)`
    /// when it subscribed. While the link is down the next connect subscribes to it.
    pub fn follow(&self, topic: &str) -> Result<bool, String> {
        if topic.is_empty() || topic.contains(['+', '#']) {
            return Ok(false);
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
        s.followed.push(topic.to_string());
        if self.0.client.subscribe(&[(topic.to_string(), 0)]).is_ok() {
            s.awaiting.push_back(vec![topic.to_string()]);
        }
        Ok(true)
    }

    /// The filters of the oldest SUBSCRIBE not answered yet: what a SUBACK answers for.
    pub(super) fn answered(&self) -> Option<Vec<String>> {
        self.lock().awaiting.pop_front()
    }

    /// Topics followed beyond the configured filters.
    pub fn followed(&self) -> usize {
        self.lock().followed.len()
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
        let (client, events) = rumqttc::AsyncClient::new(options, 16);
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
        assert_eq!(subs.followed(), 1);
        assert_eq!(
            subs.answered(),
            Some(vec!["esp/sensor/t/state".to_string()])
        );
    }

    #[test]
    fn a_reconnect_renews_filters_and_followed_topics_in_one_subscribe() {
        let (subs, _events) = subscriptions(&[("tele/#", 0)]);
        assert_eq!(subs.follow("esp/sensor/t/state"), Ok(true));
        subs.renew().expect("renew");
        let all = ["tele/#", "esp/sensor/t/state"].map(String::from).to_vec();
        assert_eq!(
            subs.answered(),
            Some(all),
            "what was awaited before is forgotten"
        );
        assert_eq!(subs.answered(), None);
    }

    #[test]
    fn following_is_capped() {
        let (subs, _events) = subscriptions(&[]);
        let mut state = subs.lock();
        state.followed = (0..MAX_FOLLOWED).map(|i| format!("t/{i}")).collect();
        drop(state);
        let refused = subs.follow("one/more").expect_err("over the cap");
        assert!(refused.contains("one/more"), "{refused}");
        assert_eq!(subs.followed(), MAX_FOLLOWED);
    }
}
