//! Keys to actions, per mode, and the key hints shown in the bar and in `?` help.

use super::{Action, App, Mode, Pane, View};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

/// What a key does in the `/` and `:` lines: it edits them as a shell line would, and a
/// key they do not use is ignored there, never passed on as a command key.
fn prompt_action(code: KeyCode, control: bool) -> Option<Action> {
    use super::prompt::Edit;
    let edit = |e| Some(Action::Edit(e));
    match (code, control) {
        (KeyCode::Char('c'), true) => Some(Action::Quit),
        (KeyCode::Char('u'), true) => edit(Edit::DeleteFromStart),
        (KeyCode::Char('w'), true) | (KeyCode::Backspace, true) => edit(Edit::DeletePrevWord),
        (KeyCode::Char('k'), true) => edit(Edit::DeleteTillEnd),
        (KeyCode::Char('a'), true) | (KeyCode::Home, _) => edit(Edit::GoToStart),
        (KeyCode::Char('e'), true) | (KeyCode::End, _) => edit(Edit::GoToEnd),
        (KeyCode::Char('b'), true) => edit(Edit::GoToPrevChar),
        (KeyCode::Char('f'), true) => edit(Edit::GoToNextChar),
        (KeyCode::Left, true) => edit(Edit::GoToPrevWord),
        (KeyCode::Right, true) => edit(Edit::GoToNextWord),
        (KeyCode::Left, false) => edit(Edit::GoToPrevChar),
        (KeyCode::Right, false) => edit(Edit::GoToNextChar),
        (KeyCode::Delete, _) => edit(Edit::DeleteNextChar),
        (KeyCode::Enter, _) => Some(Action::Submit),
        (KeyCode::Esc, _) => Some(Action::Cancel),
        (KeyCode::Backspace, false) => Some(Action::Backspace),
        (KeyCode::Tab, _) => Some(Action::Complete),
        (KeyCode::Char(c), false) => Some(Action::Input(c)),
        _ => None,
    }
}

/// The action a key means in the current mode, if any.
pub fn action_for(app: &App, key: KeyEvent) -> Option<Action> {
    let control = key.modifiers.contains(KeyModifiers::CONTROL);
    if matches!(app.mode, Mode::Filter(_) | Mode::Command(_)) {
        return prompt_action(key.code, control);
    }
    if control {
        return match key.code {
            KeyCode::Char('c') | KeyCode::Char('q') => Some(Action::Quit),
            KeyCode::Char('f') => Some(Action::PageDown),
            KeyCode::Char('b') => Some(Action::PageUp),
            KeyCode::Char('u') if matches!(app.mode, Mode::Compose(_)) => Some(Action::Cancel),
            _ => None,
        };
    }
    match app.mode {
        Mode::Filter(_) | Mode::Command(_) => None,
        Mode::Compose(_) => Some(match key.code {
            KeyCode::Enter => Action::Submit,
            KeyCode::Esc => Action::Cancel,
            KeyCode::Backspace => Action::Backspace,
            KeyCode::Tab => Action::Complete,
            KeyCode::Up => Action::Up,
            KeyCode::Down => Action::Down,
            KeyCode::Char(c) => Action::Input(c),
            _ => return None,
        }),
        Mode::Help => Some(match key.code {
            KeyCode::Char('q') => Action::Quit,
            _ => Action::Back,
        }),
        Mode::Normal => Some(match key.code {
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Char('?') => Action::Help,
            KeyCode::Char('/') => Action::OpenFilter,
            KeyCode::Char(':') => Action::OpenCommand,
            KeyCode::Up | KeyCode::Char('k') => Action::Up,
            KeyCode::Down | KeyCode::Char('j') => Action::Down,
            KeyCode::Left | KeyCode::Char('h') => Action::Left,
            KeyCode::Right | KeyCode::Char('l') => Action::Right,
            KeyCode::PageUp => Action::PageUp,
            KeyCode::PageDown => Action::PageDown,
            KeyCode::Char(' ') => Action::Mark,
            KeyCode::Char('c') => Action::OpenCompose,
            KeyCode::Char('C') => Action::OpenBulkCompose,
            KeyCode::Home | KeyCode::Char('g') => Action::Top,
            KeyCode::End | KeyCode::Char('G') => Action::Bottom,
            KeyCode::Enter => Action::Enter,
            KeyCode::Esc | KeyCode::Backspace => Action::Back,
            KeyCode::Tab | KeyCode::BackTab => Action::NextPane,
            KeyCode::Char('s') => Action::CycleSort,
            KeyCode::Char('r') => Action::ReverseSort,
            KeyCode::Char('o') => Action::CycleGroup,
            KeyCode::Char('t') => Action::Topics,
            KeyCode::Char('w') => Action::NextWindow,
            KeyCode::Char('y') => Action::Copy,
            KeyCode::Char('Y') => Action::CopyPayload,
            KeyCode::Char('a') => Action::Ack,
            KeyCode::Char('!') => Action::Alerts,
            KeyCode::Char('f') => Action::CycleAlertFilter,
            KeyCode::Char('S') => Action::Silence,
            KeyCode::Char('u') => Action::Unsilence,
            KeyCode::Char('n') => Action::NextProblem,
            KeyCode::Char('N') => Action::PrevProblem,
            KeyCode::Char('m') => Action::Map,
            KeyCode::Char('b') => Action::Broker,
            KeyCode::Char('+') | KeyCode::Char('=') => Action::ZoomIn,
            KeyCode::Char('-') => Action::ZoomOut,
            KeyCode::Char('0') => Action::ZoomReset,
            _ => return None,
        }),
    }
}

/// Mouse wheel scrolls; a click selects a line of the table (`top` is the table's first
/// data line on screen).
pub fn mouse_action(ev: MouseEvent, top: u16) -> Option<Action> {
    match ev.kind {
        MouseEventKind::ScrollUp => Some(Action::Up),
        MouseEventKind::ScrollDown => Some(Action::Down),
        MouseEventKind::Down(_) if ev.row >= top => Some(Action::Click((ev.row - top) as usize)),
        _ => None,
    }
}

const COMMANDS: [&str; 15] = [
    "cmd",
    "map",
    "overview",
    "broker",
    "publish",
    "silence",
    "sort",
    "alerts",
    "filter",
    "group",
    "theme",
    "topics",
    "fleet",
    "export csv",
    "quit",
];

/// Tab completion for the `:` line: command names, then sort keys, groups and themes.
pub fn complete(text: &str) -> String {
    let (head, last) = match text.rsplit_once(' ') {
        Some((h, l)) => (Some(h), l),
        None => (None, text),
    };
    let candidates: Vec<&str> = match head {
        None => COMMANDS.to_vec(),
        Some("sort") => vec!["status", "name", "fleet", "seen", "errors"],
        Some("group") => vec!["fleet", "site", "gateway", "none"],
        Some("theme") => crate::theme::Theme::names(),
        Some("alerts") => super::alerts::StateFilter::ALL.map(|f| f.label()).to_vec(),
        Some(h) if h.starts_with("sort ") => vec!["asc", "desc"],
        _ => Vec::new(),
    };
    let matching: Vec<&&str> = candidates.iter().filter(|c| c.starts_with(last)).collect();
    match (matching.as_slice(), head) {
        ([one], None) => format!("{one} "),
        ([one], Some(h)) => format!("{h} {one} "),
        _ => text.to_string(),
    }
}

/// Key hints for the bar: the keys that matter now.
pub fn hints(app: &App) -> Vec<(&'static str, &'static str)> {
    match (&app.mode, app.pane, app.view) {
        (Mode::Filter(_), ..) => vec![
            ("Enter", "apply"),
            ("Esc", "cancel"),
            (
                "",
                "text  /regex/  level_pct<20  status=offline  site=north",
            ),
        ],
        (Mode::Command(_), ..) => vec![("Enter", "run"), ("Tab", "complete"), ("Esc", "cancel")],
        (Mode::Help, ..) => vec![("any key", "close help")],
        (Mode::Compose(_), ..) => vec![
            ("Enter", "next / send"),
            ("↑↓ Tab", "move"),
            ("Esc", "cancel"),
        ],
        (_, Pane::Main, View::Alerts) => vec![
            ("↑↓", "move"),
            ("Enter", "open"),
            ("a", "ack"),
            ("S", "silence"),
            ("u", "unsilence"),
            ("f", "filter"),
            ("Esc", "back"),
            ("?", "help"),
            ("q", "quit"),
        ],
        (_, Pane::Events, _) => vec![
            ("↑↓", "move"),
            ("Enter", "open device"),
            ("Tab", "table"),
            ("q", "quit"),
        ],
        (_, _, View::Fleet) => vec![
            ("↑↓", "move"),
            ("Enter", "open"),
            ("n", "next problem"),
            ("/", "filter"),
            ("s", "sort"),
            ("o", "group"),
            ("c", "command"),
            ("Space", "mark"),
            ("t", "topics"),
            ("m", "map"),
            ("!", "alerts"),
            ("Tab", "events"),
            ("?", "help"),
            ("q", "quit"),
        ],
        (_, _, View::Device(_)) => vec![
            ("↑↓", "metric"),
            ("w", "window"),
            ("y", "copy"),
            ("c", "command"),
            ("Esc", "back"),
            (":export csv F", ""),
            ("?", "help"),
            ("q", "quit"),
        ],
        (_, _, View::Map) => vec![
            ("hjkl ←→", "pan"),
            ("+ -", "zoom"),
            ("0", "fit"),
            ("Tab n", "next device"),
            ("Enter", "open"),
            ("/", "filter"),
            ("Esc m", "back"),
            ("?", "help"),
            ("q", "quit"),
        ],
        (_, _, View::Overview) => vec![
            ("↑↓", "fleet"),
            ("Enter", "its table"),
            ("Esc", "back"),
            ("?", "help"),
            ("q", "quit"),
        ],
        (_, _, View::Broker) => vec![("Esc b", "back"), ("?", "help"), ("q", "quit")],
        (_, _, View::Topics) => vec![
            ("↑↓", "move"),
            ("Enter l h", "unfold / fold"),
            ("/", "search"),
            ("y Y", "copy topic / payload"),
            ("Esc", "back"),
            ("?", "help"),
            ("q", "quit"),
        ],
    }
}

/// Everything `?` shows for the current view.
pub fn help(app: &App) -> Vec<(&'static str, &'static str)> {
    let mut keys = vec![
        ("↑↓ / j k", "move"),
        ("PgUp PgDn, g G", "page, first / last (^B ^F, Home End)"),
        ("Tab", "switch between the table and the events pane"),
        ("/", "filter: text  /regex/  level_pct<20  status=offline"),
        (":", "sort filter group theme alerts silence export q; Tab"),
        (
            "m / b / :overview",
            "map / broker health ($SYS) / all fleets at a glance",
        ),
        ("a", "acknowledge the device's active alerts"),
        ("!", "alert pane (S silences the device at hand)"),
        (
            ":silence …",
            "site=north 2h \"reason\"; :unsilence ID lifts it",
        ),
        (
            "c / :cmd NAME k=v",
            "send a command to the device (or the marked rows)",
        ),
        (
            ":publish T P",
            "raw publish [--qos N] [--retain], confirmed and audited",
        ),
        ("q, Ctrl-C", "quit"),
    ];
    match app.view {
        View::Fleet => keys.extend([
            ("Enter / l", "open the device, or fold a group"),
            (
                "n / N",
                "next / previous device in trouble (offline, stale, alerting, bad payloads)",
            ),
            (
                "Space / C",
                "mark a row / command every device shown (bulk)",
            ),
            ("h", "fold the group"),
            ("s / r", "sort by the next column / reverse"),
            ("o", "group by fleet, site, gateway, none"),
            ("t", "topic explorer (what is not mapped yet)"),
            ("Esc", "clear the filter"),
        ]),
        View::Device(_) => keys.extend([
            ("↑↓", "select a metric for the chart"),
            ("w / →", "chart window: 1m, 10m, 1h, 24h"),
            ("y", "copy the value (or the payload) via OSC 52"),
            (":export csv FILE", "write the selected metric's history"),
            ("Esc / ←", "back to the fleet"),
        ]),
        View::Topics => keys.extend([
            ("Enter", "unfold or fold the branch at the cursor"),
            (
                "l / →",
                "unfold; on an unfolded branch, go to its first child",
            ),
            (
                "h / ←",
                "fold; on a leaf or a folded branch, go to its parent",
            ),
            (
                "/",
                "search the tree: topics whose path holds the text, with their parents",
            ),
            ("y / Y", "copy the topic / its latest payload (OSC 52)"),
            ("Esc / t", "clear the search / back to the fleet"),
        ]),
        View::Broker => keys.extend([("Esc / b", "back to the fleet")]),
        View::Map => {
            keys.retain(|(k, _)| !matches!(*k, "↑↓ / j k" | "Tab" | "PgUp PgDn, g G" | "/"));
            keys.extend([
                ("h j k l, arrows", "pan west, south, north, east"),
                ("+ / -, 0", "zoom in / out, fit the whole fleet again"),
                ("Tab / n, N", "label the next / previous device on the map"),
                ("Enter", "open the labelled device (Esc comes back)"),
                ("/", "filter: the map shows the devices the table would"),
                ("Esc / m", "back to the fleet"),
            ])
        }
        View::Overview => {
            keys.retain(|(k, _)| *k != "Tab" && *k != "a");
            keys.extend([
                ("↑↓", "select a fleet"),
                ("Enter", "the fleet table, filtered to that fleet"),
                ("Esc", "back to the fleet"),
            ])
        }
        View::Alerts => {
            // The pane's own `a` acts on one alert, not the device.
            keys.retain(|(k, _)| *k != "a" && *k != "Tab");
            keys.extend([
                ("Enter / l", "open the alert's device (Esc comes back)"),
                ("a", "acknowledge the selected alert"),
                ("S", "silence: :silence pre-filled for its device and rule"),
                ("u", "lift the silence covering the selected alert"),
                (
                    "f",
                    "show all, unhandled, firing, pending, resolved, acked, silenced",
                ),
                (":alerts STATE", "open the pane showing one state"),
                ("Esc / !", "back to the fleet"),
            ])
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_finds_commands_and_arguments() {
        assert_eq!(complete("so"), "sort ");
        assert_eq!(complete("sort st"), "sort status ");
        assert_eq!(complete("group ga"), "group gateway ");
        assert_eq!(complete("theme hi"), "theme high-contrast ");
        assert_eq!(complete("xyz"), "xyz");
    }
}
