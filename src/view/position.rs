//! Where a device is, from the metrics it reports, and the window of the earth a map shows.
//!
//! Devices say where they are in many shapes: flat `lat`/`lon` (OwnTracks), `latitude`/
//! `longitude` (Traccar, Home Assistant trackers), nested under any key (`gps.lat`,
//! `location.latitude`), joined with `_` or `/` (`gps_lat`, `gps/lon` topics), or as a
//! GeoJSON Point (`{"type":"Point","coordinates":[lon,lat]}`, RFC 7946: longitude first).
//! The JSON decoder flattens all of them to metric paths, so a position is a pair of
//! numeric metrics that share a prefix.

use crate::fleet::{Device, MetricValue};

/// Final path segments that name a latitude or a longitude (compared without case).
const LAT_KEYS: &[&str] = &["lat", "latitude"];
const LON_KEYS: &[&str] = &["lon", "lng", "long", "longitude"];
/// What joins a prefix to the key: JSON nesting, snake case, topic levels.
const SEPARATORS: &[char] = &['.', '_', '/'];

/// A point on the earth, degrees (WGS 84, as GPS and GeoJSON give it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
}

impl Position {
    /// A position fit to draw: finite, in range, and not exactly 0,0 ("null island", what
    /// GPS modules report before they have a fix).
    pub fn valid(lat: f64, lon: f64) -> Option<Position> {
        let in_range = lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon);
        (in_range && !(lat == 0.0 && lon == 0.0)).then_some(Position { lat, lon })
    }
}

/// The indices of a device's latitude and longitude metrics, where it reports a position.
/// Of several pairs, the one with the shortest prefix wins (`lat` over `gps.lat`), so the
/// choice does not depend on the order metrics arrived in.
pub fn position_metrics(d: &Device) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize, usize)> = None;
    for (i, m) in d.metrics.iter().enumerate() {
        if !matches!(m.value, MetricValue::Number(_)) {
            continue;
        }
        let Some((prefix, lat_index)) = coordinate_pair(d, &m.name, i) else {
            continue;
        };
        if best.is_none_or(|(len, ..)| prefix < len) {
            best = Some((prefix, i, lat_index));
        }
    }
    best.map(|(_, lon, lat)| (lat, lon))
}

/// When metric `name` (index `i`) is a longitude with a latitude beside it: the prefix
/// length and the latitude's index.
fn coordinate_pair(d: &Device, name: &str, i: usize) -> Option<(usize, usize)> {
    let cut = name.rfind(SEPARATORS).map_or(0, |p| p + 1);
    let (prefix, key) = name.split_at(cut);
    // GeoJSON: `P.coordinates.0` is the longitude when `P.type` is "Point".
    if key == "0"
        && let Some(base) = prefix.strip_suffix("coordinates.")
        && (base.is_empty() || base.ends_with('.'))
        && d.metric(&format!("{base}type"))
            .is_some_and(|t| matches!(&t.value, MetricValue::Text(s) if &**s == "Point"))
    {
        let lat = numeric_index(d, &format!("{prefix}1"))?;
        return Some((base.len(), lat));
    }
    if !LON_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k)) {
        return None;
    }
    let lat = d.metrics.iter().enumerate().position(|(j, m)| {
        j != i
            && matches!(m.value, MetricValue::Number(_))
            && m.name.len() > prefix.len()
            && m.name.is_char_boundary(prefix.len())
            && m.name[..prefix.len()].eq_ignore_ascii_case(prefix)
            && LAT_KEYS
                .iter()
                .any(|k| m.name[prefix.len()..].eq_ignore_ascii_case(k))
    })?;
    Some((prefix.len(), lat))
}

fn numeric_index(d: &Device, name: &str) -> Option<usize> {
    d.metrics
        .iter()
        .position(|m| &*m.name == name && matches!(m.value, MetricValue::Number(_)))
}

/// Where the device is now, if it reports a valid position.
pub fn position(d: &Device) -> Option<Position> {
    let (lat, lon) = position_metrics(d)?;
    match (&d.metrics[lat].value, &d.metrics[lon].value) {
        (MetricValue::Number(lat), MetricValue::Number(lon)) => Position::valid(*lat, *lon),
        _ => None,
    }
}

/// Its last `max` distinct positions, oldest first, from the metrics' history rings. A
/// latitude and a longitude may arrive apart (one topic each): each sample pairs with the
/// latest of the other at or before it. Invalid fixes are skipped.
pub fn trail(d: &Device, max: usize) -> Vec<Position> {
    let Some((lat, lon)) = position_metrics(d) else {
        return Vec::new();
    };
    let mut lats = d.metrics[lat].ring.iter().peekable();
    let mut lons = d.metrics[lon].ring.iter().peekable();
    let (mut last_lat, mut last_lon) = (None, None);
    let mut out: Vec<Position> = Vec::new();
    loop {
        let t = match (lats.peek(), lons.peek()) {
            (Some(&(a, _)), Some(&(b, _))) => a.min(b),
            (Some(&(a, _)), None) => a,
            (None, Some(&(b, _))) => b,
            (None, None) => break,
        };
        while let Some((_, v)) = lats.next_if(|&(at, _)| at == t) {
            last_lat = Some(v);
        }
        while let Some((_, v)) = lons.next_if(|&(at, _)| at == t) {
            last_lon = Some(v);
        }
        if let (Some(a), Some(o)) = (last_lat, last_lon)
            && let Some(p) = Position::valid(a, o)
            && out.last() != Some(&p)
        {
            out.push(p);
        }
    }
    let skip = out.len().saturating_sub(max);
    out.drain(..skip);
    out
}

/// The part of the earth a map shows: longitude on x, latitude on y, degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub west: f64,
    pub east: f64,
    pub south: f64,
    pub north: f64,
}

/// Latitude span shown around a single device, or a fleet parked in one spot: a town's
/// worth (about 5.5 km).
const SINGLE_SPAN_DEG: f64 = 0.05;
/// Room left around the fleet's bounding box, as a fraction of its size per side.
const MARGIN: f64 = 0.1;
/// Mercator breaks down near the poles; the map never shows more than this.
const MAX_LAT: f64 = 85.0;

/// How the operator moved the map: `zoom` 1 is the fleet fitted, 2 shows half as much;
/// `pan_x`/`pan_y` move the centre by that many widths/heights of the fitted window.
/// Zoomed in, the window centres on `centre` (the device being followed) when there is one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub zoom: f64,
    pub pan_x: f64,
    pub pan_y: f64,
    pub centre: Option<Position>,
}

impl Default for Camera {
    fn default() -> Camera {
        Camera {
            zoom: 1.0,
            pan_x: 0.0,
            pan_y: 0.0,
            centre: None,
        }
    }
}

/// The window that shows every point with a margin, shaped for a canvas of `cols`×`rows`
/// terminal cells (a cell is about twice as tall as it is wide) so that a kilometre is as
/// long across as up, then moved by the camera. `None` with no points.
pub fn fit(points: &[Position], cols: u16, rows: u16, camera: Camera) -> Option<Bounds> {
    let first = points.first()?;
    let (mut south, mut north, mut west, mut east) = (first.lat, first.lat, first.lon, first.lon);
    for p in points {
        south = south.min(p.lat);
        north = north.max(p.lat);
        west = west.min(p.lon);
        east = east.max(p.lon);
    }
    let mid_lat = (south + north) / 2.0;
    let mid_lon = (west + east) / 2.0;
    // A degree of longitude is cos(latitude) of a degree of latitude on the ground.
    let squash = mid_lat.to_radians().cos().max(0.05);
    let mut lat_span = ((north - south) * (1.0 + 2.0 * MARGIN)).max(SINGLE_SPAN_DEG);
    let mut lon_span = ((east - west) * (1.0 + 2.0 * MARGIN)).max(SINGLE_SPAN_DEG / squash);
    // Cells are about 1:2, so the window's ground shape is cols : 2*rows.
    let want = f64::from(cols.max(1)) / (2.0 * f64::from(rows.max(1)));
    if lon_span * squash / lat_span < want {
        lon_span = lat_span * want / squash;
    } else {
        lat_span = lon_span * squash / want;
    }
    let (mid_lat, mid_lon) = match camera.centre {
        Some(c) if camera.zoom > 1.0 => (c.lat, c.lon),
        _ => (mid_lat, mid_lon),
    };
    // Pan counts in fitted windows, so zooming keeps the same centre.
    let mid_lat = (mid_lat + camera.pan_y * lat_span).clamp(-MAX_LAT, MAX_LAT);
    let mid_lon = mid_lon + camera.pan_x * lon_span;
    let zoom = camera.zoom.clamp(1.0 / 64.0, 4096.0);
    let (lat_span, lon_span) = (
        (lat_span / zoom).min(2.0 * MAX_LAT),
        (lon_span / zoom).min(360.0),
    );
    Some(Bounds {
        west: mid_lon - lon_span / 2.0,
        east: mid_lon + lon_span / 2.0,
        south: mid_lat - lat_span / 2.0,
        north: mid_lat + lat_span / 2.0,
    })
}

impl Bounds {
    pub fn contains(&self, p: Position) -> bool {
        (self.west..=self.east).contains(&p.lon) && (self.south..=self.north).contains(&p.lat)
    }

    /// The width of the window on the ground at its middle latitude, km.
    pub fn width_km(&self) -> f64 {
        const KM_PER_DEG: f64 = 111.32;
        let mid = ((self.south + self.north) / 2.0).to_radians().cos();
        (self.east - self.west) * KM_PER_DEG * mid
    }
}

#[cfg(test)]
mod tests;
