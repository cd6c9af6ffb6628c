//! Commands whose keys live on several shards. A family gives each such
//! command two forms (see `Exec::Multi`): a plain shard function for when its
//! keys happen to share a shard, and a cross-shard form, run here as one
//! transaction (`shard::txn`): it locks its keys shard by shard in increasing
//! order, does each shard's part while holding them, and releases them all
//! at the end, so no client sees half of the command. Inside EXEC or a
//! script the transaction is theirs, which already holds the keys.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use super::args::{CmdResult, Error};
use crate::resp::Out;
use crate::shard::ctx::Ctx;
use crate::shard::dispatch::Core;
use crate::shard::locks::DbKey;
use crate::shard::route::{group_by_shard, shard_of};
use crate::shard::txn::{outer_or_own, Txn};

/// What a cross-shard form gets: the transaction to run its parts in.
pub struct Cross<'a> {
    pub core: &'a Rc<Core>,
    pub txn: &'a mut Txn,
    pub db: usize,
    pub argv: &'a [&'a [u8]],
    pub out: &'a mut Out,
}

/// A command's cross-shard form.
pub type CrossFn = for<'a> fn(Cross<'a>) -> Pin<Box<dyn Future<Output = CmdResult> + 'a>>;

/// Makes a [`CrossFn`] of an `async fn(Cross) -> CmdResult`.
#[macro_export]
macro_rules! cross {
    ($f:path) => {
        |c| Box::pin($f(c))
    };
}

/// Runs a cross-shard form in its own transaction or, inside EXEC or a
/// script, in `outer` (which holds the keys already).
pub async fn run(
    core: &Rc<Core>,
    outer: Option<&mut Txn>,
    f: CrossFn,
    db: usize,
    argv: &[&[u8]],
    out: &mut Out,
) {
    let mut own = None;
    let txn = outer_or_own(outer, &mut own, core);
    let result = f(Cross {
        core,
        txn,
        db,
        argv,
        out: &mut *out,
    })
    .await;
    if let Err(e) = result {
        out.error(&e.0);
    }
}

/// One shard's share of a multi-key request: `(position, key, value)` per
/// key, `value` for MSET-like `key value` pairs.
pub type Part = Vec<(usize, Vec<u8>, Option<Vec<u8>>)>;

/// The keys of `args` (with their values when `paired`), by shard in
/// increasing order.
pub fn split(args: &[&[u8]], paired: bool, shards: usize) -> BTreeMap<usize, Part> {
    let step = if paired { 2 } else { 1 };
    let items = args
        .chunks(step)
        .enumerate()
        .map(|(i, chunk)| (i, chunk[0].to_vec(), paired.then(|| chunk[1].to_vec())));
    group_by_shard(items, |(_, k, _)| shard_of(k, shards))
}

/// A part's keys, as lock-table keys of database `db`.
pub fn db_keys(db: usize, part: &Part) -> Vec<DbKey> {
    part.iter()
        .map(|(_, k, _)| (db, k.as_slice().into()))
        .collect()
}

/// A part's keys, borrowed.
pub fn keys(part: &Part) -> Vec<&[u8]> {
    part.iter().map(|(_, k, _)| k.as_slice()).collect()
}

/// A part's `key value` pairs, flattened (MSET's arguments).
pub fn pairs(part: &Part) -> Vec<&[u8]> {
    part.iter()
        .flat_map(|(_, k, v)| [k.as_slice(), v.as_deref().unwrap_or_default()])
        .collect()
}

/// The first of `keys`, in argument order, that `holds` something (LMPOP,
/// ZMPOP and the blocking pops): every key is locked, shard by shard, and
/// looked at; a key of the wrong type met first is its error; `take` then
/// runs on the winning key's shard, still locked. None when no key holds
/// anything (the keys stay locked until `txn` ends, so a blocking pop can
/// register its waiter with nothing slipping in between).
pub async fn first_holding<T: Send + 'static>(
    txn: &mut Txn,
    db: usize,
    keys: &[Vec<u8>],
    holds: fn(&mut Ctx, &[u8]) -> Result<bool, Error>,
    take: impl FnOnce(&mut Ctx, &[u8]) -> Result<T, Error> + Send + 'static,
) -> Result<Option<(usize, T)>, Error> {
    let shards = txn.shards();
    let mut held: Vec<Result<bool, Error>> = vec![Ok(false); keys.len()];
    for (shard, idx) in group_by_shard(0..keys.len(), |&i| shard_of(&keys[i], shards)) {
        let part: Vec<Vec<u8>> = idx.iter().map(|&i| keys[i].clone()).collect();
        let locks = part.iter().map(|k| (db, k.as_slice().into())).collect();
        let found = txn
            .lock_and_run(shard, locks, move |core| {
                core.with_ctx(db, |ctx| {
                    part.iter().map(|k| holds(ctx, k)).collect::<Vec<_>>()
                })
            })
            .await;
        for (i, f) in idx.into_iter().zip(found) {
            held[i] = f;
        }
    }
    for (i, h) in held.into_iter().enumerate() {
        if !h? {
            continue;
        }
        let key = keys[i].clone();
        let taken = txn
            .run(shard_of(&key, shards), move |core| {
                core.with_ctx(db, |ctx| take(ctx, &key))
            })
            .await?;
        return Ok(Some((i, taken)));
    }
    Ok(None)
}
