use super::*;
use crate::fleet::Metric;
use crate::fleet::history::{Coarse, Ring};
use crate::fleet::testutil::{device, set};

fn with_text(mut d: Device, name: &str, text: &str) -> Device {
    d.metrics.push(Metric {
        name: name.into(),
        value: MetricValue::Text(text.into()),
        updated_ms: 0,
        ring: Ring::new(4),
        coarse: Coarse::default(),
    });
    d
}

fn at(d: &Device) -> Option<(f64, f64)> {
    position(d).map(|p| (p.lat, p.lon))
}

#[test]
fn flat_and_long_names_in_any_case() {
    assert_eq!(
        at(&device("a", &[("lat", 48.1), ("lon", 11.5)])),
        Some((48.1, 11.5))
    );
    assert_eq!(
        at(&device("b", &[("Longitude", -3.7), ("Latitude", 40.4)])),
        Some((40.4, -3.7))
    );
    assert_eq!(
        at(&device("c", &[("lat", 1.0), ("lng", 2.0)])),
        Some((1.0, 2.0))
    );
}

#[test]
fn nested_under_any_key_and_joined_by_any_separator() {
    let d = device("a", &[("speed", 3.0), ("gps.lat", 52.5), ("gps.lon", 13.4)]);
    assert_eq!(at(&d), Some((52.5, 13.4)));
    let d = device(
        "b",
        &[("location.latitude", -33.9), ("location.longitude", 151.2)],
    );
    assert_eq!(at(&d), Some((-33.9, 151.2)));
    let d = device("c", &[("gps_lat", 10.0), ("gps_lon", 20.0)]);
    assert_eq!(at(&d), Some((10.0, 20.0)));
    let d = device("d", &[("gps/lat", 10.0), ("gps/lon", 20.0)]);
    assert_eq!(at(&d), Some((10.0, 20.0)));
}

#[test]
fn a_latitude_pairs_only_with_the_longitude_of_its_own_prefix() {
    let d = device("a", &[("home.lat", 1.0), ("gps.lon", 2.0)]);
    assert_eq!(at(&d), None);
    // Two pairs: the shorter prefix wins whatever order they arrived in.
    let d = device(
        "b",
        &[
            ("base.gps.lat", 5.0),
            ("base.gps.lon", 6.0),
            ("lat", 1.0),
            ("lon", 2.0),
        ],
    );
    assert_eq!(at(&d), Some((1.0, 2.0)));
}

#[test]
fn geojson_points_put_longitude_first() {
    let d = with_text(
        device("a", &[("coordinates.0", 11.5), ("coordinates.1", 48.1)]),
        "type",
        "Point",
    );
    assert_eq!(at(&d), Some((48.1, 11.5)));
    let d = with_text(
        device(
            "b",
            &[("geo.coordinates.0", -0.1), ("geo.coordinates.1", 51.5)],
        ),
        "geo.type",
        "Point",
    );
    assert_eq!(at(&d), Some((51.5, -0.1)));
    // Coordinates of anything else (a LineString, an array with no type) are not a point.
    let d = with_text(
        device("c", &[("coordinates.0", 11.5), ("coordinates.1", 48.1)]),
        "type",
        "LineString",
    );
    assert_eq!(at(&d), None);
    assert_eq!(
        at(&device(
            "d",
            &[("coordinates.0", 1.0), ("coordinates.1", 2.0)]
        )),
        None
    );
}

#[test]
fn invalid_out_of_range_and_non_finite_coordinates_are_ignored() {
    for (lat, lon) in [
        (91.0, 0.5),
        (-90.5, 10.0),
        (10.0, 180.5),
        (10.0, -181.0),
        (f64::NAN, 10.0),
        (10.0, f64::INFINITY),
        (0.0, 0.0),
    ] {
        let d = device("a", &[("lat", lat), ("lon", lon)]);
        assert_eq!(at(&d), None, "{lat},{lon}");
    }
    assert_eq!(
        at(&device("edge", &[("lat", -90.0), ("lon", 180.0)])),
        Some((-90.0, 180.0))
    );
    // Text where a number should be is no position.
    let d = with_text(device("t", &[("lat", 1.0)]), "lon", "east");
    assert_eq!(at(&d), None);
    assert_eq!(at(&device("none", &[("level", 3.0)])), None);
}

#[test]
fn the_trail_pairs_samples_that_arrive_apart_and_skips_bad_fixes() {
    let mut d = device("van", &[]);
    set(&mut d, "lat", 1_000, 48.0);
    set(&mut d, "lon", 1_000, 11.0);
    set(&mut d, "lat", 2_000, 48.1);
    set(&mut d, "lon", 2_500, 11.1);
    set(&mut d, "lat", 3_000, 95.0);
    set(&mut d, "lat", 4_000, 48.2);
    set(&mut d, "lon", 4_000, 11.1);
    set(&mut d, "lat", 5_000, 48.2);
    let got: Vec<(f64, f64)> = trail(&d, 10).iter().map(|p| (p.lat, p.lon)).collect();
    assert_eq!(
        got,
        vec![(48.0, 11.0), (48.1, 11.0), (48.1, 11.1), (48.2, 11.1)]
    );
    let last_two: Vec<(f64, f64)> = trail(&d, 2).iter().map(|p| (p.lat, p.lon)).collect();
    assert_eq!(last_two, vec![(48.1, 11.1), (48.2, 11.1)]);
}

fn p(lat: f64, lon: f64) -> Position {
    Position { lat, lon }
}

#[test]
fn the_window_holds_every_point_with_a_margin_and_true_proportions() {
    let points = [p(48.0, 11.0), p(48.2, 11.6), p(48.1, 11.3)];
    let b = fit(&points, 100, 30, Camera::default()).expect("bounds");
    for q in points {
        assert!(b.contains(q), "{q:?} outside {b:?}");
    }
    assert!(b.west < 11.0 - 0.05 && b.east > 11.6 + 0.05, "{b:?}");
    // Ground width : height matches the canvas's cols : 2*rows.
    let ground = (b.east - b.west) * 48.1f64.to_radians().cos() / (b.north - b.south);
    assert!((ground - 100.0 / 60.0).abs() < 1e-6, "{ground}");
}

#[test]
fn one_device_gets_a_town_sized_window_around_it() {
    let b = fit(&[p(48.1, 11.5)], 80, 20, Camera::default()).expect("bounds");
    assert!(b.contains(p(48.1, 11.5)));
    assert!((b.north - b.south - SINGLE_SPAN_DEG).abs() < 1e-9, "{b:?}");
    assert!(
        b.width_km() > 5.0 && b.width_km() < 50.0,
        "{}",
        b.width_km()
    );
    assert_eq!(fit(&[], 80, 20, Camera::default()), None);
}

#[test]
fn zoom_narrows_and_pan_moves_the_window() {
    let points = [p(10.0, 10.0), p(11.0, 11.0)];
    let base = fit(&points, 80, 40, Camera::default()).expect("bounds");
    let zoomed = fit(
        &points,
        80,
        40,
        Camera {
            zoom: 2.0,
            ..Camera::default()
        },
    )
    .expect("bounds");
    assert!(((base.east - base.west) / (zoomed.east - zoomed.west) - 2.0).abs() < 1e-9);
    let panned = fit(
        &points,
        80,
        40,
        Camera {
            pan_x: 0.25,
            ..Camera::default()
        },
    )
    .expect("bounds");
    let width = base.east - base.west;
    assert!((panned.west - base.west - 0.25 * width).abs() < 1e-9);
    // Zoomed far out, the window never leaves the globe's latitudes.
    let out = fit(
        &points,
        80,
        40,
        Camera {
            zoom: 1e-6,
            pan_y: 50.0,
            ..Camera::default()
        },
    )
    .expect("bounds");
    assert!(out.north - out.south <= 2.0 * MAX_LAT + 1e-9, "{out:?}");
}

#[test]
fn zoomed_in_the_window_centres_on_the_followed_device() {
    let points = [p(10.0, 10.0), p(11.0, 11.0)];
    let centre = Some(p(10.1, 10.2));
    let zoomed = fit(
        &points,
        80,
        40,
        Camera {
            zoom: 4.0,
            centre,
            ..Camera::default()
        },
    )
    .expect("bounds");
    assert!(
        ((zoomed.west + zoomed.east) / 2.0 - 10.2).abs() < 1e-9,
        "{zoomed:?}"
    );
    assert!(
        ((zoomed.south + zoomed.north) / 2.0 - 10.1).abs() < 1e-9,
        "{zoomed:?}"
    );
    // At the fitted zoom the whole fleet stays in view whatever is followed.
    let fitted = fit(
        &points,
        80,
        40,
        Camera {
            centre,
            ..Camera::default()
        },
    )
    .expect("bounds");
    assert_eq!(
        fitted,
        fit(&points, 80, 40, Camera::default()).expect("bounds")
    );
}
