//! The command dialog: pick a command (fuzzy search), fill in its parameters (checked as
//! you type, with a preview of the exact topic and payload), then confirm. Dangerous
//! commands want the device's name typed, bulk commands the number of devices, and a bulk
//! command that is dangerous or spans fleets the command's name and the number.

use super::{Action, CommandOp, Effect};
use crate::commands::{CommandSet, CommandTemplate, Target};
use crate::fleet::FleetState;
use crate::vocab::DeviceId;
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};

/// What the dialog is for and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composer {
    /// One device, or every device of a bulk command.
    pub targets: Vec<DeviceId>,
    /// How the targets were chosen, so the dialog can say so.
    pub chosen: Chosen,
    pub stage: Stage,
}

/// How a command's targets were chosen: one rule for `c`, `C` and `:cmd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// The device at the cursor (or open).
    AtHand,
    /// The rows marked with Space.
    Marked,
    /// Every device the filter shows (`C`).
    Shown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Pick {
        query: String,
        selected: usize,
        /// The command the cursor is on, by name: commands a device announces may join
        /// the list while it is open, and the cursor stays on the one chosen.
        on: Option<String>,
    },
    Params {
        command: String,
        fields: Vec<Field>,
        focus: usize,
    },
    Confirm {
        command: String,
        args: Vec<(String, String)>,
        typed: String,
    },
    /// `:publish`: confirm a raw message.
    Publish { op: Box<CommandOp>, typed: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub text: String,
}

impl Composer {
    pub fn new(targets: Vec<DeviceId>, chosen: Chosen) -> Composer {
        Composer {
            targets,
            chosen,
            stage: Stage::Pick {
                query: String::new(),
                selected: 0,
                on: None,
            },
        }
    }

    pub fn bulk(&self) -> bool {
        self.targets.len() > 1
    }

    /// What the operator must type to confirm, if anything: the device's name for a
    /// dangerous command, the count for a bulk one, `retain` for a retained publish.
    pub fn needed(&self, set: &CommandSet, state: &FleetState) -> Option<String> {
        match &self.stage {
            Stage::Confirm { command, .. } => {
                let dangerous = self
                    .template(set, state, command)
                    .is_some_and(|c| c.dangerous);
                if self.bulk() {
                    let count = self.targets.len();
                    Some(if dangerous || self.fleets(state) > 1 {
                        format!("{command} {count}")
                    } else {
                        count.to_string()
                    })
                } else {
                    dangerous
                        .then(|| {
                            self.targets
                                .first()
                                .and_then(|d| state.devices.get((*d).index()))
                        })
                        .flatten()
                        .map(|d| d.name.to_string())
                }
            }
            Stage::Publish { op, .. } => {
                matches!(**op, CommandOp::Publish { retain: true, .. }).then(|| "retain".into())
            }
            _ => None,
        }
    }

    /// How many fleets the targets span.
    pub fn fleets(&self, state: &FleetState) -> usize {
        let mut fleets: Vec<_> = self
            .targets
            .iter()
            .filter_map(|d| state.devices.get(d.index()).map(|d| d.fleet))
            .collect();
        fleets.sort_unstable();
        fleets.dedup();
        fleets.len()
    }

    /// Why a confirmation was refused: a wrong count says it was the count.
    fn refusal(&self, typed: &str, want: &str) -> String {
        let count = self.targets.len();
        let typed_count = typed
            .split_whitespace()
            .last()
            .and_then(|w| w.parse::<usize>().ok());
        match typed_count {
            Some(n) if self.bulk() && n != count => format!(
                "you typed {n}, but this goes to {count} devices: type `{want}` to confirm, Esc to cancel"
            ),
            _ => format!("type `{want}` to confirm, Esc to cancel"),
        }
    }

    /// Commands every target takes, best match for the query first.
    pub fn choices(&self, set: &CommandSet, state: &FleetState) -> Vec<CommandTemplate> {
        let mut lists = self
            .targets
            .iter()
            .filter_map(|d| state.devices.get((*d).index()))
            .map(|d| set.for_device(state.fleet_name(d), d.facts.as_deref()));
        let Some(mut valid) = lists.next() else {
            return Vec::new();
        };
        for other in lists {
            valid.retain(|c| other.iter().any(|o| o.name == c.name));
        }
        let Stage::Pick { query, .. } = &self.stage else {
            return valid;
        };
        if query.is_empty() {
            return valid;
        }
        let mut matcher = nucleo_matcher::Matcher::new(nucleo_matcher::Config::DEFAULT);
        let pattern = Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart);
        let names: Vec<&str> = valid.iter().map(|c| c.name.as_str()).collect();
        let ranked: Vec<String> = pattern
            .match_list(names, &mut matcher)
            .into_iter()
            .map(|(name, _)| name.to_string())
            .collect();
        ranked
            .iter()
            .filter_map(|name| valid.iter().find(|c| c.name == *name).cloned())
            .collect()
    }

    /// The template of `command` for the first target.
    pub fn template(
        &self,
        set: &CommandSet,
        state: &FleetState,
        command: &str,
    ) -> Option<CommandTemplate> {
        let d = state.devices.get((*self.targets.first()?).index())?;
        set.for_device(state.fleet_name(d), d.facts.as_deref())
            .into_iter()
            .find(|c| c.name == command)
    }

    /// The typed arguments so far.
    pub fn args(fields: &[Field]) -> Vec<(String, String)> {
        fields
            .iter()
            .filter(|f| !f.text.trim().is_empty())
            .map(|f| (f.name.clone(), f.text.trim().to_string()))
            .collect()
    }

    /// The exact topic and payload the first target would get, or why not.
    pub fn preview(
        &self,
        set: &CommandSet,
        state: &FleetState,
    ) -> Option<Result<(String, String), String>> {
        let (command, args) = match &self.stage {
            Stage::Params {
                command, fields, ..
            } => (command, Composer::args(fields)),
            Stage::Confirm { command, args, .. } => (command, args.clone()),
            _ => return None,
        };
        let template = self.template(set, state, command)?;
        let d = state.devices.get((*self.targets.first()?).index())?;
        let target = Target {
            device: &d.name,
            fleet: state.fleet_name(d),
            labels: &d.labels,
            now_ms: 0,
        };
        Some(
            template
                .prepare(target, &args, "<id>")
                .map(|p| (p.topic, String::from_utf8_lossy(&p.payload).into_owned())),
        )
    }

    /// Applies a key; returns the dialog's next state (`None`: closed) and any effects.
    pub fn update(
        mut self,
        action: Action,
        set: &CommandSet,
        state: &FleetState,
    ) -> (Option<Composer>, Vec<Effect>, Option<String>) {
        if action == Action::Cancel {
            return (None, Vec::new(), Some("cancelled; nothing sent".into()));
        }
        let needed = self.needed(set, state);
        let choices = match self.stage {
            Stage::Pick { .. } => self.choices(set, state),
            _ => Vec::new(),
        };
        let at = self.pick_index(&choices);
        match &mut self.stage {
            Stage::Pick {
                query,
                selected,
                on,
            } => match action {
                Action::Input(c) => {
                    query.push(c);
                    (*selected, *on) = (0, None);
                }
                Action::Backspace => {
                    query.pop();
                    (*selected, *on) = (0, None);
                }
                Action::Up | Action::Down | Action::Complete => {
                    let next = if action == Action::Up {
                        at.saturating_sub(1)
                    } else {
                        (at + 1).min(choices.len().saturating_sub(1))
                    };
                    *selected = next;
                    *on = choices.get(next).map(|c| c.name.clone());
                }
                Action::Submit => {
                    let i = at;
                    let picked = choices.get(i).map(|c| {
                        (
                            c.name.clone(),
                            c.params
                                .iter()
                                .map(|p| Field {
                                    name: p.name.clone(),
                                    text: p
                                        .default
                                        .as_ref()
                                        .map(ToString::to_string)
                                        .unwrap_or_default(),
                                })
                                .collect::<Vec<_>>(),
                        )
                    });
                    let Some((command, fields)) = picked else {
                        return (Some(self), Vec::new(), Some("no command matches".into()));
                    };
                    self.stage = if fields.is_empty() {
                        Stage::Confirm {
                            command,
                            args: Vec::new(),
                            typed: String::new(),
                        }
                    } else {
                        Stage::Params {
                            command,
                            fields,
                            focus: 0,
                        }
                    };
                    return self.maybe_send(set, state);
                }
                _ => {}
            },
            Stage::Params {
                command,
                fields,
                focus,
            } => match action {
                Action::Input(c) => {
                    if let Some(f) = fields.get_mut(*focus) {
                        f.text.push(c)
                    }
                }
                Action::Backspace => {
                    if let Some(f) = fields.get_mut(*focus) {
                        f.text.pop();
                    }
                }
                Action::Up => *focus = focus.saturating_sub(1),
                Action::Down | Action::Complete => *focus = (*focus + 1) % fields.len().max(1),
                Action::Submit => {
                    let args = Composer::args(fields);
                    let command = command.clone();
                    let checked = self
                        .template(set, state, &command)
                        .map(|c| c.check_args(&args));
                    if let Some(Err(e)) = checked {
                        return (Some(self), Vec::new(), Some(e));
                    }
                    let command = command.clone();
                    self.stage = Stage::Confirm {
                        command,
                        args,
                        typed: String::new(),
                    };
                    return self.maybe_send(set, state);
                }
                _ => {}
            },
            Stage::Confirm { typed, .. } | Stage::Publish { typed, .. } => match action {
                Action::Input(c) => typed.push(c),
                Action::Backspace => {
                    typed.pop();
                }
                Action::Submit => {
                    if needed.as_deref().is_none_or(|n| n == typed.trim()) {
                        return self.send();
                    }
                    let want = needed.unwrap_or_default();
                    let typed = typed.clone();
                    let refusal = self.refusal(&typed, &want);
                    return (Some(self), Vec::new(), Some(refusal));
                }
                _ => {}
            },
        }
        (Some(self), Vec::new(), None)
    }

    /// Where the cursor is among `choices`: on the command it was put on, while that is
    /// listed, else at its place.
    pub fn pick_index(&self, choices: &[CommandTemplate]) -> usize {
        let Stage::Pick { selected, on, .. } = &self.stage else {
            return 0;
        };
        on.as_ref()
            .and_then(|name| choices.iter().position(|c| &c.name == name))
            .unwrap_or(*selected)
            .min(choices.len().saturating_sub(1))
    }

    /// A plain command for one device goes at once after its preview was on screen
    /// (Enter on the parameters); a command without parameters shows its preview first.
    fn maybe_send(
        self,
        set: &CommandSet,
        state: &FleetState,
    ) -> (Option<Composer>, Vec<Effect>, Option<String>) {
        let had_params = matches!(&self.stage, Stage::Confirm { args, .. } if !args.is_empty());
        if had_params && self.needed(set, state).is_none() {
            return self.send();
        }
        (Some(self), Vec::new(), None)
    }

    fn send(self) -> (Option<Composer>, Vec<Effect>, Option<String>) {
        let effect = match self.stage {
            Stage::Confirm { command, args, .. } => Effect::Command(CommandOp::Send {
                devices: self.targets,
                command,
                args,
            }),
            Stage::Publish { op, .. } => Effect::Command(*op),
            _ => return (None, Vec::new(), None),
        };
        (None, vec![effect], None)
    }
}
