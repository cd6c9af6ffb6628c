//! The geohash arithmetic of Redis's geo commands: a point is stored in a
//! sorted set under a 52-bit score, its longitude and latitude each cut to
//! 26 bits and interleaved (latitude on the even bits, longitude on the odd).
//!
//! Every computation here follows Redis 7.2 (`geohash.c`,
//! `geohash_helper.c`, `geo.c`) step by step and in the same `f64`
//! operations, so a geo set written by ringbus reads the same in
//! redis-server and the other way round, and a search visits the same cells,
//! keeps the same points and measures the same distances (the `sin`, `cos`
//! and `asin` are the C library's, as Redis's are).
//!
//! Invariants: latitudes are stored within ±[`LAT_MAX`] (Web Mercator's
//! limit, not ±90), longitudes within ±180; a score decodes to the centre of
//! its 26-step cell, clamped to those limits.

use super::longdouble::LongDouble;

pub const LON_MIN: f64 = -180.0;
pub const LON_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate of a stored score (26 each, 52 in all).
pub const STEP_MAX: u8 = 26;

/// Redis's `EARTH_RADIUS_IN_METERS` (the WGS-84 quadratic mean radius).
pub const EARTH_RADIUS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
/// `M_PI / 180.0`, as C folds it.
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// A geohash of `step` bits per coordinate. `step == 0` with no bits is the
/// "zero" hash Redis uses for a neighbour cell a search leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

impl Hash {
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The hash as a 52-bit score prefix (Redis's `geohashAlign52Bits`).
    pub fn align52(&self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The cell a hash stands for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Area {
    pub lon: Range,
    pub lat: Range,
}

const WGS84_LON: Range = Range {
    min: LON_MIN,
    max: LON_MAX,
};
const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// Spreads the low 32 bits of `x` to the even bits and those of `y` to the
/// odd bits.
fn interleave(x: u32, y: u32) -> u64 {
    fn spread(v: u32) -> u64 {
        let mut v = u64::from(v);
        v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    }
    spread(x) | (spread(y) << 1)
}

/// The inverse of [`interleave`]: even bits in the low word, odd bits in the
/// high word.
fn deinterleave(v: u64) -> u64 {
    fn squeeze(mut v: u64) -> u64 {
        v &= 0x5555_5555_5555_5555;
        v = (v | (v >> 1)) & 0x3333_3333_3333_3333;
        v = (v | (v >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
        (v | (v >> 16)) & 0x0000_0000_FFFF_FFFF
    }
    squeeze(v) | (squeeze(v >> 1) << 32)
}

/// Redis's `geohashEncode`: None outside the WGS84 limits or `range`.
pub fn encode(lon_range: Range, lat_range: Range, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if step > 32 || step == 0 {
        return None;
    }
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || lon < lon_range.min || lon > lon_range.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let lon_offset = (lon - lon_range.min) / (lon_range.max - lon_range.min) * scale;
    // C converts the offsets to uint32_t, truncating.
    Some(Hash {
        bits: interleave(lat_offset as u32, lon_offset as u32),
        step,
    })
}

/// The 52-bit score of a point (GEOADD), which must be within the limits.
pub fn score_of(lon: f64, lat: f64) -> u64 {
    encode(WGS84_LON, WGS84_LAT, lon, lat, STEP_MAX).map_or(0, |h| h.align52())
}

/// Redis's `geohashDecode`.
pub fn decode(lon_range: Range, lat_range: Range, hash: Hash) -> Area {
    let sep = deinterleave(hash.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let lon_scale = lon_range.max - lon_range.min;
    let ilat = sep as u32;
    let ilon = (sep >> 32) as u32;
    let div = (1u64 << hash.step) as f64;
    // `ilat + 1` is uint32_t arithmetic in C.
    Area {
        lat: Range {
            min: lat_range.min + (f64::from(ilat) / div) * lat_scale,
            max: lat_range.min + (f64::from(ilat.wrapping_add(1)) / div) * lat_scale,
        },
        lon: Range {
            min: lon_range.min + (f64::from(ilon) / div) * lon_scale,
            max: lon_range.min + (f64::from(ilon.wrapping_add(1)) / div) * lon_scale,
        },
    }
}

/// What C's `(uint64_t)` cast of a double gives on x86-64 (a score that
/// is not a geohash may be anything).
fn c_double_to_u64(d: f64) -> u64 {
    fn cvttsd2si(x: f64) -> i64 {
        // The instruction answers the "integer indefinite" value out of range.
        if x > -9_223_372_036_854_775_808.0 - 1.0 && x < 9_223_372_036_854_775_808.0 {
            x as i64
        } else {
            i64::MIN
        }
    }
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if d < TWO63 {
        cvttsd2si(d) as u64
    } else {
        (cvttsd2si(d - TWO63) as u64) ^ (1 << 63)
    }
}

/// The score as a C `long long` (WITHHASH's reply).
pub fn score_as_i64(score: f64) -> i64 {
    c_double_to_u64(score) as i64
}

/// The point a score stands for: the centre of its cell, clamped to the
/// limits (Redis's `decodeGeohash`).
pub fn decode_score(score: f64) -> (f64, f64) {
    let hash = Hash {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    };
    let area = decode(WGS84_LON, WGS84_LAT, hash);
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The 11-character standard geohash (latitude range ±90) of a score, as
/// GEOHASH answers it.
pub fn standard_geohash(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    let lat_range = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode(WGS84_LON, lat_range, lon, lat, STEP_MAX).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        // 52 bits make ten characters; the eleventh is taken as zero.
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

/// One cell along the axis whose bits `axis` masks (longitude: the odd
/// bits, latitude: the even ones), wrapping around (`geohash_move_x/y`).
fn step_axis(hash: &mut Hash, d: i8, axis: u64) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(hash.step) * 2;
    let mut v = hash.bits & axis;
    let other = hash.bits & !axis;
    // Ones on the other axis's bits carry the increment across them.
    let zz = !axis >> shift;
    if d > 0 {
        v = v.wrapping_add(zz + 1);
    } else {
        v = (v | zz).wrapping_sub(zz + 1);
    }
    v &= axis >> shift;
    hash.bits = v | other;
}

fn moved(hash: Hash, dx: i8, dy: i8) -> Hash {
    const LON_BITS: u64 = 0xaaaa_aaaa_aaaa_aaaa;
    let mut h = hash;
    step_axis(&mut h, dx, LON_BITS);
    step_axis(&mut h, dy, !LON_BITS);
    h
}

/// Redis's `geohashEstimateStepsByRadius`.
fn steps_for_radius(mut meters: f64, lat: f64) -> u8 {
    if meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while meters < MERCATOR_MAX {
        meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// A search area: a circle of `radius`, or a box of `width` × `height`,
/// in the units of `conversion` (meters per unit), around `center`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Circle { radius: f64 },
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Search {
    pub center: (f64, f64),
    pub shape: Shape,
    pub conversion: f64,
}

/// Redis's search boxes: the centre cell then north, south, east, west,
/// north-east, north-west, south-east and south-west; a left-out cell is
/// the zero hash.
pub type Cells = [Hash; 9];

impl Search {
    /// The bounding box `[min_lon, min_lat, max_lon, max_lat]`
    /// (`geohashBoundingBox`).
    fn bounds(&self) -> [f64; 4] {
        let (lon, lat) = self.center;
        let (height, width) = match self.shape {
            Shape::Circle { radius } => (self.conversion * radius, self.conversion * radius),
            Shape::Box { width, height } => (
                self.conversion * (height / 2.0),
                self.conversion * (width / 2.0),
            ),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS);
        let lon_delta_top = rad_deg(width / EARTH_RADIUS / deg_rad(lat + lat_delta).cos());
        let lon_delta_bottom = rad_deg(width / EARTH_RADIUS / deg_rad(lat - lat_delta).cos());
        // The box narrows towards the pole: take the wider edge.
        let delta = if lat < 0.0 {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
        [lon - delta, lat - lat_delta, lon + delta, lat + lat_delta]
    }

    /// The cells to scan (`geohashCalculateAreasByShapeWGS84`).
    pub fn cells(&self) -> Cells {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let (lon, lat) = self.center;
        let radius = match self.shape {
            Shape::Circle { radius } => radius,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = steps_for_radius(radius, lat);
        let around = |steps: u8| {
            let hash = encode(WGS84_LON, WGS84_LAT, lon, lat, steps).unwrap_or(Hash {
                bits: 0,
                step: steps,
            });
            (hash, decode(WGS84_LON, WGS84_LAT, hash))
        };
        let (mut hash, mut area) = around(steps);
        // A step too fine for the area's edges: one coarser.
        let edge = |hash: Hash, dx, dy| decode(WGS84_LON, WGS84_LAT, moved(hash, dx, dy));
        let decrease = edge(hash, 0, 1).lat.max < max_lat
            || edge(hash, 0, -1).lat.min > min_lat
            || edge(hash, 1, 0).lon.max < max_lon
            || edge(hash, -1, 0).lon.min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            (hash, area) = around(steps);
        }
        let mut cells = [
            hash,
            moved(hash, 0, 1),
            moved(hash, 0, -1),
            moved(hash, 1, 0),
            moved(hash, -1, 0),
            moved(hash, 1, 1),
            moved(hash, -1, 1),
            moved(hash, 1, -1),
            moved(hash, -1, -1),
        ];
        // Leave out the cells the area cannot reach; in `cells`, 1 is north,
        // 2 south, 3 east, 4 west, 5 north-east, 6 north-west, 7 south-east
        // and 8 south-west.
        if steps >= 2 {
            let mut drop =
                |which: [usize; 3]| which.iter().for_each(|&i| cells[i] = Hash::default());
            if area.lat.min < min_lat {
                drop([2, 8, 7]);
            }
            if area.lat.max > max_lat {
                drop([1, 5, 6]);
            }
            if area.lon.min < min_lon {
                drop([4, 8, 6]);
            }
            if area.lon.max > max_lon {
                drop([3, 7, 5]);
            }
        }
        cells
    }

    /// The distance of `point` from the centre when it is inside the area
    /// (`geoWithinShape`), in meters.
    pub fn contains(&self, point: (f64, f64)) -> Option<f64> {
        let (x1, y1) = self.center;
        let (x2, y2) = point;
        match self.shape {
            Shape::Circle { radius } => {
                let d = distance(x1, y1, x2, y2);
                (d <= radius * self.conversion).then_some(d)
            }
            Shape::Box { width, height } => {
                let (width, height) = (width * self.conversion, height * self.conversion);
                if lat_distance(y2, y1) > height / 2.0 {
                    return None;
                }
                if distance(x2, y2, x1, y2) > width / 2.0 {
                    return None;
                }
                Some(distance(x1, y1, x2, y2))
            }
        }
    }
}

/// The score range `[min, max)` of the points in a cell.
pub fn score_range(cell: Hash) -> (f64, f64) {
    let min = cell.align52();
    let max = Hash {
        bits: cell.bits.wrapping_add(1),
        step: cell.step,
    }
    .align52();
    (min as f64, max as f64)
}

/// The distance along a meridian (`geohashGetLatDistance`).
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The haversine great-circle distance in meters (`geohashGetDistance`).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// A distance as Redis 7.2 replies with it (`fixedpoint_d2string` with four
/// decimals): the value times 10^4 rounded half to even, then split.
pub fn format_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let scaled = (d * 10_000.0).round_ties_even() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let v = scaled.unsigned_abs();
    format!("{sign}{}.{:04}", v / 10_000, v % 10_000)
}

/// A coordinate as Redis replies with it (`addReplyHumanLongDouble`:
/// `%.17Lf` of the exact value, trailing zeros trimmed).
pub fn format_coord(v: f64) -> String {
    LongDouble::from_f64(v).to_human_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0, 0),
            (1, 0),
            (0, 1),
            (0x3ff_ffff, 0x155_5555),
            (u32::MAX, 7),
        ] {
            let v = interleave(x, y);
            assert_eq!(deinterleave(v), u64::from(x) | (u64::from(y) << 32));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
        assert_eq!(interleave(3, 0), 5);
    }

    #[test]
    fn scores_are_redis_scores() {
        // Values redis-server gives for GEOADD (checked with ZSCORE).
        assert_eq!(score_of(13.361389, 38.115556), 3479099956230698);
        assert_eq!(score_of(15.087269, 37.502669), 3479447370796909);
        assert_eq!(score_of(0.0, 0.0), 3377699720527872);
        assert_eq!(score_of(-180.0, -85.05112878), 0);
    }

    #[test]
    fn decoding_gives_cell_centres() {
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(format_coord(lon), "13.36138933897018433");
        assert_eq!(format_coord(lat), "38.11555639549629859");
        // Out-of-range scores clamp (anything may be stored with ZADD).
        let (lon, lat) = decode_score(1e30);
        assert!((LON_MIN..=LON_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat));
    }

    #[test]
    fn standard_geohash_strings() {
        assert_eq!(&standard_geohash(3479099956230698.0), b"sqc8b49rny0");
        assert_eq!(&standard_geohash(3479447370796909.0), b"sqdtr74hyu0");
    }

    #[test]
    fn distances() {
        let d = distance(13.361389, 38.115556, 15.087269, 37.502669);
        assert!((d - 166274.15).abs() < 1.0, "{d}");
        assert_eq!(distance(1.0, 2.0, 1.0, 2.0), 0.0);
        assert_eq!(format_distance(0.0), "0.0000");
        assert_eq!(format_distance(166274.1516), "166274.1516");
        assert_eq!(format_distance(1.23456), "1.2346");
        assert_eq!(format_distance(0.00004), "0.0000");
    }

    #[test]
    fn neighbours_move_one_cell() {
        let h = encode(WGS84_LON, WGS84_LAT, 10.0, 10.0, 10).unwrap();
        let a = decode(WGS84_LON, WGS84_LAT, h);
        let e = decode(WGS84_LON, WGS84_LAT, moved(h, 1, 0));
        let n = decode(WGS84_LON, WGS84_LAT, moved(h, 0, 1));
        assert_eq!(e.lon.min, a.lon.max);
        assert_eq!(e.lat, a.lat);
        assert_eq!(n.lat.min, a.lat.max);
        assert_eq!(n.lon, a.lon);
    }

    #[test]
    fn steps_by_radius() {
        assert_eq!(steps_for_radius(0.0, 0.0), 26);
        assert_eq!(steps_for_radius(1000.0, 0.0), 14);
        assert_eq!(steps_for_radius(1000.0, 70.0), 13);
        assert_eq!(steps_for_radius(1000.0, -85.0), 12);
        assert_eq!(steps_for_radius(1e9, 0.0), 1);
    }

    #[test]
    fn c_casts() {
        assert_eq!(c_double_to_u64(5.9), 5);
        assert_eq!(c_double_to_u64(-1.0), u64::MAX);
        assert_eq!(c_double_to_u64(f64::INFINITY), 0);
        assert_eq!(c_double_to_u64(1e19), 10_000_000_000_000_000_000);
    }
}
