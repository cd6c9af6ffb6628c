//! Keyspace notifications (`notify-keyspace-events`): the classes a command's
//! event belongs to, and the configuration string that selects them.
//!
//! A command announces each change with [`Ctx::notify`](super::ctx::Ctx::notify)
//! right where it makes it, with Redis's event name and class (`lpush` in
//! class `l`, `del` in `g`...); the keyspace itself announces `new`,
//! `expired` and (through `Ctx::read`) `keymiss`. The setting is one word
//! for the process: with notifications off, the default, an event costs one
//! relaxed atomic load and a branch, and nothing is built. With them on, the
//! event joins its core's queue, and the core's publisher task
//! (`cmd::pubsub::notification_loop`) publishes the queue in order on
//! `__keyspace@<db>__:<key>` (K) and `__keyevent@<db>__:<event>` (E) through
//! the ordinary pub/sub path. So one shard's events keep their order; a
//! command over several shards may interleave its shards' events (a shard
//! that moves to another core mid-stream may, rarely, too).

/// Which events a `notify-keyspace-events` value selects, as Redis's bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Class(pub u32);

impl Class {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: Class = Class(1 << 0);
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: Class = Class(1 << 1);
    /// `g`: generic commands (DEL, EXPIRE, RENAME...).
    pub const GENERIC: Class = Class(1 << 2);
    /// `$`: string commands.
    pub const STRING: Class = Class(1 << 3);
    /// `l`: list commands.
    pub const LIST: Class = Class(1 << 4);
    /// `s`: set commands.
    pub const SET: Class = Class(1 << 5);
    /// `h`: hash commands.
    pub const HASH: Class = Class(1 << 6);
    /// `z`: sorted set commands.
    pub const ZSET: Class = Class(1 << 7);
    /// `x`: a key expired.
    pub const EXPIRED: Class = Class(1 << 8);
    /// `e`: a key was evicted for maxmemory.
    pub const EVICTED: Class = Class(1 << 9);
    /// `t`: stream commands.
    pub const STREAM: Class = Class(1 << 10);
    /// `m`: a key was looked up and missed (not part of `A`).
    pub const KEY_MISS: Class = Class(1 << 11);
    /// `d`: module key types (ringbus has no modules; accepted as Redis does).
    pub const MODULE: Class = Class(1 << 12);
    /// `n`: a key was created (not part of `A`).
    pub const NEW: Class = Class(1 << 13);
    /// `A`: `g$lshzxetd`.
    pub const ALL: Class = Class(
        Self::GENERIC.0
            | Self::STRING.0
            | Self::LIST.0
            | Self::SET.0
            | Self::HASH.0
            | Self::ZSET.0
            | Self::EXPIRED.0
            | Self::EVICTED.0
            | Self::STREAM.0
            | Self::MODULE.0,
    );

    pub fn contains(self, other: Class) -> bool {
        self.0 & other.0 != 0
    }

    /// Parses a `notify-keyspace-events` value as Redis's
    /// `keyspaceEventsStringToFlags`: None for an unknown character.
    pub fn parse(s: &[u8]) -> Option<Class> {
        let mut bits = 0;
        for &c in s {
            bits |= match c {
                b'A' => Self::ALL.0,
                b'g' => Self::GENERIC.0,
                b'$' => Self::STRING.0,
                b'l' => Self::LIST.0,
                b's' => Self::SET.0,
                b'h' => Self::HASH.0,
                b'z' => Self::ZSET.0,
                b'x' => Self::EXPIRED.0,
                b'e' => Self::EVICTED.0,
                b'K' => Self::KEYSPACE.0,
                b'E' => Self::KEYEVENT.0,
                b't' => Self::STREAM.0,
                b'm' => Self::KEY_MISS.0,
                b'd' => Self::MODULE.0,
                b'n' => Self::NEW.0,
                _ => return None,
            };
        }
        Some(Class(bits))
    }

    /// The normalized string CONFIG GET answers, as Redis's
    /// `keyspaceEventsFlagsToString` (which drops `n` beside `A`).
    pub fn to_config_string(self) -> String {
        let mut s = String::new();
        if self.0 & Self::ALL.0 == Self::ALL.0 {
            s.push('A');
        } else {
            for (class, c) in [
                (Self::GENERIC, 'g'),
                (Self::STRING, '$'),
                (Self::LIST, 'l'),
                (Self::SET, 's'),
                (Self::HASH, 'h'),
                (Self::ZSET, 'z'),
                (Self::EXPIRED, 'x'),
                (Self::EVICTED, 'e'),
                (Self::STREAM, 't'),
                (Self::MODULE, 'd'),
                (Self::NEW, 'n'),
            ] {
                if self.contains(class) {
                    s.push(c);
                }
            }
        }
        for (class, c) in [
            (Self::KEYSPACE, 'K'),
            (Self::KEYEVENT, 'E'),
            (Self::KEY_MISS, 'm'),
        ] {
            if self.contains(class) {
                s.push(c);
            }
        }
        s
    }
}

use std::cell::RefCell;
use std::future::poll_fn;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Poll, Waker};

/// One event to publish: on `__keyspace@<db>__:<key>` (payload `event`)
/// and/or `__keyevent@<db>__:<event>` (payload `key`), as `on` selects.
pub struct Event {
    pub on: Class,
    pub db: usize,
    pub event: &'static str,
    pub key: Box<[u8]>,
}

impl Event {
    /// The (channel, payload) pairs to publish, keyspace first as in Redis.
    pub fn messages(&self) -> impl Iterator<Item = (Vec<u8>, &[u8])> {
        let space = self.on.contains(Class::KEYSPACE).then(|| {
            let mut channel = format!("__keyspace@{}__:", self.db).into_bytes();
            channel.extend_from_slice(&self.key);
            (channel, self.event.as_bytes())
        });
        let event = self.on.contains(Class::KEYEVENT).then(|| {
            let channel = format!("__keyevent@{}__:{}", self.db, self.event).into_bytes();
            (channel, &*self.key)
        });
        space.into_iter().chain(event)
    }
}

/// This core's events waiting to be published, and the publisher's waker.
#[derive(Default)]
struct Pending {
    /// Whether a publisher runs on this thread: events made elsewhere (a
    /// loading thread replaying the log) have nobody to hear them.
    attached: bool,
    events: Vec<Event>,
    waker: Option<Waker>,
}

thread_local! {
    static PENDING: RefCell<Pending> = RefCell::default();
}

/// `notify-keyspace-events`: one setting for the process, read wherever an
/// event may happen (a command, a lookup that finds a key expired, a key
/// added to a database).
static FLAGS: AtomicU32 = AtomicU32::new(0);

/// Sets `notify-keyspace-events` (at start and by CONFIG SET).
pub fn set_flags(bits: u32) {
    FLAGS.store(bits, Ordering::Relaxed);
}

/// An event of `class` happened to `key` in database `db`: queued for
/// publishing if `notify-keyspace-events` selects the class and a channel
/// kind (K or E). Off, this is one relaxed load and a branch.
#[inline]
pub fn event(class: Class, event: &'static str, db: usize, key: &[u8]) {
    let on = FLAGS.load(Ordering::Relaxed);
    if on & class.0 != 0 && on & (Class::KEYSPACE.0 | Class::KEYEVENT.0) != 0 {
        queue(Class(on), event, db, key);
    }
}

/// Queues an event made on this core. Publishing waits for the publisher
/// task, which first handles the core's mailbox: a subscription confirmed
/// on another core before the command ran is then known here, so its
/// client never misses the event.
#[cold]
fn queue(on: Class, event: &'static str, db: usize, key: &[u8]) {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if !p.attached {
            return;
        }
        p.events.push(Event {
            on,
            db,
            event,
            key: key.into(),
        });
        if let Some(waker) = p.waker.take() {
            waker.wake();
        }
    });
}

/// Makes this thread's events wait for [`next`] (the core's publisher).
pub fn attach() {
    PENDING.with(|p| p.borrow_mut().attached = true);
}

/// The events queued on this core, oldest first, once there are some.
pub async fn next() -> Vec<Event> {
    poll_fn(|cx| {
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            if p.events.is_empty() {
                p.waker = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(std::mem::take(&mut p.events))
            }
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_strings_normalize_as_redis() {
        let norm = |s: &str| Class::parse(s.as_bytes()).map(Class::to_config_string);
        assert_eq!(norm("KEA").as_deref(), Some("AKE"));
        assert_eq!(norm("Elg").as_deref(), Some("glE"));
        assert_eq!(norm("g$lshzxetdKE").as_deref(), Some("AKE"));
        assert_eq!(norm("Kmn").as_deref(), Some("nKm"));
        assert_eq!(norm("AKn").as_deref(), Some("AK"));
        assert_eq!(norm("").as_deref(), Some(""));
        assert_eq!(norm("Q"), None);
    }
}
