//! The map view's keys and state: which devices it shows, which one is selected, and how
//! the operator zoomed and panned.

use super::{Action, App, View};
use crate::app::filter::Filter;
use crate::fleet::FleetState;
use crate::view::position::{self, Camera, Position};
use crate::vocab::DeviceId;

/// Each `+` / `-` zooms by this factor.
const ZOOM_STEP: f64 = 1.5;
/// Each pan key moves the centre by this share of the window shown.
const PAN_STEP: f64 = 0.25;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapState {
    pub camera: Camera,
    /// The device labelled on the map: kept by identity as devices move and arrive.
    pub selected: Option<DeviceId>,
    /// Zoomed in, the window follows the selected device as it moves.
    pub follow: bool,
}

/// The devices the map shows: those with a valid position that the filter lets through,
/// by name (the order Tab walks them in).
pub fn placed(state: &FleetState, filter: &Filter) -> Vec<(DeviceId, Position)> {
    let mut v: Vec<(DeviceId, Position)> = state
        .devices
        .iter()
        .filter(|d| filter.matches(d, state.fleet_name(d)))
        .filter_map(|d| position::position(d).map(|p| (d.id, p)))
        .collect();
    v.sort_by(|a, b| {
        let name = |id: DeviceId| &state.devices[id.index()].name;
        name(a.0).cmp(name(b.0)).then(a.0.cmp(&b.0))
    });
    v
}

impl MapState {
    /// The selected device if it is on the map, else the first one there.
    pub fn current(&self, placed: &[(DeviceId, Position)]) -> Option<DeviceId> {
        self.selected
            .filter(|s| placed.iter().any(|(id, _)| id == s))
            .or_else(|| placed.first().map(|(id, _)| *id))
    }

    fn step(&mut self, placed: &[(DeviceId, Position)], forward: bool) {
        let n = placed.len();
        if n == 0 {
            return;
        }
        let at = self
            .current(placed)
            .and_then(|c| placed.iter().position(|(id, _)| *id == c))
            .unwrap_or(0);
        let next = if forward {
            (at + 1) % n
        } else {
            (at + n - 1) % n
        };
        self.selected = Some(placed[next].0);
    }
}

impl App {
    /// Opens the map, or goes back to the table from it (`m`).
    pub(super) fn toggle_map(&mut self, state: &FleetState) {
        if self.view == View::Map {
            self.view = View::Fleet;
            return;
        }
        self.open_view(View::Map);
        // What `c` and `a` act on is the device labelled on the map.
        self.map.selected = self.map.current(&placed(state, &self.filter));
    }

    pub(super) fn navigate_map(&mut self, action: Action, state: &FleetState) {
        let placed = placed(state, &self.filter);
        let map = &mut self.map;
        let pan = PAN_STEP / map.camera.zoom;
        match action {
            Action::Up => map.camera.pan_y += pan,
            Action::Down => map.camera.pan_y -= pan,
            Action::Left => map.camera.pan_x -= pan,
            Action::Right => map.camera.pan_x += pan,
            Action::ZoomIn => {
                map.camera.zoom = (map.camera.zoom * ZOOM_STEP).min(4096.0);
                map.follow = true;
            }
            Action::ZoomOut => map.camera.zoom = (map.camera.zoom / ZOOM_STEP).max(1.0 / 64.0),
            Action::ZoomReset => {
                map.camera = Camera::default();
                map.follow = false;
            }
            Action::NextPane | Action::NextProblem | Action::PrevProblem => {
                map.step(&placed, action != Action::PrevProblem);
                // Zoomed in, the next device comes to the middle.
                if map.follow {
                    (map.camera.pan_x, map.camera.pan_y) = (0.0, 0.0);
                }
            }
            Action::Enter => match map.current(&placed) {
                Some(id) => self.open_device(id, View::Map),
                None => self.message = Some("no device on the map to open".into()),
            },
            Action::Back => self.view = View::Fleet,
            _ => {}
        }
        self.map.selected = self.map.current(&placed);
    }
}
