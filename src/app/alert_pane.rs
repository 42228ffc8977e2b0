//! The alerts pane: opening it (for a device or a state), moving through it, and acting
//! on an alert (acknowledge, silence).

use super::*;

impl App {
    /// The device an alert key acts on: the events pane's, the open one, the selected
    /// row's or the selected alert's.
    pub(super) fn device_for_alerts(&self) -> Option<DeviceId> {
        match (self.pane, self.view) {
            (Pane::Events, _) => self.events.get(self.event_selected).and_then(|e| e.device),
            (_, View::Device(id)) => Some(id),
            (_, View::Fleet) => self.selected_device(),
            (_, View::Alerts) => self.alerts.selected_row().map(|r| r.device),
            (_, View::Map) => self.map.selected,
            (_, View::Topics | View::Overview | View::Broker) => None,
        }
    }

    /// Opens the alert pane, optionally with a state filter.
    pub(super) fn open_alerts(&mut self, filter: Option<alerts::StateFilter>) {
        self.view = View::Alerts;
        self.pane = Pane::Main;
        if let Some(f) = filter {
            self.alerts.filter = f;
            self.alerts.selected = 0;
        }
    }

    /// Opens the `:` line with a `:silence` for the device (and rule) filled in.
    pub(super) fn open_silence(
        &mut self,
        device: Option<DeviceId>,
        rule: Option<&str>,
        state: &FleetState,
    ) {
        match device.and_then(|id| state.devices.get(id.index())) {
            Some(d) => {
                self.mode = Mode::Command(alerts::silence_prefill(d, rule).into());
                self.command_hint = Some(alerts::silence_hint(d));
            }
            None => self.message = Some(
                "select a device or an alert to silence, or type :silence key=value 2h \"reason\""
                    .into(),
            ),
        }
    }

    /// Ack, silence, unsilence and filter in the alert pane, on the selected alert.
    pub(super) fn alert_action(&mut self, action: Action, state: &FleetState) -> Vec<Effect> {
        let Some(row) = self.alerts.selected_row().cloned() else {
            if action == Action::CycleAlertFilter {
                self.cycle_alert_filter();
            } else {
                self.message = Some("no alert selected".into());
            }
            return Vec::new();
        };
        if row.members > 0 {
            return self.folded_action(action, &row);
        }
        match action {
            Action::Ack => {
                return vec![Effect::Alert(AlertOp::Ack {
                    device: row.device,
                    rule: row.rule,
                })];
            }
            Action::Silence => match &row.group {
                Some(labels) => {
                    self.mode =
                        Mode::Command(format!("silence {labels} rule={} ", row.rule_name).into());
                    self.command_hint =
                        Some("add DURATION \"reason\", e.g. 2h \"gateway swap\"".into());
                }
                None => self.open_silence(Some(row.device), Some(&row.rule_name), state),
            },
            Action::Unsilence => match row.silence {
                Some(id) => return vec![Effect::Alert(AlertOp::Unsilence(id))],
                None => self.message = Some("this alert is not silenced".into()),
            },
            _ => self.cycle_alert_filter(),
        }
        Vec::new()
    }

    /// Ack and silence on a folded rule's head act on the whole group.
    fn folded_action(&mut self, action: Action, row: &AlertRowKind) -> Vec<Effect> {
        match action {
            Action::Ack => return vec![Effect::Alert(AlertOp::AckRule(row.rule))],
            Action::Silence => {
                self.mode = Mode::Command(format!("silence rule={} ", row.rule_name).into());
                self.command_hint = Some(format!(
                    "{} alerts of {}: add matchers to narrow it, then DURATION \"reason\"",
                    row.members, row.rule_name
                ));
            }
            Action::Unsilence => {
                self.message = Some("Enter unfolds the group: u lifts one alert's silence".into())
            }
            _ => self.cycle_alert_filter(),
        }
        Vec::new()
    }

    fn cycle_alert_filter(&mut self) {
        self.alerts.filter = self.alerts.filter.next();
        self.alerts.selected = 0;
        self.message = Some(format!("showing {} alerts", self.alerts.filter.label()));
    }

    pub(super) fn navigate_alerts(&mut self, action: Action) {
        match action {
            Action::Enter | Action::Right => match self.alerts.selected_row().cloned() {
                // A gateway's alert opens the fleet filtered to the devices behind it.
                Some(AlertRowKind {
                    group: Some(labels),
                    ..
                }) => self.apply_filter(&labels),
                // A folded rule's head opens (or closes) its group.
                Some(r) if r.members > 0 => toggle(&mut self.alerts.unfolded, r.rule),
                Some(r) => {
                    self.view = View::Device(r.device);
                    self.device_return = View::Alerts;
                    self.metric = 0;
                }
                None => {}
            },
            Action::Back | Action::Left => self.view = View::Fleet,
            Action::Click(line) => {
                let page = self.page.max(1);
                self.alerts.selected = ((self.alerts.selected / page) * page + line)
                    .min(self.alerts.rows.len().saturating_sub(1));
            }
            other => {
                self.alerts.selected = step(
                    self.alerts.selected,
                    &other,
                    self.alerts.rows.len(),
                    self.page,
                )
            }
        }
    }
}

/// Adds `rule` to the set, or takes it out if it was there.
fn toggle(
    set: &mut std::collections::HashSet<crate::alerts::RuleIdx>,
    rule: crate::alerts::RuleIdx,
) {
    if !set.remove(&rule) {
        set.insert(rule);
    }
}
