//! DUMP and RESTORE: a key's value as Redis's serialized payload (one RDB
//! value, its RDB version and a CRC64), and back. The payload format is the
//! RDB codec's (`persist::rdb::dump`); ringbus values cross it through
//! `persist::values`.
//!
//! Invariants kept here:
//! - DUMP writes what Redis 7.0 (RDB 10) writes for the same value with its
//!   default configuration, so that any Redis 7.x restores it;
//! - RESTORE checks its arguments in the order of Redis 7.2's
//!   `restoreCommand` (options, busy key, TTL, footer, body) and answers
//!   with its errors;
//! - the payload is decoded in full before the keyspace is touched: a
//!   refused payload changes nothing.

use crate::shard::notify::Class;
use std::borrow::Cow;

use super::args::{is, Args, CmdResult, Error};
use super::spec::decl::*;
use super::Ctx;
use crate::persist::rdb::dump::{self, DumpWriter};
use crate::persist::rdb::EncodeOptions;
use crate::persist::values::{self, Build};
use crate::resp::parse::parse_i64;
use crate::resp::Out;

const BUSY_KEY: Error = Error(Cow::Borrowed("BUSYKEY Target key name already exists."));
const BAD_TTL: Error = Error(Cow::Borrowed("ERR Invalid TTL value, must be >= 0"));
const BAD_IDLETIME: Error = Error(Cow::Borrowed("ERR Invalid IDLETIME value, must be >= 0"));
const BAD_FREQ: Error = Error(Cow::Borrowed(
    "ERR Invalid FREQ value, must be >= 0 and <= 255",
));

pub fn dump(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let key = args.next_bytes()?;
    let compression = ctx.rdb_compression();
    let Some(entry) = ctx.read(key) else {
        out.null();
        return Ok(());
    };
    // RDB 10 (a 7.2 reads it as well), LZF as `rdbcompression` says.
    let opts = EncodeOptions {
        compression,
        ..EncodeOptions::default()
    };
    let mut w = DumpWriter::new(&opts).expect("the default options are valid");
    values::write_value(w.value(), &entry.value).expect("a Vec does not fail to grow");
    out.bulk(&w.finish());
    Ok(())
}

/// DEBUG OBJECT's line for `key`, as Redis 7.2's debug.c writes it: the
/// value's address, refcount, encoding, RDB-serialized length (DUMP's body:
/// no type byte, version or checksum), 24-bit access clock and idle
/// seconds, and for a quicklist its node figures. The lookup neither moves
/// the access clock nor reports a keymiss, as Redis's.
pub fn debug_object(ctx: &mut Ctx, key: &[u8]) -> Result<String, Error> {
    let now = ctx.now;
    let compression = ctx.rdb_compression();
    let entry = ctx
        .read_with(key, false, false)
        .ok_or(Error::msg("ERR no such key"))?;
    let opts = EncodeOptions {
        compression,
        ..EncodeOptions::default()
    };
    let mut w = DumpWriter::new(&opts).expect("the default options are valid");
    values::write_value(w.value(), &entry.value).expect("a Vec does not fail to grow");
    // The payload is type byte + body + 2-byte version + 8-byte CRC64.
    let serialized = w.finish().len() - 1 - 10;
    let mut extra = String::new();
    if let crate::types::Value::List(list) = &entry.value {
        if list.encoding() == "quicklist" {
            let (nodes, bytes) = list.chunk_stats();
            extra = format!(
                " ql_nodes:{nodes} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:0 ql_uncompressed_size:{bytes}",
                list.len() as f64 / nodes.max(1) as f64,
                crate::types::encoding::list_max_listpack_size()
            );
        }
    }
    Ok(format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{serialized} lru:{} lru_seconds_idle:{}{extra}",
        &entry.value as *const crate::types::Value,
        super::keys::refcount(entry),
        entry.value.encoding(),
        entry.lru_24(),
        entry.idle_secs(now),
    ))
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`
pub fn restore(ctx: &mut Ctx, args: &mut Args, out: &mut Out) -> CmdResult {
    let argv = args.all();
    let (key, ttl, payload) = (argv[1], argv[2], argv[3]);
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None, None);
    let mut j = 4;
    while j < argv.len() {
        let (opt, more) = (argv[j], argv.len() - j - 1);
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "absttl") {
            absttl = true;
        } else if is(opt, "idletime") && more >= 1 && freq.is_none() {
            // After FREQ (or without a value) it is a syntax error, as in Redis.
            let n = parse_i64(argv[j + 1]).ok_or(Error::NOT_INTEGER)?;
            if n < 0 {
                return Err(BAD_IDLETIME);
            }
            idle = Some(n);
            j += 1;
        } else if is(opt, "freq") && more >= 1 && idle.is_none() {
            let n = parse_i64(argv[j + 1]).ok_or(Error::NOT_INTEGER)?;
            if !(0..=255).contains(&n) {
                return Err(BAD_FREQ);
            }
            freq = Some(n);
            j += 1;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    // As Redis's `objectSetLRUOrLFU` under a policy that is not LFU
    // (ringbus's only one is noeviction): IDLETIME sets the key's access
    // clock; FREQ, which only an LFU policy keeps, is checked and unused.
    let _ = freq;

    let now = ctx.now;
    if !replace && ctx.db().contains(key, now) {
        return Err(BUSY_KEY);
    }
    let ttl = parse_i64(ttl).ok_or(Error::NOT_INTEGER)?;
    if ttl < 0 {
        return Err(BAD_TTL);
    }
    // Decoded in full (Redis's deep sanitization) before anything changes.
    let value = dump::decode_into(payload, &mut Build::new())
        .map_err(|e| Error::msg(format!("ERR {}", e.redis_message())))?;

    let deleted = replace && ctx.db().remove_live(key, now).is_some();
    // Redis adds the command's time without an overflow check; a sum that
    // wraps negative counts as already expired there too.
    let deadline = if absttl {
        ttl
    } else {
        ttl.wrapping_add(now as i64)
    };
    if ttl != 0 && deadline <= now as i64 {
        // Already expired: the key is not created (and is gone if replaced).
        if deleted {
            ctx.wrote(key);
            ctx.notify(Class::GENERIC, "del", key);
            ctx.propagate(&[b"DEL", key]);
        }
        out.ok();
        return Ok(());
    }
    ctx.db()
        .set(key, value, (ttl != 0).then_some(deadline as u64));
    if let Some(idle) = idle {
        ctx.db().set_idle(key, idle as u64, now);
    }
    // Counts the change, fails WATCH and wakes clients blocked on the key.
    ctx.wrote(key);
    ctx.notify(Class::GENERIC, "restore", key);
    if ttl != 0 && !absttl && super::propagate::on(ctx) {
        // As Redis: a relative TTL replays as the deadline, with ABSTTL.
        let at = super::propagate::num(deadline);
        let mut argv: Vec<&[u8]> = argv.to_vec();
        argv[2] = &at;
        argv.push(b"ABSTTL");
        ctx.propagate(&argv);
    }
    out.ok();
    Ok(())
}

/// DUMP and RESTORE, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("dump", 2, R, KEY1, "keyspace", "Returns a serialized representation of the value stored at a key.",
        Exec::Shard(dump), "key"),
    spec("restore", -4, W, KEY1, "keyspace", "Creates a key from the serialized representation of a value.",
        Exec::Shard(restore), "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"),
];
