//! `n` / `N`: the cursor jumps to the next / previous device in the table with a problem,
//! wrapping around, so an operator walks through what is wrong without scrolling past
//! what is fine.

use super::App;
use super::rows::Row;
use crate::fleet::{Device, FleetState, Status};

impl App {
    /// A device is in trouble when it is offline or stale, has a raised alert nobody
    /// silenced, or sent a payload that did not decode recently.
    pub fn in_trouble(&self, d: &Device, now_ms: i64) -> bool {
        matches!(d.status, Status::Offline | Status::Stale)
            || self.alerting.contains_key(&d.id)
            || d.has_recent_error(now_ms)
    }

    pub(super) fn jump_to_problem(&mut self, forward: bool, state: &FleetState) {
        let n = self.rows.len();
        let now = state.now_ms();
        let found = (1..=n)
            .map(|step| {
                if forward {
                    (self.selected + step) % n
                } else {
                    (self.selected + n - step) % n
                }
            })
            .find(|&i| match self.rows[i] {
                Row::Device(id) => state
                    .devices
                    .get(id.index())
                    .is_some_and(|d| self.in_trouble(d, now)),
                Row::Group { .. } => false,
            });
        match found {
            Some(i) => {
                self.selected = i;
                self.cursor_chosen = true;
            }
            None => self.message = Some("no device with a problem in this view".into()),
        }
    }
}
