//! Encoding thresholds: when a small hash, set or sorted set turns into its
//! big form (Redis's `hash-max-listpack-entries` / `-value`,
//! `set-max-intset-entries`, `set-max-listpack-entries` / `-value`,
//! `zset-max-listpack-entries` / `-value`), and how big a list's nodes get
//! (`list-max-listpack-size`). One setting for the process,
//! read where a value decides its form, so CONFIG SET takes effect on the
//! next write of every shard; as in Redis, values already converted stay
//! as they are.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

macro_rules! thresholds {
    ($($(#[$doc:meta])* $name:ident, $set:ident = $default:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name() -> usize {
                $name::VALUE.load(Ordering::Relaxed)
            }

            /// Sets the threshold (config at start, CONFIG SET).
            pub fn $set(n: usize) {
                $name::VALUE.store(n, Ordering::Relaxed);
            }

            #[allow(non_snake_case)]
            mod $name {
                pub static VALUE: super::AtomicUsize = super::AtomicUsize::new($default);
            }
        )*
    };
}

thresholds! {
    /// `hash-max-listpack-entries` (default 512).
    hash_max_listpack_entries, set_hash_max_listpack_entries = 512;
    /// `hash-max-listpack-value` (default 64).
    hash_max_listpack_value, set_hash_max_listpack_value = 64;
    /// `set-max-intset-entries` (default 512).
    set_max_intset_entries, set_set_max_intset_entries = 512;
    /// `set-max-listpack-entries` (default 128).
    set_max_listpack_entries, set_set_max_listpack_entries = 128;
    /// `set-max-listpack-value` (default 64).
    set_max_listpack_value, set_set_max_listpack_value = 64;
    /// `zset-max-listpack-entries` (default 128).
    zset_max_listpack_entries, set_zset_max_listpack_entries = 128;
    /// `zset-max-listpack-value` (default 64).
    zset_max_listpack_value, set_zset_max_listpack_value = 64;
    /// `hll-sparse-max-bytes` (default 3000): the largest sparse
    /// HyperLogLog, header included, before it turns dense.
    hll_sparse_max_bytes, set_hll_sparse_max_bytes = 3000;
    /// `stream-node-max-entries` (default 100; 0: no limit).
    stream_node_max_entries, set_stream_node_max_entries = 100;
    /// `stream-node-max-bytes` (default 4096; 0: no limit).
    stream_node_max_bytes, set_stream_node_max_bytes = 4096;
}

/// `list-max-listpack-size` (alias `list-max-ziplist-size`, default -2): a
/// positive value caps a list node's entries (its bytes then stay under
/// Redis's 8 KiB safety limit), -1 to -5 cap its bytes at 4 to 64 KiB.
static LIST_FILL: AtomicI64 = AtomicI64::new(-2);

pub fn list_max_listpack_size() -> i64 {
    LIST_FILL.load(Ordering::Relaxed)
}

pub fn set_list_max_listpack_size(fill: i64) {
    LIST_FILL.store(fill, Ordering::Relaxed);
}

/// Redis's `SIZE_SAFETY_LIMIT`: the bytes of a node whose limit is a count.
pub const LIST_SIZE_SAFETY_LIMIT: usize = 8192;

/// Redis's `quicklistNodeLimit`: a node's (byte, entry) limits for `fill`;
/// `usize::MAX` where there is none.
pub fn list_node_limits(fill: i64) -> (usize, usize) {
    if fill >= 0 {
        (usize::MAX, fill.max(1) as usize)
    } else {
        let level = ((-fill) as u32).min(5) - 1;
        (4096 << level, usize::MAX)
    }
}
