//! The map view: devices that report a position on a braille world map fitted to the
//! fleet, each a status glyph in its status colour (the glyph reads in 16 colours and in
//! mono), the selected one labelled with its name and followed by its trail; beside it the
//! selected device and the list Tab walks.

use super::{status_style, status_symbol, titled, widgets};
use crate::app::App;
use crate::app::map::placed;
use crate::fleet::Device;
use crate::sanitize;
use crate::text::age;
use crate::view::CoreView;
use crate::view::position::{self, Bounds, Position};
use crate::vocab::DeviceId;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as Segment, Map, MapResolution};
use ratatui::widgets::{Paragraph, Wrap};

/// Positions of the selected device's trail (its history ring holds more).
const TRAIL: usize = 60;

/// The devices on the map and the one selected.
struct OnMap<'a> {
    placed: &'a [(DeviceId, Position)],
    current: Option<DeviceId>,
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let side_width = if area.width >= 110 { 34 } else { 28 };
    let [map_area, side_area] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(side_width)])
            .spacing(1)
            .areas(area);
    let placed = placed(view.state, &app.filter);
    let current = app.map.current(&placed);
    let points: Vec<Position> = placed.iter().map(|(_, p)| *p).collect();
    let on_map = OnMap {
        placed: &placed,
        current,
    };
    // The block takes the top line for its title.
    let rows = map_area.height.saturating_sub(1);
    let camera = position::Camera {
        centre: current
            .filter(|_| app.map.follow)
            .and_then(|id| placed.iter().find(|(d, _)| *d == id))
            .map(|(_, p)| *p),
        ..app.map.camera
    };
    match position::fit(&points, map_area.width, rows, camera) {
        Some(bounds) => canvas(frame, map_area, app, view, &on_map, bounds),
        None => empty(frame, map_area, app, view),
    }
    side(frame, side_area, app, view, &on_map);
}

fn empty(frame: &mut Frame, area: Rect, app: &App, view: &CoreView) {
    let t = &app.theme;
    let why = if app.filter.is_empty() {
        format!(
            "None of {} devices reports a position yet: lat/lon, latitude/longitude, \
             nested (gps.lat, location.latitude) or a GeoJSON Point.",
            view.state.devices.len()
        )
    } else {
        "No device the filter shows reports a position (Esc in the table clears it).".into()
    };
    frame.render_widget(
        Paragraph::new(Span::styled(why, t.dim))
            .wrap(Wrap { trim: true })
            .block(titled(t, " Map ".into(), true)),
        area,
    );
}

/// A theme style's colour for canvas shapes, which take a colour, not a style.
fn colour(s: Style) -> Color {
    s.fg.unwrap_or(Color::Reset)
}

fn canvas(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    view: &CoreView,
    &OnMap { placed, current }: &OnMap,
    b: Bounds,
) {
    let t = &app.theme;
    let devices = &view.state.devices;
    let shown = placed.iter().filter(|(_, p)| b.contains(*p)).count();
    let title = format!(
        " Map · {shown} of {} · {} across · zoom {} ",
        placed.len(),
        distance(b.width_km()),
        zoom_text(app.map.camera.zoom)
    );
    let selected = current.and_then(|id| devices.get(id.index()));
    let trail = selected
        .map(|d| position::trail(d, TRAIL))
        .unwrap_or_default();
    // One cell in degrees, to put a label beside its glyph rather than on it.
    let cell = (b.east - b.west) / f64::from(area.width.max(1));
    let map = Canvas::default()
        .block(titled(t, title, true))
        .marker(Marker::Braille)
        .x_bounds([b.west, b.east])
        .y_bounds([b.south, b.north])
        .paint(|ctx| {
            ctx.draw(&Map {
                color: colour(t.border),
                resolution: MapResolution::High,
            });
            ctx.layer();
            for pair in trail.windows(2) {
                ctx.draw(&Segment {
                    x1: pair[0].lon,
                    y1: pair[0].lat,
                    x2: pair[1].lon,
                    y2: pair[1].lat,
                    color: colour(t.accent),
                });
            }
            // The selected device last, so its label is on top.
            let others = placed.iter().filter(|(id, _)| Some(*id) != current);
            for (id, p) in others.chain(placed.iter().filter(|(id, _)| Some(*id) == current)) {
                let Some(d) = devices.get(id.index()) else {
                    continue;
                };
                if !b.contains(*p) {
                    continue;
                }
                let glyph = Span::styled(status_symbol(d.status), status_style(t, d.status));
                if Some(*id) != current {
                    ctx.print(p.lon, p.lat, glyph);
                    continue;
                }
                let name = sanitize::truncate(&sanitize::text(&d.name), 24).into_owned();
                let label = Span::styled(format!(" {name} "), t.selection);
                // Near the east edge the label goes to the west of the glyph.
                let width = name.chars().count() as f64 + 2.0;
                if p.lon + (width + 1.0) * cell > b.east {
                    ctx.print(p.lon - width * cell, p.lat, Line::from(vec![label, glyph]));
                } else {
                    ctx.print(p.lon, p.lat, Line::from(vec![glyph, label]));
                }
            }
        });
    frame.render_widget(map, area);
}

/// `1.0×`, `2.3×`, `0.44×`.
fn zoom_text(zoom: f64) -> String {
    if zoom >= 1.0 {
        format!("{zoom:.1}×")
    } else {
        format!("{zoom:.2}×")
    }
}

/// `850 m`, `12 km`, `3400 km`.
fn distance(km: f64) -> String {
    if km < 1.0 {
        format!("{:.0} m", km * 1000.0)
    } else if km < 10.0 {
        format!("{km:.1} km")
    } else {
        format!("{km:.0} km")
    }
}

/// `48.13712°N 11.57550°E`.
fn coordinates(p: Position) -> String {
    format!(
        "{:.5}°{} {:.5}°{}",
        p.lat.abs(),
        if p.lat < 0.0 { 'S' } else { 'N' },
        p.lon.abs(),
        if p.lon < 0.0 { 'W' } else { 'E' }
    )
}

fn side(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    view: &CoreView,
    &OnMap { placed, current }: &OnMap,
) {
    let t = &app.theme;
    let devices = &view.state.devices;
    let mut lines: Vec<Line> = Vec::new();
    let selected = current.and_then(|id| devices.get(id.index()).zip(position_of(placed, id)));
    if let Some((d, p)) = selected {
        lines.extend(selected_lines(app, view, d, p));
    }
    let without = devices.len().saturating_sub(placed.len());
    if without > 0 {
        let what = if app.filter.is_empty() {
            "no position"
        } else {
            "filtered out or no position"
        };
        lines.push(Line::from(Span::styled(
            format!("{without} more: {what}"),
            t.dim,
        )));
    }
    lines.push(Line::default());
    // The list scrolls to keep the selected device in sight.
    let room = (area.height as usize)
        .saturating_sub(lines.len() + 1)
        .max(1);
    let at = current
        .and_then(|c| placed.iter().position(|(id, _)| *id == c))
        .unwrap_or(0);
    let first = at.saturating_sub(room - 1);
    for (id, _) in placed.iter().skip(first).take(room) {
        let Some(d) = devices.get(id.index()) else {
            continue;
        };
        let name = sanitize::truncate(
            &sanitize::text(&d.name),
            (area.width as usize).saturating_sub(4),
        )
        .into_owned();
        let is_current = Some(*id) == current;
        lines.push(Line::from(vec![
            Span::styled(if is_current { "▶" } else { " " }, t.accent),
            Span::styled(status_symbol(d.status), status_style(t, d.status)),
            Span::styled(
                format!(" {name}"),
                if is_current { t.selection } else { t.text },
            ),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(titled(t, format!(" On the map · {} ", placed.len()), false)),
        area,
    );
}

fn position_of(placed: &[(DeviceId, Position)], id: DeviceId) -> Option<Position> {
    placed.iter().find(|(d, _)| *d == id).map(|(_, p)| *p)
}

/// The selected device: name, status, where it is, when it last said so, its table
/// metrics.
fn selected_lines<'a>(app: &App, view: &CoreView, d: &Device, p: Position) -> Vec<Line<'a>> {
    let t = &app.theme;
    let fleet = view.state.mapper.fleets.get(d.fleet as usize);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("{} ", status_symbol(d.status)),
                status_style(t, d.status),
            ),
            Span::styled(sanitize::text(&d.name).into_owned(), t.header),
            Span::styled(format!(" {}", d.status), status_style(t, d.status)),
        ]),
        Line::from(Span::styled(coordinates(p), t.text)),
        Line::from(Span::styled(
            format!(
                "{} · seen {} ago",
                sanitize::truncate(&sanitize::text(view.state.fleet_name(d)), 14),
                age(view.now_ms - d.last_seen_ms)
            ),
            t.dim,
        )),
    ];
    let position_metrics = position::position_metrics(d);
    let skip = |i: usize| position_metrics.is_some_and(|(a, o)| i == a || i == o);
    for m in widgets::key_metrics(d, fleet, 4) {
        let index = d.metrics.iter().position(|x| std::ptr::eq(x, m));
        if index.is_some_and(skip) {
            continue;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", widgets::metric_label(m, fleet)), t.dim),
            Span::styled(widgets::value_with_unit(m, d, fleet), t.text),
        ]));
    }
    lines
}
