//! Geo commands: GEOADD (NX/XX/CH), GEODIST, GEOHASH, GEOPOS, GEOSEARCH
//! (FROMMEMBER/FROMLONLAT, BYRADIUS/BYBOX, ASC/DESC, COUNT [ANY], WITH*),
//! GEOSEARCHSTORE (STOREDIST), GEORADIUS and GEORADIUSBYMEMBER (STORE,
//! STOREDIST) and their `_RO` forms: scores as Redis's geohashes, replies
//! and their formatting, errors and the order Redis checks them in,
//! WRONGTYPE, RESP3 shapes, stores across three shards, and a randomized
//! comparison with a real redis-server (random points, random searches,
//! identical replies byte for byte).
//!
//! Every expectation was checked against a real redis-server 7.0
//! (`RINGBUS_TEST_TARGET=redis`); nothing here differs between 7.0 and 7.2
//! (the scores STOREDIST stores are only compared through ZSCORE-free
//! replies, since 7.0 prints doubles with %.17g).

mod common;

use common::*;
use ringbus::shard::route::shard_of;

sharded_tests!(
    geoadd_scores_and_flags,
    geoadd_errors_and_their_order,
    geodist_units,
    geohash_and_geopos,
    georadius_forms,
    geosearch_shapes_and_order,
    search_errors_and_their_order,
    search_store_forms,
    stores_across_shards,
    repeated_store_options,
    resp3_shapes,
    random_searches_match_redis,
);

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const SYNTAX: &str = "ERR syntax error";
const UNIT: &str = "ERR unsupported unit provided. please use M, KM, FT, MI";
const NO_MEMBER: &str = "ERR could not decode requested zset member";

/// Keys on three different shards of a 3-shard ringbus.
const K1: &str = "{from}g";
const K2: &str = "{to}g";
const K3: &str = "{in}g";

#[test]
fn hash_tags_are_on_distinct_shards() {
    let mut shards: Vec<usize> = [K1, K2, K3]
        .iter()
        .map(|k| shard_of(k.as_bytes(), 3))
        .collect();
    shards.sort();
    shards.dedup();
    assert_eq!(shards.len(), 3);
}

/// The Sicily of Redis's documentation.
fn sicily(c: &mut RawConn, key: &str) {
    c.check(
        &[
            "GEOADD",
            key,
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
            "12.758489",
            "38.788135",
            "edge1",
            "17.241510",
            "38.788135",
            "edge2",
        ],
        &int(4),
    );
}

/// Sends `line`, split at spaces, and checks the reply.
fn check(c: &mut RawConn, line: &str, want: &[u8]) {
    c.check(&line.split(' ').collect::<Vec<_>>(), want);
}

fn hello3(c: &mut RawConn) {
    let r = c.cmd(&["HELLO", "3"]);
    assert_eq!(r.first(), Some(&b'%'), "HELLO 3 -> {}", show(&r));
}

fn dbl(s: &str) -> Vec<u8> {
    format!(",{s}\r\n").into_bytes()
}

fn geoadd_scores_and_flags(s: &Server) {
    let mut c = s.raw();
    check(&mut c, "GEOADD g 13.361389 38.115556 Palermo", &int(1));
    check(&mut c, "ZSCORE g Palermo", &bulk("3479099956230698"));
    check(&mut c, "TYPE g", &simple("zset"));
    check(&mut c, "OBJECT ENCODING g", &bulk("listpack"));
    // The same place again changes nothing; a new place is an update.
    check(&mut c, "GEOADD g 13.361389 38.115556 Palermo", &int(0));
    check(&mut c, "GEOADD g CH 13.361389 38.115556 Palermo", &int(0));
    check(&mut c, "GEOADD g CH 15 37 Palermo 0 0 zero", &int(2));
    check(&mut c, "ZSCORE g zero", &bulk("3377699720527872"));
    check(&mut c, "GEOADD g NX 1 1 Palermo 2 2 x", &int(1));
    check(
        &mut c,
        "GEOPOS g Palermo",
        &array(&[bulks(&["14.99999910593032837", "37.00000026605963654"])]),
    );
    check(&mut c, "GEOADD g XX CH 1 1 Palermo 2 2 y", &int(1));
    check(&mut c, "ZSCORE g y", &nil());
    check(&mut c, "GEOADD g xx nx ch 1 1 y", &err(SYNTAX));
    // XX on a missing key creates nothing.
    check(&mut c, "GEOADD none XX 1 1 a", &int(0));
    check(&mut c, "EXISTS none", &int(0));
    // A member twice: added, then updated.
    check(&mut c, "GEOADD d CH 1 1 a 2 2 a", &int(2));
    check(&mut c, "GEOADD d2 1 1 a 2 2 a", &int(1));
    // The limits themselves are accepted.
    check(
        &mut c,
        "GEOADD lim -180 -85.05112878 sw 180 85.05112878 ne",
        &int(2),
    );
    check(&mut c, "ZSCORE lim sw", &bulk("0"));
    check(
        &mut c,
        "GEOPOS lim sw ne",
        &array(&[
            bulks(&["-179.99999731779098511", "-85.05112751263942528"]),
            bulks(&["180", "85.0511287799999991"]),
        ]),
    );
    // Past 128 members, or with a long member, a skiplist as ZADD makes.
    let mut args: Vec<String> = vec!["GEOADD".into(), "big".into()];
    for i in 0..129 {
        args.push(format!("{}", i as f64 / 10.0));
        args.push("1".into());
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.check(&refs, &int(129));
    check(&mut c, "OBJECT ENCODING big", &bulk("skiplist"));
    let long = "x".repeat(65);
    c.check(&["GEOADD", "long", "1", "1", &long], &int(1));
    check(&mut c, "OBJECT ENCODING long", &bulk("skiplist"));
    // A geo set is a sorted set.
    check(&mut c, "ZREM g Palermo", &int(1));
    check(&mut c, "ZCARD g", &int(2));
}

fn geoadd_errors_and_their_order(s: &Server) {
    let mut c = s.raw();
    check(&mut c, "GEOADD g 1 1", &arity("geoadd"));
    check(&mut c, "GEOADD g 1 1 a 2", &err(SYNTAX));
    check(&mut c, "GEOADD g NX CH 1 1", &err(SYNTAX));
    check(&mut c, "GEOADD g ch ch ch", &err(SYNTAX));
    check(&mut c, "GEOADD g x 1 a", &err(NOT_FLOAT));
    check(&mut c, "GEOADD g 1 1\0 a", &err(NOT_FLOAT));
    check(&mut c, "GEOADD g 1 nan a", &err(NOT_FLOAT));
    check(
        &mut c,
        "GEOADD g 200 100 a",
        &err("ERR invalid longitude,latitude pair 200.000000,100.000000"),
    );
    check(
        &mut c,
        "GEOADD g 0.0078125 86 a",
        &err("ERR invalid longitude,latitude pair 0.007812,86.000000"),
    );
    check(
        &mut c,
        "GEOADD g 1 -inf a",
        &err("ERR invalid longitude,latitude pair 1.000000,-inf"),
    );
    // Every pair is checked before anything is added.
    check(
        &mut c,
        "GEOADD g 1 1 a 1 90 b",
        &err("ERR invalid longitude,latitude pair 1.000000,90.000000"),
    );
    check(&mut c, "EXISTS g", &int(0));
    // Coordinates are checked before the key's type.
    check(&mut c, "SET str v", &ok());
    check(
        &mut c,
        "GEOADD str 1 100 a",
        &err("ERR invalid longitude,latitude pair 1.000000,100.000000"),
    );
    check(&mut c, "GEOADD str 1 1 a", &err(WRONGTYPE));
    check(&mut c, "GEOADD str 1 1", &arity("geoadd"));
}

fn geodist_units(s: &Server) {
    let mut c = s.raw();
    sicily(&mut c, "s");
    check(&mut c, "GEODIST s Palermo Catania", &bulk("166274.1516"));
    check(&mut c, "GEODIST s Palermo Catania m", &bulk("166274.1516"));
    check(&mut c, "GEODIST s Palermo Catania KM", &bulk("166.2742"));
    check(&mut c, "GEODIST s Palermo Catania mi", &bulk("103.3182"));
    check(&mut c, "GEODIST s edge1 edge2 ft", &bulk("1275023.2491"));
    check(&mut c, "GEODIST s Palermo Palermo", &bulk("0.0000"));
    check(&mut c, "GEODIST s Palermo nope", &nil());
    check(&mut c, "GEODIST none a b", &nil());
    // The unit is read first, then the key.
    check(&mut c, "GEODIST none a b yd", &err(UNIT));
    check(&mut c, "GEODIST s a b km x", &err(SYNTAX));
    check(&mut c, "GEODIST s a", &arity("geodist"));
    check(&mut c, "SET str v", &ok());
    check(&mut c, "GEODIST str a b yd", &err(UNIT));
    check(&mut c, "GEODIST str a b", &err(WRONGTYPE));
}

fn geohash_and_geopos(s: &Server) {
    let mut c = s.raw();
    sicily(&mut c, "s");
    check(
        &mut c,
        "GEOHASH s Palermo edge1 nope edge2",
        &array(&[
            bulk("sqc8b49rny0"),
            bulk("sqchdm4mq20"),
            nil(),
            bulk("squk8m4vk20"),
        ]),
    );
    check(&mut c, "GEOHASH s", &array(&[]));
    check(&mut c, "GEOHASH none a", &array(&[nil()]));
    check(
        &mut c,
        "GEOPOS s Palermo nope edge1",
        &array(&[
            bulks(&["13.36138933897018433", "38.11555639549629859"]),
            nil_array(),
            bulks(&["12.7584877610206604", "38.78813451624225195"]),
        ]),
    );
    check(
        &mut c,
        "GEOPOS none a b",
        &array(&[nil_array(), nil_array()]),
    );
    // Scores that are no geohash decode as Redis decodes them.
    check(&mut c, "ZADD z 9007199254740991 m 1e30 n -1 o", &int(3));
    check(
        &mut c,
        "GEOPOS z m n o",
        &array(&[
            bulks(&["179.99999731779098511", "85.0511287799999991"]),
            bulks(&["-179.99999731779098511", "-85.05112751263942528"]),
            bulks(&["180", "85.0511287799999991"]),
        ]),
    );
    check(
        &mut c,
        "GEOHASH z m n o",
        &array(&[
            bulk("zzpgzgpfxz0"),
            bulk("00bh0hbj200"),
            bulk("bp05b5048p0"),
        ]),
    );
    check(&mut c, "SET str v", &ok());
    check(&mut c, "GEOPOS str a", &err(WRONGTYPE));
    check(&mut c, "GEOHASH str", &err(WRONGTYPE));
    check(&mut c, "GEOPOS", &arity("geopos"));
}

fn georadius_forms(s: &Server) {
    let mut c = s.raw();
    sicily(&mut c, "s");
    check(
        &mut c,
        "GEORADIUS s 15 37 200 km WITHDIST WITHCOORD WITHHASH ASC",
        &array(&[
            array(&[
                bulk("Catania"),
                bulk("56.4413"),
                int(3479447370796909),
                bulks(&["15.08726745843887329", "37.50266842333162032"]),
            ]),
            array(&[
                bulk("Palermo"),
                bulk("190.4424"),
                int(3479099956230698),
                bulks(&["13.36138933897018433", "38.11555639549629859"]),
            ]),
        ]),
    );
    check(
        &mut c,
        "GEORADIUS s 15 37 200 km WITHDIST DESC",
        &array(&[
            bulks(&["Palermo", "190.4424"]),
            bulks(&["Catania", "56.4413"]),
        ]),
    );
    check(
        &mut c,
        "GEORADIUS s 15 37 600000 ft withdist",
        &array(&[bulks(&["Catania", "185174.7305"])]),
    );
    check(&mut c, "GEORADIUS s 15 37 1 m", &array(&[]));
    check(
        &mut c,
        "GEORADIUS_RO s 15 37 200 km ASC",
        &bulks(&["Catania", "Palermo"]),
    );
    check(
        &mut c,
        "GEORADIUSBYMEMBER s Palermo 100 km",
        &bulks(&["Palermo", "edge1"]),
    );
    check(
        &mut c,
        "GEORADIUSBYMEMBER_RO s Palermo 200 km withdist",
        &array(&[
            bulks(&["Palermo", "0.0000"]),
            bulks(&["edge1", "91.4007"]),
            bulks(&["Catania", "166.2742"]),
        ]),
    );
    check(
        &mut c,
        "GEORADIUSBYMEMBER s Palermo 300 km COUNT 2 DESC",
        &bulks(&["Catania", "edge1"]),
    );
    check(&mut c, "GEORADIUSBYMEMBER s nope 1 km", &err(NO_MEMBER));
    // A missing source: an empty array, the radius of BYMEMBER unread.
    check(&mut c, "GEORADIUS none 15 37 200 km", &array(&[]));
    check(&mut c, "GEORADIUSBYMEMBER none m abc yd", &array(&[]));
    check(&mut c, "GEORADIUSBYMEMBER none m abc yd x", &err(SYNTAX));
    check(
        &mut c,
        "GEORADIUS none 15 37 abc km",
        &err("ERR need numeric radius"),
    );
    check(&mut c, "GEORADIUS_RO s 15 37 200 km STORE x", &err(SYNTAX));
    check(
        &mut c,
        "GEORADIUSBYMEMBER_RO s Palermo 200 km STOREDIST x",
        &err(SYNTAX),
    );
    check(&mut c, "GEORADIUS s 15 37 200", &arity("georadius"));
    check(
        &mut c,
        "GEORADIUSBYMEMBER s Palermo 200",
        &arity("georadiusbymember"),
    );
}

fn geosearch_shapes_and_order(s: &Server) {
    let mut c = s.raw();
    sicily(&mut c, "s");
    check(
        &mut c,
        "GEOSEARCH s FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST",
        &array(&[
            array(&[
                bulk("Catania"),
                bulk("56.4413"),
                bulks(&["15.08726745843887329", "37.50266842333162032"]),
            ]),
            array(&[
                bulk("Palermo"),
                bulk("190.4424"),
                bulks(&["13.36138933897018433", "38.11555639549629859"]),
            ]),
            array(&[
                bulk("edge2"),
                bulk("279.7403"),
                bulks(&["17.24151045083999634", "38.78813451624225195"]),
            ]),
            array(&[
                bulk("edge1"),
                bulk("279.7405"),
                bulks(&["12.7584877610206604", "38.78813451624225195"]),
            ]),
        ]),
    );
    check(
        &mut c,
        "GEOSEARCH s FROMLONLAT 15 37 BYBOX 400 400 km desc",
        &bulks(&["edge1", "edge2", "Palermo", "Catania"]),
    );
    // Without a sort, the order of the scan: cell by cell, by score.
    check(
        &mut c,
        "GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 200 mi",
        &bulks(&["Palermo", "edge1", "Catania", "edge2"]),
    );
    check(
        &mut c,
        "GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 200 mi COUNT 2 DESC WITHDIST",
        &array(&[bulks(&["edge1", "173.8231"]), bulks(&["edge2", "173.8230"])]),
    );
    // COUNT alone sorts; with ANY, the first found.
    check(
        &mut c,
        "GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 200 km COUNT 1",
        &bulks(&["Catania"]),
    );
    check(
        &mut c,
        "GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 200 km COUNT 1 ANY",
        &bulks(&["Palermo"]),
    );
    check(
        &mut c,
        "GEOSEARCH s FROMMEMBER Palermo BYBOX 400 400 km WITHDIST ASC COUNT 9",
        &array(&[
            bulks(&["Palermo", "0.0000"]),
            bulks(&["edge1", "91.4007"]),
            bulks(&["Catania", "166.2742"]),
        ]),
    );
    // A narrow box leaves out what a circle of its width would hold.
    check(
        &mut c,
        "GEOSEARCH s FROMMEMBER Palermo BYBOX 400 10 km",
        &bulks(&["Palermo"]),
    );
    check(
        &mut c,
        "GEOSEARCH s FROMMEMBER Palermo BYRADIUS 0 km WITHHASH",
        &array(&[array(&[bulk("Palermo"), int(3479099956230698)])]),
    );
    check(
        &mut c,
        "GEOSEARCH none FROMMEMBER Palermo BYRADIUS 1 km",
        &array(&[]),
    );
}

fn search_errors_and_their_order(s: &Server) {
    let mut c = s.raw();
    sicily(&mut c, "s");
    let base = ["GEOSEARCH", "s", "FROMMEMBER", "Palermo"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().copied().chain(extra.iter().copied()).collect()
    };
    c.check(
        &with(&["BYRADIUS", "-1", "km"]),
        &err("ERR radius cannot be negative"),
    );
    c.check(
        &with(&["BYRADIUS", "x", "km"]),
        &err("ERR need numeric radius"),
    );
    c.check(&with(&["BYRADIUS", "1", "yd"]), &err(UNIT));
    c.check(
        &with(&["BYBOX", "a", "-1", "km"]),
        &err("ERR need numeric width"),
    );
    c.check(
        &with(&["BYBOX", "1", "b", "km"]),
        &err("ERR need numeric height"),
    );
    c.check(
        &with(&["BYBOX", "1", "-1", "yd"]),
        &err("ERR height or width cannot be negative"),
    );
    c.check(&with(&["BYBOX", "1", "1", "yd"]), &err(UNIT));
    c.check(&with(&["BYBOX", "1", "1"]), &err(SYNTAX));
    c.check(
        &with(&["BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"]),
        &err(SYNTAX),
    );
    c.check(
        &with(&["BYRADIUS", "1", "km", "COUNT", "0"]),
        &err("ERR COUNT must be > 0"),
    );
    c.check(
        &with(&["BYRADIUS", "1", "km", "COUNT", "x"]),
        &err("ERR value is not an integer or out of range"),
    );
    c.check(&with(&["BYRADIUS", "1", "km", "COUNT"]), &err(SYNTAX));
    c.check(
        &with(&["BYRADIUS", "1", "km", "ANY"]),
        &err("ERR the ANY argument requires COUNT argument"),
    );
    c.check(&with(&["BYRADIUS", "1", "km", "STOREDIST"]), &err(SYNTAX));
    c.check(&with(&["BYRADIUS", "1", "km", "STORE", "x"]), &err(SYNTAX));
    c.check(
        &with(&["FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"]),
        &err(SYNTAX),
    );
    // Errors as they come: the first bad option wins over later ones.
    c.check(
        &with(&["COUNT", "0", "BYRADIUS", "x", "km"]),
        &err("ERR COUNT must be > 0"),
    );
    c.check(
        &with(&["BYRADIUS", "x", "km", "COUNT", "0"]),
        &err("ERR need numeric radius"),
    );
    c.check(
        &with(&["BYRADIUS", "1", "km", "bogus", "COUNT", "0"]),
        &err(SYNTAX),
    );
    check(
        &mut c,
        "GEOSEARCH s FROMMEMBER nope BYRADIUS x km",
        &err(NO_MEMBER),
    );
    check(
        &mut c,
        "GEOSEARCH s FROMLONLAT 1 91 BYRADIUS 1 km",
        &err("ERR invalid longitude,latitude pair 1.000000,91.000000"),
    );
    // The missing parts name the command as it was sent.
    check(
        &mut c,
        "GeoSearch s BYRADIUS 1 km ASC DESC",
        &err("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GeoSearch"),
    );
    check(
        &mut c,
        "geosearch s FROMMEMBER Palermo ASC DESC ASC",
        &err("ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch"),
    );
    check(
        &mut c,
        "GEOSEARCHSTORE d s FROMMEMBER Palermo BYRADIUS 1 km WITHDIST",
        &err("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
    );
    check(&mut c, "GEORADIUS s 15 37 1 km STORE d WITHCOORD",
        &err("ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
    );
    // A missing source still has its arguments checked; no member lookup.
    check(
        &mut c,
        "GEOSEARCH none FROMMEMBER x BYRADIUS -1 km",
        &err("ERR radius cannot be negative"),
    );
    check(
        &mut c,
        "GEOSEARCH none FROMMEMBER x ASC ASC x",
        &err(SYNTAX),
    );
    // The source's type is checked first of all.
    check(&mut c, "SET str v", &ok());
    check(&mut c, "GEOSEARCH str bogus x y z w", &err(WRONGTYPE));
    check(&mut c, "GEORADIUS str 1 100 x yd", &err(WRONGTYPE));
    check(&mut c, "GEORADIUSBYMEMBER str m x yd", &err(WRONGTYPE));
    check(
        &mut c,
        "GEOSEARCHSTORE d str bogus x y z w",
        &err(WRONGTYPE),
    );
    check(
        &mut c,
        "GEOSEARCH s FROMMEMBER Palermo",
        &arity("geosearch"),
    );
    check(
        &mut c,
        "GEOSEARCHSTORE d s FROMMEMBER Palermo BYRADIUS 1",
        &arity("geosearchstore"),
    );
}

fn search_store_forms(s: &Server) {
    let mut c = s.raw();
    sicily(&mut c, "{s}");
    let members = |c: &mut RawConn, key: &str| c.cmd(&["ZRANGE", key, "0", "-1"]);
    check(
        &mut c,
        "GEOSEARCHSTORE {s}d {s} FROMLONLAT 15 37 BYRADIUS 200 km",
        &int(2),
    );
    assert_eq!(members(&mut c, "{s}d"), bulks(&["Palermo", "Catania"]));
    check(&mut c, "ZSCORE {s}d Catania", &bulk("3479447370796909"));
    check(
        &mut c,
        "GEOPOS {s}d Catania",
        &array(&[bulks(&["15.08726745843887329", "37.50266842333162032"])]),
    );
    // STOREDIST: the distances, in the unit asked, ordered by them.
    check(
        &mut c,
        "GEOSEARCHSTORE {s}d {s} FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST COUNT 3 DESC",
        &int(3),
    );
    assert_eq!(
        members(&mut c, "{s}d"),
        bulks(&["Palermo", "edge2", "edge1"])
    );
    check(
        &mut c,
        "ZRANGEBYSCORE {s}d 279.7403 279.7404",
        &bulks(&["edge2"]),
    );
    check(
        &mut c,
        "ZRANGEBYSCORE {s}d 190.4424 190.4425",
        &bulks(&["Palermo"]),
    );
    // The destination is replaced, whatever it held, and loses its TTL.
    check(&mut c, "SET {s}d v EX 100", &ok());
    check(&mut c, "GEORADIUS {s} 15 37 200 km STORE {s}d", &int(2));
    check(&mut c, "TYPE {s}d", &simple("zset"));
    check(&mut c, "TTL {s}d", &int(-1));
    check(
        &mut c,
        "GEORADIUSBYMEMBER {s} Palermo 50 km STOREDIST {s}d ASC",
        &int(1),
    );
    check(
        &mut c,
        "ZRANGE {s}d 0 -1 WITHSCORES",
        &bulks(&["Palermo", "0"]),
    );
    // The last of STORE and STOREDIST wins.
    check(
        &mut c,
        "GEORADIUS {s} 15 37 200 km STORE {s}e STOREDIST {s}d",
        &int(2),
    );
    check(&mut c, "EXISTS {s}e", &int(0));
    check(&mut c, "ZRANGEBYSCORE {s}d 56 57", &bulks(&["Catania"]));
    // Nothing found, or no source: the destination is deleted.
    for empty in [
        "GEOSEARCHSTORE {s}d {s} FROMLONLAT 0 0 BYRADIUS 1 km",
        "GEOSEARCHSTORE {s}d {s}none FROMMEMBER x BYRADIUS 1 km",
        "GEORADIUSBYMEMBER {s}none x 1 km STORE {s}d",
        "GEORADIUS {s} 0 0 1 km STOREDIST {s}d",
    ] {
        check(&mut c, "SET {s}d v", &ok());
        check(&mut c, empty, &int(0));
        check(&mut c, "EXISTS {s}d", &int(0));
        // Nothing to delete: still 0.
        check(&mut c, empty, &int(0));
    }
    // A destination of another type is simply replaced.
    check(&mut c, "SET {s}d v", &ok());
    check(
        &mut c,
        "GEOSEARCHSTORE {s}d {s} FROMMEMBER Palermo BYRADIUS 1 km",
        &int(1),
    );
    check(&mut c, "TYPE {s}d", &simple("zset"));
    // A source that is no sorted set fails, the destination untouched.
    check(&mut c, "SET {s}str v", &ok());
    check(
        &mut c,
        "GEOSEARCHSTORE {s}d {s}str FROMMEMBER Palermo BYRADIUS 1 km",
        &err(WRONGTYPE),
    );
    check(&mut c, "ZCARD {s}d", &int(1));
    // COMMAND GETKEYS finds the stores as Redis's key specifications do.
    check(
        &mut c,
        "COMMAND GETKEYS GEORADIUS {s} 15 37 200 km STORE a STOREDIST b",
        &bulks(&["{s}", "a", "b"]),
    );
    check(
        &mut c,
        "COMMAND GETKEYS GEOSEARCHSTORE a b FROMMEMBER m BYRADIUS 1 km",
        &bulks(&["a", "b"]),
    );
}

/// Where ringbus differs from Redis on purpose: a repeated STORE naming
/// another key than the first (which the key specifications declare, and
/// whose shard the command holds) is refused rather than written to a key
/// that may live on a shard not held.
fn repeated_store_options(s: &Server) {
    let mut c = s.raw();
    sicily(&mut c, "{s}");
    check(
        &mut c,
        "GEORADIUS {s} 15 37 200 km STORE {s}a STORE {s}a",
        &int(2),
    );
    check(
        &mut c,
        "GEORADIUS {s} 15 37 200 km STOREDIST {s}b STORE {s}a",
        &int(2),
    );
    if s.is_ringbus() {
        check(
            &mut c,
            "GEORADIUS {s} 15 37 200 km STORE {s}a STORE {s}c",
            &err("ERR a repeated STORE or STOREDIST option must name the key of the first one"),
        );
        check(&mut c, "EXISTS {s}c", &int(0));
    }
}

fn stores_across_shards(s: &Server) {
    let mut c = s.raw();
    sicily(&mut c, K1);
    c.check(
        &[
            "GEOSEARCHSTORE",
            K2,
            K1,
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "ASC",
            "COUNT",
            "3",
        ],
        &int(3),
    );
    c.check(
        &["ZRANGE", K2, "0", "-1"],
        &bulks(&["Palermo", "Catania", "edge2"]),
    );
    c.check(
        &["GEORADIUS", K1, "15", "37", "200", "km", "STOREDIST", K3],
        &int(2),
    );
    c.check(&["ZRANGE", K3, "0", "-1"], &bulks(&["Catania", "Palermo"]));
    c.check(
        &["GEORADIUSBYMEMBER", K1, "Palermo", "10", "km", "STORE", K3],
        &int(1),
    );
    c.check(
        &["ZRANGE", K3, "0", "-1", "WITHSCORES"],
        &bulks(&["Palermo", "3479099956230698"]),
    );
    // Empty results and missing sources delete across shards too.
    c.check(
        &["GEORADIUS", K1, "0", "0", "1", "km", "STORE", K3],
        &int(0),
    );
    c.check(&["EXISTS", K3], &int(0));
    c.check(
        &[
            "GEOSEARCHSTORE",
            K2,
            "{in}none",
            "FROMMEMBER",
            "x",
            "BYRADIUS",
            "1",
            "km",
        ],
        &int(0),
    );
    c.check(&["EXISTS", K2], &int(0));
    // Errors come from the source, as on one shard.
    c.check(&["SET", K3, "v"], &ok());
    c.check(
        &[
            "GEOSEARCHSTORE",
            K2,
            K3,
            "FROMMEMBER",
            "x",
            "BYRADIUS",
            "1",
            "km",
        ],
        &err(WRONGTYPE),
    );
    c.check(
        &[
            "GEORADIUS",
            K1,
            "15",
            "37",
            "200",
            "km",
            "STORE",
            K2,
            "COUNT",
            "0",
        ],
        &err("ERR COUNT must be > 0"),
    );
    c.check(&["EXISTS", K2], &int(0));
    // Inside MULTI as well.
    check(&mut c, "MULTI", &ok());
    c.check(
        &[
            "GEOSEARCHSTORE",
            K2,
            K1,
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "1",
            "km",
        ],
        &simple("QUEUED"),
    );
    c.check(&["ZCARD", K2], &simple("QUEUED"));
    check(&mut c, "EXEC", &array(&[int(1), int(1)]));
}

fn resp3_shapes(s: &Server) {
    let mut c = s.raw();
    hello3(&mut c);
    sicily(&mut c, "s");
    check(
        &mut c,
        "GEOPOS s Palermo nope",
        &array(&[
            array(&[dbl("13.36138933897018433"), dbl("38.11555639549629859")]),
            b"_\r\n".to_vec(),
        ]),
    );
    check(&mut c, "GEOHASH s nope", &array(&[b"_\r\n".to_vec()]));
    check(&mut c, "GEODIST s Palermo Catania km", &bulk("166.2742"));
    check(&mut c, "GEODIST s Palermo nope", b"_\r\n");
    check(
        &mut c,
        "GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 100 km WITHCOORD WITHDIST WITHHASH",
        &array(&[array(&[
            bulk("Catania"),
            bulk("56.4413"),
            int(3479447370796909),
            array(&[dbl("15.08726745843887329"), dbl("37.50266842333162032")]),
        ])]),
    );
    check(
        &mut c,
        "GEOSEARCH s FROMLONLAT 0 0 BYRADIUS 1 km",
        &array(&[]),
    );
    check(
        &mut c,
        "GEOSEARCH s FROMLONLAT 15 37 BYRADIUS 100 km",
        &bulks(&["Catania"]),
    );
}

// ------------------------------------------------------------------ randomized

/// xorshift64*: the same sequence on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A float in `[lo, hi)` with up to 6 decimals.
    fn coord(&mut self, lo: f64, hi: f64) -> String {
        let steps = ((hi - lo) * 1e6) as u64;
        format!("{:.6}", lo + self.below(steps) as f64 / 1e6)
    }
}

/// Random points, clustered in a few places (some near the poles' limits
/// and the antimeridian), searched at random from points and members with
/// every option; the replies of ringbus and redis-server must be identical.
fn random_searches_match_redis(s: &Server) {
    let reference = Server::start_redis(&[]);
    let mut a = s.raw();
    let mut b = reference.raw();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let centres: [(f64, f64); 6] = [
        (15.0, 37.0),
        (-179.5, 10.0),
        (179.8, -40.0),
        (0.0, 84.9),
        (120.0, -84.5),
        (-70.0, 0.0),
    ];
    let key = "{rand}g";
    let mut members = Vec::new();
    let mut places: Vec<(String, String)> = Vec::new();
    for i in 0..600 {
        // A fifth of the points share a place with an earlier one: equal
        // distances, whose order is Redis's sort's (stable, or pqsort's).
        let (lon, lat) = if i > 0 && rng.below(5) == 0 {
            places[rng.below(places.len() as u64) as usize].clone()
        } else {
            let (clon, clat) = centres[rng.below(centres.len() as u64) as usize];
            let spread: f64 = [0.01, 0.5, 5.0][rng.below(3) as usize];
            (
                rng.coord((clon - spread).max(-180.0), (clon + spread).min(180.0)),
                rng.coord((clat - spread).max(-85.05), (clat + spread).min(85.05)),
            )
        };
        let m = format!("m{i}");
        let args = ["GEOADD", key, &lon, &lat, &m];
        assert_eq!(a.cmd(&args), b.cmd(&args), "{args:?}");
        members.push(m);
        places.push((lon, lat));
    }
    let units = ["m", "km", "ft", "mi"];
    let mut compared = 0;
    let mut nonempty = 0;
    for round in 0..1500 {
        let mut args: Vec<String> = Vec::new();
        let form = rng.below(4);
        let unit = units[rng.below(4) as usize].to_string();
        let dist_m = [50.0, 2_000.0, 80_000.0, 600_000.0, 3_000_000.0][rng.below(5) as usize]
            * (0.5 + rng.below(1000) as f64 / 1000.0);
        let factor = match unit.as_str() {
            "km" => 1000.0,
            "ft" => 0.3048,
            "mi" => 1609.34,
            _ => 1.0,
        };
        let amount = format!("{:.3}", dist_m / factor);
        let (clon, clat) = centres[rng.below(centres.len() as u64) as usize];
        let lon = rng.coord((clon - 3.0).max(-180.0), (clon + 3.0).min(180.0));
        let lat = rng.coord((clat - 3.0).max(-85.05), (clat + 3.0).min(85.05));
        let member = members[rng.below(members.len() as u64) as usize].clone();
        match form {
            0 => args.extend(["GEORADIUS".into(), key.into(), lon, lat, amount, unit]),
            1 => args.extend(["GEORADIUSBYMEMBER".into(), key.into(), member, amount, unit]),
            _ => {
                args.extend(["GEOSEARCH".into(), key.into()]);
                if form == 2 {
                    args.extend(["FROMLONLAT".into(), lon, lat]);
                } else {
                    args.extend(["FROMMEMBER".into(), member]);
                }
                if rng.below(2) == 0 {
                    args.extend(["BYRADIUS".into(), amount, unit]);
                } else {
                    let height = format!(
                        "{:.3}",
                        dist_m / factor * (0.2 + rng.below(30) as f64 / 10.0)
                    );
                    args.extend(["BYBOX".into(), amount, height, unit]);
                }
            }
        }
        for (opt, p) in [("WITHDIST", 2), ("WITHCOORD", 3), ("WITHHASH", 4)] {
            if rng.below(p) == 0 {
                args.push(opt.into());
            }
        }
        match rng.below(3) {
            0 => args.push("ASC".into()),
            1 => args.push("DESC".into()),
            _ => {}
        }
        if rng.below(3) == 0 {
            args.push("COUNT".into());
            args.push((1 + rng.below(60)).to_string());
            if rng.below(3) == 0 {
                args.push("ANY".into());
            }
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ra, rb) = (a.cmd(&refs), b.cmd(&refs));
        assert_eq!(show(&ra), show(&rb), "round {round}: {args:?}");
        compared += 1;
        if !rb.starts_with(b"*0") {
            nonempty += 1;
        }
        // Now and then, the same search stored, compared through the stored set.
        if round % 10 == 0 && !args.iter().any(|x| x.starts_with("WITH")) && args[0] == "GEOSEARCH"
        {
            let mut store = vec!["GEOSEARCHSTORE", "{rand}dst"];
            store.extend(refs[1..].iter().copied());
            assert_eq!(show(&a.cmd(&store)), show(&b.cmd(&store)), "{store:?}");
            let read = ["ZRANGE", "{rand}dst", "0", "-1", "WITHSCORES"];
            assert_eq!(show(&a.cmd(&read)), show(&b.cmd(&read)), "{store:?}");
        }
    }
    assert_eq!(compared, 1500);
    assert!(nonempty > 300, "only {nonempty} searches found something");
    // Every member's position, hash and distances read the same.
    for chunk in members.chunks(50) {
        for cmd in ["GEOPOS", "GEOHASH"] {
            let mut args = vec![cmd, key];
            args.extend(chunk.iter().map(String::as_str));
            assert_eq!(show(&a.cmd(&args)), show(&b.cmd(&args)), "{cmd}");
        }
        for pair in chunk.windows(2) {
            let args = ["GEODIST", key, &pair[0], &pair[1], "km"];
            assert_eq!(show(&a.cmd(&args)), show(&b.cmd(&args)), "{args:?}");
        }
    }
}
