//! Sorted sets: members ordered by `(score, member)`, with a member → score
//! lookup.
//!
//! # Layout
//!
//! A [`ZSet`] keeps its elements once, as nodes of an order-statistic treap
//! held in an arena (`Vec<Node>`, children as `u32` indices, freed slots
//! reused). Every node caches the size of its subtree, so positions (ranks)
//! are as cheap as lookups. The member → node lookup is an `Index` of
//! node indices hashed by the node's member, so members are not stored
//! twice: a directory of small `hashbrown` tables, each owning a range of
//! the hash space (as the keyspace's `KeyTable`), so ZSCAN's cursor is a
//! position in hash space that stays meaningful while the set grows.
//!
//! Order is Redis's: by score, then by member bytes (`memcmp`, a shorter
//! prefix first). Scores are never NaN (the commands refuse them), so the
//! order is total; `-0.0` and `0.0` compare equal, as in Redis.
//!
//! # Costs (n elements)
//!
//! - Lookup of a member's score: O(1) expected.
//! - Insert, remove, score update, rank of a member, element at a rank, and
//!   the position of a score or lex bound: O(log n) expected (treap with
//!   random priorities; the priority generator is seeded per set from a
//!   random hasher state, so inputs cannot be chosen to unbalance it).
//! - A range of m elements by rank, score or lex: O(log n + m).
//! - Removing a range of m elements (ZREMRANGEBY*, pops): O(log n + m).
//!
//! # Invariants
//!
//! 1. `size` of every node is 1 + the sizes of its children; the root's size
//!    is the number of elements, which is also the number of entries of
//!    `index`.
//! 2. In-order traversal is strictly increasing by `(score, member)`; heap
//!    order holds on `prio` (a parent's priority is at least its children's).
//! 3. `index` holds exactly the live nodes; freed slots are in `free` and
//!    hold an empty member.
//! 4. No score is NaN.
//! 5. Segment `i` of the index (directory depth `d`) holds exactly the nodes
//!    whose member hash has top `d` bits equal to `i`; the depth never
//!    decreases, so a scan cursor (a segment boundary) stays one.
//!
//! # `OBJECT ENCODING`
//!
//! [`ZSet::encoding`] follows Redis 7.2: a sorted set is a `listpack` while
//! it has at most `zset-max-listpack-entries` (128) elements and every member
//! is at most `zset-max-listpack-value` (64) bytes long; past either limit it
//! becomes a `skiplist` and stays one (removals never convert it back). The
//! limits are checked as Redis 7.2 checks them: when a new member is added,
//! and for a whole ZADD up front with the number of score/member pairs (and,
//! for a new key, the length of its first member): [`ZSet::convert_for`].

use std::cmp::Ordering;

use hashbrown::HashTable;

/// Redis's `zset-max-listpack-entries` default.
pub const MAX_LISTPACK_ENTRIES: usize = 128;
/// Redis's `zset-max-listpack-value` default.
pub const MAX_LISTPACK_VALUE: usize = 64;

const NIL: u32 = u32::MAX;

/// A scan cursor is a position in this many top bits of a member's hash.
const POS_BITS: u32 = 40;
/// The index doubles its directory when its segments hold this many nodes
/// on average.
const SEGMENT_FILL: usize = 32;

#[derive(Debug, Clone)]
struct Node {
    score: f64,
    member: Box<[u8]>,
    left: u32,
    right: u32,
    size: u32,
    prio: u32,
}

/// Where a subtree hangs: the root, or a node's left or right child.
#[derive(Clone, Copy)]
enum Link {
    Root,
    Left(u32),
    Right(u32),
}

/// Compares `(score, member)` pairs in sorted set order.
pub fn cmp_elements(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    a.0.partial_cmp(&b.0)
        .expect("scores are never NaN")
        .then_with(|| a.1.cmp(b.1))
}

/// A bound of a lex range (ZRANGEBYLEX and friends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

/// Redis's `sdscmplex` of two lex bounds: `-` below and `+` above every
/// string (the same sentinel twice is equal).
fn lex_cmp(a: &LexBound, b: &LexBound) -> Ordering {
    use LexBound::*;
    match (a, b) {
        (Min, Min) | (Max, Max) => Ordering::Equal,
        (Min, _) | (_, Max) => Ordering::Less,
        (Max, _) | (_, Min) => Ordering::Greater,
        (Incl(x) | Excl(x), Incl(y) | Excl(y)) => x.cmp(y),
    }
}

/// Whether `m` is within the lower bound `min` of a lex range.
fn lex_at_least(m: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Incl(x) => m >= x.as_slice(),
        LexBound::Excl(x) => m > x.as_slice(),
    }
}

/// Whether `m` is within the upper bound `max` of a lex range.
fn lex_at_most(m: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(x) => m <= x.as_slice(),
        LexBound::Excl(x) => m < x.as_slice(),
    }
}

/// A sorted set; see the module documentation.
#[derive(Clone)]
pub struct ZSet {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    index: Index,
    hasher: ahash::RandomState,
    rng: u64,
    /// The `skiplist` encoding was reached (one way).
    big: bool,
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZSet")
            .field("len", &self.len())
            .field("encoding", &self.encoding())
            .finish()
    }
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

impl ZSet {
    pub fn new() -> ZSet {
        let hasher = ahash::RandomState::new();
        let rng = hasher.hash_one(0x5eed_u64) | 1;
        ZSet {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            index: Index::new(),
            hasher,
            rng,
            big: false,
        }
    }

    /// An estimate of the heap bytes held (MEMORY USAGE): the node arena,
    /// the member index and every member's bytes.
    pub fn heap_bytes(&self) -> usize {
        let members: usize = self.nodes.iter().map(|n| n.member.len()).sum();
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.free.capacity() * 4
            + self.index.heap_bytes()
            + members
    }

    pub fn len(&self) -> usize {
        self.size(self.root)
    }

    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    /// `listpack` or `skiplist`, as Redis would answer OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        if self.big {
            "skiplist"
        } else {
            "listpack"
        }
    }

    /// Redis 7.2's `zsetTypeCreate` / `zsetTypeMaybeConvert`: a ZADD of
    /// `pairs` score/member pairs makes a `skiplist` up front when `pairs` is
    /// over the entry limit, or (for a new key, where `first_len` is the
    /// length of its first member) when that member is over the value limit.
    pub fn convert_for(&mut self, pairs: usize, first_len: usize) {
        if pairs > super::encoding::zset_max_listpack_entries()
            || first_len > super::encoding::zset_max_listpack_value()
        {
            self.big = true;
        }
    }

    // ------------------------------------------------------------ lookups

    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.index
            .find(self.hash(member), |i| &*nodes[i as usize].member == member)
    }

    /// The score of `member`, if it is in the set.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|i| self.nodes[i as usize].score)
    }

    /// The 0-based position of `member` from the lowest, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        Some((
            self.count_before(|n| cmp_elements(n, (score, member)).is_lt()),
            score,
        ))
    }

    /// The element at position `rank` (0 is the lowest).
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        let mut t = self.root;
        let mut k = rank;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let ls = self.size(n.left);
            match k.cmp(&ls) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some((&n.member, n.score)),
                Ordering::Greater => {
                    k -= ls + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// How many elements satisfy `before`, a predicate true for a prefix of
    /// the set (every element before some position, none after it).
    fn count_before(&self, before: impl Fn((f64, &[u8])) -> bool) -> usize {
        let mut t = self.root;
        let mut count = 0;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if before((n.score, &n.member)) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    /// Elements with a score below `bound` (or at most `bound` when
    /// `inclusive`): the position where that score range ends.
    pub fn count_by_score(&self, bound: f64, inclusive: bool) -> usize {
        if inclusive {
            self.count_before(|(s, _)| s <= bound)
        } else {
            self.count_before(|(s, _)| s < bound)
        }
    }

    /// The positions `[start, end)` of the elements with `min <= score <= max`
    /// (a side is exclusive when its flag says so).
    pub fn score_range(&self, min: f64, min_ex: bool, max: f64, max_ex: bool) -> (usize, usize) {
        let start = self.count_by_score(min, min_ex);
        let end = self.count_by_score(max, !max_ex);
        (start, end.max(start))
    }

    /// How many members sort before the lower bound `min` of a lex range.
    fn lex_start(&self, min: &LexBound) -> usize {
        match min {
            LexBound::Min => 0,
            LexBound::Max => self.len(),
            LexBound::Incl(m) => self.count_before(|(_, x)| x < m.as_slice()),
            LexBound::Excl(m) => self.count_before(|(_, x)| x <= m.as_slice()),
        }
    }

    /// How many members sort up to the upper bound `max` of a lex range.
    fn lex_end(&self, max: &LexBound) -> usize {
        match max {
            LexBound::Min => 0,
            LexBound::Max => self.len(),
            LexBound::Incl(m) => self.count_before(|(_, x)| x <= m.as_slice()),
            LexBound::Excl(m) => self.count_before(|(_, x)| x < m.as_slice()),
        }
    }

    /// The positions `[start, end)` of the members between `min` and `max`.
    /// Lex ranges are meant for sets whose scores are all equal; on one whose
    /// scores differ, the answer is [`ZSet::lex_walk`]'s.
    pub fn lex_range(&self, min: &LexBound, max: &LexBound) -> (usize, usize) {
        if !self.uniform() {
            return self.lex_walk(min, max, false, 0, usize::MAX);
        }
        let start = self.lex_start(min);
        let end = self.lex_end(max);
        (start, end.max(start))
    }

    /// Whether every element has the same score.
    pub fn uniform(&self) -> bool {
        match (
            self.get(0),
            self.len().checked_sub(1).and_then(|l| self.get(l)),
        ) {
            (Some((_, a)), Some((_, b))) => a == b,
            _ => true,
        }
    }

    /// A lex range found as Redis walks a `listpack`, which is what decides
    /// its answer when the scores differ (members are then not in lex
    /// order): nothing unless the first element is within `max` and the
    /// last within `min` (`zzlIsInLexRange`); else from the first element at
    /// or past `min` (the last at or before `max` when `rev`), which must be
    /// within the other bound too, `skip` elements on, then on while the
    /// elements stay within the other bound, at most `take` of them.
    /// Deterministic, whatever the tree's shape. Returns `[start, end)`.
    pub fn lex_walk(
        &self,
        min: &LexBound,
        max: &LexBound,
        rev: bool,
        skip: usize,
        take: usize,
    ) -> (usize, usize) {
        let len = self.len();
        let (Some((first, _)), Some((last, _))) =
            (self.get(0), len.checked_sub(1).and_then(|l| self.get(l)))
        else {
            return (0, 0);
        };
        if lex_cmp(min, max).is_gt()
            || (lex_cmp(min, max).is_eq()
                && !(matches!(min, LexBound::Incl(_)) && matches!(max, LexBound::Incl(_))))
            || !lex_at_least(last, min)
            || !lex_at_most(first, max)
        {
            return (0, 0);
        }
        if !rev {
            let Some(i) = self.iter().position(|(m, _)| lex_at_least(m, min)) else {
                return (0, 0);
            };
            let start = i.saturating_add(skip);
            if !lex_at_most(self.get(i).expect("inside").0, max) || start >= len {
                return (0, 0);
            }
            let n = self
                .range(start, len, false)
                .take(take)
                .take_while(|(m, _)| lex_at_most(m, max))
                .count();
            (start, start + n)
        } else {
            let Some(back) = self
                .range(0, len, true)
                .position(|(m, _)| lex_at_most(m, max))
            else {
                return (0, 0);
            };
            let k = len - 1 - back;
            if !lex_at_least(self.get(k).expect("inside").0, min) || skip > k {
                return (0, 0);
            }
            let top = k - skip + 1;
            let n = self
                .range(0, top, true)
                .take(take)
                .take_while(|(m, _)| lex_at_least(m, min))
                .count();
            (top - n, top)
        }
    }

    /// The elements at positions `start..end`, lowest first, or highest
    /// first when `rev`.
    pub fn range(&self, start: usize, end: usize, rev: bool) -> RangeIter<'_> {
        let end = end.min(self.len());
        let left = end.saturating_sub(start);
        let mut it = RangeIter {
            set: self,
            stack: Vec::new(),
            left,
            rev,
        };
        if left > 0 {
            it.seek(if rev { end - 1 } else { start });
        }
        it
    }

    /// Every element, lowest first.
    pub fn iter(&self) -> RangeIter<'_> {
        self.range(0, self.len(), false)
    }

    /// The element at a random position, `seed` choosing it.
    pub fn random(&self, seed: u64) -> Option<(&[u8], f64)> {
        match self.len() {
            0 => None,
            n => self.get((seed % n as u64) as usize),
        }
    }

    /// ZSCAN's walk: a `listpack` set is visited whole, in order, and the
    /// walk is done (0). A `skiplist` one is visited from hash-space
    /// position `cursor`, whole index segments at a time, until at least
    /// `count` elements were offered; returns the position to go on from,
    /// or 0 when the walk is done. An element present for the whole walk is
    /// visited exactly once, however the set changes in between (invariant
    /// 5).
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        if !self.big {
            self.iter().for_each(|(m, s)| visit(m, s));
            return 0;
        }
        let nodes = &self.nodes;
        self.index.scan(cursor, count, |i| {
            let n = &nodes[i as usize];
            visit(&n.member, n.score)
        })
    }

    // ------------------------------------------------------------ changes

    /// Sets `member`'s score, adding it if needed. Returns its old score.
    ///
    /// A `listpack` set stores a score that is an integer as one, so `-0`
    /// becomes `0` there (as in Redis); a `skiplist` set keeps `-0`.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let old = self.score(member);
        self.set_score(member, score, old);
        old
    }

    /// [`ZSet::insert`] for a caller that has just looked `member`'s score
    /// up (`old`, None when absent): one lookup fewer.
    pub fn set_score(&mut self, member: &[u8], mut score: f64, old: Option<f64>) {
        debug_assert!(!score.is_nan());
        debug_assert_eq!(old.map(f64::to_bits), self.score(member).map(f64::to_bits));
        if old.is_none()
            && (self.len() + 1 > super::encoding::zset_max_listpack_entries()
                || member.len() > super::encoding::zset_max_listpack_value())
        {
            self.big = true;
        }
        if !self.big && score == 0.0 {
            score = 0.0;
        }
        if let Some(old) = old {
            // Like Redis, -0 and 0 are the same score: nothing changes.
            if old != score {
                // Re-inserted at its new place (the node slot is reused).
                let slot = self.detach(member, old);
                self.attach(slot, score);
            }
            return;
        }
        let slot = self.alloc(member);
        let hash = self.hash(member);
        let nodes = &self.nodes;
        let hasher = &self.hasher;
        self.index
            .insert(hash, slot, |i| hasher.hash_one(&*nodes[i as usize].member));
        self.attach(slot, score);
    }

    /// Removes `member`; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.score(member)?;
        let slot = self.detach(member, score);
        self.unindex(slot);
        self.release(slot);
        self.shrink_if_empty();
        Some(score)
    }

    /// Removes the elements at positions `start..end` and returns them,
    /// lowest first.
    pub fn remove_range(&mut self, start: usize, end: usize) -> Vec<(Vec<u8>, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        let (left, rest) = self.split_at(self.root, start);
        let (mid, right) = self.split_at(rest, end - start);
        self.root = self.merge(left, right);
        let mut out = Vec::with_capacity(end - start);
        let mut stack = Vec::new();
        let mut t = mid;
        // In-order walk of the detached subtree, freeing as it goes.
        while t != NIL || !stack.is_empty() {
            while t != NIL {
                stack.push(t);
                t = self.nodes[t as usize].left;
            }
            let n = stack.pop().expect("non-empty");
            t = self.nodes[n as usize].right;
            self.unindex(n);
            let node = &mut self.nodes[n as usize];
            out.push((std::mem::take(&mut node.member).into_vec(), node.score));
            self.release(n);
        }
        self.shrink_if_empty();
        out
    }

    /// Removes and returns up to `count` elements from the low end (or the
    /// high end when `max`), in the order they are popped.
    pub fn pop(&mut self, max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
        let len = self.len();
        let n = count.min(len);
        if max {
            let mut v = self.remove_range(len - n, len);
            v.reverse();
            v
        } else {
            self.remove_range(0, n)
        }
    }

    // ------------------------------------------------------------ treap internals

    fn size(&self, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size as usize
        }
    }

    fn update(&mut self, t: u32) {
        let n = &self.nodes[t as usize];
        let size = 1 + self.size(n.left) + self.size(n.right);
        self.nodes[t as usize].size = size as u32;
    }

    fn next_prio(&mut self) -> u32 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    fn alloc(&mut self, member: &[u8]) -> u32 {
        let prio = self.next_prio();
        let node = Node {
            score: 0.0,
            member: member.into(),
            left: NIL,
            right: NIL,
            size: 1,
            prio,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                assert!(self.nodes.len() < NIL as usize, "sorted set too large");
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, slot: u32) {
        let n = &mut self.nodes[slot as usize];
        n.member = Box::default();
        n.left = NIL;
        n.right = NIL;
        self.free.push(slot);
    }

    /// Gives the arena back once the set is empty.
    fn shrink_if_empty(&mut self) {
        if self.root == NIL {
            self.nodes = Vec::new();
            self.free = Vec::new();
        }
    }

    fn unindex(&mut self, slot: u32) {
        let hash = self.hash(&self.nodes[slot as usize].member);
        self.index.remove(hash, slot);
    }

    /// Points `link` (the root, or a node's left or right child) at `t`.
    fn set_link(&mut self, link: Link, t: u32) {
        match link {
            Link::Root => self.root = t,
            Link::Left(p) => self.nodes[p as usize].left = t,
            Link::Right(p) => self.nodes[p as usize].right = t,
        }
    }

    /// Links the (unlinked) node `slot` into the tree with `score`: down
    /// from the root while the nodes outrank it (each gains one element
    /// below), then in place of the subtree there, split around it. One
    /// pass down, and a split of a subtree that is small on average.
    fn attach(&mut self, slot: u32, score: f64) {
        let prio = {
            let n = &mut self.nodes[slot as usize];
            n.score = score;
            n.prio
        };
        let member = std::mem::take(&mut self.nodes[slot as usize].member);
        let mut link = Link::Root;
        let mut t = self.root;
        while t != NIL && self.nodes[t as usize].prio >= prio {
            let n = &mut self.nodes[t as usize];
            n.size += 1;
            if cmp_elements((score, &member), (n.score, &n.member)).is_lt() {
                link = Link::Left(t);
                t = n.left;
            } else {
                link = Link::Right(t);
                t = n.right;
            }
        }
        let (l, r) = self.split_before(t, score, &member);
        let n = &mut self.nodes[slot as usize];
        n.member = member;
        n.left = l;
        n.right = r;
        self.update(slot);
        self.set_link(link, slot);
    }

    /// Splits `t` into the elements before `(score, member)` and the rest.
    fn split_before(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let n = &self.nodes[t as usize];
        if cmp_elements((n.score, &n.member), (score, member)).is_lt() {
            let (a, b) = self.split_before(n.right, score, member);
            self.nodes[t as usize].right = a;
            self.update(t);
            (t, b)
        } else {
            let (a, b) = self.split_before(n.left, score, member);
            self.nodes[t as usize].left = b;
            self.update(t);
            (a, t)
        }
    }

    /// Unlinks the node of `member` (whose score is `score`) from the tree
    /// and returns its slot, still indexed: down to it (each node on the
    /// way loses one element below), then its children merged in its place.
    fn detach(&mut self, member: &[u8], score: f64) -> u32 {
        let mut link = Link::Root;
        let mut t = self.root;
        loop {
            let n = &mut self.nodes[t as usize];
            match cmp_elements((n.score, &n.member), (score, member)) {
                Ordering::Equal => break,
                Ordering::Less => {
                    n.size -= 1;
                    link = Link::Right(t);
                    t = n.right;
                }
                Ordering::Greater => {
                    n.size -= 1;
                    link = Link::Left(t);
                    t = n.left;
                }
            }
        }
        let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        let m = self.merge(l, r);
        self.set_link(link, m);
        t
    }

    /// Splits `t` into its first `k` elements and the rest.
    fn split_at(&mut self, t: u32, k: usize) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let (left, right) = {
            let n = &self.nodes[t as usize];
            (n.left, n.right)
        };
        let ls = self.size(left);
        if k <= ls {
            let (a, b) = self.split_at(left, k);
            self.nodes[t as usize].left = b;
            self.update(t);
            (a, t)
        } else {
            let (a, b) = self.split_at(right, k - ls - 1);
            self.nodes[t as usize].right = a;
            self.update(t);
            (t, b)
        }
    }

    /// Joins two trees, every element of `a` before every element of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio >= self.nodes[b as usize].prio {
            let ar = self.nodes[a as usize].right;
            let m = self.merge(ar, b);
            self.nodes[a as usize].right = m;
            self.update(a);
            a
        } else {
            let bl = self.nodes[b as usize].left;
            let m = self.merge(a, bl);
            self.nodes[b as usize].left = m;
            self.update(b);
            b
        }
    }

    /// Checks every invariant of the module documentation (tests only).
    #[cfg(test)]
    fn check(&self) {
        fn walk(s: &ZSet, t: u32, out: &mut Vec<u32>) -> usize {
            if t == NIL {
                return 0;
            }
            let n = &s.nodes[t as usize];
            for c in [n.left, n.right] {
                if c != NIL {
                    assert!(s.nodes[c as usize].prio <= n.prio, "heap order");
                }
            }
            let l = walk(s, n.left, out);
            out.push(t);
            let r = walk(s, n.right, out);
            assert_eq!(n.size as usize, l + r + 1, "size");
            l + r + 1
        }
        let mut order = Vec::new();
        walk(self, self.root, &mut order);
        for w in order.windows(2) {
            let (a, b) = (&self.nodes[w[0] as usize], &self.nodes[w[1] as usize]);
            assert!(cmp_elements((a.score, &a.member), (b.score, &b.member)).is_lt());
        }
        assert_eq!(self.index.len(), order.len());
        for (i, seg) in self.index.segs.iter().enumerate() {
            for &n in seg.iter() {
                let hash = self.hash(&self.nodes[n as usize].member);
                assert_eq!(self.index.segment_of(hash), i, "segment");
            }
        }
        for &i in &order {
            assert_eq!(self.find(&self.nodes[i as usize].member), Some(i));
            assert!(!self.nodes[i as usize].score.is_nan());
        }
    }
}

/// The member → node index: a directory of `2^depth` hash tables, table
/// `i` holding the nodes whose member hash starts with the `depth` bits of
/// `i` (invariant 5). Hashes are computed by the caller, who knows the
/// members.
#[derive(Clone)]
struct Index {
    depth: u32,
    segs: Vec<HashTable<u32>>,
    len: usize,
}

impl Index {
    fn new() -> Index {
        Index {
            depth: 0,
            segs: vec![HashTable::new()],
            len: 0,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    fn heap_bytes(&self) -> usize {
        self.segs.capacity() * std::mem::size_of::<HashTable<u32>>()
            + self.segs.iter().map(|t| t.capacity() * 5).sum::<usize>()
    }

    fn segment_of(&self, hash: u64) -> usize {
        match self.depth {
            0 => 0,
            d => (hash >> (64 - d)) as usize,
        }
    }

    fn find(&self, hash: u64, is: impl Fn(u32) -> bool) -> Option<u32> {
        self.segs[self.segment_of(hash)]
            .find(hash, |&i| is(i))
            .copied()
    }

    /// Adds `slot` (not yet indexed) under `hash`; `hash_of` gives the hash
    /// of any indexed node.
    fn insert(&mut self, hash: u64, slot: u32, hash_of: impl Fn(u32) -> u64) {
        if self.len >= self.segs.len() * SEGMENT_FILL && self.depth < POS_BITS {
            self.split(&hash_of);
        }
        let seg = self.segment_of(hash);
        self.segs[seg].insert_unique(hash, slot, |&i| hash_of(i));
        self.len += 1;
    }

    fn remove(&mut self, hash: u64, slot: u32) {
        let seg = self.segment_of(hash);
        if let Ok(e) = self.segs[seg].find_entry(hash, |&i| i == slot) {
            e.remove();
            self.len -= 1;
        }
    }

    /// One more directory bit: table `i` becomes `2i` (next bit 0) and
    /// `2i + 1` (next bit 1), so table order stays hash order.
    fn split(&mut self, hash_of: &impl Fn(u32) -> u64) {
        let depth = self.depth + 1;
        let old = std::mem::take(&mut self.segs);
        self.segs = Vec::with_capacity(old.len() * 2);
        for table in old {
            let mut halves = [
                HashTable::with_capacity(table.len() / 2 + 1),
                HashTable::with_capacity(table.len() / 2 + 1),
            ];
            for i in table {
                let hash = hash_of(i);
                let half = ((hash >> (64 - depth)) & 1) as usize;
                halves[half].insert_unique(hash, i, |&j| hash_of(j));
            }
            self.segs.extend(halves);
        }
        self.depth = depth;
    }

    /// Visits whole tables from hash-space position `cursor` (in
    /// [`POS_BITS`] bits) until `count` nodes were offered; the position of
    /// the next table, or 0 past the last.
    fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(u32)) -> u64 {
        let shift = POS_BITS - self.depth;
        let mut seg = usize::try_from(cursor >> shift).unwrap_or(usize::MAX);
        let mut seen = 0;
        while seg < self.segs.len() && seen < count {
            for &i in self.segs[seg].iter() {
                visit(i);
                seen += 1;
            }
            seg += 1;
        }
        if seg < self.segs.len() {
            (seg as u64) << shift
        } else {
            0
        }
    }
}

/// Elements of a position range, in either direction; see [`ZSet::range`].
pub struct RangeIter<'a> {
    set: &'a ZSet,
    /// Nodes still to visit on the way back up, the next one on top.
    stack: Vec<u32>,
    left: usize,
    rev: bool,
}

impl RangeIter<'_> {
    /// Positions the iterator on the element at position `k`.
    fn seek(&mut self, mut k: usize) {
        let nodes = &self.set.nodes;
        let mut t = self.set.root;
        while t != NIL {
            let n = &nodes[t as usize];
            let ls = self.set.size(n.left);
            match k.cmp(&ls) {
                Ordering::Equal => {
                    self.stack.push(t);
                    return;
                }
                Ordering::Less => {
                    // Going left: this node comes later in a forward walk.
                    if !self.rev {
                        self.stack.push(t);
                    }
                    t = n.left;
                }
                Ordering::Greater => {
                    if self.rev {
                        self.stack.push(t);
                    }
                    k -= ls + 1;
                    t = n.right;
                }
            }
        }
    }
}

impl<'a> Iterator for RangeIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let nodes = &self.set.nodes;
        let t = self.stack.pop()?;
        self.left -= 1;
        let n = &nodes[t as usize];
        // The next node: the nearest of the subtree on the walking side.
        let mut c = if self.rev { n.left } else { n.right };
        while c != NIL {
            self.stack.push(c);
            let cn = &nodes[c as usize];
            c = if self.rev { cn.right } else { cn.left };
        }
        Some((&n.member, n.score))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for RangeIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    /// The model: a map member → score, ordered on demand.
    #[derive(Default)]
    struct Model {
        scores: HashMap<Vec<u8>, f64>,
    }

    impl Model {
        fn sorted(&self) -> Vec<(Vec<u8>, f64)> {
            let mut v: Vec<_> = self.scores.iter().map(|(m, s)| (m.clone(), *s)).collect();
            v.sort_by(|a, b| cmp_elements((a.1, &a.0), (b.1, &b.0)));
            v
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u8>, f64),
        Remove(Vec<u8>),
        RemoveRange(usize, usize),
        Pop(bool, usize),
        Range(usize, usize, bool),
        ScoreRange(f64, bool, f64, bool),
        LexRange(Option<(Vec<u8>, bool)>, Option<(Vec<u8>, bool)>),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![b'a', b'b', b'c', 0u8, 0xff]),
            0..4,
        )
    }

    fn score() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-4i32..4).prop_map(|i| i as f64 / 2.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (member(), score()).prop_map(|(m, s)| Op::Insert(m, s)),
            2 => member().prop_map(Op::Remove),
            1 => (0usize..40, 0usize..40).prop_map(|(a, b)| Op::RemoveRange(a, b)),
            1 => (any::<bool>(), 0usize..5).prop_map(|(m, c)| Op::Pop(m, c)),
            2 => (0usize..40, 0usize..40, any::<bool>()).prop_map(|(a, b, r)| Op::Range(a, b, r)),
            2 => (score(), any::<bool>(), score(), any::<bool>())
                .prop_map(|(a, ax, b, bx)| Op::ScoreRange(a, ax, b, bx)),
            1 => (prop::option::of((member(), any::<bool>())), prop::option::of((member(), any::<bool>())))
                .prop_map(|(a, b)| Op::LexRange(a, b)),
        ]
    }

    fn lex(b: &Option<(Vec<u8>, bool)>, min: bool) -> LexBound {
        match b {
            None if min => LexBound::Min,
            None => LexBound::Max,
            Some((m, true)) => LexBound::Excl(m.clone()),
            Some((m, false)) => LexBound::Incl(m.clone()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn matches_the_model(ops in prop::collection::vec(op(), 1..120)) {
            let mut z = ZSet::new();
            let mut m = Model::default();
            for op in ops {
                match op {
                    Op::Insert(k, s) => {
                        let old = z.insert(&k, s);
                        prop_assert_eq!(old, m.scores.insert(k, s));
                    }
                    Op::Remove(k) => prop_assert_eq!(z.remove(&k), m.scores.remove(&k)),
                    Op::RemoveRange(a, b) => {
                        let want: Vec<_> = m.sorted().into_iter().skip(a).take(b.saturating_sub(a)).collect();
                        for (k, _) in &want {
                            m.scores.remove(k);
                        }
                        prop_assert_eq!(z.remove_range(a, b), want);
                    }
                    Op::Pop(max, c) => {
                        let mut sorted = m.sorted();
                        if max {
                            sorted.reverse();
                        }
                        let want: Vec<_> = sorted.into_iter().take(c).collect();
                        for (k, _) in &want {
                            m.scores.remove(k);
                        }
                        prop_assert_eq!(z.pop(max, c), want);
                    }
                    Op::Range(a, b, rev) => {
                        let sorted = m.sorted();
                        let end = b.min(sorted.len());
                        let mut want: Vec<_> = if a < end { sorted[a..end].to_vec() } else { Vec::new() };
                        if rev {
                            want.reverse();
                        }
                        let got: Vec<_> = z.range(a, b, rev).map(|(k, s)| (k.to_vec(), s)).collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::ScoreRange(min, minx, max, maxx) => {
                        let sorted = m.sorted();
                        let inside = |s: f64| {
                            (if minx { s > min } else { s >= min }) && (if maxx { s < max } else { s <= max })
                        };
                        let want: Vec<usize> = (0..sorted.len()).filter(|&i| inside(sorted[i].1)).collect();
                        let (s, e) = z.score_range(min, minx, max, maxx);
                        prop_assert_eq!((s..e).collect::<Vec<_>>(), want);
                    }
                    Op::LexRange(a, b) => {
                        // Lex ranges assume equal scores: check on a copy with all scores 0.
                        let mut flat = ZSet::new();
                        for k in m.scores.keys() {
                            flat.insert(k, 0.0);
                        }
                        let keys: BTreeMap<Vec<u8>, ()> = m.scores.keys().map(|k| (k.clone(), ())).collect();
                        let keys: Vec<&Vec<u8>> = keys.keys().collect();
                        let lo = |k: &Vec<u8>| match &a { None => true, Some((x, true)) => k > x, Some((x, false)) => k >= x };
                        let hi = |k: &Vec<u8>| match &b { None => true, Some((x, true)) => k < x, Some((x, false)) => k <= x };
                        let want: Vec<usize> = (0..keys.len()).filter(|&i| lo(keys[i]) && hi(keys[i])).collect();
                        let (s, e) = flat.lex_range(&lex(&a, true), &lex(&b, false));
                        prop_assert_eq!((s..e).collect::<Vec<_>>(), want);
                    }
                }
                z.check();
                prop_assert_eq!(z.len(), m.scores.len());
                let sorted = m.sorted();
                for (i, (k, s)) in sorted.iter().enumerate() {
                    prop_assert_eq!(z.rank(k), Some((i, *s)));
                    prop_assert_eq!(z.get(i), Some((k.as_slice(), *s)));
                }
                prop_assert_eq!(z.get(sorted.len()), None);
            }
        }
    }

    #[test]
    fn encoding_is_listpack_until_a_limit_then_skiplist_for_good() {
        let mut z = ZSet::new();
        for i in 0..128 {
            z.insert(format!("m{i}").as_bytes(), i as f64);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"m0", 5.0); // an update adds nothing
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"one-more", 1.0);
        assert_eq!(z.encoding(), "skiplist");
        z.remove_range(0, 100);
        assert_eq!(z.encoding(), "skiplist");

        let mut z = ZSet::new();
        z.insert(&[b'x'; 64], 1.0);
        assert_eq!(z.encoding(), "listpack");
        z.insert(&[b'x'; 65], 1.0);
        assert_eq!(z.encoding(), "skiplist");

        let mut z = ZSet::new();
        z.convert_for(129, 1);
        assert_eq!(z.encoding(), "skiplist");
    }

    #[test]
    fn lex_ranges_over_differing_scores_follow_the_walk_whatever_the_shape() {
        // Redis's listpack walk over b:0.1 7:2 d:2 e:2.5 a:3 c:4, as
        // redis-server answers ZRANGEBYLEX / ZREVRANGEBYLEX.
        let elems = [
            ("b", 0.1),
            ("7", 2.0),
            ("d", 2.0),
            ("e", 2.5),
            ("a", 3.0),
            ("c", 4.0),
        ];
        let bound = |s: &str| match s {
            "-" => LexBound::Min,
            "+" => LexBound::Max,
            _ if s.starts_with('(') => LexBound::Excl(s.as_bytes()[1..].to_vec()),
            _ => LexBound::Incl(s.as_bytes()[1..].to_vec()),
        };
        for round in 0..20 {
            let mut z = ZSet::new();
            for i in 0..elems.len() {
                let (m, s) = elems[(i + round) % elems.len()];
                z.insert(m.as_bytes(), s);
            }
            let members = |(a, b): (usize, usize), rev: bool| -> Vec<String> {
                z.range(a, b, rev)
                    .map(|(m, _)| String::from_utf8(m.to_vec()).unwrap())
                    .collect()
            };
            let fwd = |min: &str, max: &str| members(z.lex_range(&bound(min), &bound(max)), false);
            assert_eq!(fwd("[a", "+"), ["b", "7", "d", "e", "a", "c"]);
            assert_eq!(fwd("-", "[c"), ["b", "7"]);
            assert_eq!(fwd("[c", "+"), ["d", "e", "a", "c"]);
            assert!(fwd("[a", "[a").is_empty());
            assert!(fwd("[z", "+").is_empty());
            let rev = |max: &str, min: &str, skip: usize, take: usize| {
                members(z.lex_walk(&bound(min), &bound(max), true, skip, take), true)
            };
            assert_eq!(rev("+", "[a", 0, usize::MAX), ["c", "a", "e", "d"]);
            assert_eq!(rev("[d", "[a", 0, usize::MAX), ["c", "a", "e", "d"]);
            assert_eq!(rev("+", "[a", 1, 2), ["a", "e"]);
            let walk = z.lex_walk(&bound("-"), &bound("+"), false, 1, 2);
            assert_eq!(members(walk, false), ["7", "d"]);
        }
    }

    #[test]
    fn a_small_set_scans_whole_in_order() {
        let mut z = ZSet::new();
        for (m, s) in [("b", 2.0), ("a", 1.0), ("c", 3.0)] {
            z.insert(m.as_bytes(), s);
        }
        let mut seen = Vec::new();
        assert_eq!(z.scan(12345, 1, |m, s| seen.push((m.to_vec(), s))), 0);
        assert_eq!(
            seen,
            vec![
                (b"a".to_vec(), 1.0),
                (b"b".to_vec(), 2.0),
                (b"c".to_vec(), 3.0)
            ]
        );
    }

    #[test]
    fn scan_sees_each_stable_member_once_while_the_set_changes() {
        let mut z = ZSet::new();
        for i in 0..2000 {
            z.insert(format!("stable{i}").as_bytes(), i as f64);
        }
        let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
        let (mut cursor, mut extra, mut calls) = (0, 0u32, 0);
        loop {
            cursor = z.scan(cursor, 10, |m, _| *seen.entry(m.to_vec()).or_default() += 1);
            calls += 1;
            // Grow (splitting the index's tables), drop what was added
            // before, and move stable members to other scores.
            for _ in 0..50 {
                z.insert(format!("new{extra}").as_bytes(), 0.5);
                if extra >= 100 {
                    z.remove(format!("new{}", extra - 100).as_bytes());
                }
                extra += 1;
            }
            z.insert(format!("stable{}", calls % 2000).as_bytes(), -1.0);
            z.check();
            if cursor == 0 {
                break;
            }
        }
        assert!(z.len() > 2000 && calls > 50, "{} {calls}", z.len());
        for i in 0..2000 {
            let m = format!("stable{i}");
            assert_eq!(seen.get(m.as_bytes()), Some(&1), "{m}");
        }
    }

    #[test]
    fn large_sets_stay_balanced() {
        let mut z = ZSet::new();
        // Sorted input is the worst case for an unbalanced tree.
        for i in 0..100_000u32 {
            z.insert(&i.to_be_bytes(), f64::from(i));
        }
        fn depth(z: &ZSet, t: u32) -> usize {
            if t == NIL {
                0
            } else {
                let n = &z.nodes[t as usize];
                1 + depth(z, n.left).max(depth(z, n.right))
            }
        }
        let d = depth(&z, z.root);
        assert!(d < 80, "depth {d}");
        assert_eq!(z.rank(&77_777u32.to_be_bytes()), Some((77_777, 77_777.0)));
        assert_eq!(z.get(12_345).map(|(_, s)| s), Some(12_345.0));
        let top: Vec<f64> = z.range(0, 100_000, true).take(3).map(|(_, s)| s).collect();
        assert_eq!(top, vec![99_999.0, 99_998.0, 99_997.0]);
        assert_eq!(z.pop(false, 2).len(), 2);
        assert_eq!(z.len(), 99_998);
    }
}
