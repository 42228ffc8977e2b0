//! The engine's alerting: what the core settles on its own schedule (hooks, the alert
//! log, published transitions), the feed a front end shows of it, and operator actions
//! (ack, silence) recorded where the alert log is kept.

use super::Engine;
use crate::alerts::{AlertBook, RuleSet};

/// Most alert transitions (and hook reports) kept for a front end that has not taken
/// them: a terminal that stops reading must not make the core grow.
const FEED_CAP: usize = 10_000;

/// Alert transitions and hook reports since a front end last took them. Their effects
/// (hooks, the alert log, published transitions) happened when the core settled them;
/// this is what is left to show.
#[derive(Debug, Default)]
pub struct Feed {
    pub transitions: Vec<crate::alerts::Transition>,
    pub hook_reports: Vec<String>,
    /// Transitions and reports left out because nobody took them in time.
    pub missed: u64,
}

impl Feed {
    fn keep<T>(list: &mut Vec<T>, more: impl IntoIterator<Item = T>, missed: &mut u64) {
        list.extend(more);
        if list.len() > FEED_CAP {
            let over = list.len() - FEED_CAP;
            list.drain(..over);
            *missed += over as u64;
        }
    }
}

impl Engine {
    /// Restores acks and silences from the alert log of `place` and keeps recording
    /// there; without a state directory alerts are simply not persisted.
    pub fn keep_alert_log(&mut self, place: &crate::output::alert_log::Place) {
        let Some(path) = place.log_path() else {
            return;
        };
        match crate::output::alert_log::AlertLog::open(&path, &mut self.alerts, self.clock.now_ms())
        {
            Ok(log) => self.alert_log = Some(log),
            Err(e) => tracing::warn!("{e}"),
        }
    }

    /// Brings back the devices `place` knew when fleetop last stopped (with their status:
    /// one that died silently is still stale) and keeps them for the next run. Only for
    /// brokers watched live: a recording has its own time.
    pub fn keep_known_devices(&mut self, place: &crate::output::alert_log::Place) {
        if !matches!(self.clock, crate::source::Clock::Wall) {
            return;
        }
        let Some(file) = crate::output::known_devices::KnownDevicesFile::of(place) else {
            return;
        };
        if let Some(known) = file.load() {
            let stopped = known.saved_at_ms;
            let n = self.state.restore_known(known);
            self.alerts.held_since_stop(self.conns.len(), stopped);
            tracing::info!("{n} devices known from the last run");
        }
        self.known = Some(file);
    }

    /// Saves the known devices when a save is due (off this thread).
    fn save_known_devices(&mut self) {
        let now = self.clock.now_ms();
        if let Some(file) = &mut self.known
            && file.due(now)
        {
            file.save(self.state.known(now));
        }
    }

    /// Alert transitions since the last call, recorded in the alert log if one is kept;
    /// their hooks are started (and run on their own).
    pub fn drain_alerts(&mut self) -> Vec<crate::alerts::Transition> {
        let transitions: Vec<_> = self.alerts.drain().collect();
        self.publish_alerts(&transitions);
        let now = self.clock.now_ms();
        for t in &transitions {
            if let Some(run) = self.alerts.rules().hook_for(t)
                && let Some(group) = self.hook_groups.offer(run, t.clone(), now)
            {
                self.run_hooks(group);
            }
        }
        if let Some(log) = &mut self.alert_log {
            let entries: Vec<crate::alerts::LogEntry> = transitions
                .iter()
                .map(crate::alerts::LogEntry::from)
                .collect();
            log.append(&entries);
            if log.needs_compaction() {
                log.compact(&self.alerts.compact(), self.clock.now_ms());
            }
        }
        transitions
    }

    /// Runs a group's hook with the alerts' JSON lines on its stdin.
    fn run_hooks(&self, group: crate::alerts::hooks::GroupRun) {
        let mut stdin = String::new();
        for t in &group.alerts {
            stdin.push_str(&crate::output::headless::alert(t).to_string());
            stdin.push('\n');
        }
        let alert = match &group.alerts[..] {
            [t] => format!("{} on {}", t.rule_name, t.device_name),
            [t, ..] => format!("{} on {} devices", t.rule_name, group.alerts.len()),
            [] => return,
        };
        let n = group.alerts.len();
        self.hooks.start(group.run, alert, stdin.into_bytes(), n);
    }

    /// Hook runs that failed, timed out or were skipped since the last call, in words.
    pub fn drain_hook_reports(&mut self) -> Vec<String> {
        self.hooks.drain()
    }

    /// Carries out what the latest messages and ticks decided (hooks, the alert log,
    /// published transitions) and keeps what a front end shows of it in the feed. The
    /// core does this on its own schedule, whether or not a front end is looking.
    pub fn settle(&mut self) {
        self.save_known_devices();
        let transitions = self.drain_alerts();
        for group in self.hook_groups.due(self.clock.now_ms()) {
            self.run_hooks(group);
        }
        let reports = self.hooks.drain();
        let feed = &mut self.feed;
        Feed::keep(&mut feed.transitions, transitions, &mut feed.missed);
        Feed::keep(&mut feed.hook_reports, reports, &mut feed.missed);
    }

    /// What the core settled since the last call, for a front end to show.
    pub fn take_feed(&mut self) -> Feed {
        std::mem::take(&mut self.feed)
    }

    /// Acknowledges every active, unacknowledged alert `pick` chooses.
    fn ack_where(
        &mut self,
        pick: impl Fn(&crate::alerts::Alert) -> bool,
        by: &str,
        now: i64,
    ) -> Result<Vec<crate::alerts::LogEntry>, String> {
        let keys: Vec<_> = self
            .alerts
            .active()
            .into_iter()
            .filter(|a| a.ack.is_none() && pick(a))
            .map(|a| (a.device, a.rule))
            .collect();
        if keys.is_empty() {
            return Err("no unacknowledged alert there".into());
        }
        Ok(keys
            .into_iter()
            .filter_map(|(d, r)| self.alerts.ack(d, r, by, None, now).ok())
            .collect())
    }

    /// Carries out an operator action on alerts and records it; the message says what
    /// happened, for the status bar.
    pub fn alert_op(&mut self, op: &crate::app::AlertOp, by: &str) -> Result<String, String> {
        use crate::app::AlertOp;
        let now = self.clock.now_ms();
        let entries: Vec<crate::alerts::LogEntry> = match op {
            AlertOp::AckDevice(id) => self.ack_where(|a| a.device == *id, by, now)?,
            AlertOp::AckRule(rule) => self.ack_where(|a| a.rule == *rule, by, now)?,
            AlertOp::Ack { device, rule } => vec![
                self.alerts
                    .ack(*device, *rule, by, None, now)
                    .map_err(|e| e.to_string())?,
            ],
            AlertOp::Silence(args) => {
                let req = crate::alerts::parse_silence_command(args)?;
                vec![
                    self.alerts
                        .silence(req, by, now)
                        .map_err(|e| e.to_string())?,
                ]
            }
            AlertOp::Unsilence(id) => {
                vec![
                    self.alerts
                        .unsilence(*id, by, now)
                        .map_err(|e| e.to_string())?,
                ]
            }
        };
        if let Some(log) = &mut self.alert_log {
            log.append(&entries);
            if log.needs_compaction() {
                log.compact(&self.alerts.compact(), self.clock.now_ms());
            }
        }
        Ok(match (op, entries.first()) {
            (AlertOp::Silence(_), Some(crate::alerts::LogEntry::Silence(silence))) => {
                format!(
                    "silence {} set (:unsilence {} lifts it)",
                    silence.id, silence.id
                )
            }
            (AlertOp::AckDevice(_) | AlertOp::AckRule(_), _) => {
                format!("acknowledged {} alert(s)", entries.len())
            }
            (AlertOp::Ack { .. }, _) => "acknowledged".into(),
            (AlertOp::Unsilence(id), _) => format!("silence {id} lifted"),
            _ => "done".into(),
        })
    }
}

/// A device's alert rules are evaluated at most this often (message time): a flood
/// costs evaluations per device and second, not per message.
pub const ALERT_EVAL_EVERY_MS: i64 = 1000;

/// The alert book every front end uses: rules evaluated at most once a second per device.
pub fn alert_book(rules: RuleSet) -> AlertBook {
    let mut book = AlertBook::new(rules);
    book.coalesce(ALERT_EVAL_EVERY_MS);
    book
}

impl Drop for Engine {
    /// The last save of the known devices, so the next run starts where this one ended.
    fn drop(&mut self) {
        let now = self.clock.now_ms();
        if let Some(file) = &mut self.known {
            file.save_now(self.state.known(now));
        }
    }
}
