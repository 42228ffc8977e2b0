//! The events pane: status changes, link changes, notices, alert transitions and hook
//! reports, newest on top. A link that keeps failing is one line that counts its
//! attempts, not a screenful of `connecting` and `down`.

use super::{App, EVENTS_KEPT};
use crate::fleet::{FleetEvent, FleetState, Status};
use crate::vocab::{ConnId, DeviceId, LinkState};

/// A line of the events pane.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLine {
    pub at_ms: i64,
    pub device: Option<DeviceId>,
    pub text: String,
    pub status: Option<Status>,
    /// Set for alert transitions.
    pub severity: Option<crate::vocab::Severity>,
    /// Set while it stands for a link that keeps failing: later failures of the same
    /// link fold into it.
    pub failing_link: Option<FailingLink>,
}

/// A link's failures since it was last up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailingLink {
    pub conn: ConnId,
    /// Failed attempts so far (each `down`).
    pub attempts: u32,
    pub since_ms: i64,
}

impl EventLine {
    fn plain(at_ms: i64, text: String) -> EventLine {
        EventLine {
            at_ms,
            device: None,
            text,
            status: None,
            severity: None,
            failing_link: None,
        }
    }
}

impl App {
    /// Takes in what the fleet reported: status changes go to the events pane.
    pub fn observe(&mut self, state: &FleetState, ev: &FleetEvent) {
        let broker = |conn: &ConnId| {
            state
                .connections
                .get(conn.index())
                .map_or("?", |c| c.name.as_str())
        };
        let line = match ev {
            FleetEvent::StatusChanged {
                device,
                from,
                to,
                at_ms,
            } if *from != Status::Unknown || *to != Status::Online => {
                let d = &state.devices[(*device).index()];
                let what = match to {
                    Status::Offline => "went offline",
                    Status::Stale => "went quiet (stale)",
                    Status::Online => "is back online",
                    Status::Unknown => "is unknown",
                };
                EventLine {
                    device: Some(*device),
                    status: Some(*to),
                    ..EventLine::plain(*at_ms, format!("{} {what}", crate::sanitize::text(&d.name)))
                }
            }
            FleetEvent::LinkChanged {
                conn,
                state: link,
                at_ms,
            } => return self.observe_link(*conn, broker(conn), link, *at_ms),
            FleetEvent::Notice {
                conn,
                message,
                at_ms,
            } => EventLine::plain(
                *at_ms,
                format!(
                    "broker {}: {}",
                    broker(conn),
                    crate::sanitize::text(message)
                ),
            ),
            _ => return,
        };
        self.push_event(line);
    }

    /// A link change. Connecting and down again, while the link has not come up since,
    /// replace the line of its earlier failures with one that counts them.
    fn observe_link(&mut self, conn: ConnId, broker: &str, link: &LinkState, at_ms: i64) {
        let up = matches!(link, LinkState::Connected | LinkState::Replaying);
        let earlier = self
            .events
            .iter()
            .position(|e| e.failing_link.is_some_and(|f| f.conn == conn));
        if up {
            // The outage is over: its line stays as it was, and a new one starts next time.
            if let Some(i) = earlier {
                self.events[i].failing_link = None;
            }
            return self.push_event(EventLine::plain(at_ms, format!("broker {broker}: {link}")));
        }
        let mut failing = FailingLink {
            conn,
            attempts: 0,
            since_ms: at_ms,
        };
        if let Some(i) = earlier
            && let Some(old) = self.events.remove(i)
        {
            failing = old.failing_link.unwrap_or(failing);
            // The cursor stays on its event: one that was below the removed line moves up.
            if self.event_selected > i {
                self.event_selected -= 1;
            }
        }
        if matches!(link, LinkState::Down { .. } | LinkState::Failed(_)) {
            failing.attempts += 1;
        }
        let mut text = format!("broker {broker}: {link}");
        if failing.attempts > 1 {
            text.push_str(&format!(
                " ({} failed attempts since {})",
                failing.attempts,
                crate::text::clock(failing.since_ms)
            ));
        }
        self.push_event(EventLine {
            failing_link: Some(failing),
            ..EventLine::plain(at_ms, text)
        });
    }

    /// Adds the newest event on top. The cursor stays on the event it was on (one row
    /// further down), so Enter or `a` act on the event the operator chose, not on whatever
    /// arrived above it.
    pub(super) fn push_event(&mut self, line: EventLine) {
        self.events.push_front(line);
        self.events.truncate(EVENTS_KEPT);
        self.event_selected = (self.event_selected + 1).min(self.events.len().saturating_sub(1));
    }

    /// Takes in an alert transition (names in it are already sanitised).
    pub fn observe_alert(&mut self, t: &crate::alerts::Transition) {
        let state = format!("{:?}", t.to).to_lowercase();
        let mut text = format!(
            "{} {} on {}: {state}",
            t.severity.as_str(),
            t.rule_name,
            t.device_name
        );
        if !t.message.is_empty() {
            text.push_str(" · ");
            text.push_str(&t.message);
        }
        if t.silenced {
            text.push_str(" (silenced)");
        }
        if t.is_resurfaced() {
            text.push_str(" (its silence ended)");
        }
        self.push_event(EventLine {
            device: Some(t.device),
            severity: Some(t.severity),
            ..EventLine::plain(t.at_ms, text)
        });
    }

    /// Takes in a hook that failed, timed out or was skipped.
    pub fn observe_hook(&mut self, text: String, at_ms: i64) {
        self.push_event(EventLine::plain(at_ms, text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn texts(a: &App) -> Vec<String> {
        a.events.iter().map(|e| e.text.clone()).collect()
    }

    #[test]
    fn a_link_that_keeps_failing_is_one_line_that_counts_its_attempts() {
        let state = FleetState::new(
            crate::mapping::Mapper::new(&[]).unwrap_or_else(|e| panic!("{e}")),
            Default::default(),
            &["plant".to_string()],
        );
        let mut a = App::new(crate::theme::Theme::monochrome(), false);
        let down = |reason: &str| LinkState::Down {
            reason: reason.into(),
            retry_in: Duration::from_millis(400),
        };
        let see = |a: &mut App, l: LinkState, at| {
            a.observe(
                &state,
                &FleetEvent::LinkChanged {
                    conn: ConnId(0),
                    state: l,
                    at_ms: at,
                },
            )
        };
        see(&mut a, LinkState::Connected, 0);
        for i in 0..30 {
            see(&mut a, LinkState::Connecting, 1_000 + i * 500);
            see(&mut a, down("connection refused"), 1_100 + i * 500);
        }
        assert_eq!(a.events.len(), 2, "{:?}", texts(&a));
        assert!(
            a.events[0]
                .text
                .starts_with("broker plant: down: connection refused")
                && a.events[0].text.contains("(30 failed attempts since "),
            "{}",
            a.events[0].text
        );
        see(&mut a, LinkState::Connected, 20_000);
        see(&mut a, LinkState::Connecting, 30_000);
        assert_eq!(
            a.events.len(),
            4,
            "a new outage is a new line: {:?}",
            texts(&a)
        );
        assert!(
            a.events[2].text.contains("30 failed attempts"),
            "the old one stays"
        );
    }
}
