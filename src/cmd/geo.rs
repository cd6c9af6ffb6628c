//! Geo commands, as Redis 7.2 answers them: GEOADD, GEODIST, GEOHASH,
//! GEOPOS, GEOSEARCH, GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and their
//! `_RO` forms.
//!
//! A geo set is an ordinary sorted set whose scores are 52-bit geohashes
//! (`types::geohash`), so it moves between ringbus and redis-server as it
//! is, and ZRANGE, ZREM and the rest work on it.
//!
//! A search follows Redis's `georadiusGeneric`: the source key is looked up
//! (and its type checked) before anything else, then the arguments are read
//! in order, each error as soon as it is met; the nine cells around the
//! centre at the step the radius calls for are scanned in Redis's order,
//! each by its score range, keeping the points inside the shape; then the
//! points are sorted by distance: all of them stably, as glibc's `qsort`
//! sorts (equal distances keep the scan's order), or, when COUNT keeps
//! fewer, with Redis's own partial quicksort step by step, so that equal
//! distances come out in redis-server's order in both cases.
//!
//! Keyspace events, as Redis 7.2 emits them: GEOADD is ZADD (`zadd`, class
//! `z`, when a member was added or moved); a STORE that stores emits
//! `geosearchstore` (GEOSEARCHSTORE) or `georadiusstore` (GEORADIUS*,
//! class `z`), one that stores nothing deletes the destination (`del`,
//! class `g`, when it existed).
//!
//! GEORADIUS's STORE / STOREDIST destination and GEOSEARCHSTORE's may be on
//! another shard than the source: those commands are `Exec::Multi`, the
//! cross-shard form searching on the source's shard and storing on the
//! destination's, which records the stored key as its state.

use std::cmp::Ordering;

use super::args::{is, Args, CmdResult, Error};
use super::cross::Cross;
use super::spec::decl::*;
use super::spec::{Begin, Find};
use super::zsets::{add_pairs, parse_add_flags, parse_score, Added};
use super::Ctx;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::shard::ctx::ShardsExt;
use crate::shard::notify::Class;
use crate::types::geohash::{self, Search, Shape};
use crate::types::zset::ZSet;
use crate::types::Value;

const NOT_DECODABLE: &str = "ERR could not decode requested zset member";

fn as_zset(value: Option<&Value>) -> Result<Option<&ZSet>, Error> {
    match value {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(Error::WRONG_TYPE),
    }
}

/// The sorted set at `key` for reading (counts a keyspace hit or miss).
fn read_zset<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c ZSet>, Error> {
    as_zset(ctx.read(key).map(|e| &e.value))
}

// ------------------------------------------------------------------ arguments

/// A longitude and a latitude (`extractLongLatOrReply`): floats, then the
/// range of the pair.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Error> {
    let lon = parse_score(lon).ok_or(Error::NOT_FLOAT)?;
    let lat = parse_score(lat).ok_or(Error::NOT_FLOAT)?;
    if !(geohash::LON_MIN..=geohash::LON_MAX).contains(&lon)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(Error::msg(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Meters per unit (`extractUnitOrReply`).
fn unit(arg: &[u8]) -> Result<f64, Error> {
    if is(arg, "m") {
        Ok(1.0)
    } else if is(arg, "km") {
        Ok(1000.0)
    } else if is(arg, "ft") {
        Ok(0.3048)
    } else if is(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(Error::msg(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

fn number(arg: &[u8], what: &'static str) -> Result<f64, Error> {
    parse_score(arg).ok_or(Error::msg(what))
}

/// `radius unit` (`extractDistanceOrReply`): the radius and meters per unit.
fn radius(argv: &[&[u8]]) -> Result<(Shape, f64), Error> {
    let radius = number(argv[0], "ERR need numeric radius")?;
    if radius < 0.0 {
        return Err(Error::msg("ERR radius cannot be negative"));
    }
    Ok((Shape::Circle { radius }, unit(argv[1])?))
}

/// `width height unit` (`extractBoxOrReply`).
fn box_shape(argv: &[&[u8]]) -> Result<(Shape, f64), Error> {
    let width = number(argv[0], "ERR need numeric width")?;
    let height = number(argv[1], "ERR need numeric height")?;
    if height < 0.0 || width < 0.0 {
        return Err(Error::msg("ERR height or width cannot be negative"));
    }
    Ok((Shape::Box { width, height }, unit(argv[2])?))
}

/// Where a member of the set is (`longLatFromMember`).
fn member_point(z: &ZSet, member: &[u8]) -> Result<(f64, f64), Error> {
    z.score(member)
        .map(geohash::decode_score)
        .ok_or(Error::msg(NOT_DECODABLE))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Form {
    /// GEORADIUS (and `_RO`): `key lon lat radius unit ...`.
    Radius,
    /// GEORADIUSBYMEMBER (and `_RO`): `key member radius unit ...`.
    ByMember,
    /// GEOSEARCH: `key FROM... BY... ...`.
    Search,
    /// GEOSEARCHSTORE: `dst key FROM... BY... ...`.
    SearchStore,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// A search's request, read from its arguments.
struct Query<'a> {
    /// None when the source is missing (nothing more was read from it).
    area: Option<Search>,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    sort: Sort,
    any: bool,
    /// 0 is no limit.
    count: usize,
    /// The destination, and whether it stores distances.
    store: Option<(&'a [u8], bool)>,
}

/// One point found.
struct Point {
    member: Vec<u8>,
    lon: f64,
    lat: f64,
    /// Meters until the reply or the store divides it by the unit.
    dist: f64,
    score: f64,
}

/// What a search found: its request and its points (None for a missing
/// source), sorted and cut to COUNT.
struct Found<'a> {
    query: Query<'a>,
    points: Option<Vec<Point>>,
}

/// The first position a key specification's `word` names a key at (the
/// forward keyword search of GEORADIUS's specs).
fn declared_after(argv: &[&[u8]], word: &str, from: usize) -> Option<usize> {
    (from..argv.len().saturating_sub(1))
        .find(|&i| is(argv[i], word))
        .map(|i| i + 1)
}

/// Reads a search's arguments as `georadiusGeneric` does, with the source
/// set `z` (its type already checked).
fn parse<'a>(
    argv: &[&'a [u8]],
    form: Form,
    nostore: bool,
    z: Option<&ZSet>,
) -> Result<Query<'a>, Error> {
    let mut center = None;
    let mut shape = None;
    let mut store = None;
    let base = match form {
        Form::Radius => {
            center = Some(lon_lat(argv[2], argv[3])?);
            shape = Some(radius(&argv[4..6])?);
            6
        }
        Form::ByMember => {
            // Without a source the rest is still read, for the reply's form.
            if let Some(z) = z {
                center = Some(member_point(z, argv[2])?);
                shape = Some(radius(&argv[3..5])?);
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            store = Some((argv[1], false));
            3
        }
    };
    let searching = matches!(form, Form::Search | Form::SearchStore);
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut count = 0usize;
    let mut store_at = None;
    let opts = &argv[base..];
    let remaining = opts.len();
    let mut i = 0;
    while i < remaining {
        let arg = opts[i];
        if is(arg, "withdist") {
            withdist = true;
        } else if is(arg, "withhash") {
            withhash = true;
        } else if is(arg, "withcoord") {
            withcoord = true;
        } else if is(arg, "any") {
            any = true;
        } else if is(arg, "asc") {
            sort = Sort::Asc;
        } else if is(arg, "desc") {
            sort = Sort::Desc;
        } else if is(arg, "count") && i + 1 < remaining {
            let n = parse_i64(opts[i + 1]).ok_or(Error::NOT_INTEGER)?;
            if n <= 0 {
                return Err(Error::msg("ERR COUNT must be > 0"));
            }
            count = n as usize;
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist"))
            && i + 1 < remaining
            && !nostore
            && !searching
        {
            store = Some((opts[i + 1], is(arg, "storedist")));
            store_at = Some(base + i + 1);
            i += 1;
        } else if is(arg, "storedist") && form == Form::SearchStore {
            store = store.map(|(dst, _)| (dst, true));
        } else if is(arg, "frommember") && i + 1 < remaining && searching && !fromloc {
            if let Some(z) = z {
                center = Some(member_point(z, opts[i + 1])?);
            }
            frommember = true;
            i += 1;
        } else if is(arg, "fromlonlat") && i + 2 < remaining && searching && !frommember {
            center = Some(lon_lat(opts[i + 1], opts[i + 2])?);
            fromloc = true;
            i += 2;
        } else if is(arg, "byradius") && i + 2 < remaining && searching && !bybox {
            shape = Some(radius(&opts[i + 1..i + 3])?);
            byradius = true;
            i += 2;
        } else if is(arg, "bybox") && i + 3 < remaining && searching && !byradius {
            shape = Some(box_shape(&opts[i + 1..i + 4])?);
            bybox = true;
            i += 3;
        } else {
            return Err(Error::SYNTAX);
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(Error::msg(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = || String::from_utf8_lossy(argv[0]);
    if searching && !(frommember || fromloc) {
        return Err(Error::msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if searching && !(byradius || bybox) {
        return Err(Error::msg(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            name()
        )));
    }
    if any && count == 0 {
        return Err(Error::msg("ERR the ANY argument requires COUNT argument"));
    }
    if let Some(at) = store_at {
        // The shard held is the one of the keys the key specifications
        // declare (the first STORE's and STOREDIST's): a repeated option
        // naming another key could live on a shard not held.
        let declared = [
            declared_after(argv, "store", base),
            declared_after(argv, "storedist", base),
        ];
        if !declared
            .iter()
            .flatten()
            .any(|&d| d == at || argv[d] == argv[at])
        {
            return Err(Error::msg(
                "ERR a repeated STORE or STOREDIST option must name the key of the first one",
            ));
        }
    }
    let area = match (z, center, shape) {
        (Some(_), Some(center), Some((shape, conversion))) => Some(Search {
            center,
            shape,
            conversion,
        }),
        _ => None,
    };
    Ok(Query {
        area,
        withdist,
        withhash,
        withcoord,
        sort,
        any,
        count,
        store,
    })
}

// ------------------------------------------------------------------ the search

/// The points of `z` inside `area`, cell by cell in Redis's order
/// (`membersOfAllNeighbors`); with `limit` (ANY), stops once that many are found.
fn scan(z: &ZSet, area: &Search, limit: usize) -> Vec<Point> {
    let cells = area.cells();
    let mut found = Vec::new();
    let full = |found: &Vec<Point>| limit != 0 && found.len() >= limit;
    let mut last: Option<usize> = None;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        // Huge radii make neighbours repeat: a cell equal to the one scanned
        // last (when that was not the centre, as Redis compares) is skipped.
        if let Some(l) = last.filter(|&l| l > 0) {
            if cells[l] == *cell {
                continue;
            }
        }
        if full(&found) {
            break;
        }
        let (min, max) = geohash::score_range(*cell);
        let (start, end) = z.score_range(min, false, max, true);
        for (member, score) in z.range(start, end, false) {
            let at = geohash::decode_score(score);
            if let Some(dist) = area.contains(at) {
                found.push(Point {
                    member: member.to_vec(),
                    lon: at.0,
                    lat: at.1,
                    dist,
                    score,
                });
            }
            if full(&found) {
                break;
            }
        }
        last = Some(i);
    }
    found
}

/// Redis's `pqsort`: Bentley and McIlroy's quicksort (without the switch to
/// insertion sort Redis dropped in 2013) that leaves alone the parts past
/// the first `want` places. Followed step by step, so that equal distances
/// end up in the order redis-server gives them.
fn partial_sort<T>(v: &mut [T], want: usize, cmp: &impl Fn(&T, &T) -> Ordering) {
    let (mut a, mut n) = (0, v.len());
    loop {
        if n < 7 {
            insertion_sort(v, a, n, cmp);
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let (mut pl, mut pn) = (a, a + n - 1);
            if n > 40 {
                let d = n / 8;
                pl = median3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = median3(v, pm - d, pm, pm + d, cmp);
                pn = median3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = median3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        // [a, pa) and (pd, end) hold the pivot's equals, [pa, pb) the
        // smaller, (pc, pd] the greater.
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                match cmp(&v[pb], &v[a]) {
                    Ordering::Greater => break,
                    Ordering::Equal => {
                        v.swap(pa, pb);
                        pa += 1;
                    }
                    Ordering::Less => {}
                }
                pb += 1;
            }
            while pb <= pc {
                match cmp(&v[pc], &v[a]) {
                    Ordering::Less => break,
                    Ordering::Equal => {
                        v.swap(pc, pd);
                        pd -= 1;
                    }
                    Ordering::Greater => {}
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let end = a + n;
        let r = (pa - a).min(pb - pa);
        swap_runs(v, a, pb - r, r);
        let r = (pd - pc).min(end - pd - 1);
        swap_runs(v, pb, end - r, r);
        let r = pb - pa;
        if r > 1 && a < want {
            partial_sort_from(v, a, r, want, cmp);
        }
        let r = pd - pc;
        if r > 1 && end - r < want {
            (a, n) = (end - r, r);
            continue;
        }
        return;
    }
}

/// [`partial_sort`] of `v[a..a + n]`.
fn partial_sort_from<T>(
    v: &mut [T],
    a: usize,
    n: usize,
    want: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    partial_sort(&mut v[a..a + n], want - a, cmp);
}

fn insertion_sort<T>(v: &mut [T], a: usize, n: usize, cmp: &impl Fn(&T, &T) -> Ordering) {
    for m in a + 1..a + n {
        let mut l = m;
        while l > a && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
            v.swap(l, l - 1);
            l -= 1;
        }
    }
}

fn median3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    let lt = |x: usize, y: usize| cmp(&v[x], &v[y]) == Ordering::Less;
    let gt = |x: usize, y: usize| cmp(&v[x], &v[y]) == Ordering::Greater;
    if lt(a, b) {
        if lt(b, c) {
            b
        } else if lt(a, c) {
            c
        } else {
            a
        }
    } else if gt(b, c) {
        b
    } else if lt(a, c) {
        a
    } else {
        c
    }
}

/// Swaps the `n` elements from `a` with the `n` from `b`.
fn swap_runs<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Searches `z` for `query`: the points sorted as asked, cut to COUNT.
fn search(z: &ZSet, query: &Query, area: &Search) -> Vec<Point> {
    let mut sort = query.sort;
    // COUNT means the nearest, unless ANY.
    if query.count != 0 && sort == Sort::None && !query.any {
        sort = Sort::Asc;
    }
    let mut points = scan(z, area, if query.any { query.count } else { 0 });
    // Redis's comparators: greater, equal or else less (so NaN is less).
    let asc = |a: &Point, b: &Point| {
        if a.dist > b.dist {
            Ordering::Greater
        } else if a.dist == b.dist {
            Ordering::Equal
        } else {
            Ordering::Less
        }
    };
    let desc = |a: &Point, b: &Point| asc(a, b).reverse();
    let wanted = if query.count != 0 && query.count < points.len() {
        query.count
    } else {
        points.len()
    };
    // All of them: glibc's qsort, a stable merge sort. Fewer: Redis's pqsort.
    match (sort, wanted == points.len()) {
        (Sort::None, _) => {}
        (Sort::Asc, true) => points.sort_by(asc),
        (Sort::Desc, true) => points.sort_by(desc),
        (Sort::Asc, false) => partial_sort(&mut points, wanted, &asc),
        (Sort::Desc, false) => partial_sort(&mut points, wanted, &desc),
    }
    points.truncate(wanted);
    for p in &mut points {
        p.dist /= area.conversion;
    }
    points
}

/// Looks the source up, reads the arguments and searches: everything a
/// search does on the source's shard.
fn find<'a>(
    ctx: &mut Ctx,
    argv: &[&'a [u8]],
    form: Form,
    nostore: bool,
) -> Result<Found<'a>, Error> {
    let src = argv[if form == Form::SearchStore { 2 } else { 1 }];
    let z = read_zset(ctx, src)?;
    let query = parse(argv, form, nostore, z)?;
    let points = match (z, &query.area) {
        (Some(z), Some(area)) => Some(search(z, &query, area)),
        _ => None,
    };
    Ok(Found { query, points })
}

// ------------------------------------------------------------------ replies and stores

/// A coordinate: a bulk string in RESP2, a double in RESP3.
fn reply_coord(out: &mut Out, v: f64) {
    let text = geohash::format_coord(v);
    if out.resp3() {
        out.buf.push(b',');
        out.buf.extend_from_slice(text.as_bytes());
        out.buf.extend_from_slice(b"\r\n");
    } else {
        out.bulk(text.as_bytes());
    }
}

fn reply_points(out: &mut Out, query: &Query, points: &[Point]) {
    let options =
        usize::from(query.withdist) + usize::from(query.withhash) + usize::from(query.withcoord);
    out.array(points.len());
    for p in points {
        if options > 0 {
            out.array(options + 1);
        }
        out.bulk(&p.member);
        if query.withdist {
            out.bulk(geohash::format_distance(p.dist).as_bytes());
        }
        if query.withhash {
            out.int(geohash::score_as_i64(p.score));
        }
        if query.withcoord {
            out.array(2);
            reply_coord(out, p.lon);
            reply_coord(out, p.lat);
        }
    }
}

/// Writes a STORE result to `dst` on this shard: the points as a sorted set
/// (by geohash, or by distance), or no key when there are none. Returns
/// how many were stored.
fn store(ctx: &mut Ctx, dst: &[u8], dist: bool, points: &[Point], event: &'static str) -> usize {
    let now = ctx.now;
    if points.is_empty() {
        if ctx.db().remove_live(dst, now).is_some() {
            ctx.wrote(dst);
            ctx.notify(Class::GENERIC, "del", dst);
        }
        return 0;
    }
    let mut z = ZSet::new();
    for p in points {
        z.insert(&p.member, if dist { p.dist } else { p.score });
    }
    ctx.db().set(dst, Value::ZSet(Box::new(z)), None);
    ctx.wrote(dst);
    ctx.notify(Class::ZSET, event, dst);
    points.len()
}

fn store_event(form: Form) -> &'static str {
    match form {
        Form::Search | Form::SearchStore => "geosearchstore",
        _ => "georadiusstore",
    }
}

/// A search on one shard (every key it names is here).
fn search_here(
    ctx: &mut Ctx,
    args: &mut Args,
    out: &mut Out,
    form: Form,
    nostore: bool,
) -> CmdResult {
    let Found { query, points } = find(ctx, args.all(), form, nostore)?;
    let points = points.unwrap_or_default();
    match query.store {
        Some((dst, dist)) => {
            let n = store(ctx, dst, dist, &points, store_event(form));
            out.int(n as i64);
        }
        None => reply_points(out, &query, &points),
    }
    Ok(())
}

/// A storing search whose source and destination are on different shards:
/// found on the source's, stored on the destination's (recorded as the
/// stored key's state, which replays there alone).
fn search_across(c: Cross<'_>, form: Form) -> CmdResult {
    let argv = c.argv;
    let src = argv[if form == Form::SearchStore { 2 } else { 1 }];
    let db = c.db;
    let Found { query, points } = c.txn.ctx_of(src, db, |ctx| find(ctx, argv, form, false))?;
    let points = points.unwrap_or_default();
    match query.store {
        Some((dst, dist)) => {
            let n = c.txn.ctx_of(dst, db, |ctx| {
                let before = ctx.shard.stats.dirty;
                let n = store(ctx, dst, dist, &points, store_event(form));
                if ctx.shard.stats.dirty != before {
                    super::propagate::record_state(ctx, dst);
                }
                n
            });
            c.out.int(n as i64);
        }
        None => reply_points(c.out, &query, &points),
    }
    Ok(())
}

pub fn georadius(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    search_here(ctx, args, out, Form::Radius, false)
}

pub fn georadius_across(c: Cross<'_>) -> CmdResult {
    search_across(c, Form::Radius)
}

pub fn georadiusbymember(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    search_here(ctx, args, out, Form::ByMember, false)
}

pub fn georadiusbymember_across(c: Cross<'_>) -> CmdResult {
    search_across(c, Form::ByMember)
}

pub fn georadius_ro(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    search_here(ctx, args, out, Form::Radius, true)
}

pub fn georadiusbymember_ro(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    search_here(ctx, args, out, Form::ByMember, true)
}

pub fn geosearch(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    search_here(ctx, args, out, Form::Search, true)
}

pub fn geosearchstore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    search_here(ctx, args, out, Form::SearchStore, false)
}

pub fn geosearchstore_across(c: Cross<'_>) -> CmdResult {
    search_across(c, Form::SearchStore)
}

// ------------------------------------------------------------------ GEOADD

/// GEOADD key [NX|XX] [CH] lon lat member ...: Redis turns it into the ZADD
/// of the members' geohashes, so it answers and notifies (`zadd`) as ZADD.
pub fn geoadd(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let key = argv[1];
    let (flags, ch, at) = parse_add_flags(argv, true);
    let rest = &argv[at..];
    if !rest.len().is_multiple_of(3) || (flags.xx && flags.nx) {
        return Err(Error::SYNTAX);
    }
    let mut pairs = Vec::with_capacity(rest.len() / 3);
    for t in rest.chunks(3) {
        let (lon, lat) = lon_lat(t[0], t[1])?;
        pairs.push((geohash::score_of(lon, lat) as f64, t[2]));
    }
    // ZADD's own check: at least one pair.
    if pairs.is_empty() {
        return Err(Error::SYNTAX);
    }
    // `add_pairs` announces the `zadd` event, as Redis's GEOADD runs ZADD.
    let Added { added, updated, .. } = add_pairs(ctx, key, flags, &pairs)?;
    out.int(if ch { added + updated } else { added });
    Ok(())
}

// ------------------------------------------------------------------ GEODIST, GEOHASH, GEOPOS

/// GEODIST key member1 member2 [unit]: the unit is read before the key.
pub fn geodist(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let to_meters = match argv.len() {
        5 => unit(argv[4])?,
        4 => 1.0,
        _ => return Err(Error::SYNTAX),
    };
    let Some(z) = read_zset(ctx, argv[1])? else {
        out.null();
        return Ok(());
    };
    match (z.score(argv[2]), z.score(argv[3])) {
        (Some(a), Some(b)) => {
            let (lon1, lat1) = geohash::decode_score(a);
            let (lon2, lat2) = geohash::decode_score(b);
            let d = geohash::distance(lon1, lat1, lon2, lat2) / to_meters;
            out.bulk(geohash::format_distance(d).as_bytes());
        }
        _ => out.null(),
    }
    Ok(())
}

/// GEOHASH / GEOPOS: for each member, `found` with its score, or `missing`.
fn each_member(
    ctx: &mut Ctx,
    args: &mut Args,
    out: &mut Out,
    found: fn(&mut Out, f64),
    missing: fn(&mut Out),
) -> CmdResult {
    let argv = args.all();
    let z = read_zset(ctx, argv[1])?;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(score) => found(out, score),
            None => missing(out),
        }
    }
    Ok(())
}

/// GEOHASH key member...: each member's 11-character standard geohash.
pub fn geohash_cmd(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    each_member(
        ctx,
        args,
        out,
        |out, score| out.bulk(&geohash::standard_geohash(score)),
        Out::null,
    )
}

/// GEOPOS key member...: each member's position, decoded from its score.
pub fn geopos(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    each_member(
        ctx,
        args,
        out,
        |out, score| {
            let (lon, lat) = geohash::decode_score(score);
            out.array(2);
            reply_coord(out, lon);
            reply_coord(out, lat);
        },
        Out::null_array,
    )
}

// ------------------------------------------------------------------ commands

/// The first `word` from argument `from` on names a key (GEORADIUS's
/// STORE / STOREDIST, as Redis's key specifications say).
const fn after_word(word: &'static str, from: i32) -> KeySpec {
    KeySpec {
        begin: Begin::Keyword { word, from },
        find: Find::Range {
            last: 0,
            step: 1,
            limit: 0,
        },
    }
}

const RADIUS_KEYS: &[KeySpec] = &[
    KeySpec::one(1),
    after_word("STORE", 6),
    after_word("STOREDIST", 6),
];
const BYMEMBER_KEYS: &[KeySpec] = &[
    KeySpec::one(1),
    after_word("STORE", 5),
    after_word("STOREDIST", 5),
];
const MOVABLE_W: &[&str] = &["write", "denyoom", "movablekeys"];

/// The geo commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("geoadd", -5, W, KEY1, "geo", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
        Exec::Shard(geoadd), "key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]"),
    spec("geodist", -4, R, KEY1, "geo", "Returns the distance between two members of a geospatial index.",
        Exec::Shard(geodist), "key member1 member2 [M | KM | FT | MI]"),
    spec("geohash", -2, R, KEY1, "geo", "Returns members from a geospatial index as geohash strings.",
        Exec::Shard(geohash_cmd), "key [member [member ...]]"),
    spec("geopos", -2, R, KEY1, "geo", "Returns the longitude and latitude of members from a geospatial index.",
        Exec::Shard(geopos), "key [member [member ...]]"),
    spec("georadius", -6, MOVABLE_W, RADIUS_KEYS, "geo",
        "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
        Exec::Multi(georadius, georadius_across),
        "key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]"),
    spec("georadiusbymember", -5, MOVABLE_W, BYMEMBER_KEYS, "geo",
        "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
        Exec::Multi(georadiusbymember, georadiusbymember_across),
        "key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]"),
    spec("georadius_ro", -6, R, KEY1, "geo", "Returns members from a geospatial index that are within a distance from a coordinate.",
        Exec::Shard(georadius_ro),
        "key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]"),
    spec("georadiusbymember_ro", -5, R, KEY1, "geo", "Returns members from a geospatial index that are within a distance from a member.",
        Exec::Shard(georadiusbymember_ro),
        "key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]"),
    spec("geosearch", -7, R, KEY1, "geo", "Queries a geospatial index for members inside an area of a box or a circle.",
        Exec::Shard(geosearch),
        "key <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]"),
    spec("geosearchstore", -8, W, KEYS12, "geo", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
        Exec::Multi(geosearchstore, geosearchstore_across),
        "destination source <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [STOREDIST]"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_sort_orders_the_places_asked_for() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let by_value = |a: &(u64, usize), b: &(u64, usize)| a.0.cmp(&b.0);
        for round in 0..500 {
            let len = (next() % 120) as usize;
            let spread = [3, 50, 1000][round % 3];
            let v: Vec<(u64, usize)> = (0..len).map(|i| (next() % spread, i)).collect();
            let want = 1 + (next() as usize % len.max(1));
            let mut got = v.clone();
            partial_sort(&mut got, want.min(len), &by_value);
            let mut sorted = v.clone();
            sorted.sort();
            let want = want.min(len);
            // The first places hold the smallest values, in order; nothing is lost.
            let values = |s: &[(u64, usize)]| s.iter().map(|p| p.0).collect::<Vec<_>>();
            assert_eq!(
                values(&got[..want]),
                values(&sorted[..want]),
                "{v:?} {want}"
            );
            let mut all = got.clone();
            all.sort();
            assert_eq!(all, sorted);
        }
    }
}
