//! The application state behind the terminal UI, and its one way to change:
//! [`App::update`] turns an [`Action`] into new state and a list of [`Effect`]s for the
//! edges to carry out. The UI only draws an `App`; it never changes the fleet.

pub mod alerts;
pub mod compose;
pub mod filter;
pub mod keys;
pub mod rows;
pub mod topics;

use crate::commands::CommandSet;
use crate::fleet::{FleetEvent, FleetState, Status};
use crate::ui::theme::Theme;
use crate::vocab::DeviceId;
use alerts::AlertRow as AlertRowKind;
use compose::Composer;
use filter::Filter;
use rows::{GroupBy, Row, SortKey, TableSpec};
use std::collections::{HashSet, VecDeque};

/// Status changes kept for the events pane.
const EVENTS_KEPT: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Fleet,
    Device(DeviceId),
    Topics,
    /// The alert pane: every alert, most severe first.
    Alerts,
}

/// Which pane Tab has focused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Main,
    Events,
}

/// What keys mean right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Filter(String),
    Command(String),
    Help,
    /// The device-command dialog.
    Compose(Composer),
}

/// Chart window in the device view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Min1,
    Min10,
    Hour1,
    Day1,
}

impl Window {
    pub fn millis(self) -> i64 {
        match self {
            Window::Min1 => 60_000,
            Window::Min10 => 600_000,
            Window::Hour1 => 3_600_000,
            Window::Day1 => 86_400_000,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Window::Min1 => "1m",
            Window::Min10 => "10m",
            Window::Hour1 => "1h",
            Window::Day1 => "24h",
        }
    }
    fn next(self) -> Window {
        match self {
            Window::Min1 => Window::Min10,
            Window::Min10 => Window::Hour1,
            Window::Hour1 => Window::Day1,
            Window::Day1 => Window::Min1,
        }
    }
}

/// Something the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Left,
    Right,
    Enter,
    Back,
    NextPane,
    OpenFilter,
    OpenCommand,
    Help,
    Quit,
    CycleSort,
    ReverseSort,
    CycleGroup,
    Topics,
    NextWindow,
    Copy,
    Input(char),
    Backspace,
    Submit,
    Complete,
    Cancel,
    /// A mouse click on a table line (0 = first visible row).
    Click(usize),
    /// Acknowledge the active alerts of the device at hand (the selected alert in the
    /// alert pane).
    Ack,
    /// Mark or unmark the selected row for a bulk command.
    Mark,
    /// Open the command palette for the device at hand (or the marked ones).
    OpenCompose,
    /// Open the command palette for every device the filter shows.
    OpenBulkCompose,
    /// Open or close the alert pane.
    Alerts,
    /// Next state filter of the alert pane.
    CycleAlertFilter,
    /// Open `:silence` pre-filled for the selected alert or device.
    Silence,
    /// Lift the silence covering the selected alert.
    Unsilence,
}

impl CommandOp {
    /// The connection a raw publish goes out on: the device's broker, else the first.
    pub fn publish_conn(&self, state: &FleetState) -> crate::vocab::ConnId {
        match self {
            CommandOp::Publish {
                device: Some(d), ..
            } => state.devices.get(*d as usize).map_or(0, |d| d.conn),
            _ => 0,
        }
    }
}

/// A device command or raw publish, carried out by the engine (audited, tracked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandOp {
    Send {
        devices: Vec<DeviceId>,
        command: String,
        args: Vec<(String, String)>,
    },
    /// `:publish`: on the broker of `device` when one is at hand, else the first.
    Publish {
        device: Option<DeviceId>,
        topic: String,
        payload: String,
        qos: u8,
        retain: bool,
    },
}

/// An operator action on alerts, carried out by the engine (which records it in the log).
#[derive(Debug, Clone, PartialEq)]
pub enum AlertOp {
    AckDevice(DeviceId),
    /// One alert, from the alert pane.
    Ack {
        device: DeviceId,
        rule: crate::alerts::RuleIdx,
    },
    /// The arguments of `:silence`, e.g. `site=north 2h "pump maintenance"`.
    Silence(String),
    Unsilence(u64),
}

/// Work for the edges.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Put text on the clipboard (OSC 52, works over SSH).
    Copy(String),
    /// Write a file.
    Write {
        path: String,
        contents: String,
    },
    Alert(AlertOp),
    Command(CommandOp),
    /// Ring the terminal bell (BEL).
    Bell,
    /// Load the theme of this name (a user file or a built-in one) and hand the outcome
    /// to [`App::theme_loaded`]: reading files is the edge's job, not `update`'s.
    LoadTheme(String),
}

/// A line of the events pane.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLine {
    pub at_ms: i64,
    pub device: Option<DeviceId>,
    pub text: String,
    pub status: Option<Status>,
    /// Set for alert transitions.
    pub severity: Option<crate::vocab::Severity>,
}

/// The whole UI state.
pub struct App {
    pub view: View,
    pub pane: Pane,
    pub mode: Mode,
    pub filter: Filter,
    pub sort: SortKey,
    pub descending: bool,
    pub group: GroupBy,
    pub collapsed: HashSet<String>,
    pub rows: Vec<Row>,
    pub selected: usize,
    pub metric: usize,
    pub window: Window,
    pub topic_selected: usize,
    pub events: VecDeque<EventLine>,
    pub event_selected: usize,
    pub message: Option<String>,
    pub theme: Theme,
    pub slow_link: bool,
    /// Lines a page holds; set by the terminal loop from the screen size.
    pub page: usize,
    pub quit: bool,
    /// Command templates (the engine's, shared).
    pub commands: std::sync::Arc<CommandSet>,
    /// Nothing may be published: command keys say so instead of acting.
    pub read_only: bool,
    /// Rows marked (Space) for a bulk command.
    pub marked: HashSet<DeviceId>,
    /// Ring the bell when a critical alert starts firing (`--bell`, `[ui] bell`).
    pub bell: bool,
    /// The alert pane's filter, list and cursor.
    pub alerts: alerts::AlertPane,
    /// Shown under the `:` line while it is open (what a pre-filled `:silence` needs).
    pub command_hint: Option<String>,
    /// Where Esc leaves the device view for: the view Enter came from.
    device_return: View,
    rows_dirty: bool,
}

impl App {
    pub fn new(theme: Theme, slow_link: bool) -> App {
        App {
            view: View::Fleet,
            pane: Pane::Main,
            mode: Mode::Normal,
            filter: Filter::default(),
            sort: SortKey::Status,
            descending: false,
            group: GroupBy::None,
            collapsed: HashSet::new(),
            rows: Vec::new(),
            selected: 0,
            metric: 0,
            window: Window::Min10,
            topic_selected: 0,
            events: VecDeque::new(),
            event_selected: 0,
            message: None,
            theme,
            slow_link,
            page: 20,
            quit: false,
            commands: std::sync::Arc::new(CommandSet::default()),
            read_only: false,
            marked: HashSet::new(),
            bell: false,
            alerts: alerts::AlertPane::default(),
            command_hint: None,
            device_return: View::Fleet,
            rows_dirty: true,
        }
    }

    /// Marks the table for rebuilding (the fleet changed).
    pub fn fleet_changed(&mut self) {
        self.rows_dirty = true;
    }

    /// Rebuilds rows if needed, keeping the selected device selected.
    pub fn refresh(&mut self, state: &FleetState) {
        if !self.rows_dirty {
            return;
        }
        let keep = self.rows.get(self.selected).cloned();
        self.rows = rows::build(
            state,
            &TableSpec {
                filter: &self.filter,
                sort: &self.sort,
                descending: self.descending,
                group: &self.group,
                collapsed: &self.collapsed,
            },
        );
        if let Some(row) = keep
            && let Some(i) = self
                .rows
                .iter()
                .position(|r| *r == row || same_group(r, &row))
        {
            self.selected = i;
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
        self.rows_dirty = false;
    }

    /// Relists the alert pane from the alert book (while it is open).
    pub fn refresh_alerts(&mut self, book: &crate::alerts::AlertBook) {
        if self.view == View::Alerts {
            self.alerts.refresh(book);
        }
    }

    /// Takes in what the fleet reported: status changes go to the events pane.
    pub fn observe(&mut self, state: &FleetState, ev: &FleetEvent) {
        let line = match ev {
            FleetEvent::StatusChanged {
                device,
                from,
                to,
                at_ms,
            } if *from != Status::Unknown || *to != Status::Online => {
                let d = &state.devices[*device as usize];
                let what = match to {
                    Status::Offline => "went offline",
                    Status::Stale => "went quiet (stale)",
                    Status::Online => "is back online",
                    Status::Unknown => "is unknown",
                };
                EventLine {
                    at_ms: *at_ms,
                    device: Some(*device),
                    text: format!("{} {what}", crate::sanitize::text(&d.name)),
                    status: Some(*to),
                    severity: None,
                }
            }
            FleetEvent::LinkChanged {
                conn,
                state: link,
                at_ms,
            } => EventLine {
                at_ms: *at_ms,
                device: None,
                text: format!(
                    "broker {}: {link}",
                    state
                        .connections
                        .get(*conn as usize)
                        .map_or("?", |c| c.name.as_str())
                ),
                status: None,
                severity: None,
            },
            FleetEvent::Notice {
                conn,
                message,
                at_ms,
            } => EventLine {
                at_ms: *at_ms,
                device: None,
                text: format!(
                    "broker {}: {}",
                    state
                        .connections
                        .get(*conn as usize)
                        .map_or("?", |c| c.name.as_str()),
                    crate::sanitize::text(message)
                ),
                status: None,
                severity: None,
            },
            _ => return,
        };
        self.events.push_front(line);
        self.events.truncate(EVENTS_KEPT);
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
        self.events.push_front(EventLine {
            at_ms: t.at_ms,
            device: Some(t.device),
            text,
            status: None,
            severity: Some(t.severity),
        });
        self.events.truncate(EVENTS_KEPT);
    }

    /// The device the operator is looking at: the open one, or the selected row.
    pub fn device_at_hand(&self) -> Option<DeviceId> {
        match self.view {
            View::Device(id) => Some(id),
            View::Fleet => self.selected_device(),
            View::Alerts => self.alerts.selected_row().map(|r| r.device),
            View::Topics => None,
        }
    }

    /// Opens the command dialog for `targets`, or says why it cannot.
    fn open_composer(&mut self, targets: Vec<DeviceId>, state: &FleetState) -> bool {
        if self.read_only {
            self.message =
                Some("read-only: commands are off (--read-only or read_only = true)".into());
            return false;
        }
        if targets.is_empty() {
            self.message = Some("select a device (or mark some with Space) first".into());
            return false;
        }
        let composer = Composer::new(targets);
        if composer.choices(&self.commands, state).is_empty() {
            self.message = Some(if self.commands.commands.is_empty() {
                "no [[command]] in the config (see config.example.toml)".into()
            } else {
                "no command applies to every selected device".into()
            });
            return false;
        }
        self.mode = Mode::Compose(composer);
        true
    }

    /// `:cmd [NAME [k=v…]]`: the dialog for the device at hand, NAME already picked.
    fn command_line_cmd(&mut self, rest: &[&str], state: &FleetState) {
        let targets: Vec<DeviceId> = self.device_at_hand().into_iter().collect();
        if !self.open_composer(targets, state) {
            return;
        }
        let Some((name, args)) = rest.split_first() else {
            return;
        };
        let Mode::Compose(mut c) = std::mem::replace(&mut self.mode, Mode::Normal) else {
            return;
        };
        c.stage = compose::Stage::Pick {
            query: (*name).to_string(),
            selected: 0,
        };
        let set = self.commands.clone();
        let (next, _, message) = c.update(Action::Submit, &set, state);
        self.message = message;
        if let Some(mut c) = next {
            if let compose::Stage::Params { fields, .. } = &mut c.stage {
                for (k, v) in crate::commands::parse_args(args.iter().copied()).unwrap_or_default()
                {
                    if let Some(f) = fields.iter_mut().find(|f| f.name == k) {
                        f.text = v;
                    }
                }
            }
            self.mode = Mode::Compose(c);
        }
    }

    /// `:publish TOPIC PAYLOAD [--qos N] [--retain]`.
    fn command_line_publish(&mut self, line: &str) {
        if self.read_only {
            self.message =
                Some("read-only: publishing is off (--read-only or read_only = true)".into());
            return;
        }
        let usage = "usage: :publish TOPIC PAYLOAD [--qos 0|1|2] [--retain]";
        let mut words: Vec<&str> = line.split_whitespace().skip(1).collect();
        let mut qos = 1u8;
        let mut retain = false;
        loop {
            match words.as_slice() {
                [.., "--retain"] => {
                    retain = true;
                    words.pop();
                }
                [.., "--qos", q] => match q.parse::<u8>() {
                    Ok(n) if n <= 2 => {
                        qos = n;
                        words.truncate(words.len() - 2);
                    }
                    _ => {
                        self.message = Some(format!("--qos must be 0, 1 or 2; {usage}"));
                        return;
                    }
                },
                _ => break,
            }
        }
        let Some((topic, payload)) = words.split_first() else {
            self.message = Some(usage.into());
            return;
        };
        let payload = payload.join(" ");
        let payload = payload
            .strip_prefix('\'')
            .and_then(|p| p.strip_suffix('\''))
            .unwrap_or(&payload)
            .to_string();
        let op = CommandOp::Publish {
            device: self.device_at_hand(),
            topic: (*topic).to_string(),
            payload,
            qos,
            retain,
        };
        self.mode = Mode::Compose(Composer {
            targets: self.device_at_hand().into_iter().collect(),
            stage: compose::Stage::Publish {
                op: Box::new(op),
                typed: String::new(),
            },
        });
    }

    /// The device an alert key acts on: the events pane's, the open one, the selected
    /// row's or the selected alert's.
    fn device_for_alerts(&self) -> Option<DeviceId> {
        match (self.pane, self.view) {
            (Pane::Events, _) => self.events.get(self.event_selected).and_then(|e| e.device),
            (_, View::Device(id)) => Some(id),
            (_, View::Fleet) => self.selected_device(),
            (_, View::Alerts) => self.alerts.selected_row().map(|r| r.device),
            (_, View::Topics) => None,
        }
    }

    /// Opens the alert pane, optionally with a state filter.
    fn open_alerts(&mut self, filter: Option<alerts::StateFilter>) {
        self.view = View::Alerts;
        self.pane = Pane::Main;
        if let Some(f) = filter {
            self.alerts.filter = f;
            self.alerts.selected = 0;
        }
    }

    /// Opens the `:` line with a `:silence` for the device (and rule) filled in.
    fn open_silence(&mut self, device: Option<DeviceId>, rule: Option<&str>, state: &FleetState) {
        match device.and_then(|id| state.devices.get(id as usize)) {
            Some(d) => {
                self.mode = Mode::Command(alerts::silence_prefill(d, rule));
                self.command_hint = Some(alerts::silence_hint(d));
            }
            None => self.message = Some(
                "select a device or an alert to silence, or type :silence key=value 2h \"reason\""
                    .into(),
            ),
        }
    }

    /// Ack, silence, unsilence and filter in the alert pane, on the selected alert.
    fn alert_action(&mut self, action: Action, state: &FleetState) -> Vec<Effect> {
        let Some(row) = self.alerts.selected_row().cloned() else {
            if action == Action::CycleAlertFilter {
                self.cycle_alert_filter();
            } else {
                self.message = Some("no alert selected".into());
            }
            return Vec::new();
        };
        match action {
            Action::Ack => {
                return vec![Effect::Alert(AlertOp::Ack {
                    device: row.device,
                    rule: row.rule,
                })];
            }
            Action::Silence => match &row.group {
                Some(labels) => {
                    self.mode = Mode::Command(format!("silence {labels} rule={} ", row.rule_name));
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

    fn cycle_alert_filter(&mut self) {
        self.alerts.filter = self.alerts.filter.next();
        self.alerts.selected = 0;
        self.message = Some(format!("showing {} alerts", self.alerts.filter.label()));
    }

    fn navigate_alerts(&mut self, action: Action) {
        match action {
            Action::Enter | Action::Right => match self.alerts.selected_row().cloned() {
                // A gateway's alert opens the fleet filtered to the devices behind it.
                Some(AlertRowKind {
                    group: Some(labels),
                    ..
                }) => self.apply_filter(&labels),
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

    /// Takes in a hook that failed, timed out or was skipped.
    pub fn observe_hook(&mut self, text: String, at_ms: i64) {
        self.events.push_front(EventLine {
            at_ms,
            device: None,
            text,
            status: None,
            severity: None,
        });
        self.events.truncate(EVENTS_KEPT);
    }

    /// The bell, once per batch, when the bell is on and a critical alert nobody
    /// silenced started firing.
    pub fn bell_for(&self, transitions: &[crate::alerts::Transition]) -> Option<Effect> {
        let ring = self.bell
            && transitions
                .iter()
                .any(|t| t.is_new_fire() && t.severity == crate::vocab::Severity::Critical);
        ring.then_some(Effect::Bell)
    }

    /// The device under the cursor, in the fleet view.
    pub fn selected_device(&self) -> Option<DeviceId> {
        match self.rows.get(self.selected)? {
            Row::Device(id) => Some(*id),
            Row::Group { .. } => None,
        }
    }

    /// Applies an action; returns what the edges must do.
    pub fn update(&mut self, action: Action, state: &FleetState) -> Vec<Effect> {
        self.message = None;
        match self.mode.clone() {
            Mode::Help => {
                if matches!(action, Action::Quit) {
                    self.quit = true;
                }
                self.mode = Mode::Normal;
                Vec::new()
            }
            Mode::Filter(text) => self.edit_filter(action, text),
            Mode::Command(text) => self.edit_command(action, text, state),
            Mode::Compose(c) => {
                let set = self.commands.clone();
                let (next, effects, message) = c.update(action, &set, state);
                self.mode = next.map_or(Mode::Normal, Mode::Compose);
                self.message = message;
                effects
            }
            Mode::Normal => self.normal(action, state),
        }
    }

    fn normal(&mut self, action: Action, state: &FleetState) -> Vec<Effect> {
        let in_alert_pane = self.view == View::Alerts && self.pane == Pane::Main;
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.mode = Mode::Help,
            Action::OpenFilter => self.mode = Mode::Filter(self.filter.source.clone()),
            Action::OpenCommand => self.mode = Mode::Command(String::new()),
            // The alert pane fills the screen: there is no events pane to switch to.
            Action::NextPane if self.view == View::Alerts => {}
            Action::NextPane => {
                self.pane = match self.pane {
                    Pane::Main => Pane::Events,
                    Pane::Events => Pane::Main,
                }
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
                let targets = match (self.view, self.marked.is_empty()) {
                    (View::Fleet, false) => {
                        let mut v: Vec<DeviceId> = self.marked.iter().copied().collect();
                        v.sort_unstable();
                        v
                    }
                    _ => self.device_at_hand().into_iter().collect(),
                };
                self.open_composer(targets, state);
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
                self.open_composer(targets, state);
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
            View::Topics => {
                let n = topics::lines(state).len();
                self.topic_selected = step(self.topic_selected, &action, n, self.page);
                if action == Action::Back {
                    self.view = View::Fleet;
                }
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
            }
            other => self.selected = step(self.selected, &other, self.rows.len(), self.page),
        }
    }

    fn navigate_device(&mut self, action: Action, id: DeviceId, state: &FleetState) -> Vec<Effect> {
        let Some(d) = state.devices.get(id as usize) else {
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

    fn edit_filter(&mut self, action: Action, mut text: String) -> Vec<Effect> {
        match action {
            Action::Input(c) => text.push(c),
            Action::Backspace => {
                text.pop();
            }
            Action::Cancel => {
                self.mode = Mode::Normal;
                return Vec::new();
            }
            Action::Submit => {
                self.mode = Mode::Normal;
                self.apply_filter(&text);
                return Vec::new();
            }
            _ => {}
        }
        // Filter as you type when the text parses; keep the old filter otherwise.
        if let Ok(f) = Filter::parse(&text) {
            self.filter = f;
            self.rows_dirty = true;
            self.selected = 0;
        }
        self.mode = Mode::Filter(text);
        Vec::new()
    }

    fn apply_filter(&mut self, text: &str) {
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

    fn edit_command(
        &mut self,
        action: Action,
        mut text: String,
        state: &FleetState,
    ) -> Vec<Effect> {
        match action {
            Action::Input(c) => text.push(c),
            Action::Backspace => {
                text.pop();
            }
            Action::Complete => text = keys::complete(&text),
            Action::Cancel => {
                self.mode = Mode::Normal;
                self.command_hint = None;
                return Vec::new();
            }
            Action::Submit => {
                self.mode = Mode::Normal;
                self.command_hint = None;
                return self.run_command(&text, state);
            }
            _ => {}
        }
        self.mode = Mode::Command(text);
        Vec::new()
    }

    /// A theme [`Effect::LoadTheme`] asked for: installed, or why it could not be loaded.
    pub fn theme_loaded(&mut self, theme: Result<Theme, String>) {
        match theme {
            Ok(t) => self.theme = t,
            Err(e) => self.message = Some(e),
        }
    }

    /// `:sort`, `:filter`, `:group`, `:theme`, `:topics`, `:export csv FILE`, `:q`.
    pub fn run_command(&mut self, line: &str, state: &FleetState) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        match cmd {
            "" => {}
            "q" | "quit" => self.quit = true,
            "help" => self.mode = Mode::Help,
            "topics" => self.view = View::Topics,
            "alerts" => match rest.first().map(|f| alerts::StateFilter::parse(f)) {
                None => self.open_alerts(None),
                Some(Some(f)) => self.open_alerts(Some(f)),
                Some(None) => {
                    self.message = Some(format!(
                        "usage: :alerts [{}]",
                        alerts::StateFilter::ALL.map(alerts::StateFilter::label).join("|")
                    ))
                }
            },
            "fleet" => self.view = View::Fleet,
            "sort" => match rest.as_slice() {
                [key] | [key, "asc"] => {
                    self.sort = SortKey::parse(key);
                    self.descending = false;
                    self.rows_dirty = true;
                }
                [key, "desc"] => {
                    self.sort = SortKey::parse(key);
                    self.descending = true;
                    self.rows_dirty = true;
                }
                _ => {
                    self.message = Some(
                        "usage: :sort <status|name|fleet|seen|errors|METRIC> [asc|desc]".into(),
                    )
                }
            },
            "filter" => self.apply_filter(&rest.join(" ")),
            "group" => {
                self.group = GroupBy::parse(rest.first().copied().unwrap_or("none"));
                self.collapsed.clear();
                self.rows_dirty = true;
            }
            "theme" => match rest.first() {
                Some(name) => return vec![Effect::LoadTheme(name.to_string())],
                None => self.message = Some(format!("themes: {}", Theme::names().join(", "))),
            },
            "export" => return self.export(&rest, state),
            "silence" if !rest.is_empty() => {
                let args = line.trim_start().trim_start_matches("silence").trim().to_string();
                return vec![Effect::Alert(AlertOp::Silence(args))];
            }
            "silence" => {
                self.message = Some("usage: :silence site=north 2h \"pump maintenance\" (matchers: device, fleet, rule, severity, any label)".into())
            }
            "cmd" => self.command_line_cmd(&rest, state),
            "publish" => self.command_line_publish(line),
            "unsilence" => match rest.first().and_then(|id| id.parse().ok()) {
                Some(id) => return vec![Effect::Alert(AlertOp::Unsilence(id))],
                None => self.message = Some("usage: :unsilence ID (the id :silence reported)".into()),
            },
            other => {
                self.message = Some(format!(
                    "unknown command `:{}`; try :sort, :filter, :group, :theme, :topics, :alerts, :silence, :cmd, :publish, :export csv FILE, :q",
                    crate::sanitize::text(other)
                ))
            }
        }
        Vec::new()
    }

    fn export(&mut self, args: &[&str], state: &FleetState) -> Vec<Effect> {
        let ["csv", path] = args else {
            self.message = Some("usage: :export csv FILE (the selected metric's history)".into());
            return Vec::new();
        };
        let View::Device(id) = self.view else {
            self.message = Some("open a device (Enter) and select a metric first".into());
            return Vec::new();
        };
        let Some(m) = state
            .devices
            .get(id as usize)
            .and_then(|d| d.metrics.get(self.metric))
        else {
            self.message = Some("this device has no metric to export".into());
            return Vec::new();
        };
        let mut csv = String::from("time,value\n");
        for (t, v) in m.ring.iter() {
            csv.push_str(&format!("{},{v}\n", crate::text::rfc3339(t)));
        }
        self.message = Some(format!(
            "wrote {} samples of {} to {path}",
            m.ring.len(),
            m.name
        ));
        vec![Effect::Write {
            path: (*path).to_string(),
            contents: csv,
        }]
    }
}

fn same_group(a: &Row, b: &Row) -> bool {
    matches!((a, b), (Row::Group { key: x, .. }, Row::Group { key: y, .. }) if x == y)
}

/// Cursor movement shared by every list.
fn step(pos: usize, action: &Action, len: usize, page: usize) -> usize {
    let last = len.saturating_sub(1);
    match action {
        Action::Up => pos.saturating_sub(1),
        Action::Down => (pos + 1).min(last),
        Action::PageUp => pos.saturating_sub(page.max(1)),
        Action::PageDown => (pos + page.max(1)).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => pos.min(last),
    }
}

#[cfg(test)]
mod tests;
