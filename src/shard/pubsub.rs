//! Pub/sub on one core: who listens here, and which other cores listen.
//!
//! A subscription lives on the core of the connection that made it, so
//! delivering a message to it never leaves that core. To find the cores a
//! message must reach, every core keeps a *directory*: for each channel,
//! pattern and shard channel, the set of **other** cores with at least one
//! subscriber. A core changes only its own bit everywhere, by posting to every
//! other core when its first local subscriber to a name arrives or its last
//! one leaves. Posts from one core arrive in order, so each copy converges on
//! the truth; a stale bit costs a hop that finds nobody, never a lost message
//! for a confirmed subscription (see `cmd::pubsub::publish` for why).
//!
//! With this, a publish to a channel nobody listens to costs one hash lookup
//! (plus one glob match per distinct pattern on other cores), and a message
//! for N subscribers on another core crosses cores once, as one shared
//! buffer, and is fanned out there.

use std::rc::Rc;

use ahash::AHashMap;
use smallvec::SmallVec;

use crate::config::OutputLimit;
use crate::glob;
use crate::resp::Proto;
use crate::server::outbox::Outbox;

/// The three subscription namespaces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Channel = 0,
    Pattern = 1,
    Shard = 2,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Channel, Kind::Pattern, Kind::Shard];

    /// The confirmation frame's first element for (un)subscribing.
    pub fn verb(self, subscribe: bool) -> &'static str {
        match (self, subscribe) {
            (Kind::Channel, true) => "subscribe",
            (Kind::Channel, false) => "unsubscribe",
            (Kind::Pattern, true) => "psubscribe",
            (Kind::Pattern, false) => "punsubscribe",
            (Kind::Shard, true) => "ssubscribe",
            (Kind::Shard, false) => "sunsubscribe",
        }
    }
}

pub type Name = Box<[u8]>;

/// One connection subscribed to a name.
pub struct Subscriber {
    pub client: u64,
    pub outbox: Rc<Outbox>,
}

/// A set of core ids.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct CoreSet(SmallVec<[u64; 1]>);

impl CoreSet {
    pub fn insert(&mut self, core: usize) {
        let word = core / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (core % 64);
    }

    pub fn remove(&mut self, core: usize) {
        if let Some(w) = self.0.get_mut(core / 64) {
            *w &= !(1 << (core % 64));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    pub fn union(&mut self, other: &CoreSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            (0..64)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| i * 64 + b)
        })
    }
}

/// One core's pub/sub state.
#[derive(Default)]
pub struct PubSub {
    /// This core's subscribers, per namespace. Invariant: no empty lists; a
    /// name is here exactly while some connection on this core subscribes to it.
    local: [AHashMap<Name, Vec<Subscriber>>; 3],
    /// Other cores with subscribers, per namespace. Invariant: no empty sets.
    directory: [AHashMap<Name, CoreSet>; 3],
}

/// A published message on its way to other cores.
pub struct Message {
    pub channel: Box<[u8]>,
    pub payload: Box<[u8]>,
    pub sharded: bool,
}

/// What one delivery did.
#[derive(Default, Debug, Clone, Copy)]
pub struct Delivered {
    /// Receivers, as PUBLISH counts them.
    pub receivers: i64,
    /// Subscribers cut off for going over their output buffer limit.
    pub disconnected: u64,
}

impl PubSub {
    /// Adds a local subscriber. True when it is this core's first for `name`,
    /// so the other cores must learn that this core now listens.
    pub fn subscribe(&mut self, kind: Kind, name: &[u8], sub: Subscriber) -> bool {
        let map = &mut self.local[kind as usize];
        match map.get_mut(name) {
            Some(list) => {
                list.push(sub);
                false
            }
            None => {
                map.insert(name.into(), vec![sub]);
                true
            }
        }
    }

    /// Removes a local subscriber. True when it was this core's last for
    /// `name`, so the other cores must learn that this core stopped listening.
    pub fn unsubscribe(&mut self, kind: Kind, name: &[u8], client: u64) -> bool {
        let map = &mut self.local[kind as usize];
        let Some(list) = map.get_mut(name) else {
            return false;
        };
        if let Some(i) = list.iter().position(|s| s.client == client) {
            list.swap_remove(i);
        }
        if list.is_empty() {
            map.remove(name);
            return true;
        }
        false
    }

    /// Records whether another core listens to `name`.
    pub fn set_presence(&mut self, kind: Kind, name: &[u8], core: usize, present: bool) {
        let dir = &mut self.directory[kind as usize];
        if present {
            match dir.get_mut(name) {
                Some(set) => set.insert(core),
                None => {
                    let mut set = CoreSet::default();
                    set.insert(core);
                    dir.insert(name.into(), set);
                }
            }
        } else if let Some(set) = dir.get_mut(name) {
            set.remove(core);
            if set.is_empty() {
                dir.remove(name);
            }
        }
    }

    /// The other cores a message on `channel` must reach: channel subscribers,
    /// plus pattern subscribers unless it is a shard channel.
    pub fn remote_cores(&self, channel: &[u8], sharded: bool) -> CoreSet {
        let mut cores = CoreSet::default();
        if sharded {
            if let Some(set) = self.directory[Kind::Shard as usize].get(channel) {
                cores.union(set);
            }
            return cores;
        }
        if let Some(set) = self.directory[Kind::Channel as usize].get(channel) {
            cores.union(set);
        }
        for (pattern, set) in &self.directory[Kind::Pattern as usize] {
            if glob::matches(pattern, channel, false) {
                cores.union(set);
            }
        }
        cores
    }

    /// Delivers a message to this core's subscribers, as Redis frames it:
    /// `message`/`smessage` to channel subscribers, `pmessage` to each matching
    /// pattern's subscribers.
    pub fn deliver(
        &self,
        channel: &[u8],
        payload: &[u8],
        sharded: bool,
        limit: OutputLimit,
    ) -> Delivered {
        let mut done = Delivered::default();
        // Every frame ends with the channel and the payload: encode them once.
        let mut tail: Option<Vec<u8>> = None;
        let encode_tail = || {
            let mut buf = Vec::new();
            crate::resp::encode::bulks(&mut buf, &[channel, payload]);
            buf
        };
        let kind = if sharded { Kind::Shard } else { Kind::Channel };
        if let Some(subs) = self.local[kind as usize].get(channel) {
            let verb: &[u8] = if sharded { b"smessage" } else { b"message" };
            let frame = Frame {
                head: &[verb],
                tail: tail.get_or_insert_with(encode_tail),
            };
            send(subs, &frame, limit, &mut done);
        }
        if !sharded {
            for (pattern, subs) in &self.local[Kind::Pattern as usize] {
                if glob::matches(pattern, channel, false) {
                    let frame = Frame {
                        head: &[b"pmessage", pattern],
                        tail: tail.get_or_insert_with(encode_tail),
                    };
                    send(subs, &frame, limit, &mut done);
                }
            }
        }
        done
    }

    /// This core's names with local subscribers matching `pattern`.
    pub fn local_names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Name> {
        self.local[kind as usize]
            .keys()
            .filter(|name| pattern.is_none_or(|p| glob::matches(p, name, false)))
            .cloned()
            .collect()
    }

    /// This core's subscriber count for `name`.
    pub fn local_count(&self, kind: Kind, name: &[u8]) -> usize {
        self.local[kind as usize].get(name).map_or(0, Vec::len)
    }
}

/// A pub/sub frame: a few head elements, then the channel and payload
/// already encoded as bulk strings (shared by every frame of a message).
struct Frame<'a> {
    head: &'a [&'a [u8]],
    tail: &'a [u8],
}

impl Frame<'_> {
    /// The frame without its first byte: RESP2 frames it as an array (`*`),
    /// RESP3 as a push (`>`), and the rest is the same in both.
    fn encode_body(&self, buf: &mut Vec<u8>) {
        buf.reserve(8 + self.tail.len() + self.head.iter().map(|p| p.len() + 16).sum::<usize>());
        let mut num = itoa::Buffer::new();
        buf.extend_from_slice(num.format(self.head.len() + 2).as_bytes());
        buf.extend_from_slice(b"\r\n");
        crate::resp::encode::bulks(buf, self.head);
        buf.extend_from_slice(self.tail);
    }
}

/// Sends one frame to `subs`. A lone subscriber gets it encoded straight
/// into its outbox; several share one encoding.
fn send(subs: &[Subscriber], frame: &Frame, limit: OutputLimit, done: &mut Delivered) {
    let mut shared = Vec::new();
    if subs.len() > 1 {
        frame.encode_body(&mut shared);
    }
    for sub in subs {
        if sub.outbox.is_dead() {
            continue;
        }
        let prefix = match sub.outbox.proto() {
            Proto::Resp2 => b'*',
            Proto::Resp3 => b'>',
        };
        done.receivers += 1;
        let alive = sub.outbox.push_with(limit, |buf| {
            buf.push(prefix);
            if shared.is_empty() {
                frame.encode_body(buf);
            } else {
                buf.extend_from_slice(&shared);
            }
        });
        if !alive {
            done.disconnected += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_sets() {
        let mut s = CoreSet::default();
        assert!(s.is_empty());
        s.insert(3);
        s.insert(70);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![3, 70]);
        let mut t = CoreSet::default();
        t.insert(1);
        t.union(&s);
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![1, 3, 70]);
        t.remove(70);
        t.remove(3);
        t.remove(1);
        assert!(t.is_empty());
    }

    #[test]
    fn directory_tracks_other_cores() {
        let mut p = PubSub::default();
        assert!(p.remote_cores(b"news", false).is_empty());
        p.set_presence(Kind::Channel, b"news", 2, true);
        p.set_presence(Kind::Pattern, b"n*", 1, true);
        p.set_presence(Kind::Shard, b"news", 3, true);
        assert_eq!(
            p.remote_cores(b"news", false).iter().collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(
            p.remote_cores(b"news", true).iter().collect::<Vec<_>>(),
            vec![3]
        );
        assert_eq!(
            p.remote_cores(b"other", false).iter().count(),
            0,
            "a pattern that does not match adds nothing"
        );
        p.set_presence(Kind::Channel, b"news", 2, false);
        p.set_presence(Kind::Pattern, b"n*", 1, false);
        assert!(p.remote_cores(b"news", false).is_empty());
        assert!(p.directory[0].is_empty() && p.directory[1].is_empty());
    }

    #[test]
    fn frames_match_the_encoder() {
        let parts: [&[u8]; 4] = [b"pmessage", b"n*", b"news", b"a\r\nb"];
        let mut body = Vec::new();
        let mut tail = Vec::new();
        crate::resp::encode::bulks(&mut tail, &parts[2..]);
        let frame = Frame {
            head: &parts[..2],
            tail: &tail,
        };
        frame.encode_body(&mut body);
        for proto in [Proto::Resp2, Proto::Resp3] {
            let mut out = crate::resp::Out::new(proto);
            out.push(parts.len());
            parts.iter().for_each(|p| out.bulk(p));
            assert_eq!(out.buf[0], if proto == Proto::Resp2 { b'*' } else { b'>' });
            assert_eq!(&out.buf[1..], &body[..]);
        }
    }
}
