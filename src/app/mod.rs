//! The application state behind the terminal UI, and its one way to change:
//! [`App::update`] turns an [`Action`] into new state and a list of [`Effect`]s for the
//! edges to carry out. The UI only draws an `App`; it never changes the fleet.
//! What `update` dispatches to lives by concept: `navigate.rs` (normal mode and the filter
//! line), `command_line.rs` (the `:` commands) and `alert_pane.rs` (the alerts pane).

mod alert_pane;
pub mod alerts;
mod command_line;
pub mod compose;
pub mod events;
pub mod filter;
pub mod keys;
pub mod map;
mod navigate;
pub mod overview;
pub mod prompt;
pub mod rows;
pub mod topics;
mod trouble;

pub use events::EventLine;
mod window;

pub use window::Window;

use crate::commands::CommandSet;
use crate::fleet::FleetState;
use crate::theme::Theme;
use crate::vocab::DeviceId;
use alerts::AlertRow as AlertRowKind;
use compose::Composer;
use filter::Filter;
use rows::{GroupBy, Row, SortKey, TableSpec};
use std::collections::{HashMap, HashSet, VecDeque};

/// Status changes kept for the events pane.
const EVENTS_KEPT: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Fleet,
    Device(DeviceId),
    Topics,
    /// The alert pane: every alert, most severe first.
    Alerts,
    /// Devices that report a position, on a map (`m`, `:map`).
    Map,
    /// Every fleet at a glance (`:overview`).
    Overview,
    /// What each broker says about itself on `$SYS` (`b`, `:broker`).
    Broker,
}

impl View {
    /// The view `--view NAME` starts in, by the name its `:` command has.
    pub fn parse(name: &str) -> Option<View> {
        Some(match name {
            "fleet" => View::Fleet,
            "map" => View::Map,
            "overview" => View::Overview,
            "alerts" => View::Alerts,
            "topics" => View::Topics,
            "broker" => View::Broker,
            _ => return None,
        })
    }

    /// The names [`View::parse`] takes.
    pub const NAMES: [&str; 6] = ["fleet", "map", "overview", "alerts", "topics", "broker"];
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
    Filter(prompt::Prompt),
    Command(prompt::Prompt),
    Help,
    /// The device-command dialog.
    Compose(Composer),
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
    /// `Y`: copy the latest payload (the topic explorer).
    CopyPayload,
    Input(char),
    Backspace,
    /// Cursor moves and cuts in the `/` and `:` lines.
    Edit(prompt::Edit),
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
    /// Move to the next device in the table with a problem (`n`).
    NextProblem,
    /// Move to the previous one (`N`).
    PrevProblem,
    /// Open or close the map (`m`).
    Map,
    /// Zoom the map in (`+`), out (`-`), back to the whole fleet (`0`).
    ZoomIn,
    ZoomOut,
    ZoomReset,
    /// Open or close the broker pane (`b`).
    Broker,
}

impl CommandOp {
    /// The connection a raw publish goes out on: the device's broker, else the first.
    pub fn publish_conn(&self, state: &FleetState) -> crate::vocab::ConnId {
        match self {
            CommandOp::Publish {
                device: Some(d), ..
            } => state
                .devices
                .get((*d).index())
                .map_or(crate::vocab::ConnId(0), |d| d.conn),
            _ => crate::vocab::ConnId(0),
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
    /// Every unacknowledged active alert of a rule: a folded group, from the alert pane.
    AckRule(crate::alerts::RuleIdx),
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
    /// The topic explorer's folds, cursor and search.
    pub topics: topics::Explorer,
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
    /// The map's camera and selected device.
    pub map: map::MapState,
    /// The fleet the overview's cursor is on (index into its list of fleets).
    pub overview_selected: usize,
    /// Shown under the `:` line while it is open (what a pre-filled `:silence` needs).
    pub command_hint: Option<String>,
    /// Why the filter being typed does not hold (shown in its line until fixed).
    pub filter_error: Option<String>,
    /// The colours the terminal shows: themes loaded later are fitted to it.
    pub palette: crate::theme::Palette,
    /// Devices with a raised alert nobody silenced, with the worst one's severity, as of
    /// the last frame: they sort first, and `n`/`N` stop at them.
    pub alerting: HashMap<DeviceId, crate::vocab::Severity>,
    /// Set once the operator moves the fleet table's cursor: until then it stays at the
    /// top as devices arrive and reorder, rather than riding along with the first one.
    cursor_chosen: bool,
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
            topics: topics::Explorer::default(),
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
            map: map::MapState::default(),
            overview_selected: 0,
            command_hint: None,
            filter_error: None,
            palette: crate::theme::Palette::TrueColor,
            alerting: HashMap::new(),
            cursor_chosen: false,
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
                alerting: &self.alerting,
            },
        );
        if !self.cursor_chosen {
            self.selected = 0;
            self.rows_dirty = false;
            return;
        }
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

    /// Notes which devices have raised alerts, and relists the alert pane from the alert
    /// book while it is open.
    pub fn refresh_alerts(&mut self, book: &crate::alerts::AlertBook) {
        let mut alerting = HashMap::new();
        for a in book.alerts().filter(|a| book.counts_as_raised(a)) {
            let worst = alerting.entry(a.device).or_insert(a.severity);
            *worst = (*worst).max(a.severity);
        }
        if alerting != self.alerting {
            self.alerting = alerting;
            self.rows_dirty = true;
        }
        if self.view == View::Alerts {
            self.alerts.refresh(book);
        }
    }

    /// The device the operator is looking at: the open one, or the selected row.
    pub fn device_at_hand(&self) -> Option<DeviceId> {
        match self.view {
            View::Device(id) => Some(id),
            View::Fleet => self.selected_device(),
            View::Alerts => self.alerts.selected_row().map(|r| r.device),
            View::Map => self.map.selected,
            View::Topics | View::Overview | View::Broker => None,
        }
    }

    /// What `c` and `:cmd` act on: the marked rows if any (in the table), else the device
    /// at hand.
    fn command_targets(&self) -> (Vec<DeviceId>, compose::Chosen) {
        if self.view == View::Fleet && !self.marked.is_empty() {
            let mut v: Vec<DeviceId> = self.marked.iter().copied().collect();
            v.sort_unstable();
            return (v, compose::Chosen::Marked);
        }
        let at_hand = self.device_at_hand().into_iter().collect();
        (at_hand, compose::Chosen::AtHand)
    }

    /// Opens the command dialog for `targets`, or says why it cannot.
    fn open_composer(
        &mut self,
        (targets, chosen): (Vec<DeviceId>, compose::Chosen),
        state: &FleetState,
    ) -> bool {
        if self.read_only {
            self.message =
                Some("read-only: commands are off (--read-only or read_only = true)".into());
            return false;
        }
        if targets.is_empty() {
            self.message = Some("select a device (or mark some with Space) first".into());
            return false;
        }
        let composer = Composer::new(targets, chosen);
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
            Mode::Filter(text) => self.edit_filter(action, text, state),
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

    /// A theme [`Effect::LoadTheme`] asked for: installed, or why it could not be loaded.
    pub fn theme_loaded(&mut self, theme: Result<Theme, String>) {
        match theme {
            Ok(t) => self.theme = t,
            Err(e) => self.message = Some(e),
        }
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
mod fold_tests;
#[cfg(test)]
mod follow_tests;
#[cfg(test)]
mod target_tests;
#[cfg(test)]
mod tests;
