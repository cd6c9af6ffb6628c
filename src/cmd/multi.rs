//! Multi-key commands whose keys live on several shards, each run as one
//! cross-shard transaction (`shard::txn`): every shard's part runs while the
//! transaction holds that shard's keys, so no client sees half of the command.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::lists::{self, End};
use super::{keys, strings, Error};
// Sets.
use super::sets;
use crate::resp::Out;
use crate::shard::dispatch::Core;
use crate::shard::locks::DbKey;
use crate::shard::route::{group_by_shard, shard_of};
use crate::shard::txn::{outer_or_own, Txn};

/// How a multi-key command splits over shards and merges its replies.
#[derive(Clone, Copy, Debug)]
pub enum Spread {
    Del,
    Exists,
    Mget,
    Mset,
    Msetnx,
    Rename {
        nx: bool,
    },
    /// LMOVE / RPOPLPUSH between lists on two shards.
    Move,
    // Sets.
    /// SMOVE between sets on two shards.
    Smove,
    /// SINTER / SUNION / SDIFF, and with `store` their STORE forms.
    Sets {
        op: sets::Op,
        store: bool,
    },
}

/// One shard's share of the arguments: `(position in the request, key, value)`.
type Part = Vec<(usize, Vec<u8>, Option<Vec<u8>>)>;

/// Groups keys (and, for MSET-like commands, their values) by shard, in shard order.
fn split(argv: &[&[u8]], paired: bool, shards: usize) -> BTreeMap<usize, Part> {
    let step = if paired { 2 } else { 1 };
    let items = argv[1..]
        .chunks(step)
        .enumerate()
        .map(|(i, chunk)| (i, chunk[0].to_vec(), paired.then(|| chunk[1].to_vec())));
    group_by_shard(items, |(_, k, _)| shard_of(k, shards))
}

fn db_keys(db: usize, part: &Part) -> Vec<DbKey> {
    part.iter()
        .map(|(_, k, _)| (db, k.as_slice().into()))
        .collect()
}

/// Runs `spread` for a request whose keys span several shards, in its own
/// transaction or, inside EXEC, in the transaction `outer`.
pub async fn run(
    core: &Rc<Core>,
    outer: Option<&mut Txn>,
    spread: Spread,
    db: usize,
    argv: &[&[u8]],
    out: &mut Out,
) {
    if let Err(e) = run_inner(core, outer, spread, db, argv, out).await {
        out.error(&e.0);
    }
}

async fn run_inner(
    core: &Rc<Core>,
    outer: Option<&mut Txn>,
    spread: Spread,
    db: usize,
    argv: &[&[u8]],
    out: &mut Out,
) -> Result<(), Error> {
    let shards = core.cores();
    let mut own = None;
    let txn = outer_or_own(outer, &mut own, core);
    match spread {
        Spread::Del | Spread::Exists => {
            let mut total = 0;
            for (shard, part) in split(argv, false, shards) {
                let keys = db_keys(db, &part);
                total += txn
                    .lock_and_run(shard, keys, move |core| {
                        let refs: Vec<&[u8]> = part.iter().map(|(_, k, _)| k.as_slice()).collect();
                        core.with_ctx(db, |ctx| match spread {
                            Spread::Del => keys::del_part(ctx, &refs),
                            _ => keys::exists_part(ctx, &refs),
                        })
                    })
                    .await;
            }
            out.int(total);
        }
        Spread::Mget => {
            let mut values: Vec<Option<Vec<u8>>> = vec![None; argv.len() - 1];
            for (shard, part) in split(argv, false, shards) {
                let keys = db_keys(db, &part);
                let got = txn
                    .lock_and_run(shard, keys, move |core| {
                        let refs: Vec<&[u8]> = part.iter().map(|(_, k, _)| k.as_slice()).collect();
                        let got = core.with_ctx(db, |ctx| strings::mget_part(ctx, &refs));
                        part.into_iter()
                            .map(|(i, _, _)| i)
                            .zip(got)
                            .collect::<Vec<_>>()
                    })
                    .await;
                for (i, v) in got {
                    values[i] = v;
                }
            }
            out.array(values.len());
            for v in &values {
                out.bulk_opt(v.as_deref());
            }
        }
        Spread::Mset | Spread::Msetnx => {
            if argv.len().is_multiple_of(2) {
                return Err(Error::arity(if matches!(spread, Spread::Mset) {
                    "mset"
                } else {
                    "msetnx"
                }));
            }
            let parts = split(argv, true, shards);
            let nx = matches!(spread, Spread::Msetnx);
            let mut any_exists = false;
            for (&shard, part) in &parts {
                let keys = db_keys(db, part);
                let part = part.clone();
                any_exists |= txn
                    .lock_and_run(shard, keys, move |core| {
                        core.with_ctx(db, |ctx| {
                            if nx {
                                let refs: Vec<&[u8]> =
                                    part.iter().map(|(_, k, _)| k.as_slice()).collect();
                                strings::any_exists(ctx, &refs)
                            } else {
                                strings::mset_part(ctx, &pairs(&part));
                                false
                            }
                        })
                    })
                    .await;
            }
            if nx && !any_exists {
                for (shard, part) in parts {
                    txn.run(shard, move |core| {
                        core.with_ctx(db, |ctx| strings::mset_part(ctx, &pairs(&part)))
                    })
                    .await;
                }
            }
            match spread {
                Spread::Mset => out.ok(),
                _ => out.int(!any_exists as i64),
            }
        }
        Spread::Rename { nx } => {
            let (src, dst) = (argv[1].to_vec(), argv[2].to_vec());
            let (src_shard, dst_shard) = (shard_of(&src, shards), shard_of(&dst, shards));
            // Lock both sides in shard order, learning whether each key exists.
            let mut order = [(src_shard, src.clone()), (dst_shard, dst.clone())];
            order.sort_by_key(|(s, _)| *s);
            let mut exists = [false; 2];
            for (i, (shard, key)) in order.into_iter().enumerate() {
                let keys = vec![(db, key.as_slice().into())];
                exists[i] = txn
                    .lock_and_run(shard, keys, move |core| {
                        let now = crate::shard::now_ms();
                        core.with_ctx(db, |ctx| ctx.db().contains(&key, now))
                    })
                    .await;
            }
            let (src_exists, dst_exists) = if src_shard < dst_shard {
                (exists[0], exists[1])
            } else {
                (exists[1], exists[0])
            };
            if !src_exists {
                return Err(Error::NO_SUCH_KEY);
            }
            if nx && dst_exists {
                keys::reply_renamed(out, nx, false);
                return Ok(());
            }
            let entry = txn
                .run(src_shard, move |core| {
                    core.with_ctx(db, |ctx| keys::take_part(ctx, &src))
                })
                .await
                .ok_or(Error::NO_SUCH_KEY)?;
            txn.run(dst_shard, move |core| {
                core.with_ctx(db, |ctx| keys::put_part(ctx, &dst, entry))
            })
            .await;
            keys::reply_renamed(out, nx, true);
        }
        Spread::Move => {
            let (from, to) = if argv.len() == 3 {
                (End::Right, End::Left)
            } else {
                (End::parse(argv[3])?, End::parse(argv[4])?)
            };
            let (src, dst) = (argv[1].to_vec(), argv[2].to_vec());
            let (src_shard, dst_shard) = (shard_of(&src, shards), shard_of(&dst, shards));
            // Lock both lists in shard order and learn what each holds.
            let mut order = [(src_shard, true), (dst_shard, false)];
            order.sort_by_key(|(s, _)| *s);
            let (mut src_list, mut dst_ok) = (Ok(false), Ok(()));
            for (shard, is_src) in order {
                let key = if is_src { src.clone() } else { dst.clone() };
                let keys = vec![(db, key.as_slice().into())];
                let found = txn
                    .lock_and_run(shard, keys, move |core| {
                        core.with_ctx(db, |ctx| {
                            let now = ctx.now;
                            lists::list_mut(ctx.db(), &key, now).map(|l| l.is_some())
                        })
                    })
                    .await;
                if is_src {
                    src_list = found;
                } else {
                    dst_ok = found.map(|_| ());
                }
            }
            // Redis's order: the source's type, a missing source, then the
            // destination's type.
            if !src_list? {
                out.null();
                return Ok(());
            }
            dst_ok?;
            let value = move_locked(txn, db, (src, src_shard, from), (dst, dst_shard, to)).await?;
            out.bulk(&value);
        }
        // Sets.
        Spread::Smove => smove(txn, db, argv, out).await?,
        Spread::Sets { op, store } => {
            let (dst, srcs) = if store {
                (Some(argv[1].to_vec()), &argv[2..])
            } else {
                (None, &argv[1..])
            };
            let sources = snapshot_sets(txn, db, srcs, dst.as_deref()).await?;
            let refs: Vec<Option<&sets::Set>> = sources.iter().map(Option::as_ref).collect();
            let outcome = sets::compute(op, srcs, &refs, false, 0);
            match dst {
                None => outcome.reply(out),
                Some(dst) => {
                    let result = outcome.into_set();
                    let len = txn
                        .run(shard_of(&dst, shards), move |core| {
                            core.with_ctx(db, |ctx| sets::store(ctx, &dst, result))
                        })
                        .await;
                    out.int(len as i64);
                }
            }
        }
    }
    Ok(())
}

// Sets.

/// Locks the shards of `keys` (and of `also`, a STORE destination) in shard
/// order and copies each source set out; the first WRONGTYPE in argument
/// order is the error, as in Redis, where every key is looked at first.
async fn snapshot_sets(
    txn: &mut Txn,
    db: usize,
    keys: &[&[u8]],
    also: Option<&[u8]>,
) -> Result<Vec<Option<sets::Set>>, Error> {
    let shards = txn.shards();
    let mut by_shard = group_by_shard(0..keys.len(), |&i| shard_of(keys[i], shards));
    if let Some(dst) = also {
        by_shard.entry(shard_of(dst, shards)).or_default();
    }
    let mut found: Vec<Result<Option<sets::Set>, Error>> =
        (0..keys.len()).map(|_| Ok(None)).collect();
    for (shard, idx) in by_shard {
        let part: Vec<Vec<u8>> = idx.iter().map(|&i| keys[i].to_vec()).collect();
        let mut locks: Vec<DbKey> = part.iter().map(|k| (db, k.as_slice().into())).collect();
        if let Some(dst) = also.filter(|d| shard_of(d, shards) == shard) {
            locks.push((db, dst.into()));
        }
        locks.sort();
        locks.dedup();
        let got = txn
            .lock_and_run(shard, locks, move |core| {
                core.with_ctx(db, |ctx| {
                    part.iter()
                        .map(|k| sets::snapshot(ctx, k))
                        .collect::<Vec<_>>()
                })
            })
            .await;
        for (i, r) in idx.into_iter().zip(got) {
            found[i] = r;
        }
    }
    found.into_iter().collect()
}

/// SMOVE with its two keys on different shards.
async fn smove(txn: &mut Txn, db: usize, argv: &[&[u8]], out: &mut Out) -> Result<(), Error> {
    let shards = txn.shards();
    let (src, dst, member) = (argv[1].to_vec(), argv[2].to_vec(), argv[3].to_vec());
    let (src_shard, dst_shard) = (shard_of(&src, shards), shard_of(&dst, shards));
    let mut order = [(src_shard, true), (dst_shard, false)];
    order.sort_by_key(|(s, _)| *s);
    let (mut src_found, mut dst_ok) = (Ok(false), Ok(false));
    for (shard, is_src) in order {
        let key = if is_src { src.clone() } else { dst.clone() };
        let keys = vec![(db, key.as_slice().into())];
        let found = txn
            .lock_and_run(shard, keys, move |core| {
                core.with_ctx(db, |ctx| sets::source_exists(ctx, &key))
            })
            .await;
        if is_src {
            src_found = found;
        } else {
            dst_ok = found;
        }
    }
    // Redis's order: a missing source, the source's type, the destination's.
    if !src_found? {
        out.int(0);
        return Ok(());
    }
    dst_ok?;
    let m = member.clone();
    let removed = txn
        .run(src_shard, move |core| {
            core.with_ctx(db, |ctx| sets::remove_one(ctx, &src, &m))
        })
        .await;
    if removed {
        txn.run(dst_shard, move |core| {
            core.with_ctx(db, |ctx| sets::add_one(ctx, &dst, &member))
        })
        .await;
    }
    out.int(removed as i64);
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]: arguments first, then
/// the keys, locked together across shards.
pub async fn sintercard(
    core: &Rc<Core>,
    outer: Option<&mut Txn>,
    db: usize,
    argv: &[&[u8]],
    out: &mut Out,
) -> Result<(), Error> {
    let (keys, limit) = sets::parse_sintercard(argv)?;
    let mut own = None;
    let txn = outer_or_own(outer, &mut own, core);
    let sources = snapshot_sets(txn, db, keys, None).await?;
    let refs: Vec<Option<&sets::Set>> = sources.iter().map(Option::as_ref).collect();
    sets::compute(sets::Op::Inter, keys, &refs, true, limit).reply(out);
    Ok(())
}

/// Moves one element between two lists on shards `txn` has locked, the
/// source known to hold a list and the destination to accept one: pop on
/// the source's shard, push on the destination's. Each side is
/// `(key, shard, end)`.
pub async fn move_locked(
    txn: &Txn,
    db: usize,
    (src, src_shard, from): (Vec<u8>, usize, End),
    (dst, dst_shard, to): (Vec<u8>, usize, End),
) -> Result<Vec<u8>, Error> {
    let value = txn
        .run(src_shard, move |core| {
            core.with_ctx(db, |ctx| lists::pop(ctx, &src, from, 1))
        })
        .await?
        .and_then(|mut v| v.pop())
        .expect("a locked, non-empty list");
    let pushed = value.clone();
    txn.run(dst_shard, move |core| {
        core.with_ctx(db, |ctx| lists::push(ctx, &dst, to, &[&pushed]))
    })
    .await?;
    Ok(value)
}

/// LMPOP: pops from the first of its keys
/// holding a list, with every key locked when they span shards.
pub async fn lmpop(
    core: &Rc<Core>,
    outer: Option<&mut Txn>,
    db: usize,
    argv: &[&[u8]],
    out: &mut Out,
) -> Result<(), Error> {
    let m = lists::parse_mpop(argv)?;
    let shards = core.cores();
    let keys: Vec<Vec<u8>> = m.keys.iter().map(|k| k.to_vec()).collect();
    let (end, count) = (m.end, m.count);
    let by_shard = group_by_shard(0..keys.len(), |&i| shard_of(&keys[i], shards));
    let mut own = None;
    let txn = outer_or_own(outer, &mut own, core);
    // Per key, in argument order: Some(true) holds a list, Some(false) does not.
    let mut holds: Vec<Result<bool, Error>> = vec![Ok(false); keys.len()];
    for (shard, idx) in by_shard {
        let part: Vec<Vec<u8>> = idx.iter().map(|&i| keys[i].clone()).collect();
        let locks = part.iter().map(|k| (db, k.as_slice().into())).collect();
        let found = txn
            .lock_and_run(shard, locks, move |core| {
                core.with_ctx(db, |ctx| {
                    let now = ctx.now;
                    part.iter()
                        .map(|k| lists::list_mut(ctx.db(), k, now).map(|l| l.is_some()))
                        .collect::<Vec<_>>()
                })
            })
            .await;
        for (i, f) in idx.into_iter().zip(found) {
            holds[i] = f;
        }
    }
    // The first key in argument order decides, a WRONGTYPE included.
    for (i, held) in holds.into_iter().enumerate() {
        if !held? {
            continue;
        }
        let key = keys[i].clone();
        let values = txn
            .run(shard_of(&key, shards), move |core| {
                core.with_ctx(db, |ctx| lists::pop(ctx, &key, end, count))
            })
            .await?
            .unwrap_or_default();
        lists::reply_mpop(out, &keys[i], &values);
        return Ok(());
    }
    out.null_array();
    Ok(())
}

fn pairs(part: &Part) -> Vec<&[u8]> {
    part.iter()
        .flat_map(|(_, k, v)| [k.as_slice(), v.as_deref().unwrap_or_default()])
        .collect()
}
