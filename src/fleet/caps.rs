//! Caps and what reaching them looks like. Every refusal is counted; reaching a cap is
//! also a [`FleetEvent::Notice`] (the headless `notice` line, the events pane) with the
//! count refused so far, because a counter in the stats is easy to miss while devices
//! silently fail to appear.
//!
//! Devices the generic fallback guessed have a cap of their own and are evicted first: a
//! flood of junk JSON topics must never keep a recognised convention's or a configured
//! fleet's device out.

use super::route::Route;
use super::*;

/// How often (by message time) a cap that keeps refusing says so again.
const NOTICE_EVERY_MS: i64 = 60_000;

/// A cap that can refuse something a device sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cap {
    Devices,
    GuessedDevices,
    Metrics,
    UnmappedTopics,
    TopicLength,
    PayloadSize,
}

impl Cap {
    const COUNT: usize = 6;

    fn what(self, limits: &Limits) -> String {
        match self {
            Cap::Devices => format!("device cap ([limits] max_devices = {})", limits.max_devices),
            Cap::GuessedDevices => format!(
                "cap on devices guessed by the generic fallback ([limits] max_guessed_devices = {})",
                limits.max_guessed_devices
            ),
            Cap::Metrics => format!(
                "metric cap ([limits] max_metrics_per_device = {})",
                limits.max_metrics_per_device
            ),
            Cap::UnmappedTopics => format!(
                "unmapped topic cap ([limits] max_unmapped_topics = {})",
                limits.max_unmapped_topics
            ),
            Cap::TopicLength => format!(
                "topic length cap ([limits] max_topic_len = {} bytes)",
                limits.max_topic_len
            ),
            Cap::PayloadSize => format!(
                "payload cap ([limits] max_payload_bytes = {})",
                limits.max_payload_bytes
            ),
        }
    }

    fn counter(self, c: &mut Counters) -> &mut u64 {
        match self {
            Cap::Devices => &mut c.refused_device_cap,
            Cap::GuessedDevices => &mut c.refused_guessed_cap,
            Cap::Metrics => &mut c.refused_metric_cap,
            Cap::UnmappedTopics => &mut c.refused_unmapped_cap,
            Cap::TopicLength => &mut c.refused_topic_too_long,
            Cap::PayloadSize => &mut c.refused_payload_too_big,
        }
    }
}

/// When each cap last said it refused something, by message time.
#[derive(Debug, Default)]
pub(super) struct CapNotices {
    last_ms: [Option<i64>; Cap::COUNT],
}

impl FleetState {
    /// Counts `n` refusals by `cap` on connection `conn`; the first one, and then one a
    /// minute while it keeps refusing, is a notice.
    pub(super) fn refuse(&mut self, cap: Cap, conn: ConnId, n: u64) {
        if n == 0 {
            return;
        }
        let total = {
            let c = cap.counter(&mut self.counters);
            *c += n;
            *c
        };
        if self.notice_due(cap) {
            let message = format!("{} reached: {total} refused so far", cap.what(&self.limits));
            self.note(conn, message, self.now_ms);
        }
    }

    /// Whether `cap` may say something now (and, if so, it has).
    fn notice_due(&mut self, cap: Cap) -> bool {
        let now = self.now_ms;
        let last = &mut self.cap_notices.last_ms[cap as usize];
        if last.is_some_and(|t| now.saturating_sub(t) < NOTICE_EVERY_MS) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Whether `fleet` holds the generic fallback's guesses.
    pub(super) fn is_guessed(&self, fleet: FleetIdx) -> bool {
        self.mapper.convention_fleet(Convention::Generic) == Some(fleet)
    }

    /// Whether a new device of `fleet` fits; may evict a guessed device to make room.
    /// `None` (counted, noticed) when refused; `Some(slot)` with a slot to reuse.
    pub(super) fn admit(&mut self, conn: ConnId, fleet: FleetIdx) -> Option<Option<DeviceId>> {
        let guessed = self.is_guessed(fleet);
        if guessed && self.guessed.len() >= self.limits.max_guessed_devices {
            self.refuse(Cap::GuessedDevices, conn, 1);
            return None;
        }
        if self.devices.len() < self.limits.max_devices {
            return Some(None);
        }
        // Full. Only a device that is not a guess may push a guess out.
        match (guessed, self.guessed.pop_front()) {
            (false, Some(victim)) => {
                self.evict(victim);
                Some(Some(victim))
            }
            (_, victim) => {
                if let Some(v) = victim {
                    self.guessed.push_front(v);
                }
                self.refuse(Cap::Devices, conn, 1);
                None
            }
        }
    }

    /// Forgets a guessed device so its slot can hold another: its index entry, the routes
    /// that point to it (their topics are classified afresh) and its fleet's count.
    fn evict(&mut self, id: DeviceId) {
        let Some(d) = self.devices.get(id.index()) else {
            return;
        };
        let (conn, fleet, name) = (d.conn, d.fleet, d.name.clone());
        self.device_index.remove(&(conn, fleet, name.clone()));
        let mut freed = Vec::new();
        if let Some(routes) = self.routes.get_mut(conn.index()) {
            routes.retain(|_, (r, _)| match r {
                Route::Convention {
                    device: Some(x), ..
                } if x.points_to(id) => {
                    freed.push(x.shape);
                    false
                }
                _ => true,
            });
        }
        for shape in freed {
            self.free_shape(shape);
        }
        if let Some(n) = self.fleet_sizes.get_mut(fleet as usize) {
            *n = n.saturating_sub(1);
        }
        self.counters.evicted_guessed += 1;
        if self.notice_due(Cap::Devices) {
            let message = format!(
                "{} reached: evicted guessed device {} to make room ({} evicted so far)",
                Cap::Devices.what(&self.limits),
                crate::sanitize::text(&name),
                self.counters.evicted_guessed
            );
            self.note(conn, message, self.now_ms);
        }
    }
}

#[cfg(test)]
mod tests;
