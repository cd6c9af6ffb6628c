//! Commands over the whole keyspace of a database, which ask every shard:
//! KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB and FLUSHALL.

use super::args::{is, CmdResult, Error};
use super::exec::{at_shard, each_shard, Client};
use super::spec::decl::*;
use crate::glob;
use crate::resp::parse::parse_i64;
use crate::shard::now_ms;
use crate::types::keytable::POS_BITS;

/// DBSIZE: the keys of the current database, summed over shards.
pub async fn dbsize(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let db = c.db();
    let sizes = each_shard(c, move |here| here.shard.dbs[db].len()).await;
    c.out().int(sizes.iter().sum::<usize>() as i64);
    Ok(())
}

/// FLUSHDB / FLUSHALL [ASYNC | SYNC]: every shard empties the database (or
/// all of them) as one effect (see `Shard::flush`).
pub async fn flushdb(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let db = c.db();
    flush(c, argv, Some(db)).await
}

pub async fn flushall(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    flush(c, argv, None).await
}

async fn flush(c: &mut dyn Client, argv: &[&[u8]], only: Option<usize>) -> CmdResult {
    if argv.len() > 2 || (argv.len() == 2 && !is(argv[1], "async") && !is(argv[1], "sync")) {
        return Err(Error::SYNTAX);
    }
    each_shard(c, move |here| {
        here.shard.flush(only);
    })
    .await;
    // As Redis: FLUSHALL with save rules set saves the empty dataset at
    // once, so that a restart does not bring the keys back. Inside EXEC the
    // shards are the transaction's: the save follows it.
    let core = c.core().clone();
    if only.is_none() && !core.config.borrow().save.is_empty() {
        if c.txn().is_some() {
            crate::runtime::spawn(async move {
                crate::cmd::persistence::save_after(core).await;
            });
        } else {
            crate::cmd::persistence::save_after(core).await;
        }
    }
    c.out().ok();
    Ok(())
}

/// KEYS pattern: every shard's matching live keys.
pub async fn keys(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let pattern = argv[1];
    let (db, pattern) = (c.db(), pattern.to_vec());
    let per_shard = each_shard(c, move |here| {
        let now = now_ms();
        let all = pattern == b"*";
        here.shard.dbs[db]
            .live_keys(now)
            .filter(|(k, _)| all || glob::matches(&pattern, k, false))
            .map(|(k, _)| k.to_vec())
            .collect::<Vec<_>>()
    })
    .await;
    let total: usize = per_shard.iter().map(Vec::len).sum();
    c.out().array(total);
    for key in per_shard.iter().flatten() {
        c.out().bulk(key);
    }
    Ok(())
}

/// RANDOMKEY: a shard chosen in proportion to its number of keys, then a
/// random live key there.
pub async fn random_key(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    let db = c.db();
    let seed = crate::alloc::random_u64();
    let sizes = each_shard(c, move |here| here.shard.dbs[db].len()).await;
    let total: usize = sizes.iter().sum();
    let mut key = None;
    if total > 0 {
        let mut pick = (seed % total as u64) as usize;
        let shard = sizes.iter().position(|&n| {
            let here = pick < n;
            pick = pick.saturating_sub(n);
            here
        });
        if let Some(shard) = shard {
            key = at_shard(c, shard, move |here| {
                here.shard.dbs[db]
                    .random_live_key(now_ms(), seed)
                    .map(|k| k.to_vec())
            })
            .await;
        }
    }
    c.out().bulk_opt(key.as_deref());
    Ok(())
}

/// SCAN's cursor: a position in the current shard's hash space, times the
/// number of shards, plus the shard. 0 starts at shard 0 and means "done".
pub async fn scan(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let cursor = super::hashes::parse_cursor(argv[1])?;
    let mut count = 10usize;
    let mut pattern: Option<Vec<u8>> = None;
    let mut type_name: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        if is(argv[i], "count") && has_value {
            let n = parse_i64(argv[i + 1]).ok_or(Error::NOT_INTEGER)?;
            if n < 1 {
                return Err(Error::SYNTAX);
            }
            count = n as usize;
        } else if is(argv[i], "match") && has_value {
            pattern = Some(argv[i + 1].to_vec());
        } else if is(argv[i], "type") && has_value {
            type_name = Some(argv[i + 1].to_ascii_lowercase());
        } else {
            return Err(Error::SYNTAX);
        }
        i += 2;
    }
    let shards = c.core().cores() as u64;
    let (mut shard, mut pos) = (cursor % shards, cursor / shards);
    if pos >= 1 << POS_BITS {
        return Err(Error::msg("ERR invalid cursor"));
    }
    let db = c.db();
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = loop {
        let (pattern, type_name) = (pattern.clone(), type_name.clone());
        let (keys, next_pos) = at_shard(c, shard as usize, move |here| {
            let mut keys = Vec::new();
            let next = here.shard.dbs[db].scan(pos, count, now_ms(), |k, e| {
                let type_ok = type_name
                    .as_deref()
                    .is_none_or(|t| t == e.value.type_name().as_bytes());
                let match_ok = pattern
                    .as_deref()
                    .is_none_or(|p| glob::matches(p, k, false));
                if type_ok && match_ok {
                    keys.push(k.to_vec());
                }
            });
            (keys, next)
        })
        .await;
        found.extend(keys);
        match next_pos {
            Some(p) => break p * shards + shard,
            None if shard + 1 < shards => {
                shard += 1;
                pos = 0;
                if found.len() >= count {
                    break shard;
                }
            }
            None => break 0,
        }
    };
    c.out().array(2);
    c.out().bulk_int(next as i64);
    c.out().array(found.len());
    for key in &found {
        c.out().bulk(key);
    }
    Ok(())
}

// ------------------------------------------------------------ commands

/// The keyspace commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("dbsize", 1, &["readonly", "fast"], NO_KEYS, "server", "Returns the number of keys in the database.", crate::anywhere!(dbsize), ""),
    spec("flushdb", -1, WD, NO_KEYS, "server", "Removes all keys from the current database.", crate::anywhere!(flushdb), "[ASYNC | SYNC]"),
    spec("flushall", -1, WD, NO_KEYS, "server", "Removes all keys from all databases.", crate::anywhere!(flushall), "[ASYNC | SYNC]"),
    spec("keys", 2, R, NO_KEYS, "keyspace", "Returns all key names that match a pattern.", crate::anywhere!(keys), "pattern"),
    spec("scan", -2, R, NO_KEYS, "keyspace", "Iterates over the key names in the database.", crate::anywhere!(scan),
        "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    spec("randomkey", 1, R, NO_KEYS, "keyspace", "Returns a random key name from the database.", crate::anywhere!(random_key), ""),
];
