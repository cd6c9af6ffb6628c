//! A stream value: the entries (in a [`StreamTree`]) plus the bookkeeping
//! Redis keeps beside them, and the consumer groups with their pending-entry
//! lists. This module holds the semantics of Redis 7.2's `t_stream.c`; the
//! commands in `cmd::streams` parse arguments and format replies around it.
//!
//! Invariants kept here:
//! - **Last ID.** `last_id` is the greatest ID ever added (or set by XSETID),
//!   even after that entry is deleted; a new entry's ID must be greater.
//! - **Entries added.** `entries_added` counts every entry ever appended
//!   (XSETID may raise it); it never goes down, and is >= the length.
//! - **First ID.** `first_id` is the first live entry's ID, or 0-0 when the
//!   stream is empty; every delete and trim recomputes it.
//! - **Max deleted ID.** `max_deleted_id` is the greatest ID removed by XDEL
//!   (trimming does not move it, as in Redis). Together with `first_id` it
//!   tells whether a range may hold tombstones, which decides whether a
//!   group's `entries_read` can be kept exactly (see [`Stream::estimate_read`]).
//! - **PEL ownership.** Every pending entry of a group is in the group's
//!   `pel` and in exactly one consumer's `pel`, the one its `consumer` names;
//!   both are updated together by every read, claim, ack and delete.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use super::stream_tree::{Entry as StreamEntry, StreamId};
use super::stream_tree::{Entry, StreamTree};

/// A group's `entries_read` when it is unknown (Redis's SCG_INVALID_ENTRIES_READ).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

/// One pending (delivered, not yet acknowledged) entry of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The consumer that owns it.
    pub consumer: Box<[u8]>,
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumer {
    /// Unix ms of the last interaction (any read or claim attempt).
    pub seen_time: u64,
    /// Unix ms of the last successful read or claim; None before any.
    pub active_time: Option<u64>,
    /// IDs of this consumer's pending entries.
    pub pel: BTreeSet<StreamId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// The last ID delivered to the group (with `>`).
    pub last_id: StreamId,
    /// Logical count of entries read, or ENTRIES_READ_UNKNOWN.
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Pending>,
    /// Consumers by name, in name order (as Redis's rax lists them).
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    /// The consumer `name`, created if missing; true when it was created.
    pub fn consumer(&mut self, name: &[u8], now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.into())
            .or_insert_with(|| Consumer {
                seen_time: now,
                active_time: None,
                pel: BTreeSet::new(),
            });
        (c, created)
    }

    /// Drops `id` from the group's PEL and its owner's.
    pub fn forget(&mut self, id: StreamId) -> bool {
        let Some(p) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&p.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Gives pending entry `id` to `consumer` (which must exist), creating
    /// the entry when absent; returns it for the caller to update times.
    fn assign(&mut self, id: StreamId, consumer: &[u8], now: u64) -> &mut Pending {
        if let Some(old) = self.pel.get(&id) {
            if *old.consumer != *consumer {
                let previous = old.consumer.clone();
                if let Some(c) = self.consumers.get_mut(&previous) {
                    c.pel.remove(&id);
                }
            }
        }
        self.consumers
            .get_mut(consumer)
            .expect("the consumer exists")
            .pel
            .insert(id);
        let p = self.pel.entry(id).or_insert_with(|| Pending {
            consumer: consumer.into(),
            delivery_time: now,
            delivery_count: 0,
        });
        p.consumer = consumer.into();
        p
    }
}

/// How XADD picks the new entry's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewId {
    /// `*`: the clock, or one more than the last ID.
    Auto,
    /// `ms-*`: this millisecond, next free sequence.
    Ms(u64),
    /// `ms-seq`.
    Exact(StreamId),
}

/// Why an ID could not be given to a new entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// Not greater than the last ID.
    NotGreater,
    /// The last ID is the greatest possible one.
    Exhausted,
}

/// A trimming request (MAXLEN / MINID, `~`, LIMIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimTo {
    MaxLen(usize),
    MinId(StreamId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub to: TrimTo,
    pub approx: bool,
    /// Most entries one trim may remove (0: no limit); only with `approx`.
    pub limit: usize,
}

/// An entry read for a reply: None when the entry was deleted (a consumer's
/// history can name entries that are gone).
pub type ReadEntry = (StreamId, Option<Vec<(Vec<u8>, Vec<u8>)>>);

/// What one claim (XCLAIM / XAUTOCLAIM) did.
#[derive(Debug, Default)]
pub struct Claimed {
    pub entries: Vec<ReadEntry>,
    /// XAUTOCLAIM: entries found deleted and dropped from the PEL.
    pub deleted: Vec<StreamId>,
    /// XAUTOCLAIM: where the next call should start (0-0: scan complete).
    pub cursor: StreamId,
}

/// One XAUTOCLAIM scan: from `start`, up to `count` entries idle for at
/// least `min_idle` ms (JUSTID: without bumping delivery counts).
#[derive(Debug, Clone, Copy)]
pub struct AutoClaim {
    pub start: StreamId,
    pub min_idle: u64,
    pub count: usize,
    pub justid: bool,
}

/// Options of one XCLAIM.
#[derive(Debug, Clone, Copy)]
pub struct ClaimOpts {
    pub min_idle: u64,
    /// Delivery time to record (from IDLE / TIME), or now.
    pub delivery_time: u64,
    pub retry_count: Option<u64>,
    pub force: bool,
    pub justid: bool,
    pub last_id: StreamId,
}

pub struct Stream {
    tree: StreamTree,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    /// Groups by name, in name order.
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

impl Default for Stream {
    fn default() -> Self {
        Stream::new()
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("len", &self.len())
            .field("last_id", &self.last_id)
            .field("groups", &self.groups.len())
            .finish()
    }
}

impl Stream {
    pub fn new() -> Stream {
        Stream {
            tree: StreamTree::new(),
            last_id: StreamId::MIN,
            first_id: StreamId::MIN,
            max_deleted_id: StreamId::MIN,
            entries_added: 0,
            groups: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Leaves of the tree (XINFO's radix-tree-keys).
    pub fn leaves(&self) -> usize {
        self.tree.leaf_count()
    }

    /// Index nodes plus leaves (XINFO's radix-tree-nodes); at least 1, as
    /// Redis's empty radix tree has its head node.
    pub fn nodes(&self) -> usize {
        self.tree.node_count().max(1)
    }

    pub fn memory_bytes(&self) -> usize {
        self.tree.memory_bytes()
    }

    /// The ID XADD would give a new entry at `now_ms`.
    pub fn next_id(&self, want: NewId, now_ms: u64) -> Result<StreamId, IdError> {
        let last = self.last_id;
        if last == StreamId::MAX {
            return Err(IdError::Exhausted);
        }
        match want {
            NewId::Auto if now_ms > last.ms => Ok(StreamId::new(now_ms, 0)),
            NewId::Auto => Ok(incr(last).expect("not the maximum")),
            NewId::Ms(ms) if ms > last.ms => Ok(StreamId::new(ms, 0)),
            NewId::Ms(ms) if ms == last.ms && last.seq < u64::MAX => {
                Ok(StreamId::new(ms, last.seq + 1))
            }
            NewId::Ms(_) => Err(IdError::NotGreater),
            NewId::Exact(id) if id > last => Ok(id),
            NewId::Exact(_) => Err(IdError::NotGreater),
        }
    }

    /// Appends an entry; `id` comes from [`Stream::next_id`].
    pub fn add(&mut self, id: StreamId, fields: &[(&[u8], &[u8])]) {
        let was_empty = self.is_empty();
        self.tree
            .append(id, fields)
            .expect("the ID is greater than the last one");
        self.last_id = id;
        self.entries_added += 1;
        if was_empty {
            self.first_id = id;
        }
    }

    /// Entries with `start <= id <= end` (`end >= id >= start` descending
    /// when `rev`), at most `count` (0: all).
    pub fn range(&self, start: StreamId, end: StreamId, count: usize, rev: bool) -> Vec<Entry> {
        let count = (count > 0).then_some(count);
        let reader = self.tree.reader();
        if rev {
            reader.rev_range(end, start, count)
        } else {
            reader.range(start, end, count)
        }
    }

    /// The entry `id`, if it is live.
    pub fn get(&self, id: StreamId) -> Option<Entry> {
        self.range(id, id, 1, false).pop()
    }

    /// The last live entry's ID (Redis's streamLastValidID), 0-0 if empty.
    pub fn last_valid_id(&self) -> StreamId {
        self.range(StreamId::MIN, StreamId::MAX, 1, true)
            .first()
            .map_or(StreamId::MIN, |e| e.id)
    }

    fn refresh_first_id(&mut self) {
        self.first_id = self.tree.first_id().unwrap_or(StreamId::MIN);
    }

    /// XDEL: deletes the live entries among `ids`; returns how many.
    pub fn delete(&mut self, ids: &[StreamId]) -> usize {
        let mut deleted = 0;
        let mut first_gone = false;
        for &id in ids {
            if self.tree.delete(id) {
                deleted += 1;
                first_gone |= id == self.first_id;
                self.max_deleted_id = self.max_deleted_id.max(id);
            }
        }
        if first_gone || self.is_empty() {
            self.refresh_first_id();
        }
        deleted
    }

    /// XTRIM and XADD's trimming; returns entries removed.
    pub fn trim(&mut self, trim: Trim) -> usize {
        let limit = if trim.approx { trim.limit } else { 0 };
        let removed = match trim.to {
            TrimTo::MaxLen(n) => self.tree.trim_maxlen(n, trim.approx, limit),
            TrimTo::MinId(id) => self.tree.trim_minid(id, trim.approx, limit),
        };
        if removed > 0 {
            self.refresh_first_id();
        }
        removed
    }

    /// Whether `start..=end` may hold a deleted entry (streamRangeHasTombstones).
    pub fn has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.is_empty() || self.max_deleted_id == StreamId::MIN {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// The logical position of `id` counted from the first entry ever added,
    /// when it can be known (streamEstimateDistanceFromFirstEverEntry).
    pub fn estimate_read(&self, id: StreamId) -> i64 {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return 0;
        }
        if self.is_empty() && id <= self.last_id {
            return added;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return added,
            std::cmp::Ordering::Greater => return ENTRIES_READ_UNKNOWN,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_id == StreamId::MIN || self.max_deleted_id < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return added - self.len() as i64,
                std::cmp::Ordering::Equal => return added - self.len() as i64 + 1,
                std::cmp::Ordering::Greater => {}
            }
        }
        ENTRIES_READ_UNKNOWN
    }

    /// A group's lag (XINFO GROUPS), or None when it cannot be known.
    pub fn lag(&self, group: &Group) -> Option<i64> {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return Some(0);
        }
        if group.entries_read != ENTRIES_READ_UNKNOWN
            && !self.has_tombstones(group.last_id, StreamId::MAX)
        {
            return Some(added - group.entries_read);
        }
        let read = self.estimate_read(group.last_id);
        (read != ENTRIES_READ_UNKNOWN).then_some(added - read)
    }

    /// XGROUP CREATE; false when the name is taken.
    pub fn create_group(&mut self, name: &[u8], last_id: StreamId, entries_read: i64) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        let group = Group {
            last_id,
            entries_read,
            ..Group::default()
        };
        self.groups.insert(name.into(), group);
        true
    }

    /// XREADGROUP `>`: delivers up to `count` (0: all) entries after the
    /// group's last ID to `consumer`, recording them as pending unless `noack`.
    pub fn read_new(
        &mut self,
        group_name: &[u8],
        consumer: &[u8],
        count: usize,
        noack: bool,
        now: u64,
    ) -> Vec<ReadEntry> {
        let start = self.groups[group_name].last_id;
        let Some(start) = incr(start) else {
            return Vec::new();
        };
        let entries = self.range(start, StreamId::MAX, count, false);
        // Whether entries_read stays exact: computed before borrowing the group.
        let positions: Vec<(bool, i64)> = entries
            .iter()
            .map(|e| {
                (
                    self.has_tombstones(e.id, StreamId::MAX),
                    self.estimate_read(e.id),
                )
            })
            .collect();
        let group = self.groups.get_mut(group_name).expect("the group exists");
        group.consumer(consumer, now).0.seen_time = now;
        let mut out = Vec::with_capacity(entries.len());
        for (entry, (tombstones, estimate)) in entries.into_iter().zip(positions) {
            if entry.id > group.last_id {
                if group.entries_read != ENTRIES_READ_UNKNOWN && !tombstones {
                    group.entries_read += 1;
                } else if self.entries_added > 0 {
                    group.entries_read = estimate;
                }
                group.last_id = entry.id;
            }
            if !noack {
                let p = group.assign(entry.id, consumer, now);
                p.delivery_time = now;
                p.delivery_count = 1;
            }
            out.push((entry.id, Some(entry.fields)));
        }
        if !out.is_empty() {
            group.consumer(consumer, now).0.active_time = Some(now);
        }
        out
    }

    /// XREADGROUP with an ID: `consumer`'s own pending entries after `after`
    /// (inclusive of nothing before it), at most `count` (0: all). Each one
    /// still in the stream counts as delivered again.
    pub fn read_history(
        &mut self,
        group_name: &[u8],
        consumer: &[u8],
        start: StreamId,
        count: usize,
        now: u64,
    ) -> Vec<ReadEntry> {
        let group = self.groups.get(group_name).expect("the group exists");
        let ids: Vec<StreamId> = group
            .consumers
            .get(consumer)
            .map(|c| {
                let ids = c.pel.range(start..).copied();
                if count > 0 {
                    ids.take(count).collect()
                } else {
                    ids.collect()
                }
            })
            .unwrap_or_default();
        let found: Vec<ReadEntry> = ids
            .iter()
            .map(|&id| (id, self.get(id).map(|e| e.fields)))
            .collect();
        let group = self.groups.get_mut(group_name).expect("the group exists");
        group.consumer(consumer, now).0.seen_time = now;
        for (id, fields) in &found {
            if fields.is_some() {
                if let Some(p) = group.pel.get_mut(id) {
                    p.delivery_time = now;
                    p.delivery_count += 1;
                }
            }
        }
        found
    }

    /// XCLAIM of `ids` by `consumer`.
    pub fn claim(
        &mut self,
        group_name: &[u8],
        consumer: &[u8],
        ids: &[StreamId],
        opts: ClaimOpts,
        now: u64,
    ) -> Vec<ReadEntry> {
        let live: Vec<Option<Entry>> = ids.iter().map(|&id| self.get(id)).collect();
        let group = self.groups.get_mut(group_name).expect("the group exists");
        // Redis 7.2 creates the consumer even when it claims nothing.
        group.consumer(consumer, now).0.seen_time = now;
        if opts.last_id > group.last_id {
            group.last_id = opts.last_id;
        }
        let mut out = Vec::new();
        for (&id, entry) in ids.iter().zip(live) {
            let Some(entry) = entry else {
                // Gone from the stream: it must not stay pending either.
                group.forget(id);
                continue;
            };
            let pending = group.pel.get(&id);
            if pending.is_none() && !opts.force {
                continue;
            }
            if let Some(p) = pending {
                if opts.min_idle > 0 && now.saturating_sub(p.delivery_time) < opts.min_idle {
                    continue;
                }
            }
            group.consumer(consumer, now).0.active_time = Some(now);
            let p = group.assign(id, consumer, now);
            p.delivery_time = opts.delivery_time;
            match opts.retry_count {
                Some(n) => p.delivery_count = n,
                None if !opts.justid => p.delivery_count += 1,
                None => {}
            }
            out.push((id, (!opts.justid).then_some(entry.fields)));
        }
        out
    }

    /// XAUTOCLAIM: scans the group's PEL from `start` and gives `consumer`
    /// up to `count` entries idle for at least `min_idle` ms, looking at no
    /// more than `count * 10` entries; entries deleted from the stream are
    /// dropped from the PEL and reported.
    pub fn auto_claim(
        &mut self,
        group_name: &[u8],
        consumer: &[u8],
        scan: AutoClaim,
        now: u64,
    ) -> Claimed {
        let AutoClaim {
            start,
            min_idle,
            count,
            justid,
        } = scan;
        let mut done = Claimed::default();
        let group = self.groups.get_mut(group_name).expect("the group exists");
        group.consumer(consumer, now).0.seen_time = now;
        let mut attempts = count.saturating_mul(10);
        let mut left = count;
        let mut from = Some(start);
        let mut exhausted = false;
        while attempts > 0 && left > 0 {
            attempts -= 1;
            let next = from.and_then(|f| {
                let group = &self.groups[group_name];
                group.pel.range(f..).next().map(|(id, _)| *id)
            });
            let Some(id) = next else {
                exhausted = true;
                break;
            };
            from = incr(id);
            let entry = self.get(id);
            let group = self.groups.get_mut(group_name).expect("the group exists");
            let Some(entry) = entry else {
                group.forget(id);
                done.deleted.push(id);
                left -= 1;
                continue;
            };
            let idle = now.saturating_sub(group.pel[&id].delivery_time);
            if min_idle > 0 && idle < min_idle {
                continue;
            }
            group.consumer(consumer, now).0.active_time = Some(now);
            let p = group.assign(id, consumer, now);
            p.delivery_time = now;
            if !justid {
                p.delivery_count += 1;
            }
            done.entries.push((id, (!justid).then_some(entry.fields)));
            left -= 1;
        }
        done.cursor = if exhausted {
            StreamId::MIN
        } else {
            from.and_then(|f| {
                self.groups[group_name]
                    .pel
                    .range(f..)
                    .next()
                    .map(|(id, _)| *id)
            })
            .unwrap_or(StreamId::MIN)
        };
        done
    }

    /// The stream as it is now, for a snapshot to encode on another thread
    /// while this one keeps changing (see [`StreamTree::freeze`]): the
    /// entries through the tree's frozen view, the rest copied.
    pub fn freeze(&self) -> FrozenStream {
        FrozenStream {
            entries: self.tree.freeze(),
            last_id: self.last_id,
            first_id: self.first_id,
            max_deleted_id: self.max_deleted_id,
            entries_added: self.entries_added,
            groups: self.groups.clone(),
        }
    }

    /// Copies every entry and all metadata into a new stream (COPY, RESTORE-like moves).
    pub fn deep_clone(&self) -> Stream {
        let mut s = Stream::new();
        for e in self.range(StreamId::MIN, StreamId::MAX, 0, false) {
            let fields: Vec<(&[u8], &[u8])> = e
                .fields
                .iter()
                .map(|(f, v)| (f.as_slice(), v.as_slice()))
                .collect();
            s.tree.append(e.id, &fields).expect("ascending IDs");
        }
        s.last_id = self.last_id;
        s.first_id = self.first_id;
        s.max_deleted_id = self.max_deleted_id;
        s.entries_added = self.entries_added;
        s.groups = self.groups.clone();
        s
    }
}

/// A stream at one moment, readable from any thread ([`Stream::freeze`]).
pub struct FrozenStream {
    pub entries: super::stream_tree::Frozen,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

/// The next ID after `id`, or None at the maximum.
pub fn incr(id: StreamId) -> Option<StreamId> {
    if id.seq < u64::MAX {
        Some(StreamId::new(id.ms, id.seq + 1))
    } else if id.ms < u64::MAX {
        Some(StreamId::new(id.ms + 1, 0))
    } else {
        None
    }
}

/// The ID before `id`, or None at 0-0.
pub fn decr(id: StreamId) -> Option<StreamId> {
    if id.seq > 0 {
        Some(StreamId::new(id.ms, id.seq - 1))
    } else if id.ms > 0 {
        Some(StreamId::new(id.ms - 1, u64::MAX))
    } else {
        None
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn stream_of(n: u64) -> Stream {
        let mut s = Stream::new();
        for i in 1..=n {
            s.add(id(i, 0), &[(b"f", b"v")]);
        }
        s
    }

    #[test]
    fn ids_follow_the_last_one() {
        let mut s = Stream::new();
        assert_eq!(s.next_id(NewId::Auto, 100), Ok(id(100, 0)));
        s.add(id(100, 5), &[(b"f", b"v")]);
        assert_eq!(s.next_id(NewId::Auto, 50), Ok(id(100, 6)));
        assert_eq!(s.next_id(NewId::Ms(100), 0), Ok(id(100, 6)));
        assert_eq!(s.next_id(NewId::Ms(99), 0), Err(IdError::NotGreater));
        assert_eq!(
            s.next_id(NewId::Exact(id(100, 5)), 0),
            Err(IdError::NotGreater)
        );
        s.last_id = StreamId::MAX;
        assert_eq!(s.next_id(NewId::Auto, 0), Err(IdError::Exhausted));
    }

    #[test]
    fn delete_keeps_first_and_max_deleted() {
        let mut s = stream_of(5);
        assert_eq!(s.delete(&[id(1, 0), id(3, 0), id(9, 0)]), 2);
        assert_eq!(s.first_id, id(2, 0));
        assert_eq!(s.max_deleted_id, id(3, 0));
        assert_eq!(s.len(), 3);
        assert_eq!(s.entries_added, 5);
        s.delete(&[id(2, 0), id(4, 0), id(5, 0)]);
        assert_eq!(s.first_id, StreamId::MIN);
        assert_eq!(s.last_id, id(5, 0));
    }

    #[test]
    fn group_reads_record_pending_once_per_consumer() {
        let mut s = stream_of(4);
        assert!(s.create_group(b"g", StreamId::MIN, 0));
        assert!(!s.create_group(b"g", StreamId::MIN, 0));
        let got = s.read_new(b"g", b"alice", 3, false, 1000);
        assert_eq!(got.len(), 3);
        let got = s.read_new(b"g", b"bob", 0, false, 1000);
        assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), [id(4, 0)]);
        let g = &s.groups[&b"g"[..]];
        assert_eq!(g.entries_read, 4);
        assert_eq!(g.pel.len(), 4);
        assert_eq!(g.consumers[&b"alice"[..]].pel.len(), 3);
        assert_eq!(s.lag(g), Some(0));
        // Bob takes one of Alice's: ownership moves, it is never in both.
        let opts = ClaimOpts {
            min_idle: 0,
            delivery_time: 2000,
            retry_count: None,
            force: false,
            justid: false,
            last_id: StreamId::MIN,
        };
        let got = s.claim(b"g", b"bob", &[id(1, 0)], opts, 2000);
        assert_eq!(got.len(), 1);
        let g = &s.groups[&b"g"[..]];
        assert_eq!(g.pel[&id(1, 0)].delivery_count, 2);
        assert!(!g.consumers[&b"alice"[..]].pel.contains(&id(1, 0)));
        assert!(g.consumers[&b"bob"[..]].pel.contains(&id(1, 0)));
    }

    #[test]
    fn autoclaim_drops_deleted_and_returns_a_cursor() {
        let mut s = stream_of(6);
        s.create_group(b"g", StreamId::MIN, 0);
        s.read_new(b"g", b"a", 0, false, 1000);
        s.delete(&[id(2, 0)]);
        let scan = |start, count, justid| AutoClaim {
            start,
            min_idle: 10,
            count,
            justid,
        };
        let c = s.auto_claim(b"g", b"b", scan(StreamId::MIN, 3, false), 2000);
        assert_eq!(c.entries.len(), 2);
        assert_eq!(c.deleted, [id(2, 0)]);
        assert_eq!(c.cursor, id(4, 0));
        assert!(!s.groups[&b"g"[..]].pel.contains_key(&id(2, 0)));
        let c = s.auto_claim(b"g", b"b", scan(c.cursor, 10, true), 2000);
        assert_eq!(c.entries.len(), 3);
        assert_eq!(c.cursor, StreamId::MIN);
    }

    #[test]
    fn lag_is_unknown_across_a_tombstone() {
        let mut s = stream_of(5);
        s.create_group(b"g", StreamId::MIN, 0);
        s.read_new(b"g", b"a", 1, true, 0);
        assert_eq!(s.lag(&s.groups[&b"g"[..]]), Some(4));
        s.delete(&[id(3, 0)]);
        assert_eq!(s.lag(&s.groups[&b"g"[..]]), None);
    }
}
