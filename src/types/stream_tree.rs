//! Storage structure for Redis streams: an ordered index of compact leaves.
//!
//! # Layout
//!
//! * **Leaves** pack up to `leaf_max_entries` entries / `leaf_max_bytes` bytes
//!   (defaults 100 / 4096, like Redis' `stream-node-max-entries` /
//!   `stream-node-max-bytes`) into one byte buffer. Each entry is encoded as
//!   `flags:u8, varint ms_delta, varint seq, payload` where `ms_delta` is
//!   relative to the leaf's first ID and `seq` is relative to the first ID's
//!   seq when `ms_delta == 0` (raw otherwise). If the entry's field names equal
//!   the leaf's first ("master") entry's field names, flag `SAME_FIELDS` is set
//!   and only the values are stored (`varint len, bytes` each); otherwise
//!   `varint n` followed by `n` × (`varint flen, field, varint vlen, value`).
//!   Deletion sets the `DELETED` flag; a leaf whose entries are all deleted is
//!   removed from the index.
//! * **Index**: a persistent (copy-on-write, path-copying) B+-tree whose keys
//!   are the leaves' first IDs (`fanout` children per node, default 64). It is
//!   an ordered index over leaf first-IDs, chosen over a byte-wise radix tree
//!   because stream IDs are appended in order (a right-heavy B+-tree fills
//!   nodes completely, the rightmost path is the only one touched by appends)
//!   and path copying a B+-tree is simple and cheap (height × fanout pointers).
//!   Separator keys are lower bounds: `keys[i]` is ≤ every ID in child `i`
//!   and > every ID in children `< i`. Removing entries or whole children never
//!   invalidates that, so keys are never rewritten. Nodes are not rebalanced
//!   on removal (empty nodes are removed, a single-child root is collapsed).
//!
//! # Concurrency invariants
//!
//! * **Exactly one writer** (the [`StreamTree`] owner, `&mut self`) mutates.
//!   Any number of [`Reader`]s (Send + Sync + Clone) scan concurrently with no
//!   locks, pinned with `crossbeam_epoch`.
//! * Index nodes are **immutable once published**. The writer builds the new
//!   path (new nodes sharing unchanged children), then publishes the new root
//!   with a `Release` store; readers load the root with `Acquire`, so they see
//!   fully-initialised nodes. A reader sees either the old or the new tree.
//! * A leaf's bytes below its published `used` length are **immutable**. The
//!   only in-place mutation is appending to the tail leaf: the writer writes the
//!   encoded entry into preallocated, not-yet-published capacity (the buffer is
//!   never reallocated) and then stores the new `used` with `Release`. Readers
//!   load `used` with `Acquire` and never read past it, so mid-append a reader
//!   sees a consistent prefix of the leaf's entries, in ID order, never a torn
//!   entry. Any other leaf modification (delete flag, trim, compaction of a
//!   full tail leaf to its exact size) is copy-on-write: a new leaf is built and
//!   swapped into the index via path copying.
//! * **Retirement**: a replaced/removed node or leaf is unlinked from the
//!   newly-published tree and handed to `guard.defer_destroy`. It is freed only
//!   after every reader that was pinned when it was unlinked (and so could have
//!   seen it) has unpinned. Retiring a node never frees its children (they are
//!   raw pointers shared with the new path); leaves are retired only when they
//!   are no longer reachable from the current root.
//! * Whatever is still reachable from the root when the last handle
//!   ([`StreamTree`] or [`Reader`]) is dropped is freed by `Inner::drop`.
//! * `len` is a separate atomic, so a reader's `len()` may momentarily
//!   disagree with what a concurrent scan sees.

use crossbeam_epoch::{self as epoch, Atomic, Guard, Shared};
use std::cell::UnsafeCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// 128-bit stream entry ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };
    pub fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }
    /// The 16 big-endian bytes whose lexicographic order equals ID order.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }
}

/// Owned copy of an entry, returned to readers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: StreamId,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendError {
    /// The ID is not greater than the stream's last ID.
    IdNotGreater { last: StreamId },
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::IdNotGreater { .. } => f.write_str(
                "The ID specified in XADD is equal or smaller than the target stream top item",
            ),
        }
    }
}
impl std::error::Error for AppendError {}

const DELETED: u8 = 1;
const SAME_FIELDS: u8 = 2;

// ---------------------------------------------------------------- varints

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes a varint at `*pos`. Only ever called on bytes the writer produced.
fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let n = get_varint(buf, pos) as usize;
    let s = &buf[*pos..*pos + n];
    *pos += n;
    s
}

// ---------------------------------------------------------------- leaves

struct Leaf {
    first: StreamId,
    /// Field names of the leaf's first entry.
    master: Box<[Box<[u8]>]>,
    /// Preallocated, never reallocated. Bytes `< used` are immutable.
    buf: Box<[UnsafeCell<u8>]>,
    /// Published byte length (Release by the writer, Acquire by readers).
    used: AtomicUsize,
    // Writer-only bookkeeping (Relaxed; readers never look at these).
    count: AtomicUsize,
    live: AtomicUsize,
    last_ms: AtomicU64,
    last_seq: AtomicU64,
}

/// Position of one decoded entry header inside a leaf.
struct RawEntry {
    id: StreamId,
    flags_at: usize,
    flags: u8,
    payload: usize,
    end: usize,
}

impl Leaf {
    fn alloc_buf(cap: usize) -> Box<[UnsafeCell<u8>]> {
        (0..cap).map(|_| UnsafeCell::new(0)).collect()
    }

    fn new(first: StreamId, master: Box<[Box<[u8]>]>, cap: usize) -> Leaf {
        Leaf {
            first,
            master,
            buf: Self::alloc_buf(cap),
            used: AtomicUsize::new(0),
            count: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            last_ms: AtomicU64::new(first.ms),
            last_seq: AtomicU64::new(first.seq),
        }
    }

    fn cap(&self) -> usize {
        self.buf.len()
    }

    /// The published prefix of the buffer.
    fn bytes(&self) -> &[u8] {
        let used = self.used.load(Ordering::Acquire);
        // SAFETY: `UnsafeCell<u8>` is `repr(transparent)` over `u8`, and
        // `used <= buf.len()`. Bytes below the published `used` are never
        // written again (appends only write at offsets >= used before
        // publishing; every other change is copy-on-write), and the Acquire
        // load synchronises with the writer's Release store after it wrote
        // them. So no write overlaps this shared slice while it lives.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr() as *const u8, used) }
    }

    fn last_id(&self) -> StreamId {
        StreamId::new(
            self.last_ms.load(Ordering::Relaxed),
            self.last_seq.load(Ordering::Relaxed),
        )
    }

    fn same_fields(&self, fields: &[(&[u8], &[u8])]) -> bool {
        self.master.len() == fields.len()
            && self.master.iter().zip(fields).all(|(m, f)| &m[..] == f.0)
    }

    fn encode(&self, id: StreamId, fields: &[(&[u8], &[u8])], out: &mut Vec<u8>) {
        let same = self.same_fields(fields);
        out.push(if same { SAME_FIELDS } else { 0 });
        let ms_delta = id.ms - self.first.ms;
        put_varint(out, ms_delta);
        put_varint(
            out,
            if ms_delta == 0 {
                id.seq - self.first.seq
            } else {
                id.seq
            },
        );
        if same {
            for (_, v) in fields {
                put_varint(out, v.len() as u64);
                out.extend_from_slice(v);
            }
        } else {
            put_varint(out, fields.len() as u64);
            for (f, v) in fields {
                put_varint(out, f.len() as u64);
                out.extend_from_slice(f);
                put_varint(out, v.len() as u64);
                out.extend_from_slice(v);
            }
        }
    }

    /// Writer only: append already-encoded bytes into unpublished capacity and
    /// publish them.
    fn push_encoded(&self, id: StreamId, enc: &[u8]) {
        let used = self.used.load(Ordering::Relaxed);
        assert!(used + enc.len() <= self.cap());
        // SAFETY: only the single writer calls this. Bytes at offsets >= used
        // are not yet published, so no reader reads them (readers never read
        // past the `used` they loaded, which is <= this `used`). The buffer is
        // never reallocated, and the range is in bounds (asserted above).
        unsafe {
            let dst = (self.buf.as_ptr() as *mut u8).add(used);
            std::ptr::copy_nonoverlapping(enc.as_ptr(), dst, enc.len());
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.live.fetch_add(1, Ordering::Relaxed);
        self.last_ms.store(id.ms, Ordering::Relaxed);
        self.last_seq.store(id.seq, Ordering::Relaxed);
        self.used.store(used + enc.len(), Ordering::Release);
    }

    /// Writer only: copy of this leaf with capacity `cap`, entries at the
    /// given flag offsets marked deleted. Returns the number newly deleted.
    fn copy_with_deleted(&self, cap: usize, del_at: &[usize]) -> (Leaf, usize) {
        let src = self.bytes();
        let mut data = src.to_vec();
        let mut n = 0;
        for &at in del_at {
            if data[at] & DELETED == 0 {
                data[at] |= DELETED;
                n += 1;
            }
        }
        let cap = cap.max(data.len());
        let buf: Box<[UnsafeCell<u8>]> = (0..cap)
            .map(|i| UnsafeCell::new(data.get(i).copied().unwrap_or(0)))
            .collect();
        let leaf = Leaf {
            first: self.first,
            master: self.master.clone(),
            buf,
            used: AtomicUsize::new(data.len()),
            count: AtomicUsize::new(self.count.load(Ordering::Relaxed)),
            live: AtomicUsize::new(self.live.load(Ordering::Relaxed) - n),
            last_ms: AtomicU64::new(self.last_ms.load(Ordering::Relaxed)),
            last_seq: AtomicU64::new(self.last_seq.load(Ordering::Relaxed)),
        };
        (leaf, n)
    }

    fn decode_header(&self, buf: &[u8], pos: usize) -> RawEntry {
        let mut p = pos;
        let flags = buf[p];
        p += 1;
        let ms_delta = get_varint(buf, &mut p);
        let s = get_varint(buf, &mut p);
        let id = if ms_delta == 0 {
            StreamId::new(self.first.ms, self.first.seq + s)
        } else {
            StreamId::new(self.first.ms + ms_delta, s)
        };
        let payload = p;
        if flags & SAME_FIELDS != 0 {
            for _ in 0..self.master.len() {
                get_bytes(buf, &mut p);
            }
        } else {
            let n = get_varint(buf, &mut p);
            for _ in 0..n {
                get_bytes(buf, &mut p);
                get_bytes(buf, &mut p);
            }
        }
        RawEntry {
            id,
            flags_at: pos,
            flags,
            payload,
            end: p,
        }
    }

    fn decode_fields(&self, buf: &[u8], e: &RawEntry) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut p = e.payload;
        if e.flags & SAME_FIELDS != 0 {
            self.master
                .iter()
                .map(|f| (f.to_vec(), get_bytes(buf, &mut p).to_vec()))
                .collect()
        } else {
            let n = get_varint(buf, &mut p) as usize;
            (0..n)
                .map(|_| {
                    let f = get_bytes(buf, &mut p).to_vec();
                    (f, get_bytes(buf, &mut p).to_vec())
                })
                .collect()
        }
    }

    /// Iterate over all entry headers in the published prefix.
    fn headers<'a>(&'a self, buf: &'a [u8]) -> impl Iterator<Item = RawEntry> + 'a {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= buf.len() {
                return None;
            }
            let e = self.decode_header(buf, pos);
            pos = e.end;
            Some(e)
        })
    }

    /// Returns true when `limit` is reached.
    fn scan_fwd(&self, start: StreamId, end: StreamId, out: &mut Vec<Entry>, limit: usize) -> bool {
        let buf = self.bytes();
        for e in self.headers(buf) {
            if e.id > end {
                return false;
            }
            if e.id < start || e.flags & DELETED != 0 {
                continue;
            }
            out.push(Entry {
                id: e.id,
                fields: self.decode_fields(buf, &e),
            });
            if out.len() >= limit {
                return true;
            }
        }
        false
    }

    fn scan_rev(&self, start: StreamId, end: StreamId, out: &mut Vec<Entry>, limit: usize) -> bool {
        let buf = self.bytes();
        let hits: Vec<RawEntry> = self
            .headers(buf)
            .take_while(|e| e.id <= end)
            .filter(|e| e.id >= start && e.flags & DELETED == 0)
            .collect();
        for e in hits.iter().rev() {
            out.push(Entry {
                id: e.id,
                fields: self.decode_fields(buf, e),
            });
            if out.len() >= limit {
                return true;
            }
        }
        false
    }

    fn memory(&self) -> usize {
        std::mem::size_of::<Leaf>()
            + self.cap()
            + self.master.len() * std::mem::size_of::<Box<[u8]>>()
            + self.master.iter().map(|m| m.len()).sum::<usize>()
    }
}

// ---------------------------------------------------------------- index

/// Immutable once published. `kids` are `*const Leaf` when `height == 0`,
/// `*const Node` otherwise. Dropping a node never drops its children.
struct Node {
    height: u32,
    keys: Vec<StreamId>,
    kids: Vec<*const ()>,
}

impl Node {
    fn leaf(&self, i: usize) -> &Leaf {
        debug_assert_eq!(self.height, 0);
        // SAFETY: at height 0 every kid is a live `Leaf` reachable from a
        // root that the caller's guard (or the single writer) keeps alive;
        // leaves are only freed via `defer_destroy` after being unlinked.
        unsafe { &*(self.kids[i] as *const Leaf) }
    }
    fn child(&self, i: usize) -> &Node {
        debug_assert!(self.height > 0);
        // SAFETY: as in `leaf`, for `Node` children of internal nodes.
        unsafe { &*(self.kids[i] as *const Node) }
    }
    /// Index of the last child whose key is <= id (0 if none).
    fn slot(&self, id: StreamId) -> usize {
        self.keys.partition_point(|k| *k <= id).saturating_sub(1)
    }
    fn with(height: u32, keys: Vec<StreamId>, kids: Vec<*const ()>) -> *const () {
        Box::into_raw(Box::new(Node { height, keys, kids })) as *const ()
    }
    fn memory(&self) -> usize {
        std::mem::size_of::<Node>()
            + self.keys.capacity() * std::mem::size_of::<StreamId>()
            + self.kids.capacity() * std::mem::size_of::<*const ()>()
    }
}

fn copy_vec<T: Copy>(v: &[T], extra: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(v.len() + extra);
    out.extend_from_slice(v);
    out
}

/// Append `leaf` (key `key`) at the right edge below `node`.
/// Returns (replacement for `node` if it had to change, new right sibling).
/// Old nodes that were replaced are pushed to `retired`.
fn push_back(
    node: &Node,
    key: StreamId,
    kid: *const (),
    fanout: usize,
    retired: &mut Vec<*const Node>,
) -> (Option<*const ()>, Option<*const ()>) {
    let (new_last, sibling) = if node.height == 0 {
        (None, Some(kid))
    } else {
        let last = node.kids.len() - 1;
        push_back(node.child(last), key, kid, fanout, retired)
    };
    if new_last.is_none() && sibling.is_none() {
        return (None, None);
    }
    let grow = sibling.is_some() && node.kids.len() < fanout;
    let mut keys = copy_vec(&node.keys, grow as usize);
    let mut kids = copy_vec(&node.kids, grow as usize);
    if let Some(n) = new_last {
        *kids.last_mut().unwrap() = n;
    }
    let mut my_sibling = None;
    if let Some(s) = sibling {
        if grow {
            keys.push(key);
            kids.push(s);
        } else {
            my_sibling = Some(Node::with(node.height, vec![key], vec![s]));
        }
    }
    if new_last.is_none() && my_sibling.is_some() {
        // Node itself unchanged.
        return (None, my_sibling);
    }
    retired.push(node as *const Node);
    (Some(Node::with(node.height, keys, kids)), my_sibling)
}

enum Edit {
    Replace(*const Leaf),
    Remove,
}

/// Path-copy `node`, applying `edit` to the leaf `target` with first ID `key`.
/// Returns the new node (`None` if it became empty). `node` is retired.
fn edit_path(
    node: &Node,
    key: StreamId,
    target: *const Leaf,
    edit: &Edit,
    retired: &mut Vec<*const Node>,
) -> Option<*const ()> {
    let i = node.slot(key);
    let mut keys = node.keys.clone();
    let mut kids = node.kids.clone();
    let replacement = if node.height == 0 {
        assert_eq!(kids[i] as *const Leaf, target, "leaf not found in index");
        match edit {
            Edit::Replace(p) => Some(*p as *const ()),
            Edit::Remove => None,
        }
    } else {
        edit_path(node.child(i), key, target, edit, retired)
    };
    match replacement {
        Some(p) => kids[i] = p,
        None => {
            keys.remove(i);
            kids.remove(i);
        }
    }
    retired.push(node as *const Node);
    if kids.is_empty() {
        None
    } else {
        keys.shrink_to_fit();
        kids.shrink_to_fit();
        Some(Node::with(node.height, keys, kids))
    }
}

/// Recursively frees everything reachable from `node` (no readers may exist).
///
/// # Safety
/// Caller must have exclusive access to the tree rooted at `node`.
unsafe fn free_tree(node: *const Node) {
    // SAFETY: exclusive access per the function contract; every node/leaf
    // reachable from the root was created with `Box::into_raw`/`Owned` and is
    // referenced exactly once from the current tree.
    unsafe {
        let n = Box::from_raw(node as *mut Node);
        for &k in &n.kids {
            if n.height == 0 {
                drop(Box::from_raw(k as *mut Leaf));
            } else {
                free_tree(k as *const Node);
            }
        }
    }
}

fn walk_fwd(n: &Node, start: StreamId, end: StreamId, out: &mut Vec<Entry>, limit: usize) -> bool {
    for i in n.slot(start)..n.kids.len() {
        if n.keys[i] > end {
            return false;
        }
        let done = if n.height == 0 {
            n.leaf(i).scan_fwd(start, end, out, limit)
        } else {
            walk_fwd(n.child(i), start, end, out, limit)
        };
        if done {
            return true;
        }
    }
    false
}

fn walk_rev(n: &Node, start: StreamId, end: StreamId, out: &mut Vec<Entry>, limit: usize) -> bool {
    for i in (0..=n.slot(end)).rev() {
        let done = if n.height == 0 {
            n.leaf(i).scan_rev(start, end, out, limit)
        } else {
            walk_rev(n.child(i), start, end, out, limit)
        };
        // Children before `i` hold IDs < keys[i] <= start.
        if done || n.keys[i] <= start {
            return done;
        }
    }
    false
}

// ---------------------------------------------------------------- shared

struct Inner {
    root: Atomic<Node>,
    len: AtomicUsize,
}

// SAFETY: `Inner` only contains atomics and pointers to immutable-once-published
// nodes and leaves whose mutable parts are atomics or the append-only buffer
// protocol described in the module docs; only the single `StreamTree` writes.
unsafe impl Send for Inner {}
// SAFETY: see `Send` above.
unsafe impl Sync for Inner {}

impl Drop for Inner {
    fn drop(&mut self) {
        // SAFETY: this is the last handle, so nobody else can reach the tree.
        unsafe {
            let g = epoch::unprotected();
            let root = self.root.load(Ordering::Acquire, g);
            if !root.is_null() {
                free_tree(root.as_raw());
            }
        }
    }
}

/// Cheap, cloneable, lock-free read handle (Send + Sync).
#[derive(Clone)]
pub struct Reader {
    inner: Arc<Inner>,
}

impl Reader {
    /// Entries with `start <= id <= end`, ascending, at most `count`.
    pub fn range(&self, start: StreamId, end: StreamId, count: Option<usize>) -> Vec<Entry> {
        let limit = count.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if start > end || limit == 0 {
            return out;
        }
        let guard = epoch::pin();
        let root = self.inner.root.load(Ordering::Acquire, &guard);
        // SAFETY: the root is kept alive by `guard` (only freed via
        // defer_destroy after unlinking) and immutable once published.
        if let Some(r) = unsafe { root.as_ref() } {
            walk_fwd(r, start, end, &mut out, limit);
        }
        out
    }

    /// Entries with `start <= id <= end`, descending, at most `count`.
    pub fn rev_range(&self, end: StreamId, start: StreamId, count: Option<usize>) -> Vec<Entry> {
        let limit = count.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if start > end || limit == 0 {
            return out;
        }
        let guard = epoch::pin();
        let root = self.inner.root.load(Ordering::Acquire, &guard);
        // SAFETY: as in `range`.
        if let Some(r) = unsafe { root.as_ref() } {
            walk_rev(r, start, end, &mut out, limit);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.inner.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// ---------------------------------------------------------------- writer

/// The writer side. Owned by exactly one thread; readers via [`Reader`].
pub struct StreamTree {
    inner: Arc<Inner>,
    /// The last leaf in the index (append target), or null.
    tail: *const Leaf,
    last_id: Option<StreamId>,
    len: usize,
    leaf_max_entries: usize,
    leaf_max_bytes: usize,
    fanout: usize,
    scratch: Vec<u8>,
}

// SAFETY: `tail` points into the tree owned through `inner`; moving the
// writer to another thread moves the unique write capability with it.
unsafe impl Send for StreamTree {}

impl Default for StreamTree {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamTree {
    pub fn new() -> Self {
        Self::with_params(100, 4096, 64)
    }

    /// `leaf_max_entries` / `leaf_max_bytes` bound a leaf (a single entry
    /// larger than `leaf_max_bytes` gets a leaf of its own); `fanout` is the
    /// index node width (>= 2).
    pub fn with_params(leaf_max_entries: usize, leaf_max_bytes: usize, fanout: usize) -> Self {
        assert!(leaf_max_entries >= 1 && fanout >= 2);
        StreamTree {
            inner: Arc::new(Inner {
                root: Atomic::null(),
                len: AtomicUsize::new(0),
            }),
            tail: std::ptr::null(),
            last_id: None,
            len: 0,
            leaf_max_entries,
            leaf_max_bytes,
            fanout,
            scratch: Vec::new(),
        }
    }

    pub fn reader(&self) -> Reader {
        Reader {
            inner: self.inner.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Last ID ever appended (kept even if that entry was deleted, like Redis).
    pub fn last_id(&self) -> Option<StreamId> {
        self.last_id
    }

    /// First live ID.
    pub fn first_id(&self) -> Option<StreamId> {
        self.reader()
            .range(StreamId::MIN, StreamId::MAX, Some(1))
            .first()
            .map(|e| e.id)
    }

    fn root<'g>(&self, g: &'g Guard) -> Option<&'g Node> {
        // SAFETY: only this writer changes the root; whatever it loads stays
        // alive at least while `g` is pinned.
        unsafe { self.inner.root.load(Ordering::Acquire, g).as_ref() }
    }

    fn set_root(&self, new: Option<*const ()>, retired: Vec<*const Node>, g: &Guard) {
        let s: Shared<'_, Node> = match new {
            Some(p) => Shared::from(p as *const Node),
            None => Shared::null(),
        };
        self.inner.root.store(s, Ordering::Release);
        for old in retired {
            // SAFETY: `old` has just been unlinked from the published tree by
            // the store above; readers that still see it are pinned, so it is
            // freed after they unpin. Dropping a Node does not free children.
            unsafe { g.defer_destroy(Shared::from(old)) };
        }
    }

    fn retire_leaf(leaf: *const Leaf, g: &Guard) {
        // SAFETY: the leaf was unlinked from the published tree before this
        // call; only pinned readers can still hold it.
        unsafe { g.defer_destroy(Shared::from(leaf)) };
    }

    /// Replace (or remove) leaf `old` in the index and retire it.
    fn edit_leaf(&mut self, old: *const Leaf, edit: Edit, g: &Guard) {
        // SAFETY: `old` is reachable from the current root (writer-only).
        let key = unsafe { (*old).first };
        let root = self.root(g).expect("edit on empty tree");
        let mut retired = Vec::new();
        let mut new_root = edit_path(root, key, old, &edit, &mut retired);
        // Collapse single-child internal roots.
        while let Some(p) = new_root {
            // SAFETY: `p` was just created by `edit_path` and is unpublished.
            let n = unsafe { &*(p as *const Node) };
            if n.height > 0 && n.kids.len() == 1 {
                new_root = Some(n.kids[0]);
                // SAFETY: unpublished, never seen by readers: free directly.
                unsafe { drop(Box::from_raw(p as *mut Node)) };
            } else {
                break;
            }
        }
        self.set_root(new_root, retired, g);
        match edit {
            Edit::Replace(new) if self.tail == old => self.tail = new,
            Edit::Remove if self.tail == old => self.tail = std::ptr::null(),
            _ => {}
        }
        Self::retire_leaf(old, g);
    }

    fn push_leaf(&mut self, leaf: Leaf, g: &Guard) {
        let key = leaf.first;
        let p = Box::into_raw(Box::new(leaf)) as *const Leaf;
        let mut retired = Vec::new();
        let new_root = match self.root(g) {
            None => Node::with(0, vec![key], vec![p as *const ()]),
            Some(root) => {
                let old_root = root as *const Node as *const ();
                match push_back(root, key, p as *const (), self.fanout, &mut retired) {
                    (repl, None) => repl.expect("push_back changed nothing"),
                    (repl, Some(sib)) => {
                        let left = repl.unwrap_or(old_root);
                        let first = root.keys[0];
                        Node::with(root.height + 1, vec![first, key], vec![left, sib])
                    }
                }
            }
        };
        self.set_root(Some(new_root), retired, g);
        self.tail = p;
    }

    /// Append an entry; `id` must be greater than the last ID.
    pub fn append(&mut self, id: StreamId, fields: &[(&[u8], &[u8])]) -> Result<(), AppendError> {
        if let Some(last) = self.last_id.filter(|&last| id <= last) {
            return Err(AppendError::IdNotGreater { last });
        }
        let g = epoch::pin();
        let mut enc = std::mem::take(&mut self.scratch);
        enc.clear();
        let mut placed = false;
        if !self.tail.is_null() {
            // SAFETY: the tail is reachable from the root; only we free it.
            let tail = unsafe { &*self.tail };
            tail.encode(id, fields, &mut enc);
            let used = tail.used.load(Ordering::Relaxed);
            if tail.count.load(Ordering::Relaxed) < self.leaf_max_entries
                && used + enc.len() <= tail.cap()
            {
                tail.push_encoded(id, &enc);
                placed = true;
            } else if used < tail.cap() {
                // Seal: compact the full tail leaf to its exact size (COW).
                let (compact, _) = tail.copy_with_deleted(used, &[]);
                let new = Box::into_raw(Box::new(compact)) as *const Leaf;
                self.edit_leaf(self.tail, Edit::Replace(new), &g);
            }
        }
        if !placed {
            let master: Box<[Box<[u8]>]> = fields.iter().map(|(f, _)| Box::from(*f)).collect();
            let leaf = Leaf::new(id, master, 0);
            enc.clear();
            leaf.encode(id, fields, &mut enc);
            let leaf = Leaf {
                buf: Leaf::alloc_buf(self.leaf_max_bytes.max(enc.len())),
                ..leaf
            };
            leaf.push_encoded(id, &enc);
            self.push_leaf(leaf, &g);
        }
        self.scratch = enc;
        self.last_id = Some(id);
        self.set_len(self.len + 1);
        Ok(())
    }

    fn set_len(&mut self, len: usize) {
        self.len = len;
        self.inner.len.store(len, Ordering::Release);
    }

    /// Leaf that may contain `id` (last leaf whose first ID <= id).
    fn find_leaf<'g>(&self, id: StreamId, g: &'g Guard) -> Option<&'g Leaf> {
        let mut n = self.root(g)?;
        if id < n.keys[0] {
            return None;
        }
        loop {
            let i = n.slot(id);
            if n.height == 0 {
                return Some(n.leaf(i));
            }
            n = n.child(i);
        }
    }

    fn first_leaf<'g>(&self, g: &'g Guard) -> Option<&'g Leaf> {
        let mut n = self.root(g)?;
        while n.height > 0 {
            n = n.child(0);
        }
        Some(n.leaf(0))
    }

    /// Mark the entries at `del_at` deleted (COW), removing the leaf if it
    /// becomes empty. Returns how many live entries were deleted.
    fn delete_in_leaf(&mut self, leaf: &Leaf, del_at: &[usize], g: &Guard) -> usize {
        if del_at.is_empty() {
            return 0;
        }
        let p = leaf as *const Leaf;
        let live = leaf.live.load(Ordering::Relaxed);
        let n = if live <= del_at.len() {
            self.edit_leaf(p, Edit::Remove, g);
            live
        } else {
            let cap = if p == self.tail {
                leaf.cap()
            } else {
                leaf.used.load(Ordering::Relaxed)
            };
            let (copy, n) = leaf.copy_with_deleted(cap, del_at);
            let new = Box::into_raw(Box::new(copy)) as *const Leaf;
            self.edit_leaf(p, Edit::Replace(new), g);
            n
        };
        self.set_len(self.len - n);
        n
    }

    /// Delete one entry. Returns false if no live entry has this ID.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let g = epoch::pin();
        let Some(leaf) = self.find_leaf(id, &g) else {
            return false;
        };
        let buf = leaf.bytes();
        let hit = leaf
            .headers(buf)
            .find(|e| e.id >= id)
            .filter(|e| e.id == id && e.flags & DELETED == 0);
        match hit {
            Some(e) => self.delete_in_leaf(leaf, &[e.flags_at], &g) == 1,
            None => false,
        }
    }

    /// Remove the oldest entries so that at most `maxlen` remain. With
    /// `approx`, only whole leaves are dropped, and at most `limit` entries
    /// (0: no limit) as Redis's `~ ... LIMIT`. Returns entries removed.
    pub fn trim_maxlen(&mut self, maxlen: usize, approx: bool, limit: usize) -> usize {
        let g = epoch::pin();
        let mut removed = 0;
        while self.len > maxlen {
            let excess = self.len - maxlen;
            let Some(leaf) = self.first_leaf(&g) else {
                break;
            };
            let live = leaf.live.load(Ordering::Relaxed);
            if limit != 0 && removed + live > limit {
                break;
            }
            if live <= excess {
                self.edit_leaf(leaf as *const Leaf, Edit::Remove, &g);
                self.set_len(self.len - live);
                removed += live;
            } else {
                if !approx {
                    let buf = leaf.bytes();
                    let del: Vec<usize> = leaf
                        .headers(buf)
                        .filter(|e| e.flags & DELETED == 0)
                        .take(excess)
                        .map(|e| e.flags_at)
                        .collect();
                    removed += self.delete_in_leaf(leaf, &del, &g);
                }
                break;
            }
        }
        removed
    }

    /// Remove entries with ID < `minid`. With `approx`, only whole leaves,
    /// and at most `limit` entries (0: no limit).
    pub fn trim_minid(&mut self, minid: StreamId, approx: bool, limit: usize) -> usize {
        let g = epoch::pin();
        let mut removed = 0;
        while let Some(leaf) = self.first_leaf(&g) {
            let live = leaf.live.load(Ordering::Relaxed);
            if limit != 0 && removed + live > limit {
                break;
            }
            if leaf.last_id() < minid {
                self.edit_leaf(leaf as *const Leaf, Edit::Remove, &g);
                self.set_len(self.len - live);
                removed += live;
            } else {
                if !approx {
                    let buf = leaf.bytes();
                    let del: Vec<usize> = leaf
                        .headers(buf)
                        .take_while(|e| e.id < minid)
                        .filter(|e| e.flags & DELETED == 0)
                        .map(|e| e.flags_at)
                        .collect();
                    removed += self.delete_in_leaf(leaf, &del, &g);
                }
                break;
            }
        }
        removed
    }

    /// Approximate heap footprint of the structure (leaves + index).
    pub fn memory_bytes(&self) -> usize {
        fn walk(n: &Node) -> usize {
            let mut m = n.memory();
            for i in 0..n.kids.len() {
                m += if n.height == 0 {
                    n.leaf(i).memory()
                } else {
                    walk(n.child(i))
                };
            }
            m
        }
        let g = epoch::pin();
        std::mem::size_of::<Self>() + std::mem::size_of::<Inner>() + self.root(&g).map_or(0, walk)
    }

    /// (index nodes, leaves) currently reachable from the root.
    fn counts(&self) -> (usize, usize) {
        fn walk(n: &Node, acc: &mut (usize, usize)) {
            acc.0 += 1;
            if n.height == 0 {
                acc.1 += n.kids.len();
            } else {
                for i in 0..n.kids.len() {
                    walk(n.child(i), acc);
                }
            }
        }
        let g = epoch::pin();
        let mut acc = (0, 0);
        if let Some(r) = self.root(&g) {
            walk(r, &mut acc);
        }
        acc
    }

    /// Leaves in the tree (what Redis calls the radix tree's keys).
    pub fn leaf_count(&self) -> usize {
        self.counts().1
    }

    /// Index nodes plus leaves.
    pub fn node_count(&self) -> usize {
        let (nodes, leaves) = self.counts();
        nodes + leaves
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    type Model = BTreeMap<StreamId, Vec<(Vec<u8>, Vec<u8>)>>;

    #[derive(Debug, Clone)]
    enum Op {
        Append {
            gap_ms: u64,
            gap_seq: u64,
            nf: usize,
            repeat: bool,
            val: u8,
        },
        Delete(u16),
        TrimMaxlen(u16),
        TrimMinid(u16),
        Range(u16, u16, Option<usize>),
        RevRange(u16, u16, Option<usize>),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u64..3, 0u64..3, 1usize..=4, any::<bool>(), any::<u8>()).prop_map(
                |(gap_ms, gap_seq, nf, repeat, val)| Op::Append { gap_ms, gap_seq, nf, repeat, val }
            ),
            2 => any::<u16>().prop_map(Op::Delete),
            1 => any::<u16>().prop_map(Op::TrimMaxlen),
            1 => any::<u16>().prop_map(Op::TrimMinid),
            2 => (any::<u16>(), any::<u16>(), proptest::option::of(0usize..20))
                .prop_map(|(a, b, c)| Op::Range(a, b, c)),
            2 => (any::<u16>(), any::<u16>(), proptest::option::of(0usize..20))
                .prop_map(|(a, b, c)| Op::RevRange(a, b, c)),
        ]
    }

    /// Pick an ID near the model's contents: index `k` into all appended ids.
    fn pick(all: &[StreamId], k: u16) -> StreamId {
        if all.is_empty() {
            return StreamId::new(k as u64 % 5, 0);
        }
        let i = k as usize % (all.len() + 2);
        if i < all.len() {
            all[i]
        } else if i == all.len() {
            StreamId::MIN
        } else {
            StreamId::MAX
        }
    }

    fn model_range(m: &Model, s: StreamId, e: StreamId, c: Option<usize>) -> Vec<Entry> {
        if s > e {
            return vec![];
        }
        m.range(s..=e)
            .take(c.unwrap_or(usize::MAX))
            .map(|(id, f)| Entry {
                id: *id,
                fields: f.clone(),
            })
            .collect()
    }

    fn model_rev(m: &Model, e: StreamId, s: StreamId, c: Option<usize>) -> Vec<Entry> {
        if s > e {
            return vec![];
        }
        m.range(s..=e)
            .rev()
            .take(c.unwrap_or(usize::MAX))
            .map(|(id, f)| Entry {
                id: *id,
                fields: f.clone(),
            })
            .collect()
    }

    fn run(ops: Vec<Op>, leaf_entries: usize, leaf_bytes: usize, fanout: usize) {
        let mut t = StreamTree::with_params(leaf_entries, leaf_bytes, fanout);
        let r = t.reader();
        let mut m: Model = BTreeMap::new();
        let mut all: Vec<StreamId> = vec![];
        let mut next = StreamId::new(1, 0);
        let mut prev_names: Vec<Vec<u8>> = vec![b"a".to_vec()];
        for op in ops {
            match op {
                Op::Append {
                    gap_ms,
                    gap_seq,
                    nf,
                    repeat,
                    val,
                } => {
                    let id = if gap_ms == 0 {
                        StreamId::new(next.ms, next.seq + gap_seq)
                    } else {
                        StreamId::new(next.ms + gap_ms, gap_seq)
                    };
                    let names: Vec<Vec<u8>> = if repeat {
                        prev_names.clone()
                    } else {
                        (0..nf)
                            .map(|i| format!("f{i}{}", val % 3).into_bytes())
                            .collect()
                    };
                    let fields: Vec<(Vec<u8>, Vec<u8>)> = names
                        .iter()
                        .enumerate()
                        .map(|(i, n)| {
                            (
                                n.clone(),
                                vec![val.wrapping_add(i as u8); (val % 7) as usize],
                            )
                        })
                        .collect();
                    let refs: Vec<(&[u8], &[u8])> =
                        fields.iter().map(|(a, b)| (&a[..], &b[..])).collect();
                    t.append(id, &refs).unwrap();
                    assert!(t.append(id, &refs).is_err());
                    m.insert(id, fields);
                    all.push(id);
                    prev_names = names;
                    next = StreamId::new(id.ms, id.seq + 1);
                }
                Op::Delete(k) => {
                    let id = pick(&all, k);
                    assert_eq!(t.delete(id), m.remove(&id).is_some());
                }
                Op::TrimMaxlen(k) => {
                    let maxlen = k as usize % (m.len() + 2);
                    let mut n = 0;
                    while m.len() > maxlen {
                        m.pop_first();
                        n += 1;
                    }
                    assert_eq!(t.trim_maxlen(maxlen, false, 0), n);
                }
                Op::TrimMinid(k) => {
                    let minid = pick(&all, k);
                    let keep = m.split_off(&minid);
                    let n = m.len();
                    m = keep;
                    assert_eq!(t.trim_minid(minid, false, 0), n);
                }
                Op::Range(a, b, c) => {
                    let (s, e) = (pick(&all, a), pick(&all, b));
                    assert_eq!(r.range(s, e, c), model_range(&m, s, e, c));
                }
                Op::RevRange(a, b, c) => {
                    let (s, e) = (pick(&all, a), pick(&all, b));
                    assert_eq!(r.rev_range(e, s, c), model_rev(&m, e, s, c));
                }
            }
            assert_eq!(t.len(), m.len());
            assert_eq!(r.len(), m.len());
            assert_eq!(t.first_id(), m.keys().next().copied());
            assert_eq!(t.last_id(), all.last().copied());
        }
        let everything = r.range(StreamId::MIN, StreamId::MAX, None);
        assert_eq!(
            everything,
            model_range(&m, StreamId::MIN, StreamId::MAX, None)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn matches_btreemap(
            ops in proptest::collection::vec(op(), 1..300),
            leaf_entries in 1usize..6,
            leaf_bytes in 8usize..80,
            fanout in 2usize..5,
        ) {
            run(ops, leaf_entries, leaf_bytes, fanout);
        }
    }

    #[test]
    fn handles_are_send_sync() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        fn assert_send<T: Send>() {}
        assert_send_sync::<Reader>();
        assert_send::<StreamTree>();
    }

    #[test]
    fn oversized_entry_delete_all_then_append_and_reader_outlives_writer() {
        let mut t = StreamTree::with_params(4, 32, 2);
        let big = vec![7u8; 1000];
        t.append(StreamId::new(1, 0), &[(b"f", b"v")]).unwrap();
        t.append(StreamId::new(2, 0), &[(b"big", &big)]).unwrap();
        t.append(StreamId::new(3, 0), &[(b"f", b"w")]).unwrap();
        let r = t.reader();
        let all = r.range(StreamId::MIN, StreamId::MAX, None);
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].fields, vec![(b"big".to_vec(), big.clone())]);
        for ms in 1..=3 {
            assert!(t.delete(StreamId::new(ms, 0)));
            assert!(!t.delete(StreamId::new(ms, 0)));
        }
        assert!(t.is_empty() && r.is_empty());
        assert_eq!(t.first_id(), None);
        assert_eq!(t.last_id(), Some(StreamId::new(3, 0)));
        assert!(t.append(StreamId::new(3, 0), &[(b"f", b"x")]).is_err());
        t.append(StreamId::new(4, 0), &[(b"f", b"x")]).unwrap();
        drop(t);
        let all = r.range(StreamId::MIN, StreamId::MAX, None);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, StreamId::new(4, 0));
    }

    #[test]
    fn approx_trims_whole_leaves_only() {
        let mut t = StreamTree::with_params(10, 4096, 4);
        for i in 0..95u64 {
            t.append(StreamId::new(i, 0), &[(b"f", b"v")]).unwrap();
        }
        assert_eq!(t.trim_maxlen(50, true, 0), 40);
        assert_eq!(t.len(), 55);
        assert_eq!(t.trim_minid(StreamId::new(65, 0), true, 0), 20);
        assert_eq!(t.first_id(), Some(StreamId::new(60, 0)));
        assert_eq!(t.trim_minid(StreamId::new(65, 0), false, 0), 5);
        assert_eq!(t.first_id(), Some(StreamId::new(65, 0)));
    }

    #[test]
    fn approx_trim_stops_at_the_limit() {
        let mut t = StreamTree::with_params(10, 4096, 4);
        for i in 0..100u64 {
            t.append(StreamId::new(i, 0), &[(b"f", b"v")]).unwrap();
        }
        // A limit smaller than a leaf removes nothing; 25 allows two leaves.
        assert_eq!(t.trim_maxlen(0, true, 5), 0);
        assert_eq!(t.trim_maxlen(0, true, 25), 20);
        assert_eq!(t.trim_minid(StreamId::new(90, 0), true, 35), 30);
        assert_eq!(t.first_id(), Some(StreamId::new(50, 0)));
    }

    fn fields_for(id: StreamId) -> Vec<(Vec<u8>, Vec<u8>)> {
        let n = (id.ms % 3 + 1) as usize;
        (0..n)
            .map(|i| {
                let name = if id.ms.is_multiple_of(5) {
                    format!("x{i}")
                } else {
                    format!("f{i}")
                };
                (
                    name.into_bytes(),
                    format!("{}-{}-{i}", id.ms, id.seq).into_bytes(),
                )
            })
            .collect()
    }

    fn e_id_max(b: u64) -> StreamId {
        StreamId::new(b, u64::MAX)
    }

    #[test]
    fn concurrent_readers_see_consistent_prefixes() {
        use std::sync::atomic::AtomicBool;
        use std::time::{Duration, Instant};
        let t0 = Instant::now();
        let mut t = StreamTree::with_params(100, 4096, 8);
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = vec![];
        for th in 0..4u64 {
            let r = t.reader();
            let stop = stop.clone();
            handles.push(std::thread::spawn(move || {
                let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ th;
                let mut rnd = move || {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed
                };
                let mut scans = 0u64;
                let mut nonempty = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if r.is_empty() {
                        std::thread::yield_now();
                        continue;
                    }
                    let last = r
                        .rev_range(StreamId::MAX, StreamId::MIN, Some(1))
                        .first()
                        .map_or(0, |e| e.id.ms);
                    let a = last.saturating_sub(rnd() % (r.len() as u64 + 1));
                    let b = a + rnd() % 5_000;
                    let c = if rnd() % 2 == 0 {
                        Some((rnd() % 500) as usize)
                    } else {
                        None
                    };
                    let (s, e) = (StreamId::new(a, 0), StreamId::new(b, u64::MAX));
                    let fwd = rnd() % 2 == 0;
                    let res = if fwd {
                        r.range(s, e, c)
                    } else {
                        r.rev_range(e, s, c)
                    };
                    if let Some(c) = c {
                        assert!(res.len() <= c);
                    }
                    for w in res.windows(2) {
                        if fwd {
                            assert!(w[0].id < w[1].id);
                        } else {
                            assert!(w[0].id > w[1].id);
                        }
                    }
                    for e in &res {
                        assert!(e.id >= s && e.id <= e_id_max(b));
                        assert_eq!(e.fields, fields_for(e.id), "bad fields for {:?}", e.id);
                    }
                    scans += 1;
                    nonempty += !res.is_empty() as u64;
                }
                (scans, nonempty)
            }));
        }
        let mut deleted = 0;
        for i in 0..200_000u64 {
            let id = StreamId::new(i, i % 3);
            let f = fields_for(id);
            let refs: Vec<(&[u8], &[u8])> = f.iter().map(|(a, b)| (&a[..], &b[..])).collect();
            t.append(id, &refs).unwrap();
            if i % 97 == 0 && i > 10 && t.delete(StreamId::new(i - 7, (i - 7) % 3)) {
                deleted += 1;
            }
            if i % 10_000 == 9_999 {
                t.trim_maxlen(50_000, i % 20_000 == 9_999, 0);
            }
        }
        stop.store(true, Ordering::Relaxed);
        let (mut scans, mut nonempty) = (0, 0);
        for h in handles {
            let (s, n) = h.join().unwrap();
            scans += s;
            nonempty += n;
        }
        assert!(deleted > 0 && nonempty > 100, "{nonempty} non-empty scans");
        assert!(t.len() <= 50_000 + 100 + 10_000);
        let all = t.reader().range(StreamId::MIN, StreamId::MAX, None);
        assert_eq!(all.len(), t.len());
        eprintln!(
            "stress: {scans} scans ({nonempty} non-empty) in {:?}",
            t0.elapsed()
        );
        assert!(t0.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn memory_per_entry() {
        let mut t = StreamTree::new();
        let n = 1_000_000u64;
        for i in 0..n {
            t.append(
                StreamId::new(1_700_000_000_000 + i, 0),
                &[(b"f", b"0123456789")],
            )
            .unwrap();
        }
        let per = t.memory_bytes() as f64 / n as f64;
        eprintln!(
            "memory: {} bytes total, {per:.2} bytes/entry",
            t.memory_bytes()
        );
        assert!(per < 30.0);
    }
}
