//! The fleet overview's keys: a cursor over its fleets; Enter opens the fleet table
//! filtered to the fleet under it.

use super::{Action, App, View};
use crate::fleet::FleetState;

/// The fleets the overview lists, in its order.
fn fleet_names(state: &FleetState) -> Vec<&str> {
    crate::view::overview::members(state)
        .into_iter()
        .filter_map(|(i, _)| state.mapper.fleets.get(i as usize))
        .map(|f| f.name.as_str())
        .collect()
}

impl App {
    pub(super) fn navigate_overview(&mut self, action: Action, state: &FleetState) {
        let names = fleet_names(state);
        match action {
            Action::Enter | Action::Right => match names.get(self.overview_selected) {
                // The filter is words: a name with a space in it cannot be one.
                Some(name) if name.contains(char::is_whitespace) => {
                    self.message = Some(format!(
                        "fleet `{}` has a space in its name: filter it with /TEXT",
                        crate::sanitize::text(name)
                    ))
                }
                Some(name) => self.apply_filter(&format!("fleet={name}")),
                None => self.message = Some("no fleet has devices yet".into()),
            },
            Action::Back | Action::Left => self.view = View::Fleet,
            other => {
                self.overview_selected =
                    super::step(self.overview_selected, &other, names.len(), 1);
            }
        }
    }
}
