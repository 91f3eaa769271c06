//! Unit tests of the geohash arithmetic; expected values are what redis-server 7.0 reports.

use super::*;

#[test]
fn scores_match_redis() {
    // GEOADD k 13.361389 38.115556 Palermo; ZSCORE k Palermo
    assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
    assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909));
    assert_eq!(score_of(181.0, 0.0), None);
    assert_eq!(score_of(0.0, 85.06), None);
}

#[test]
fn decoding_gives_the_cell_centre() {
    let (lon, lat) = decode_score(3479099956230698.0);
    assert!((lon - 13.361389).abs() < 1e-5);
    assert!((lat - 38.115556).abs() < 1e-5);
    assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
}

#[test]
fn base32_strings_match_redis() {
    assert_eq!(base32_of_score(3479099956230698.0), "sqc8b49rny0");
    assert_eq!(base32_of_score(3479447370796909.0), "sqdtr74hyu0");
}

#[test]
fn distances_match_redis() {
    let (a, b) = (
        decode_score(3479099956230698.0),
        decode_score(3479447370796909.0),
    );
    assert_eq!(
        format!("{:.4}", distance(a.0, a.1, b.0, b.1)),
        "166274.1516"
    );
    assert_eq!(distance(1.0, 2.0, 1.0, 2.0), 0.0);
    let degree = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
    assert!((lat_distance(0.0, 1.0) - degree).abs() < 1e-6);
}

#[test]
fn bits_spread_and_squash_back() {
    for v in [0u32, 1, 0xdead_beef, u32::MAX] {
        assert_eq!(squash(spread(v)), v);
        assert_eq!(squash(spread(v) << 1 >> 1), v);
    }
}

#[test]
fn neighbours_move_one_cell() {
    let h = encode_wgs84(10.0, 10.0, 10).unwrap();
    let a = decode(WGS84_LON, WGS84_LAT, h);
    let east = decode(WGS84_LON, WGS84_LAT, shifted(h, 1, 0));
    let north = decode(WGS84_LON, WGS84_LAT, shifted(h, 0, 1));
    assert!((east.lon.min - a.lon.max).abs() < 1e-9);
    assert_eq!(east.lat, a.lat);
    assert!((north.lat.min - a.lat.max).abs() < 1e-9);
    assert_eq!(north.lon, a.lon);
}

#[test]
fn steps_shrink_with_the_radius() {
    assert_eq!(estimate_step(0.0, 0.0), 26);
    assert!(estimate_step(100.0, 0.0) > estimate_step(100_000.0, 0.0));
    assert_eq!(estimate_step(100.0, 70.0) + 1, estimate_step(100.0, 0.0));
    assert_eq!(estimate_step(1e9, 0.0), 1);
}

#[test]
fn areas_cover_the_search_circle() {
    let (lon, lat) = (15.0, 37.0);
    let cells = areas(Shape::Radius(200_000.0), lon, lat);
    // Every point of the circle's bounding box falls in one of the non-zero cells.
    let [x0, y0, x1, y1] = bounding_box(Shape::Radius(200_000.0), lon, lat);
    for i in 0..=10 {
        for j in 0..=10 {
            let x = x0 + (x1 - x0) * f64::from(i) / 10.0;
            let y = y0 + (y1 - y0) * f64::from(j) / 10.0;
            let s = score_of(x, y).unwrap();
            assert!(cells.iter().any(|c| {
                let (lo, hi) = c.score_range();
                !c.is_zero() && s >= lo && s < hi
            }));
        }
    }
}

#[test]
fn boxes_check_each_axis() {
    let shape = Shape::Box {
        width: 200_000.0,
        height: 100_000.0,
    };
    assert!(within(shape, 0.0, 0.0, 0.8, 0.0).is_some());
    assert!(within(shape, 0.0, 0.0, 0.0, 0.8).is_none());
    assert!(within(Shape::Radius(1000.0), 0.0, 0.0, 0.0, 0.001).is_some());
    assert!(within(Shape::Radius(100.0), 0.0, 0.0, 0.0, 0.001).is_none());
}
