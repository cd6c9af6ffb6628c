//! Commands whose keys live on several shards. A family gives each such
//! command two forms (see `Exec::Multi`): a plain shard function for when its
//! keys happen to share a shard, and a cross-shard form, run here inside a
//! transaction (`shard::txn`) that holds every shard of its keys, on this
//! core: it reads and writes each shard in turn, synchronously, so no client
//! sees half of the command. Inside EXEC or a script the transaction is
//! theirs.

use std::collections::BTreeMap;

use super::args::{CmdResult, Error};
use crate::resp::Out;
use crate::shard::ctx::{Ctx, Shards, ShardsExt};
use crate::shard::route::{group_by_shard, shard_of};

/// What a cross-shard form gets: the transaction holding its keys' shards
/// (any [`Shards`], so tests run the forms on shards of their own).
pub struct Cross<'a> {
    pub txn: &'a mut dyn Shards,
    pub db: usize,
    pub argv: &'a [&'a [u8]],
    pub out: &'a mut Out,
}

/// A command's cross-shard form.
pub type CrossFn = for<'a> fn(Cross<'a>) -> CmdResult;

/// Runs a cross-shard form in `txn`, which holds every shard of its keys.
pub fn run(txn: &mut dyn Shards, f: CrossFn, db: usize, argv: &[&[u8]], out: &mut Out) {
    if let Err(e) = f(Cross {
        txn,
        db,
        argv,
        out: &mut *out,
    }) {
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
/// ZMPOP and the blocking pops): every key is looked at, shard by shard; a
/// key of the wrong type met first is its error; `take` then runs on the
/// winning key's shard. None when no key holds anything (the shards stay
/// held until the transaction ends, so a blocking pop can register its
/// waiter with nothing slipping in between).
pub fn first_holding<T>(
    shards: &mut dyn Shards,
    db: usize,
    keys: &[Vec<u8>],
    holds: fn(&mut Ctx, &[u8]) -> Result<bool, Error>,
    take: impl FnOnce(&mut Ctx, &[u8]) -> Result<T, Error>,
) -> Result<Option<(usize, T)>, Error> {
    let mut held: Vec<Result<bool, Error>> = vec![Ok(false); keys.len()];
    let count = shards.count();
    for (shard, idx) in group_by_shard(0..keys.len(), |&i| shard_of(&keys[i], count)) {
        shards.ctx(shard, db, |ctx| {
            for i in idx {
                held[i] = holds(ctx, &keys[i]);
            }
        });
    }
    for (i, h) in held.into_iter().enumerate() {
        if !h? {
            continue;
        }
        let taken = shards.ctx_of(&keys[i], db, |ctx| take(ctx, &keys[i]))?;
        return Ok(Some((i, taken)));
    }
    Ok(None)
}
