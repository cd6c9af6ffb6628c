//! Storage structure for Redis streams: a persistent radix tree over compact
//! leaves of entries.
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
//! * **Index**: a persistent (copy-on-write, path-copying) radix tree, in the
//!   spirit of Redis' `rax`, keyed by the 16 big-endian bytes of each leaf's
//!   first ID ([`StreamId::to_be_bytes`]; byte order equals ID order, so an
//!   in-order walk visits leaves in ID order).
//!   - A `Node` sits at some key depth `d` (a byte position, implied by the
//!     path from the root, not stored). It holds its **compressed prefix**
//!     `p` (the bytes `key[d..d+p.len()]` that every key below it shares) and
//!     a sorted array of (branch byte, child) pairs: child `i` holds the keys
//!     whose byte at `d+p.len()` is branch byte `i`, and starts at depth
//!     `d+p.len()+1`. Prefix and branch bytes share one allocation.
//!   - A child is either a `Node` or an entry **leaf** (one tagged pointer,
//!     8 bytes): the compact leaves are the radix tree's leaves. A subtree that holds a single key is the
//!     leaf itself (lazy expansion, as in adaptive radix trees): the key bytes
//!     below its branch byte are not stored in the tree but are
//!     `leaf.first.to_be_bytes()`, read when an insert must split there or a
//!     predecessor search must compare with that key.
//!   - **Path compression**: every node has at least two children, so a chain
//!     of single-child nodes never exists; it is one node with a longer
//!     prefix. The one exception is the root of a tree with a single leaf: a
//!     one-child root (empty prefix, branch byte = the leaf key's byte 0).
//!     Each node consumes at least its branch byte, so paths are at most 16
//!     nodes deep.
//!   - Index operations, all path-copying: **insert** (used to append a new
//!     rightmost leaf; any position works: a node whose prefix disagrees with
//!     the key, or a leaf child, is split at the first differing byte into a
//!     new two-child node), **replace** a leaf (same key), **remove** a leaf (a
//!     node left with one child is replaced by that child: directly if it is a
//!     leaf, otherwise by a copy of the child node whose prefix is
//!     `parent prefix + branch byte + child prefix`, which re-compresses the
//!     path), **predecessor search** (the last leaf whose first ID <= an ID:
//!     where a range scan starts, and where `delete` looks), first/last leaf,
//!     and a `Cursor` (the stack of (node, child index) on the path) that
//!     steps to the next/previous leaf for forward and backward range scans.
//!
//! # Concurrency invariants
//!
//! * **Who writes**: exactly one writer, the [`StreamTree`] owner (the core
//!   that owns the stream; every mutation takes `&mut self`). Any number of
//!   [`Reader`]s (Send + Sync + Clone) scan concurrently with no locks,
//!   pinned with `crossbeam_epoch` for the duration of one scan.
//! * **Index nodes are immutable once published.** The writer builds new
//!   nodes for the changed path (sharing every unchanged child), then
//!   publishes the new root with one `Release` store. A reader loads the root
//!   once per scan with `Acquire` and follows only pointers reachable from
//!   it, so it sees fully-initialised nodes and one consistent index: the old
//!   one or the new one, never a mix.
//! * **Leaf bytes below the published `used` length are immutable.** The only
//!   in-place mutation is appending to the tail leaf: the writer writes the
//!   encoded entry into preallocated, not-yet-published capacity (the buffer is
//!   never reallocated) and then stores the new `used` with `Release`. A reader
//!   loads `used` with `Acquire` once per leaf it scans and never reads past
//!   it. So **mid-append** a reader sees every entry published before its
//!   load of `used` and none after, i.e. a consistent prefix of the leaf's
//!   entries in ID order, never a torn entry; an append that opens a new leaf
//!   becomes visible only with the new root. Any other leaf change (delete
//!   flag, trim of part of a leaf, compaction of a full tail leaf to its exact
//!   size) is copy-on-write: a new leaf is built and swapped in by path
//!   copying, and the writer never writes to the old leaf again.
//! * **When something is retired**: a node or leaf is retired (handed to
//!   `guard.defer_destroy`) right after the `Release` store of a root from
//!   which it is no longer reachable: the nodes on a copied path, a child
//!   node merged into its parent on removal, a node whose prefix was split,
//!   the old one-child root, and the replaced or removed leaf. It is freed
//!   only after every reader that was pinned at that moment (and so could
//!   have loaded a root that reaches it) has unpinned; readers that pin later
//!   load a root that does not reach it. Retiring a node never frees its
//!   children: they are plain pointers, shared with the new path, and are
//!   retired separately if and when they are themselves unlinked. Nothing is
//!   retired while still reachable from the current root, and an unlinked
//!   node or leaf is never linked again.
//! * Whatever is still reachable from the root when the last handle
//!   ([`StreamTree`] or [`Reader`]) is dropped is freed by `Inner::drop`
//!   (every node and leaf is reachable from one root exactly once).
//! * `len` is a separate atomic, so a reader's `len()` may momentarily
//!   disagree with what a concurrent scan sees.

use crossbeam_epoch::{self as epoch, Atomic, Guard, Shared};
use std::cell::UnsafeCell;
use std::cmp::Ordering as Cmp;
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

/// Key length in bytes, and so the maximum depth of the radix tree.
const KEY_LEN: usize = 16;
type Key = [u8; KEY_LEN];

/// A child pointer of a radix node: an inner node or an entry leaf, as one
/// tagged pointer (low bit set: leaf), so a node's child array costs 8 bytes
/// per child. The pointee is owned by the tree (created with
/// `Box::into_raw`); copying a `Child` never copies or frees the pointee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Child(*const ());

// Both pointees are at least 2-aligned, so the low bit is free for the tag.
const _: () = assert!(std::mem::align_of::<Node>() >= 2 && std::mem::align_of::<Leaf>() >= 2);

/// An untagged [`Child`].
enum Ptr {
    Node(*const Node),
    Leaf(*const Leaf),
}

/// A dereferenced [`Child`].
enum Kid<'a> {
    Node(&'a Node),
    Leaf(&'a Leaf),
}

impl Child {
    fn node(p: *const Node) -> Child {
        Child(p.cast())
    }

    fn leaf(p: *const Leaf) -> Child {
        Child(p.cast::<()>().map_addr(|a| a | 1))
    }

    fn is_leaf(self) -> bool {
        self.0.addr() & 1 == 1
    }

    fn ptr(self) -> Ptr {
        if self.is_leaf() {
            Ptr::Leaf(self.0.map_addr(|a| a & !1).cast())
        } else {
            Ptr::Node(self.0.cast())
        }
    }

    fn get(&self) -> Kid<'_> {
        // SAFETY: a `Child` is only ever stored in (or copied out of) a node
        // that is reachable from a root the caller loaded while pinned (or, for
        // the writer, from its current root or its own fresh, unpublished
        // nodes), or is a fresh leaf/node the writer just allocated; `ptr`
        // restores the pointer it was made from. Nodes and leaves are freed
        // only by `defer_destroy` after being unlinked (so not before every
        // pinned reader unpins), or by `Inner::drop` when no handle is left.
        // The returned borrow does not outlive `self`, which lives in such a
        // node or is a local copy used within the same pin.
        unsafe {
            match self.ptr() {
                Ptr::Node(p) => Kid::Node(&*p),
                Ptr::Leaf(p) => Kid::Leaf(&*p),
            }
        }
    }
}

/// Radix tree node; immutable once published. Dropping a node never drops
/// its children.
struct Node {
    /// `plen` compressed-prefix bytes, then one branch byte per kid, ascending.
    bytes: Box<[u8]>,
    /// `kids[i]` holds the keys whose byte after the prefix is `branch()[i]`.
    kids: Box<[Child]>,
    plen: u8,
}

impl Node {
    fn prefix(&self) -> &[u8] {
        &self.bytes[..self.plen as usize]
    }

    fn branch(&self) -> &[u8] {
        &self.bytes[self.plen as usize..]
    }

    /// A fresh (unpublished) node. Callers pass exact-size iterators, so the
    /// boxed slices are allocated once at their final size.
    fn alloc(
        prefix: &[u8],
        branch: impl IntoIterator<Item = u8>,
        kids: impl IntoIterator<Item = Child>,
    ) -> *const Node {
        let bytes: Box<[u8]> = prefix.iter().copied().chain(branch).collect();
        let kids: Box<[Child]> = kids.into_iter().collect();
        debug_assert_eq!(bytes.len() - prefix.len(), kids.len());
        debug_assert!(prefix.len() < KEY_LEN);
        Box::into_raw(Box::new(Node {
            bytes,
            kids,
            plen: prefix.len() as u8,
        }))
    }

    /// Copy with kid `i` replaced by `kid`.
    fn with_kid(&self, i: usize, kid: Child) -> Child {
        let mut kids = self.kids.clone();
        kids[i] = kid;
        Node::boxed(self.bytes.clone(), kids, self.plen)
    }

    /// Copy with `(byte, kid)` inserted as kid `i`.
    fn with_inserted(&self, i: usize, byte: u8, kid: Child) -> Child {
        let at = self.plen as usize + i;
        let bytes = splice(&self.bytes, at, at, Some(byte));
        let kids = splice(&self.kids, i, i, Some(kid));
        Node::boxed(bytes, kids, self.plen)
    }

    /// Copy without kid `i`.
    fn without(&self, i: usize) -> Child {
        let at = self.plen as usize + i;
        let bytes = splice(&self.bytes, at, at + 1, None);
        let kids = splice(&self.kids, i, i + 1, None);
        Node::boxed(bytes, kids, self.plen)
    }

    fn boxed(bytes: Box<[u8]>, kids: Box<[Child]>, plen: u8) -> Child {
        Child::node(Box::into_raw(Box::new(Node { bytes, kids, plen })))
    }

    fn memory(&self) -> usize {
        std::mem::size_of::<Node>()
            + self.bytes.len()
            + self.kids.len() * std::mem::size_of::<Child>()
    }
}

/// `v` with `v[from..to]` replaced by `x`, allocated once at its exact size.
fn splice<T: Copy>(v: &[T], from: usize, to: usize, x: Option<T>) -> Box<[T]> {
    let mut out = Vec::with_capacity(v.len() - (to - from) + x.is_some() as usize);
    out.extend_from_slice(&v[..from]);
    out.extend(x);
    out.extend_from_slice(&v[to..]);
    out.into_boxed_slice()
}

/// A fresh two-child node with prefix `prefix` (kids given in any order).
fn fork(prefix: &[u8], a: (u8, Child), b: (u8, Child)) -> Child {
    debug_assert_ne!(a.0, b.0);
    let (x, y) = if a.0 < b.0 { (a, b) } else { (b, a) };
    Child::node(Node::alloc(prefix, [x.0, y.0], [x.1, y.1]))
}

/// Path-copying insert of `leaf` (key `key`, not yet in the tree) into the
/// subtree `c` whose key bytes start at depth `d`. Returns the new subtree;
/// replaced nodes are pushed to `retired`.
fn insert(
    c: &Child,
    d: usize,
    key: &Key,
    leaf: *const Leaf,
    retired: &mut Vec<*const Node>,
) -> Child {
    let new = Child::leaf(leaf);
    match c.get() {
        Kid::Leaf(l) => {
            // Lazy expansion: split where the two keys first differ.
            let lk = l.first.to_be_bytes();
            let j = (d..KEY_LEN)
                .find(|&j| lk[j] != key[j])
                .expect("leaf keys are unique");
            fork(&key[d..j], (lk[j], *c), (key[j], new))
        }
        Kid::Node(n) => {
            retired.push(n);
            let p = n.prefix();
            let m = p.iter().zip(&key[d..]).take_while(|(a, b)| a == b).count();
            if m < p.len() {
                // The key leaves the compressed prefix at `m`: split it.
                let lower = Node::alloc(
                    &p[m + 1..],
                    n.branch().iter().copied(),
                    n.kids.iter().copied(),
                );
                return fork(&p[..m], (p[m], Child::node(lower)), (key[d + m], new));
            }
            let d = d + m;
            match n.branch().binary_search(&key[d]) {
                Ok(i) => n.with_kid(i, insert(&n.kids[i], d + 1, key, leaf, retired)),
                Err(i) => n.with_inserted(i, key[d], new),
            }
        }
    }
}

enum Edit {
    Replace(*const Leaf),
    Remove,
}

/// Path-copying replacement or removal of leaf `target` (key `key`) in the
/// subtree `c` starting at depth `d`. Returns the new subtree (`None` if it
/// became empty); replaced nodes are pushed to `retired` (not `target`).
fn edit_path(
    c: &Child,
    d: usize,
    key: &Key,
    target: &Leaf,
    edit: &Edit,
    retired: &mut Vec<*const Node>,
) -> Option<Child> {
    let n = match c.get() {
        Kid::Leaf(l) => {
            assert!(std::ptr::eq(l, target), "leaf not found in index");
            return match edit {
                Edit::Replace(p) => Some(Child::leaf(*p)),
                Edit::Remove => None,
            };
        }
        Kid::Node(n) => n,
    };
    let d = d + n.prefix().len();
    debug_assert_eq!(n.prefix(), &key[d - n.prefix().len()..d]);
    let i = n
        .branch()
        .binary_search(&key[d])
        .expect("leaf not found in index");
    let sub = edit_path(&n.kids[i], d + 1, key, target, edit, retired);
    retired.push(n);
    match (sub, n.kids.len()) {
        (Some(kid), _) => Some(n.with_kid(i, kid)),
        (None, 1) => None,
        (None, 2) => {
            // One child left: replace this node by it (re-compression).
            let (b, only) = (n.branch()[1 - i], n.kids[1 - i]);
            match only.get() {
                Kid::Leaf(_) => Some(only),
                Kid::Node(c) => {
                    retired.push(c);
                    let prefix: Vec<u8> = n
                        .prefix()
                        .iter()
                        .chain([&b])
                        .chain(c.prefix())
                        .copied()
                        .collect();
                    Some(Child::node(Node::alloc(
                        &prefix,
                        c.branch().iter().copied(),
                        c.kids.iter().copied(),
                    )))
                }
            }
        }
        (None, _) => Some(n.without(i)),
    }
}

/// Frees everything reachable from `node`.
///
/// # Safety
/// Caller must have exclusive access to the tree rooted at `node` (no reader
/// or writer can reach it any more).
unsafe fn free_tree(node: *const Node) {
    // SAFETY: exclusive access per the function contract; every node and
    // leaf reachable from the root was created with `Box::into_raw` and is
    // referenced exactly once from the current tree.
    unsafe {
        let n = Box::from_raw(node as *mut Node);
        for k in n.kids.iter() {
            match k.ptr() {
                Ptr::Node(c) => free_tree(c),
                Ptr::Leaf(l) => drop(Box::from_raw(l as *mut Leaf)),
            }
        }
    }
}

/// Visits every node and leaf below (and including) `n`.
fn walk<'a>(n: &'a Node, on_node: &mut impl FnMut(&'a Node), on_leaf: &mut impl FnMut(&'a Leaf)) {
    on_node(n);
    for k in n.kids.iter() {
        match k.get() {
            Kid::Node(c) => walk(c, on_node, on_leaf),
            Kid::Leaf(l) => on_leaf(l),
        }
    }
}

/// A position in the tree: the path of (node, kid index) from the root to the
/// current leaf. Steps to the next/previous leaf in key order.
struct Cursor<'g> {
    path: [Option<(&'g Node, usize)>; KEY_LEN],
    depth: usize,
}

impl<'g> Cursor<'g> {
    fn new() -> Self {
        Cursor {
            path: [None; KEY_LEN],
            depth: 0,
        }
    }

    fn push(&mut self, n: &'g Node, i: usize) {
        self.path[self.depth] = Some((n, i));
        self.depth += 1;
    }

    fn top(&self) -> (&'g Node, usize) {
        self.path[self.depth - 1].expect("cursor path entry")
    }

    /// Descends from `c` to its first (or last) leaf.
    fn descend(&mut self, mut c: &'g Child, last: bool) -> &'g Leaf {
        loop {
            match c.get() {
                Kid::Leaf(l) => return l,
                Kid::Node(n) => {
                    let i = if last { n.kids.len() - 1 } else { 0 };
                    self.push(n, i);
                    c = &n.kids[i];
                }
            }
        }
    }

    /// Positions on the first (or last) leaf below `n`.
    fn edge(&mut self, n: &'g Node, last: bool) -> &'g Leaf {
        let i = if last { n.kids.len() - 1 } else { 0 };
        self.push(n, i);
        self.descend(&n.kids[i], last)
    }

    /// The leaf after the current one.
    fn next(&mut self) -> Option<&'g Leaf> {
        while self.depth > 0 {
            let (n, i) = self.top();
            if i + 1 < n.kids.len() {
                self.path[self.depth - 1] = Some((n, i + 1));
                return Some(self.descend(&n.kids[i + 1], false));
            }
            self.depth -= 1;
        }
        None
    }

    /// The leaf before the current one (or, mid-seek, before the subtree the
    /// top of the path points at).
    fn prev(&mut self) -> Option<&'g Leaf> {
        while self.depth > 0 {
            let (n, i) = self.top();
            if i > 0 {
                self.path[self.depth - 1] = Some((n, i - 1));
                return Some(self.descend(&n.kids[i - 1], true));
            }
            self.depth -= 1;
        }
        None
    }

    /// Predecessor search from the (empty) cursor: positions on the last leaf
    /// whose first ID is <= `id`, if any.
    fn seek_le(&mut self, root: &'g Node, id: StreamId) -> Option<&'g Leaf> {
        debug_assert_eq!(self.depth, 0);
        let key = id.to_be_bytes();
        let (mut n, mut d) = (root, 0);
        loop {
            let p = n.prefix();
            match p.cmp(&key[d..d + p.len()]) {
                // Every key below `n` is smaller: take its last leaf.
                Cmp::Less => return Some(self.edge(n, true)),
                // Every key below `n` is greater: the answer is before it.
                Cmp::Greater => return self.prev(),
                Cmp::Equal => d += p.len(),
            }
            let i = n.branch().partition_point(|&b| b <= key[d]);
            if i == 0 {
                return self.prev();
            }
            self.push(n, i - 1);
            let kid = &n.kids[i - 1];
            if n.branch()[i - 1] < key[d] {
                return Some(self.descend(kid, true));
            }
            match kid.get() {
                Kid::Leaf(l) if l.first <= id => return Some(l),
                Kid::Leaf(_) => return self.prev(),
                Kid::Node(c) => (n, d) = (c, d + 1),
            }
        }
    }
}

// ---------------------------------------------------------------- shared

struct Inner {
    /// Null when empty. A one-child root points to the only leaf.
    root: Atomic<Node>,
    len: AtomicUsize,
    /// [`Frozen`] views alive. While any is, the writer keeps what it
    /// retires instead of handing it to the epoch collector.
    frozen: AtomicUsize,
    /// What the writer kept and could not free itself because it was
    /// dropped while a frozen view was alive: freed with the last handle.
    orphans: std::sync::Mutex<Vec<Retired>>,
}

/// Something unlinked from the tree, waiting to be freed.
enum Retired {
    Node(*const Node),
    Leaf(*const Leaf),
}

// SAFETY: a retired pointer is owned by whoever holds it (it is unlinked and
// freed exactly once), so it may move between threads.
unsafe impl Send for Retired {}

impl Retired {
    /// Hands it to the epoch collector.
    fn defer(self, g: &Guard) {
        // SAFETY: unlinked from the published tree before it was retired;
        // only readers pinned before that (or frozen views, now gone) can
        // still hold it. Dropping a Node does not free its children.
        unsafe {
            match self {
                Retired::Node(n) => g.defer_destroy(Shared::from(n)),
                Retired::Leaf(l) => g.defer_destroy(Shared::from(l)),
            }
        }
    }

    /// Frees it now.
    ///
    /// # Safety
    /// Nobody can reach it any more.
    unsafe fn free(self) {
        // SAFETY: per the contract.
        unsafe {
            match self {
                Retired::Node(n) => drop(Box::from_raw(n as *mut Node)),
                Retired::Leaf(l) => drop(Box::from_raw(l as *mut Leaf)),
            }
        }
    }
}

// SAFETY: `Inner` only contains atomics and pointers to immutable-once-published
// nodes and leaves whose mutable parts are atomics or the append-only buffer
// protocol described in the module docs; only the single `StreamTree` writes.
unsafe impl Send for Inner {}
// SAFETY: see `Send` above.
unsafe impl Sync for Inner {}

impl Drop for Inner {
    fn drop(&mut self) {
        // SAFETY: this is the last handle, so nobody else can reach the tree,
        // and retired nodes are no longer reachable from the root.
        unsafe {
            let g = epoch::unprotected();
            let root = self.root.load(Ordering::Acquire, g);
            if !root.is_null() {
                free_tree(root.as_raw());
            }
            let orphans = std::mem::take(self.orphans.get_mut().unwrap_or_else(|e| e.into_inner()));
            for r in orphans {
                r.free();
            }
        }
    }
}

impl Inner {
    fn root<'g>(&self, g: &'g Guard) -> Option<&'g Node> {
        // SAFETY: the root is published with Release after it was fully
        // built and is immutable; it is retired only after a new root was
        // stored, so it stays alive at least while `g` is pinned.
        unsafe { self.root.load(Ordering::Acquire, g).as_ref() }
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
        let Some(root) = self.inner.root(&guard) else {
            return out;
        };
        let mut cur = Cursor::new();
        // The leaf that may hold `start`, or the first leaf.
        let mut leaf = match cur.seek_le(root, start) {
            Some(l) => l,
            None => cur.edge(root, false),
        };
        while leaf.first <= end && !leaf.scan_fwd(start, end, &mut out, limit) {
            match cur.next() {
                Some(l) => leaf = l,
                None => break,
            }
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
        let Some(root) = self.inner.root(&guard) else {
            return out;
        };
        let mut cur = Cursor::new();
        let Some(mut leaf) = cur.seek_le(root, end) else {
            return out;
        };
        // Leaves before one whose first ID is <= start hold IDs < start.
        while !leaf.scan_rev(start, end, &mut out, limit) && leaf.first > start {
            match cur.prev() {
                Some(l) => leaf = l,
                None => break,
            }
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
    /// Limits from the configuration rather than `with_params` (tests).
    configured: bool,
    scratch: Vec<u8>,
    /// Retired while a frozen view was alive (see [`StreamTree::freeze`]).
    kept: Vec<Retired>,
}

// SAFETY: `tail` points into the tree owned through `inner`; moving the
// writer to another thread moves the unique write capability with it.
unsafe impl Send for StreamTree {}

impl Default for StreamTree {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StreamTree {
    fn drop(&mut self) {
        if self.kept.is_empty() {
            return;
        }
        let kept = std::mem::take(&mut self.kept);
        if self.inner.frozen.load(Ordering::Acquire) > 0 {
            // A frozen view may still reach them: they go with the last handle.
            self.inner
                .orphans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(kept);
        } else {
            let g = epoch::pin();
            kept.into_iter().for_each(|k| k.defer(&g));
        }
    }
}

/// A read-only view of a [`StreamTree`] at one moment (see
/// [`StreamTree::freeze`]): Send, so a snapshot can encode a stream on
/// another thread while its core keeps appending and deleting.
pub struct Frozen {
    inner: Arc<Inner>,
    /// The root when frozen (null when empty): kept alive by the writer.
    root: *const Node,
    /// The last ID when frozen: later appends (to the tail leaf, in place)
    /// are past it.
    last: StreamId,
    len: usize,
}

// SAFETY: the view only reads immutable-once-published nodes and the
// append-only leaf buffers (see the module's concurrency invariants), all
// kept alive while `frozen` counts it.
unsafe impl Send for Frozen {}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.inner.frozen.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Frozen {
    /// Entries at the moment of freezing.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Up to `count` entries with `start <= id`, ascending, as they were
    /// when frozen.
    pub fn range_from(&self, start: StreamId, count: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        if self.root.is_null() || count == 0 || start > self.last {
            return out;
        }
        let _guard = epoch::pin();
        // SAFETY: the frozen root and all it reaches stay allocated while
        // this view counts in `frozen` (see `StreamTree::retire`).
        let root = unsafe { &*self.root };
        let mut cur = Cursor::new();
        let mut leaf = match cur.seek_le(root, start) {
            Some(l) => l,
            None => cur.edge(root, false),
        };
        while leaf.first <= self.last && !leaf.scan_fwd(start, self.last, &mut out, count) {
            match cur.next() {
                Some(l) => leaf = l,
                None => break,
            }
        }
        out
    }
}

/// A new leaf's buffer when its node limit allows more (it grows by copies).
const INITIAL_LEAF_BYTES: usize = 4096;

impl StreamTree {
    /// A tree whose leaves follow `stream-node-max-entries` and
    /// `stream-node-max-bytes` as they are at each append (as Redis reads
    /// them at each XADD).
    pub fn new() -> Self {
        let mut tree = Self::with_params(100, 4096);
        tree.configured = true;
        tree
    }

    /// The node limits an append follows (0 in the configuration: none).
    fn limits(&self) -> (usize, usize) {
        if !self.configured {
            return (self.leaf_max_entries, self.leaf_max_bytes);
        }
        let none = |n: usize| if n == 0 { usize::MAX } else { n };
        (
            none(super::encoding::stream_node_max_entries()),
            none(super::encoding::stream_node_max_bytes()),
        )
    }

    /// `leaf_max_entries` / `leaf_max_bytes` bound a leaf (a single entry
    /// larger than `leaf_max_bytes` gets a leaf of its own).
    pub fn with_params(leaf_max_entries: usize, leaf_max_bytes: usize) -> Self {
        assert!(leaf_max_entries >= 1);
        StreamTree {
            inner: Arc::new(Inner {
                root: Atomic::null(),
                len: AtomicUsize::new(0),
                frozen: AtomicUsize::new(0),
                orphans: Default::default(),
            }),
            kept: Vec::new(),
            tail: std::ptr::null(),
            last_id: None,
            len: 0,
            leaf_max_entries,
            leaf_max_bytes,
            configured: false,
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
        self.inner.root(g)
    }

    /// The logical root: the only leaf below a one-child root, else the root.
    fn top(&self, g: &Guard) -> Option<Child> {
        let r = self.root(g)?;
        Some(if r.kids.len() == 1 {
            debug_assert!(r.kids[0].is_leaf());
            r.kids[0]
        } else {
            Child::node(r)
        })
    }

    /// Publishes `new` as the logical root, then retires `retired` (and the
    /// old root if it was a one-child wrapper, which edits never copy).
    fn publish(&mut self, new: Option<Child>, mut retired: Vec<*const Node>, g: &Guard) {
        if let Some(old) = self.root(g).filter(|r| r.kids.len() == 1) {
            retired.push(old);
        }
        let p: *const Node = match new {
            None => std::ptr::null(),
            Some(c) => match c.get() {
                Kid::Node(n) => n,
                Kid::Leaf(l) => Node::alloc(&[], [l.first.to_be_bytes()[0]], [c]),
            },
        };
        self.inner.root.store(Shared::from(p), Ordering::Release);
        // `old` is unreachable from the root just stored (it was replaced on
        // the copied path, merged, split, or was the old root).
        for old in retired {
            self.retire(Retired::Node(old), g);
        }
    }

    /// Retires what was just unlinked: freed once no pinned reader and no
    /// frozen view can reach it.
    fn retire(&mut self, r: Retired, g: &Guard) {
        if self.inner.frozen.load(Ordering::Acquire) > 0 {
            self.kept.push(r);
            return;
        }
        for k in self.kept.drain(..) {
            k.defer(g);
        }
        r.defer(g);
    }

    /// A view of the tree as it is now, readable from any thread for as
    /// long as it lives, whatever the writer does meanwhile: nothing it
    /// reaches is freed (the writer keeps what it retires while a frozen
    /// view is alive), and entries appended later are cut off by ID.
    pub fn freeze(&self) -> Frozen {
        self.inner.frozen.fetch_add(1, Ordering::AcqRel);
        let g = epoch::pin();
        Frozen {
            inner: self.inner.clone(),
            root: self.inner.root.load(Ordering::Acquire, &g).as_raw(),
            last: self.last_id.unwrap_or(StreamId::MIN),
            len: self.len,
        }
    }

    /// Replace (or remove) leaf `old` in the index and retire it.
    fn edit_leaf(&mut self, old: &Leaf, edit: Edit, g: &Guard) {
        let top = self.top(g).expect("edit on empty tree");
        let mut retired = Vec::new();
        let key = old.first.to_be_bytes();
        let new_top = edit_path(&top, 0, &key, old, &edit, &mut retired);
        self.publish(new_top, retired, g);
        let old = old as *const Leaf;
        if self.tail == old {
            self.tail = match edit {
                Edit::Replace(new) => new,
                Edit::Remove => std::ptr::null(),
            };
        }
        self.retire(Retired::Leaf(old), g);
    }

    fn push_leaf(&mut self, leaf: Leaf, g: &Guard) {
        let key = leaf.first.to_be_bytes();
        let p = Box::into_raw(Box::new(leaf)) as *const Leaf;
        let mut retired = Vec::new();
        let new_top = match self.top(g) {
            None => Child::leaf(p),
            Some(top) => insert(&top, 0, &key, p, &mut retired),
        };
        self.publish(Some(new_top), retired, g);
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
            // SAFETY: the tail is reachable from the root; only we retire it.
            let tail = unsafe { &*self.tail };
            tail.encode(id, fields, &mut enc);
            let used = tail.used.load(Ordering::Relaxed);
            let (max_entries, max_bytes) = self.limits();
            if tail.count.load(Ordering::Relaxed) < max_entries
                && used + enc.len() <= max_bytes.max(tail.cap())
            {
                let tail = if used + enc.len() <= tail.cap() {
                    tail
                } else {
                    // The node may grow (a larger or unlimited
                    // stream-node-max-bytes): a copy with twice the room
                    // (COW: readers keep the old buffer).
                    let cap = (tail.cap() * 2).max(used + enc.len()).min(max_bytes);
                    let (bigger, _) = tail.copy_with_deleted(cap, &[]);
                    let new = Box::into_raw(Box::new(bigger)) as *const Leaf;
                    self.edit_leaf(tail, Edit::Replace(new), &g);
                    // SAFETY: just published as the tail; only we retire it.
                    unsafe { &*new }
                };
                tail.push_encoded(id, &enc);
                placed = true;
            } else if used < tail.cap() {
                // Seal: compact the full tail leaf to its exact size (COW).
                let (compact, _) = tail.copy_with_deleted(used, &[]);
                let new = Box::into_raw(Box::new(compact)) as *const Leaf;
                self.edit_leaf(tail, Edit::Replace(new), &g);
            }
        }
        if !placed {
            let master: Box<[Box<[u8]>]> = fields.iter().map(|(f, _)| Box::from(*f)).collect();
            let leaf = Leaf::new(id, master, 0);
            enc.clear();
            leaf.encode(id, fields, &mut enc);
            // Room for the node's limit, or a first 4 KiB that grows.
            let cap = self.limits().1.min(INITIAL_LEAF_BYTES).max(enc.len());
            let leaf = Leaf {
                buf: Leaf::alloc_buf(cap),
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
        Cursor::new().seek_le(self.root(g)?, id)
    }

    fn first_leaf<'g>(&self, g: &'g Guard) -> Option<&'g Leaf> {
        Some(Cursor::new().edge(self.root(g)?, false))
    }

    /// Mark the entries at `del_at` deleted (COW), removing the leaf if it
    /// becomes empty. Returns how many live entries were deleted.
    fn delete_in_leaf(&mut self, leaf: &Leaf, del_at: &[usize], g: &Guard) -> usize {
        if del_at.is_empty() {
            return 0;
        }
        let live = leaf.live.load(Ordering::Relaxed);
        let n = if live <= del_at.len() {
            self.edit_leaf(leaf, Edit::Remove, g);
            live
        } else {
            let cap = if std::ptr::eq(leaf, self.tail) {
                leaf.cap()
            } else {
                leaf.used.load(Ordering::Relaxed)
            };
            let (copy, n) = leaf.copy_with_deleted(cap, del_at);
            let new = Box::into_raw(Box::new(copy)) as *const Leaf;
            self.edit_leaf(leaf, Edit::Replace(new), g);
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
                self.edit_leaf(leaf, Edit::Remove, &g);
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
                self.edit_leaf(leaf, Edit::Remove, &g);
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
        let g = epoch::pin();
        let mut m = std::mem::size_of::<Self>() + std::mem::size_of::<Inner>();
        if let Some(r) = self.root(&g) {
            let mut nodes = 0;
            let mut leaves = 0;
            walk(r, &mut |n| nodes += n.memory(), &mut |l| {
                leaves += l.memory()
            });
            m += nodes + leaves;
        }
        m
    }

    /// (index nodes, leaves) currently reachable from the root.
    fn counts(&self) -> (usize, usize) {
        let g = epoch::pin();
        let (mut nodes, mut leaves) = (0, 0);
        if let Some(r) = self.root(&g) {
            walk(r, &mut |_| nodes += 1, &mut |_| leaves += 1);
        }
        (nodes, leaves)
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

    /// A frozen view reads, from another thread, exactly what the tree held
    /// when frozen while the writer appends, deletes and trims; what the
    /// writer kept for it is freed once the view is gone.
    #[test]
    fn frozen_view_keeps_its_moment() {
        let mut t = StreamTree::with_params(8, 256);
        for i in 1..=500u64 {
            let v = i.to_string();
            t.append(StreamId::new(i, 0), &[(b"f", v.as_bytes())])
                .unwrap();
        }
        let before: Vec<Entry> = t.reader().range(StreamId::MIN, StreamId::MAX, None);
        let frozen = t.freeze();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut from = StreamId::MIN;
            loop {
                let chunk = frozen.range_from(from, 37);
                let Some(last) = chunk.last() else { break };
                from = StreamId::new(last.id.ms, last.id.seq + 1);
                got.extend(chunk);
                std::thread::yield_now();
            }
            (got, frozen.len())
        });
        for i in 501..=900u64 {
            t.append(StreamId::new(i, 0), &[(b"g", b"x")]).unwrap();
            if i.is_multiple_of(3) {
                t.delete(StreamId::new(i - 400, 0));
            }
            if i.is_multiple_of(50) {
                t.trim_maxlen(300, false, 0);
            }
        }
        let (got, len) = reader.join().unwrap();
        assert_eq!(len, 500);
        assert_eq!(got, before);
        assert!(t.inner.frozen.load(Ordering::Acquire) == 0);
        // The next change hands what was kept to the collector.
        t.append(StreamId::new(1000, 0), &[(b"f", b"v")]).unwrap();
        t.trim_maxlen(10, false, 0);
        assert!(t.kept.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append {
            gap_ms: u64,
            gap_seq: u64,
            /// Gaps are shifted left by this many bits (sparse IDs).
            shift: u32,
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

    /// `max_shift` > 0 spreads IDs over many bytes (gaps shifted by 8·k bits).
    fn op(max_shift: u32) -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u64..3, 0u64..3, 0..=max_shift, 1usize..=4, any::<bool>(), any::<u8>()).prop_map(
                |(gap_ms, gap_seq, k, nf, repeat, val)| Op::Append {
                    gap_ms, gap_seq, shift: 8 * k, nf, repeat, val
                }
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

    /// Pick an ID near the model's contents: an appended id (or the ID just
    /// after or before one, to land between leaf keys), MIN or MAX.
    fn pick(all: &[StreamId], k: u16) -> StreamId {
        if all.is_empty() {
            return StreamId::new(k as u64 % 5, 0);
        }
        let i = k as usize % (3 * all.len() + 2);
        if i < 3 * all.len() {
            let id = all[i / 3];
            match i % 3 {
                0 => id,
                1 if id.seq == u64::MAX => StreamId::new(id.ms + 1, 0),
                1 => StreamId::new(id.ms, id.seq + 1),
                _ if id.seq == 0 => StreamId::new(id.ms.saturating_sub(1), u64::MAX),
                _ => StreamId::new(id.ms, id.seq - 1),
            }
        } else if i == 3 * all.len() {
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

    fn run(ops: Vec<Op>, leaf_entries: usize, leaf_bytes: usize) {
        let mut t = StreamTree::with_params(leaf_entries, leaf_bytes);
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
                    shift,
                    nf,
                    repeat,
                    val,
                } => {
                    let id = if gap_ms == 0 {
                        StreamId::new(next.ms, next.seq + (gap_seq << shift))
                    } else {
                        StreamId::new(next.ms + (gap_ms << shift), gap_seq << shift)
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
            t.check_index();
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
            ops in proptest::collection::vec(op(0), 1..300),
            leaf_entries in 1usize..6,
            leaf_bytes in 8usize..80,
        ) {
            run(ops, leaf_entries, leaf_bytes);
        }

        #[test]
        fn matches_btreemap_sparse_ids(
            ops in proptest::collection::vec(op(6), 1..300),
            leaf_entries in 1usize..4,
            leaf_bytes in 8usize..80,
        ) {
            run(ops, leaf_entries, leaf_bytes);
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
        let mut t = StreamTree::with_params(4, 32);
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
        let mut t = StreamTree::with_params(10, 4096);
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
        let mut t = StreamTree::with_params(10, 4096);
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
        let mut t = StreamTree::with_params(100, 4096);
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
        assert!(per <= 16.0, "{per:.2} bytes/entry");
    }

    /// What `check_index` found.
    struct Shape {
        /// Leaf keys (first IDs), in tree order.
        keys: Vec<StreamId>,
        /// Key depth at which each node branches (after its prefix).
        node_depths: Vec<usize>,
    }

    impl StreamTree {
        /// Checks the radix tree invariants and the writer's bookkeeping.
        fn check_index(&self) -> Shape {
            fn node(n: &Node, path: &mut Vec<u8>, is_root: bool, shape: &mut Shape) {
                shape.node_depths.push(path.len() + n.prefix().len());
                assert!(path.len() + n.prefix().len() < KEY_LEN);
                assert_eq!(n.bytes.len(), n.prefix().len() + n.kids.len());
                if is_root && n.kids.len() == 1 {
                    assert!(n.prefix().is_empty());
                    assert!(n.kids[0].is_leaf(), "one-child root");
                } else {
                    assert!(n.kids.len() >= 2, "uncompressed node");
                }
                assert!(n.branch().windows(2).all(|w| w[0] < w[1]));
                let base = path.len();
                path.extend_from_slice(n.prefix());
                for (b, k) in n.branch().iter().zip(n.kids.iter()) {
                    path.push(*b);
                    match k.get() {
                        Kid::Leaf(l) => {
                            assert_eq!(&l.first.to_be_bytes()[..path.len()], &path[..]);
                            shape.keys.push(l.first);
                        }
                        Kid::Node(c) => node(c, path, false, shape),
                    }
                    path.pop();
                }
                path.truncate(base);
            }
            let g = epoch::pin();
            let mut shape = Shape {
                keys: vec![],
                node_depths: vec![],
            };
            let mut live = 0;
            let mut last: *const Leaf = std::ptr::null();
            if let Some(r) = self.root(&g) {
                node(r, &mut vec![], true, &mut shape);
                walk(r, &mut |_| {}, &mut |l| {
                    let n = l.live.load(Ordering::Relaxed);
                    assert!(n > 0, "empty leaf in the index");
                    live += n;
                    last = l;
                });
            }
            assert!(shape.keys.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(live, self.len);
            assert!(
                self.tail.is_null() || self.tail == last,
                "tail is not the last leaf"
            );
            shape
        }
    }

    fn append1(t: &mut StreamTree, id: StreamId) {
        let v = format!("{}-{}", id.ms, id.seq);
        t.append(id, &[(b"f", v.as_bytes())]).unwrap();
    }

    /// Checks predecessor search, point lookups and ranges of `t` (whose
    /// live entries are `ids`) at, between, before and after every ID.
    fn check_lookups(t: &StreamTree, ids: &[StreamId]) {
        let shape = t.check_index();
        let r = t.reader();
        let model: std::collections::BTreeSet<StreamId> = ids.iter().copied().collect();
        let leaf_keys: std::collections::BTreeSet<StreamId> = shape.keys.iter().copied().collect();
        let mut probes = vec![StreamId::MIN, StreamId::MAX];
        for &id in ids.iter().chain(&shape.keys) {
            probes.push(id);
            probes.push(StreamId::new(id.ms, id.seq.wrapping_add(1)));
            probes.push(StreamId::new(id.ms, id.seq.wrapping_sub(1)));
            probes.push(StreamId::new(id.ms.wrapping_add(1), 0));
            probes.push(StreamId::new(id.ms.wrapping_sub(1), u64::MAX));
        }
        let g = epoch::pin();
        for &q in &probes {
            let want = leaf_keys.range(..=q).next_back().copied();
            assert_eq!(t.find_leaf(q, &g).map(|l| l.first), want, "pred({q:?})");
            let got: Vec<StreamId> = r
                .range(q, StreamId::MAX, Some(3))
                .iter()
                .map(|e| e.id)
                .collect();
            let exp: Vec<StreamId> = model.range(q..).take(3).copied().collect();
            assert_eq!(got, exp, "range from {q:?}");
            let got: Vec<StreamId> = r
                .rev_range(q, StreamId::MIN, Some(3))
                .iter()
                .map(|e| e.id)
                .collect();
            let exp: Vec<StreamId> = model.range(..=q).rev().take(3).copied().collect();
            assert_eq!(got, exp, "rev_range from {q:?}");
        }
        let all: Vec<StreamId> = r
            .range(StreamId::MIN, StreamId::MAX, None)
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(all, model.iter().copied().collect::<Vec<_>>());
        for e in r.range(StreamId::MIN, StreamId::MAX, None) {
            assert_eq!(
                e.fields,
                vec![(
                    b"f".to_vec(),
                    format!("{}-{}", e.id.ms, e.id.seq).into_bytes()
                )]
            );
        }
    }

    #[test]
    fn ids_differing_only_in_low_bytes() {
        let mut ids = vec![];
        ids.extend((0..=300).map(|s| StreamId::new(7, s)));
        ids.extend((u64::MAX - 260..=u64::MAX).map(|s| StreamId::new(7, s)));
        ids.extend((8..=300).map(|ms| StreamId::new(ms, 0)));
        for leaf_entries in [1, 3] {
            let mut t = StreamTree::with_params(leaf_entries, 4096);
            for &id in &ids {
                append1(&mut t, id);
            }
            assert_eq!(t.leaf_count(), ids.len().div_ceil(leaf_entries));
            check_lookups(&t, &ids);
            // Delete every other entry and every entry of some leaves.
            let mut live = vec![];
            for (i, &id) in ids.iter().enumerate() {
                if i % 2 == 0 || (i / 3) % 5 == 0 {
                    assert!(t.delete(id));
                } else {
                    live.push(id);
                }
            }
            check_lookups(&t, &live);
        }
    }

    #[test]
    fn ids_spanning_many_ms_split_prefixes_at_many_depths() {
        let mut set = std::collections::BTreeSet::new();
        for k in 0..8u32 {
            for a in 1..4u64 {
                for b in [0u64, 1, 255, 256, 70_000] {
                    let ms = (a << (8 * k)).wrapping_add(b);
                    for seq in [0u64, 1, 1 << 40, u64::MAX] {
                        set.insert(StreamId::new(ms, seq));
                    }
                }
            }
        }
        set.insert(StreamId::new(u64::MAX, u64::MAX));
        let ids: Vec<StreamId> = set.into_iter().collect();
        for leaf_entries in [1, 2, 7] {
            let mut t = StreamTree::with_params(leaf_entries, 4096);
            for &id in &ids {
                append1(&mut t, id);
            }
            let shape = t.check_index();
            let depths: std::collections::BTreeSet<usize> =
                shape.node_depths.iter().copied().collect();
            eprintln!("leaf_entries {leaf_entries}: nodes branch at {depths:?}");
            assert!(depths.len() >= 8 + 2 / leaf_entries, "{depths:?}");
            check_lookups(&t, &ids);
            // Remove leaves from the middle outwards; paths re-compress.
            let mut live = ids.clone();
            while live.len() > 10 {
                let id = live.remove(live.len() / 2);
                assert!(t.delete(id));
                if live.len().is_multiple_of(37) {
                    check_lookups(&t, &live);
                }
            }
            check_lookups(&t, &live);
        }
    }

    #[test]
    fn remove_leaves_until_empty_then_append_again() {
        let ids: Vec<StreamId> = (0..200u64)
            .map(|i| StreamId::new(1_000 + i * i * 977, i % 4))
            .collect();
        for order in 0..4 {
            let mut t = StreamTree::with_params(2, 4096);
            for &id in &ids {
                append1(&mut t, id);
            }
            let mut live = ids.clone();
            let mut step = 0usize;
            while !live.is_empty() {
                let i = match order {
                    0 => 0,
                    1 => live.len() - 1,
                    2 => live.len() / 2,
                    _ => (step * 7919) % live.len(),
                };
                let id = live.remove(i);
                if order == 0 && step.is_multiple_of(2) {
                    assert_eq!(t.trim_minid(StreamId::new(id.ms, id.seq + 1), false, 0), 1);
                } else {
                    assert!(t.delete(id));
                }
                step += 1;
                t.check_index();
                if step.is_multiple_of(25) {
                    check_lookups(&t, &live);
                }
            }
            assert_eq!((t.len(), t.leaf_count(), t.node_count()), (0, 0, 0));
            assert_eq!(t.first_id(), None);
            check_lookups(&t, &[]);
            let mut again = vec![];
            for i in 0..50u64 {
                let id = StreamId::new(u64::MAX / 2 + i * 300, i);
                append1(&mut t, id);
                again.push(id);
                if i == 0 {
                    assert_eq!(t.node_count(), 2, "one-child root and its leaf");
                }
            }
            check_lookups(&t, &again);
            assert_eq!(t.trim_maxlen(0, false, 0), 50);
            assert_eq!(t.node_count(), 0);
        }
    }

    #[test]
    fn predecessor_search_at_between_and_before_leaf_keys() {
        let keys = [
            StreamId::new(10, 0),
            StreamId::new(10, 5),
            StreamId::new(20, 0),
            StreamId::new(300, 0),
            StreamId::new(300, 1),
            StreamId::new(1 << 32, 0),
            StreamId::new(1 << 32, 1 << 32),
        ];
        let mut t = StreamTree::with_params(1, 4096);
        for &k in &keys {
            append1(&mut t, k);
        }
        let g = epoch::pin();
        let pred = |q: StreamId| t.find_leaf(q, &g).map(|l| l.first);
        assert_eq!(pred(StreamId::MIN), None);
        assert_eq!(pred(StreamId::new(9, u64::MAX)), None);
        assert_eq!(pred(StreamId::new(10, 0)), Some(keys[0]));
        assert_eq!(pred(StreamId::new(10, 4)), Some(keys[0]));
        assert_eq!(pred(StreamId::new(10, 5)), Some(keys[1]));
        assert_eq!(pred(StreamId::new(19, 0)), Some(keys[1]));
        assert_eq!(pred(StreamId::new(20, 0)), Some(keys[2]));
        assert_eq!(pred(StreamId::new(299, u64::MAX)), Some(keys[2]));
        assert_eq!(pred(StreamId::new(300, 0)), Some(keys[3]));
        assert_eq!(pred(StreamId::new(300, 2)), Some(keys[4]));
        assert_eq!(pred(StreamId::new((1 << 32) - 1, 0)), Some(keys[4]));
        assert_eq!(pred(StreamId::new(1 << 32, 0)), Some(keys[5]));
        assert_eq!(pred(StreamId::new(1 << 32, (1 << 32) - 1)), Some(keys[5]));
        assert_eq!(pred(StreamId::new(1 << 32, 1 << 32)), Some(keys[6]));
        assert_eq!(pred(StreamId::MAX), Some(keys[6]));
        drop(g);
        check_lookups(&t, &keys);
        // Leaves with several entries: only leaf first IDs are index keys.
        let mut t = StreamTree::with_params(3, 4096);
        let ids: Vec<StreamId> = (0..40u64).map(|i| StreamId::new(i * 1000, 0)).collect();
        for &id in &ids {
            append1(&mut t, id);
        }
        let g = epoch::pin();
        assert_eq!(
            t.find_leaf(StreamId::new(4500, 0), &g).unwrap().first,
            ids[3]
        );
        assert_eq!(
            t.find_leaf(StreamId::new(5999, 0), &g).unwrap().first,
            ids[3]
        );
        assert_eq!(
            t.find_leaf(StreamId::new(6000, 0), &g).unwrap().first,
            ids[6]
        );
        drop(g);
        check_lookups(&t, &ids);
    }
}
