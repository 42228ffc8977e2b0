//! Keys in normal mode: moving through the fleet table, its groups and a device, and
//! editing the filter line.

use super::*;

impl App {
    /// Opens a device's view; Esc goes back to `from`.
    pub(super) fn open_device(&mut self, id: DeviceId, from: View) {
        self.view = View::Device(id);
        self.device_return = from;
        self.metric = 0;
        self.pane = Pane::Main;
    }

    /// Opens a view (`:map`, `:overview`, `--view`).
    pub fn open_view(&mut self, view: View) {
        match view {
            View::Alerts => self.open_alerts(None),
            other => self.view = other,
        }
        self.pane = Pane::Main;
    }

    pub(super) fn normal(&mut self, action: Action, state: &FleetState) -> Vec<Effect> {
        let in_alert_pane = self.view == View::Alerts && self.pane == Pane::Main;
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.mode = Mode::Help,
            Action::OpenFilter if self.view == View::Topics => {
                self.filter_error = None;
                self.mode = Mode::Filter(self.topics.search.as_str().into());
            }
            Action::OpenFilter => {
                self.filter_error = None;
                self.mode = Mode::Filter(self.filter.source.as_str().into());
            }
            Action::OpenCommand => self.mode = Mode::Command(Default::default()),
            // The alert pane and the overview fill the screen: there is no events pane to
            // switch to. On the map, Tab walks its devices.
            Action::NextPane
                if matches!(self.view, View::Alerts | View::Overview | View::Broker) => {}
            Action::NextPane if self.view == View::Map => self.navigate_map(action, state),
            Action::Map => self.toggle_map(state),
            Action::NextPane => {
                self.pane = match self.pane {
                    // Entering the pane starts at the newest event; from there the cursor
                    // follows the event it is on as new ones arrive.
                    Pane::Main => {
                        self.event_selected = 0;
                        Pane::Events
                    }
                    Pane::Events => Pane::Main,
                }
            }
            Action::Broker => {
                self.view = match self.view {
                    View::Broker => View::Fleet,
                    _ => View::Broker,
                };
                self.pane = Pane::Main;
            }
            Action::Topics => {
                self.view = match self.view {
                    View::Topics => View::Fleet,
                    _ => View::Topics,
                }
            }
            Action::CycleSort => {
                self.sort = self.sort.next();
                self.rows_dirty = true;
                self.message = Some(format!("sorted by {}", self.sort.label()));
            }
            Action::ReverseSort => {
                self.descending = !self.descending;
                self.rows_dirty = true;
            }
            Action::Alerts if self.view == View::Alerts => self.view = View::Fleet,
            Action::Alerts => self.open_alerts(None),
            Action::Ack | Action::Silence | Action::Unsilence | Action::CycleAlertFilter
                if in_alert_pane =>
            {
                return self.alert_action(action, state);
            }
            Action::Silence => self.open_silence(self.device_for_alerts(), None, state),
            Action::Unsilence => {
                self.message =
                    Some("open the alert pane (!) to lift a silence, or :unsilence ID".into())
            }
            Action::CycleAlertFilter => {}
            Action::Ack => {
                let device = self.device_for_alerts();
                return match device {
                    Some(id) => vec![Effect::Alert(AlertOp::AckDevice(id))],
                    None => {
                        self.message = Some(
                            "select a device (or an alert in the events pane) to acknowledge"
                                .into(),
                        );
                        Vec::new()
                    }
                };
            }
            Action::Mark => match (self.view, self.selected_device()) {
                (View::Fleet, Some(id)) => {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.selected = (self.selected + 1).min(self.rows.len().saturating_sub(1));
                    self.message = Some(format!(
                        "{} marked; c sends a command to them",
                        self.marked.len()
                    ));
                }
                _ => self.message = Some("Space marks device rows in the fleet table".into()),
            },
            Action::OpenCompose => {
                self.open_composer(self.command_targets(), state);
            }
            Action::OpenBulkCompose => {
                let targets: Vec<DeviceId> = self
                    .rows
                    .iter()
                    .filter_map(|r| match r {
                        Row::Device(id) => Some(*id),
                        Row::Group { .. } => None,
                    })
                    .collect();
                self.open_composer((targets, super::compose::Chosen::Shown), state);
            }
            Action::CycleGroup => {
                self.group = match &self.group {
                    GroupBy::None => GroupBy::Fleet,
                    GroupBy::Fleet => GroupBy::Label("site".into()),
                    GroupBy::Label(l) if l == "site" => GroupBy::Label("gateway".into()),
                    GroupBy::Label(_) => GroupBy::None,
                };
                self.rows_dirty = true;
                self.message = Some(format!("grouped by {}", self.group.label()));
            }
            Action::NextProblem if self.view == View::Fleet => self.jump_to_problem(true, state),
            Action::PrevProblem if self.view == View::Fleet => self.jump_to_problem(false, state),
            other => return self.navigate(other, state),
        }
        Vec::new()
    }

    fn navigate(&mut self, action: Action, state: &FleetState) -> Vec<Effect> {
        if self.pane == Pane::Events {
            let n = self.events.len();
            match action {
                Action::Up => self.event_selected = self.event_selected.saturating_sub(1),
                Action::Down => {
                    self.event_selected = (self.event_selected + 1).min(n.saturating_sub(1))
                }
                Action::Top => self.event_selected = 0,
                Action::Bottom => self.event_selected = n.saturating_sub(1),
                Action::Enter => {
                    if let Some(id) = self.events.get(self.event_selected).and_then(|e| e.device) {
                        self.view = View::Device(id);
                        self.device_return = View::Fleet;
                        self.metric = 0;
                        self.pane = Pane::Main;
                    }
                }
                Action::Back => self.pane = Pane::Main,
                _ => {}
            }
            return Vec::new();
        }
        match self.view {
            View::Fleet => self.navigate_fleet(action),
            View::Alerts => self.navigate_alerts(action),
            View::Device(id) => return self.navigate_device(action, id, state),
            View::Map => self.navigate_map(action, state),
            View::Overview => self.navigate_overview(action, state),
            View::Broker => {
                if action == Action::Back {
                    self.view = View::Fleet;
                }
            }
            View::Topics => return self.navigate_topics(action, state),
        }
        Vec::new()
    }

    fn navigate_topics(&mut self, action: Action, state: &FleetState) -> Vec<Effect> {
        let lines = topics::lines(topics::entries(state), &self.topics);
        let x = &mut self.topics;
        match action {
            Action::Back if !x.search.is_empty() => {
                x.search.clear();
                self.message = Some("search cleared".into());
            }
            Action::Back => self.view = View::Fleet,
            Action::Copy | Action::CopyPayload => {
                let at = lines.get(x.cursor_index(&lines));
                let Some(line) = at.filter(|l| l.own.is_some()) else {
                    self.message = Some("y copies a topic: move to one (not a branch)".into());
                    return Vec::new();
                };
                let text = if action == Action::Copy {
                    line.path.clone()
                } else {
                    let latest = state
                        .topic_stats
                        .records
                        .iter()
                        .filter(|r| *r.topic == *line.path)
                        .max_by_key(|r| r.last_ms)
                        .and_then(|r| r.payloads().next());
                    match latest {
                        Some(p) => String::from_utf8_lossy(&p.bytes).into_owned(),
                        None => String::new(),
                    }
                };
                self.message = Some("copied to the clipboard (OSC 52)".into());
                return vec![Effect::Copy(text)];
            }
            Action::Enter => x.toggle(&lines),
            Action::Right => x.unfold(&lines),
            Action::Left => x.fold(&lines),
            Action::Click(line) => {
                let page = self.page.max(1);
                x.go_to(&lines, (x.cursor_index(&lines) / page) * page + line);
            }
            other => {
                let at = step(x.cursor_index(&lines), &other, lines.len(), self.page);
                x.go_to(&lines, at);
            }
        }
        Vec::new()
    }

    fn navigate_fleet(&mut self, action: Action) {
        match action {
            Action::Enter | Action::Right => match self.rows.get(self.selected) {
                Some(Row::Device(id)) => {
                    self.view = View::Device(*id);
                    self.device_return = View::Fleet;
                    self.metric = 0;
                }
                Some(Row::Group { key, .. }) => {
                    let key = key.clone();
                    if !self.collapsed.remove(&key) {
                        self.collapsed.insert(key);
                    }
                    self.rows_dirty = true;
                }
                None => {}
            },
            Action::Left => {
                if let Some(Row::Group { key, .. }) = self.rows.get(self.selected) {
                    self.collapsed.insert(key.clone());
                    self.rows_dirty = true;
                }
            }
            Action::Back if !self.filter.is_empty() => {
                self.filter = Filter::default();
                self.rows_dirty = true;
                self.message = Some("filter cleared".into());
            }
            Action::Click(line) => {
                self.selected = (self.selected / self.page.max(1)) * self.page.max(1) + line;
                self.selected = self.selected.min(self.rows.len().saturating_sub(1));
                self.cursor_chosen = true;
            }
            other => {
                let moved = step(self.selected, &other, self.rows.len(), self.page);
                self.cursor_chosen |= moved != self.selected;
                self.selected = moved;
            }
        }
    }

    fn navigate_device(&mut self, action: Action, id: DeviceId, state: &FleetState) -> Vec<Effect> {
        let Some(d) = state.devices.get(id.index()) else {
            self.view = View::Fleet;
            return Vec::new();
        };
        match action {
            Action::Back | Action::Left => {
                self.view = std::mem::replace(&mut self.device_return, View::Fleet)
            }
            Action::NextWindow | Action::Right => self.window = self.window.next(),
            Action::Copy => {
                let text = match d.metrics.get(self.metric) {
                    Some(m) => m.value.to_string(),
                    None => String::from_utf8_lossy(&d.last_payload).into_owned(),
                };
                self.message = Some("copied to the clipboard (OSC 52)".into());
                return vec![Effect::Copy(text)];
            }
            other => self.metric = step(self.metric, &other, d.metrics.len(), self.page),
        }
        Vec::new()
    }

    pub(super) fn edit_filter(
        &mut self,
        action: Action,
        mut text: super::prompt::Prompt,
        state: &FleetState,
    ) -> Vec<Effect> {
        use super::prompt::Edit;
        match action {
            Action::Input(c) => text.edit(Edit::InsertChar(c)),
            Action::Backspace => text.edit(Edit::DeletePrevChar),
            Action::Edit(e) => text.edit(e),
            Action::Cancel => {
                self.mode = Mode::Normal;
                self.filter_error = None;
                if self.view == View::Topics {
                    self.topics.search.clear();
                }
                return Vec::new();
            }
            // In the explorer `/` searches the tree as you type, not the fleet table.
            Action::Submit if self.view == View::Topics => {
                self.mode = Mode::Normal;
                return Vec::new();
            }
            Action::Submit => {
                // A filter that is wrong stays open with the reason, to be fixed.
                if let Err(e) = Filter::parse(text.text()).and_then(|f| f.check(state)) {
                    self.filter_error = Some(e);
                    self.mode = Mode::Filter(text);
                    return Vec::new();
                }
                self.mode = Mode::Normal;
                self.filter_error = None;
                self.apply_filter(text.text());
                return Vec::new();
            }
            _ => {}
        }
        if self.view == View::Topics {
            self.topics.search = text.text().to_owned();
            self.mode = Mode::Filter(text);
            return Vec::new();
        }
        // Filter as you type while the text holds; say why when it does not.
        match Filter::parse(text.text()).and_then(|f| f.check(state).map(|()| f)) {
            Ok(f) => {
                self.filter = f;
                self.filter_error = None;
                self.rows_dirty = true;
                self.selected = 0;
            }
            Err(e) => self.filter_error = Some(e),
        }
        self.mode = Mode::Filter(text);
        Vec::new()
    }

    pub(super) fn apply_filter(&mut self, text: &str) {
        match Filter::parse(text) {
            Ok(f) => {
                self.filter = f;
                self.rows_dirty = true;
                self.selected = 0;
                self.view = View::Fleet;
            }
            Err(e) => self.message = Some(e),
        }
    }
}
