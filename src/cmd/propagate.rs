//! What commands report to the log and replicas instead of themselves
//! (`Ctx::propagate`): the shared builders. Each family calls them where its
//! effect is not the command as sent: a relative time, a random choice, a
//! blocking form, a cross-shard form's share on each shard, a stream
//! group's delivery state. Every record replays on its shard alone and
//! gives the same keyspace (see the replay test in `propagate_tests`).

use super::Ctx;
use crate::persist::rdb::dump::DumpWriter;
use crate::persist::rdb::EncodeOptions;
use crate::persist::values;
use crate::types::stream::StreamId;
use crate::types::Value;

/// Whether anyone hears records on this shard: without a sink nothing is
/// built (the promise of `shard::effects`: no cost when nobody listens).
#[inline]
pub fn on(ctx: &Ctx) -> bool {
    !ctx.shard.sinks.is_empty()
}

/// A number as a record's argument.
pub fn num(n: impl itoa::Integer) -> Vec<u8> {
    itoa::Buffer::new().format(n).as_bytes().to_vec()
}

/// A stream ID as a record's argument.
pub fn id(id: StreamId) -> Vec<u8> {
    format!("{}-{}", id.ms, id.seq).into_bytes()
}

/// Records `argv`, built as owned vectors, as the command's effect.
pub fn record_owned(ctx: &mut Ctx, argv: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    ctx.propagate(&refs);
}

/// The serialized payload of `value`, as DUMP makes it.
pub fn payload(value: &Value) -> Vec<u8> {
    let opts = EncodeOptions::default();
    let mut w = DumpWriter::new(&opts).expect("the default options are valid");
    values::write_value(w.value(), value).expect("a Vec does not fail to grow");
    w.finish()
}

/// Records `key` as it is now, whatever its type: `RESTORE key deadline
/// payload REPLACE ABSTTL`, or `DEL key` when it is gone. For a write whose
/// value was computed elsewhere (a cross-shard RENAME's or STORE's
/// destination), so a replay needs no other shard.
pub fn record_state(ctx: &mut Ctx, key: &[u8]) {
    if !on(ctx) {
        return;
    }
    let now = ctx.now;
    let found = ctx
        .db()
        .peek(key, now)
        .map(|e| (payload(&e.value), e.expire_at().unwrap_or(0)));
    match found {
        Some((payload, at)) => {
            let at = num(at);
            ctx.propagate(&[b"RESTORE", key, &at, &payload, b"REPLACE", b"ABSTTL"]);
        }
        None => ctx.propagate(&[b"DEL", key]),
    }
}
