//! Redis' geohash arithmetic, after Redis 7.0's `geohash.c` and `geohash_helper.c`: the 52-bit
//! interleaved cell a point falls in (the score of a geo sorted-set member), the cell centre a
//! score decodes to, great-circle distances, the base32 strings of GEOHASH, and the nine cells
//! (a centre and its neighbours) that cover a circle or box search.
//!
//! Latitudes are bits at even positions and longitudes at odd positions of the cell number, as
//! in Redis, so scores written here equal the ones a redis-server stores.

/// The finest step (bits per coordinate) Redis uses: scores have 52 bits.
pub const STEP_MAX: u8 = 26;
/// Westmost longitude accepted.
pub const LON_MIN: f64 = -180.0;
/// Eastmost longitude accepted.
pub const LON_MAX: f64 = 180.0;
/// Southmost latitude accepted (the Web Mercator limit).
pub const LAT_MIN: f64 = -85.05112878;
/// Northmost latitude accepted.
pub const LAT_MAX: f64 = 85.05112878;
/// The Earth radius Redis' distances use, in metres.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
/// Half the Earth's circumference on the Mercator projection, in metres.
const MERCATOR_MAX: f64 = 20037726.37;

/// An interval of one coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The ranges Redis stores points in.
pub const WGS84_LON: Range = Range {
    min: LON_MIN,
    max: LON_MAX,
};
/// Latitudes as stored (±85.05112878).
pub const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};
/// The standard latitude range GEOHASH strings are computed on.
pub const STANDARD_LAT: Range = Range {
    min: -90.0,
    max: 90.0,
};

/// A cell: `step` bits per coordinate, interleaved in `bits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

impl Hash {
    /// The "no cell" marker of a neighbour excluded from a search.
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The half-open range of 52-bit scores inside this cell.
    pub fn score_range(&self) -> (u64, u64) {
        let shift = 52 - 2 * u32::from(self.step);
        (self.bits << shift, (self.bits + 1) << shift)
    }
}

/// The rectangle a cell covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub lon: Range,
    pub lat: Range,
}

/// Spreads the 32 bits of `v` onto the even bit positions.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bit positions of `x` into 32 bits.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// The cell of (`lon`, `lat`) at `step` within the given ranges; `None` outside them or for a
/// step beyond 32.
pub fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * cells;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * cells;
    Some(Hash {
        bits: spread(lat_off as u32) | (spread(lon_off as u32) << 1),
        step,
    })
}

/// The cell of a point in the stored ranges.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Hash> {
    encode(WGS84_LON, WGS84_LAT, lon, lat, step)
}

/// The rectangle of a cell within the given ranges.
pub fn decode(lon_r: Range, lat_r: Range, h: Hash) -> Area {
    let cells = (1u64 << h.step) as f64;
    let ilat = f64::from(squash(h.bits));
    let ilon = f64::from(squash(h.bits >> 1));
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    Area {
        lat: Range {
            min: lat_r.min + (ilat / cells) * lat_scale,
            max: lat_r.min + ((ilat + 1.0) / cells) * lat_scale,
        },
        lon: Range {
            min: lon_r.min + (ilon / cells) * lon_scale,
            max: lon_r.min + ((ilon + 1.0) / cells) * lon_scale,
        },
    }
}

/// The (longitude, latitude) a stored 52-bit score stands for: its cell's centre, clamped to
/// the accepted ranges.
pub fn decode_score(score: f64) -> (f64, f64) {
    let area = decode(
        WGS84_LON,
        WGS84_LAT,
        Hash {
            bits: score as u64,
            step: STEP_MAX,
        },
    );
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The 52-bit score of a point (`None` outside the accepted ranges).
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(|h| h.bits)
}

const BASE32: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// GEOHASH's 11-character string for a stored score: the decoded point re-encoded over the
/// standard -90..90 latitude range.
pub fn base32_of_score(score: f64) -> String {
    let (lon, lat) = decode_score(score);
    // The decoded point lies inside the stored ranges, so this encoding cannot fail.
    let bits = encode(WGS84_LON, STANDARD_LAT, lon, lat, STEP_MAX)
        .map(|h| h.bits)
        .unwrap_or(0);
    (0..11)
        .map(|i| {
            let idx = if i == 10 {
                0
            } else {
                (bits >> (52 - (i + 1) * 5)) & 0x1f
            };
            char::from(BASE32[idx as usize])
        })
        .collect()
}

fn rad(d: f64) -> f64 {
    d * (std::f64::consts::PI / 180.0)
}

fn deg(r: f64) -> f64 {
    r / (std::f64::consts::PI / 180.0)
}

/// The distance in metres between two latitudes on one meridian.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (rad(lat2) - rad(lat1)).abs()
}

/// Haversine distance in metres between two points.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((rad(lon2) - rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (rad(lat1), rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// A search area around a centre point, sizes in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A circle of this radius.
    Radius(f64),
    /// A box this wide (east-west) and high (north-south).
    Box { width: f64, height: f64 },
}

/// The distance in metres from the centre (`lon`, `lat`) to (`plon`, `plat`) when that point
/// lies inside `shape`; a box's east-west extent is measured along the point's parallel.
pub fn within(shape: Shape, lon: f64, lat: f64, plon: f64, plat: f64) -> Option<f64> {
    match shape {
        Shape::Radius(r) => {
            let d = distance(lon, lat, plon, plat);
            (d <= r).then_some(d)
        }
        Shape::Box { width, height } => {
            if lat_distance(plat, lat) > height / 2.0 {
                return None;
            }
            if distance(plon, plat, lon, plat) > width / 2.0 {
                return None;
            }
            Some(distance(lon, lat, plon, plat))
        }
    }
}

/// The step whose cells are about as large as `range` metres at latitude `lat`.
pub fn estimate_step(range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return STEP_MAX;
    }
    let mut range = range;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

/// The bounding box (min lon, min lat, max lon, max lat) of a shape around a centre.
pub fn bounding_box(shape: Shape, lon: f64, lat: f64) -> [f64; 4] {
    let (half_w, half_h) = match shape {
        Shape::Radius(r) => (r, r),
        Shape::Box { width, height } => (width / 2.0, height / 2.0),
    };
    let lat_delta = deg(half_h / EARTH_RADIUS_M);
    let lon_top = deg(half_w / EARTH_RADIUS_M / rad(lat + lat_delta).cos());
    let lon_bottom = deg(half_w / EARTH_RADIUS_M / rad(lat - lat_delta).cos());
    let lon_delta = if lat < 0.0 { lon_bottom } else { lon_top };
    [
        lon - lon_delta,
        lat - lat_delta,
        lon + lon_delta,
        lat + lat_delta,
    ]
}

/// Moves a cell one column east (`d` = 1) or west (`d` = -1).
fn move_x(h: &mut Hash, d: i8) {
    if d == 0 {
        return;
    }
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> (64 - u32::from(h.step) * 2);
    let x = if d > 0 {
        x.wrapping_add(zz + 1)
    } else {
        (x | zz).wrapping_sub(zz + 1)
    };
    let x = x & (0xaaaa_aaaa_aaaa_aaaa >> (64 - u32::from(h.step) * 2));
    h.bits = x | y;
}

/// Moves a cell one row north (`d` = 1) or south (`d` = -1).
fn move_y(h: &mut Hash, d: i8) {
    if d == 0 {
        return;
    }
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - u32::from(h.step) * 2);
    let y = if d > 0 {
        y.wrapping_add(zz + 1)
    } else {
        (y | zz).wrapping_sub(zz + 1)
    };
    let y = y & (0x5555_5555_5555_5555 >> (64 - u32::from(h.step) * 2));
    h.bits = x | y;
}

fn shifted(h: Hash, dx: i8, dy: i8) -> Hash {
    let mut n = h;
    move_x(&mut n, dx);
    move_y(&mut n, dy);
    n
}

/// The cells to scan for a search: the centre cell, then north, south, east, west, north-east,
/// north-west, south-east, south-west (Redis' order); excluded neighbours are zero hashes.
pub fn areas(shape: Shape, lon: f64, lat: f64) -> [Hash; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(shape, lon, lat);
    let radius = match shape {
        Shape::Radius(r) => r,
        Shape::Box { width, height } => ((width / 2.0).powi(2) + (height / 2.0).powi(2)).sqrt(),
    };
    let mut step = estimate_step(radius, lat);
    let cells = |step: u8| -> (Hash, Area, [Hash; 8]) {
        let h = encode_wgs84(lon, lat, step).unwrap_or_default();
        let n = [
            shifted(h, 0, 1),
            shifted(h, 0, -1),
            shifted(h, 1, 0),
            shifted(h, -1, 0),
            shifted(h, 1, 1),
            shifted(h, -1, 1),
            shifted(h, 1, -1),
            shifted(h, -1, -1),
        ];
        (h, decode(WGS84_LON, WGS84_LAT, h), n)
    };
    let (mut h, mut area, mut n) = cells(step);
    let dec = |x: Hash| decode(WGS84_LON, WGS84_LAT, x);
    let decrease = dec(n[0]).lat.max < max_lat
        || dec(n[1]).lat.min > min_lat
        || dec(n[2]).lon.max < max_lon
        || dec(n[3]).lon.min > min_lon;
    if step > 1 && decrease {
        step -= 1;
        (h, area, n) = cells(step);
    }
    if step >= 2 {
        let zero = Hash::default();
        // Indexes: 0 N, 1 S, 2 E, 3 W, 4 NE, 5 NW, 6 SE, 7 SW.
        if area.lat.min < min_lat {
            for i in [1, 7, 6] {
                n[i] = zero;
            }
        }
        if area.lat.max > max_lat {
            for i in [0, 4, 5] {
                n[i] = zero;
            }
        }
        if area.lon.min < min_lon {
            for i in [3, 7, 5] {
                n[i] = zero;
            }
        }
        if area.lon.max > max_lon {
            for i in [2, 6, 4] {
                n[i] = zero;
            }
        }
    }
    [h, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]]
}

#[cfg(test)]
#[path = "geohash_tests.rs"]
mod tests;
