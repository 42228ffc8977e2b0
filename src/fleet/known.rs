//! Devices known from an earlier run: what a restart must not forget, so a device that
//! died without a word (no retained status, no last will) is still stale after fleetop
//! restarts instead of vanishing. Turning the fleet into records and back is here; the
//! file they live in is the caller's IO.

use super::FleetState;
use super::device::{GUESSED_REPORTS_BEFORE_JUDGED, Status};
use crate::conventions::DeviceFacts;
use crate::mapping::FleetIdx;
use crate::vocab::ConnId;
use serde::{Deserialize, Serialize};

/// Most devices remembered: the most recently seen ones beyond this are let go, so saving
/// stays a matter of milliseconds.
pub const MAX_KNOWN: usize = 200_000;

/// One remembered device. Names, not indices: fleets and connections are found again by
/// name, and a record whose fleet or connection is gone is skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownDevice {
    pub name: String,
    pub fleet: String,
    pub conn: String,
    #[serde(default)]
    pub labels: Vec<(String, String)>,
    pub status: Status,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    #[serde(default)]
    pub last_live_ms: Option<i64>,
    #[serde(default)]
    pub available: Option<bool>,
    #[serde(default)]
    pub live_messages: u64,
}

/// The devices of a run, as saved at `saved_at_ms`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KnownFleet {
    pub saved_at_ms: i64,
    pub devices: Vec<KnownDevice>,
}

impl FleetState {
    /// The devices worth remembering at `now_ms`: all but the guesses of the no-config
    /// fallback that never reported regularly (a topic flood must not outlive its run).
    pub fn known(&self, now_ms: i64) -> KnownFleet {
        let mut devices: Vec<&super::Device> = self
            .devices
            .iter()
            .filter(|d| !d.guessed || d.live_messages >= GUESSED_REPORTS_BEFORE_JUDGED)
            .collect();
        if devices.len() > MAX_KNOWN {
            devices.sort_unstable_by_key(|d| std::cmp::Reverse(d.last_seen_ms));
            devices.truncate(MAX_KNOWN);
        }
        let devices = devices
            .into_iter()
            .map(|d| KnownDevice {
                name: d.name.to_string(),
                fleet: self.fleet_name(d).to_string(),
                conn: self
                    .connections
                    .get(d.conn.index())
                    .map_or_else(String::new, |c| c.name.clone()),
                labels: d
                    .labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                status: d.status,
                first_seen_ms: d.first_seen_ms,
                last_seen_ms: d.last_seen_ms,
                last_live_ms: d.last_live_ms,
                available: d.available,
                live_messages: d.live_messages,
            })
            .collect();
        KnownFleet {
            saved_at_ms: now_ms,
            devices,
        }
    }

    /// Brings back the devices of an earlier run with the status they had. Fleetop saw
    /// nothing since `saved_at_ms`: its connections count as blind from then, so a
    /// device that was alive gets a fresh allowance from the reconnect, and one already
    /// stale stays stale. Returns how many devices came back.
    pub fn restore_known(&mut self, known: KnownFleet) -> usize {
        for c in &mut self.connections {
            c.blind_from_ms.get_or_insert(known.saved_at_ms);
        }
        let events_before = self.events.len();
        let mut restored = 0;
        for k in known.devices {
            let fleet = self.mapper.fleets.iter().position(|f| f.name == k.fleet);
            let conn = self.connections.iter().position(|c| c.name == k.conn);
            let (Some(fleet), Some(conn)) = (fleet, conn) else {
                continue;
            };
            let convention = self.mapper.fleets[fleet].convention;
            let Ok(fleet) = FleetIdx::try_from(fleet) else {
                continue;
            };
            let Some(id) = self.device_for(ConnId::nth(conn), fleet, &k.name, k.labels) else {
                continue;
            };
            let d = &mut self.devices[id.index()];
            d.status = k.status;
            d.first_seen_ms = k.first_seen_ms;
            d.last_seen_ms = k.last_seen_ms;
            d.last_live_ms = k.last_live_ms;
            d.available = k.available;
            d.live_messages = k.live_messages;
            if let Some(c) = convention {
                d.facts.get_or_insert_with(|| Box::new(DeviceFacts::new(c)));
            }
            restored += 1;
        }
        // They were known already: what restoring them said (appeared, joined a fleet) is
        // not news for the events pane.
        self.events.truncate(events_before);
        restored
    }
}

#[cfg(test)]
#[path = "known_tests.rs"]
mod tests;
