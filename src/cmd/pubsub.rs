//! Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and
//! PUBSUB's introspection, as Redis 7.2 answers them.
//!
//! Subscriptions belong to the connection's core (`shard::pubsub`); a publish
//! delivers on its own core at once and sends one hop, carrying one shared
//! copy of the message, to each other core that has a matching subscriber.

use super::spec::decl::*;
use std::rc::Rc;
use std::sync::Arc;

use smallvec::SmallVec;

use super::args::is;
use super::args::{truncated, Error};
use super::exec::Client;
use super::{session, CmdResult};
use crate::resp::Out;
use crate::server::connection::Flow;
use crate::server::connection::Session;
use crate::shard::dispatch::{Core, HopFuture};
use crate::shard::notify;
use crate::shard::pubsub::{CoreSet, Kind, Message, Name};

// ----------------------------------------------------------------- commands

pub fn subscribe_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    subscribe(session(c), Kind::Channel, &argv[1..]);
    Ok(())
}

pub fn psubscribe_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    subscribe(session(c), Kind::Pattern, &argv[1..]);
    Ok(())
}

pub fn ssubscribe_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    subscribe(session(c), Kind::Shard, &argv[1..]);
    Ok(())
}

pub fn unsubscribe_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    unsubscribe(session(c), Kind::Channel, &argv[1..]);
    Ok(())
}

pub fn punsubscribe_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    unsubscribe(session(c), Kind::Pattern, &argv[1..]);
    Ok(())
}

pub fn sunsubscribe_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    unsubscribe(session(c), Kind::Shard, &argv[1..]);
    Ok(())
}

/// PUBLISH / SPUBLISH: from a connection, or from a script (which waits
/// for the receivers' count at once).
pub async fn publish_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> Flow {
    publish_any(c, argv, false).await
}

pub async fn spublish_cmd(c: &mut dyn Client, argv: &[&[u8]]) -> Flow {
    publish_any(c, argv, true).await
}

async fn publish_any(c: &mut dyn Client, argv: &[&[u8]], sharded: bool) -> Flow {
    match c.session() {
        Some(s) => {
            // A subscriber's replies go out as they are made: the ones owed
            // before this publish first.
            if !s.may_owe_replies() {
                s.flush().await;
            }
            publish(s, argv[1], argv[2], sharded).await
        }
        None => {
            let core = c.core().clone();
            let n = publish_from_script(&core, argv[1], argv[2], sharded).await;
            c.out().int(n);
        }
    }
    Flow::Continue
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
pub async fn pubsub_channels(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    let kind = if is(argv[1], "channels") {
        Kind::Channel
    } else {
        Kind::Shard
    };
    // The table lets any count through; Redis checks it here.
    if argv.len() > 3 {
        return Err(Error::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            truncated(argv[1], 128)
        )));
    }
    channels(c, kind, argv.get(2).copied()).await;
    Ok(())
}

pub async fn pubsub_numsub(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    numsub(c, Kind::Channel, &argv[2..]).await;
    Ok(())
}

pub async fn pubsub_shardnumsub(c: &mut dyn Client, argv: &[&[u8]]) -> CmdResult {
    numsub(c, Kind::Shard, &argv[2..]).await;
    Ok(())
}

pub async fn pubsub_numpat(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    numpat(c).await;
    Ok(())
}

pub fn pubsub_help(c: &mut dyn Client, _: &[&[u8]]) -> CmdResult {
    help(c.out());
    Ok(())
}

/// (P|S)SUBSCRIBE: one confirmation per name, with the running count.
pub fn subscribe(s: &mut Session, kind: Kind, names: &[&[u8]]) {
    s.start_outbox();
    for &name in names {
        if s.subs[kind as usize].insert(name.into()) {
            let sub = s.subscriber();
            let first = s.core.pubsub.borrow_mut().subscribe(kind, name, sub);
            if first {
                announce(&s.core, kind, name, true);
            }
        }
        confirm(s, kind, true, Some(name));
    }
    s.note_subscriptions();
    // The confirmations go out before any message that a publisher can now
    // push, since nothing else runs on this core until this returns.
    s.sync_outbox();
}

/// (P|S)UNSUBSCRIBE: the names given, or every one of that kind. With
/// nothing to leave, one confirmation with a null name, as Redis does.
pub fn unsubscribe(s: &mut Session, kind: Kind, names: &[&[u8]]) {
    let all: Vec<Name>;
    let names: Vec<&[u8]> = if names.is_empty() {
        all = s.subs[kind as usize].iter().cloned().collect();
        all.iter().map(|n| &n[..]).collect()
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        confirm(s, kind, false, None);
    }
    for name in names {
        leave(s, kind, name);
        confirm(s, kind, false, Some(name));
    }
    s.note_subscriptions();
    s.sync_outbox();
}

/// Leaves every subscription without a word: RESET and disconnect.
pub fn leave_all(s: &mut Session) {
    for kind in Kind::ALL {
        let names: Vec<Name> = s.subs[kind as usize].iter().cloned().collect();
        for name in names {
            leave(s, kind, &name);
        }
    }
    s.note_subscriptions();
}

fn leave(s: &mut Session, kind: Kind, name: &[u8]) {
    if s.subs[kind as usize].remove(name) {
        let id = s.client_id();
        let last = s.core.pubsub.borrow_mut().unsubscribe(kind, name, id);
        if last {
            announce(&s.core, kind, name, false);
        }
    }
}

/// Tells every other core whether this one now listens to `name`.
fn announce(core: &Core, kind: Kind, name: &[u8], present: bool) {
    if core.cores() == 1 {
        return;
    }
    let name: Arc<[u8]> = name.into();
    let from = core.id;
    core.post_to_others(move |other| {
        other
            .pubsub
            .borrow_mut()
            .set_presence(kind, &name, from, present)
    });
}

/// `[verb, name, count]`: a push frame in RESP3.
fn confirm(s: &mut Session, kind: Kind, subscribe: bool, name: Option<&[u8]>) {
    let count = s.subscription_count(kind);
    let out = &mut s.out;
    out.push(3);
    out.bulk_str(kind.verb(subscribe));
    out.bulk_opt(name);
    out.int(count as i64);
}

/// PUBLISH and SPUBLISH: delivers here, then on every other core with a
/// matching subscriber, and answers how many receivers got it.
///
/// Why a confirmed subscriber on another core never misses a message: that
/// core posted its directory update here *before* it confirmed the
/// subscription, so by the time any client can react to the confirmation
/// the update is in this core's mailbox, and `drain_mailbox` applies it
/// before the directory is read.
///
/// Messages one connection publishes to one channel reach every subscriber
/// in order: this core delivers them as they come, and each other core gets
/// them in the order they were sent, through its one mailbox. The hops are
/// sent at once; the reply waits for their counts only when the connection
/// flushes (or right away for a subscriber, whose replies cannot wait).
pub async fn publish(s: &mut Session, channel: &[u8], payload: &[u8], sharded: bool) {
    let core = s.core.clone();
    let multi_core = core.cores() > 1;
    if multi_core {
        core.drain_mailbox();
    }
    // A subscriber publishing to itself sees the message after the replies
    // it was sent before this command, as in Redis.
    s.sync_outbox();
    let local = deliver_here(&core, channel, payload, sharded);
    let hops = deliver_elsewhere(&core, channel, payload, sharded);
    if hops.is_empty() {
        s.out.int(local);
        return;
    }
    if s.may_owe_replies() {
        s.owe_publish_count(local, hops);
    } else {
        let mut receivers = local;
        for hop in hops {
            receivers += hop.await;
        }
        s.out.int(receivers);
    }
}

/// Sends the message to the other cores with subscribers for it; each hop
/// answers how many received it there.
fn deliver_elsewhere(
    core: &Rc<Core>,
    channel: &[u8],
    payload: &[u8],
    sharded: bool,
) -> SmallVec<[HopFuture<i64>; 2]> {
    let remote = if core.cores() > 1 {
        core.pubsub.borrow().remote_cores(channel, sharded)
    } else {
        CoreSet::default()
    };
    if remote.is_empty() {
        return SmallVec::new();
    }
    // One copy of the message, shared by every core it goes to.
    let message = Arc::new(Message {
        channel: channel.into(),
        payload: payload.into(),
        sharded,
    });
    remote
        .iter()
        .map(|target| {
            let message = message.clone();
            core.on_core(target, move |core: &Core| {
                deliver_here(core, &message.channel, &message.payload, message.sharded)
            })
        })
        .collect()
}

/// Publishes the keyspace notifications this core's shards make (see
/// `shard::notify`), in the order they were made: here at once, and to each
/// other core with a subscriber one way (posts from one core arrive in
/// order). Runs as one task per core for the server's life.
pub async fn notification_loop(core: Rc<Core>) {
    notify::attach();
    loop {
        let events = notify::next().await;
        if core.cores() > 1 {
            core.drain_mailbox();
        }
        for event in &events {
            for (channel, payload) in event.messages() {
                publish_one_way(&core, &channel, payload);
            }
        }
    }
}

/// Delivers a message here and posts it to the other cores that listen,
/// without waiting for their receiver counts.
fn publish_one_way(core: &Rc<Core>, channel: &[u8], payload: &[u8]) {
    deliver_here(core, channel, payload, false);
    if core.cores() == 1 {
        return;
    }
    let remote = core.pubsub.borrow().remote_cores(channel, false);
    if remote.is_empty() {
        return;
    }
    let message = Arc::new(Message {
        channel: channel.into(),
        payload: payload.into(),
        sharded: false,
    });
    for target in remote.iter() {
        let message = message.clone();
        core.post(target, move |core: &Core| {
            deliver_here(core, &message.channel, &message.payload, false);
        });
    }
}

/// PUBLISH from a script: delivers everywhere and returns the receivers.
pub async fn publish_from_script(
    core: &Rc<Core>,
    channel: &[u8],
    payload: &[u8],
    sharded: bool,
) -> i64 {
    if core.cores() > 1 {
        core.drain_mailbox();
    }
    let mut receivers = deliver_here(core, channel, payload, sharded);
    for hop in deliver_elsewhere(core, channel, payload, sharded) {
        receivers += hop.await;
    }
    receivers
}

/// Delivers to this core's subscribers; returns how many received it.
fn deliver_here(core: &Core, channel: &[u8], payload: &[u8], sharded: bool) -> i64 {
    let limit = core.config.borrow().output_limits.pubsub;
    let done = core
        .pubsub
        .borrow()
        .deliver(channel, payload, sharded, limit);
    if done.disconnected > 0 {
        core.clients
            .borrow_mut()
            .counters
            .output_limit_disconnections += done.disconnected;
    }
    done.receivers
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern]: names with a subscriber on any core.
pub async fn channels(c: &mut dyn Client, kind: Kind, pattern: Option<&[u8]>) {
    let pattern: Option<Box<[u8]>> = pattern.map(Into::into);
    let per_core = c
        .core()
        .clone()
        .on_every_core(move |core| core.pubsub.borrow().local_names(kind, pattern.as_deref()))
        .await;
    let mut names: Vec<Name> = per_core.into_iter().flatten().collect();
    names.sort_unstable();
    names.dedup();
    let out = c.out();
    out.array(names.len());
    names.iter().for_each(|n| out.bulk(n));
}

/// PUBSUB NUMSUB / SHARDNUMSUB channel...: `[channel, count, ...]`, summed
/// over every core.
pub async fn numsub(c: &mut dyn Client, kind: Kind, names: &[&[u8]]) {
    let owned: Vec<Name> = names.iter().map(|&n| n.into()).collect();
    let query = owned.clone();
    let per_core = c
        .core()
        .clone()
        .on_every_core(move |core| {
            let pubsub = core.pubsub.borrow();
            query
                .iter()
                .map(|n| pubsub.local_count(kind, n))
                .collect::<Vec<usize>>()
        })
        .await;
    // A flat array even in RESP3, as Redis answers.
    let out: &mut Out = c.out();
    out.array(owned.len() * 2);
    for (i, name) in owned.iter().enumerate() {
        out.bulk(name);
        out.int(per_core.iter().map(|counts| counts[i]).sum::<usize>() as i64);
    }
}

/// PUBSUB NUMPAT: distinct patterns subscribed to on any core.
pub async fn numpat(c: &mut dyn Client) {
    let per_core = c
        .core()
        .clone()
        .on_every_core(|core| core.pubsub.borrow().local_names(Kind::Pattern, None))
        .await;
    let mut names: Vec<Name> = per_core.into_iter().flatten().collect();
    names.sort_unstable();
    names.dedup();
    c.out().int(names.len() as i64);
}

/// Distinct names per kind over every core, for INFO stats.
pub async fn totals(core: &std::rc::Rc<Core>) -> [usize; 3] {
    let per_core = core
        .on_every_core(|core| {
            let pubsub = core.pubsub.borrow();
            Kind::ALL.map(|kind| pubsub.local_names(kind, None))
        })
        .await;
    Kind::ALL.map(|kind| {
        let mut names: Vec<&Name> = per_core.iter().flat_map(|c| &c[kind as usize]).collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    })
}

/// The RESP2 subscribed context's refusal, Redis's words.
pub fn not_in_context(name: &[u8]) -> Error {
    Error::msg(format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        truncated(name, 128)
    ))
}

/// PUBSUB HELP, Redis's text.
pub fn help(out: &mut Out) {
    const LINES: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];
    out.help(LINES);
}

// ------------------------------------------------------------ commands

#[rustfmt::skip]
static PUBSUB_SUBS: &[CommandSpec] = &[
    spec(
    "pubsub|channels",
    -2,
    PUBSUB_INFO,
    NO_KEYS,
    "pubsub",
    "Returns the active channels.",
    crate::awaits!(pubsub_channels),
    "[pattern]",
    ),
    spec(
    "pubsub|numsub",
    -2,
    PUBSUB_INFO,
    NO_KEYS,
    "pubsub",
    "Returns a count of subscribers to channels.",
    crate::awaits!(pubsub_numsub),
    "[channel [channel ...]]",
    ),
    spec(
    "pubsub|numpat",
    2,
    PUBSUB_INFO,
    NO_KEYS,
    "pubsub",
    "Returns a count of unique pattern subscriptions.",
    crate::awaits!(pubsub_numpat),
    "",
    ),
    spec(
    "pubsub|shardchannels",
    -2,
    PUBSUB_INFO,
    NO_KEYS,
    "pubsub",
    "Returns the active shard channels.",
    crate::awaits!(pubsub_channels),
    "[pattern]",
    ),
    spec(
    "pubsub|shardnumsub",
    -2,
    PUBSUB_INFO,
    NO_KEYS,
    "pubsub",
    "Returns the count of subscribers of shard channels.",
    crate::awaits!(pubsub_shardnumsub),
    "[shardchannel [shardchannel ...]]",
    ),
    spec(
    "pubsub|help",
    2,
    SERVER,
    NO_KEYS,
    "pubsub",
    "Returns helpful text about the different subcommands.",
    Exec::Local(pubsub_help),
    "",
    ),
];

/// The pub/sub commands, as the command table lists them.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("subscribe", -2, SUB, NO_KEYS, "pubsub", "Listens for messages published to channels.", Exec::Local(subscribe_cmd),
        "channel [channel ...]"),
    spec("unsubscribe", -1, SUB, NO_KEYS, "pubsub", "Stops listening to messages posted to channels.", Exec::Local(unsubscribe_cmd),
        "[channel [channel ...]]"),
    spec("psubscribe", -2, SUB, NO_KEYS, "pubsub", "Listens for messages published to channels that match one or more patterns.",
        Exec::Local(psubscribe_cmd), "pattern [pattern ...]"),
    spec("punsubscribe", -1, SUB, NO_KEYS, "pubsub", "Stops listening to messages published to channels that match one or more patterns.",
        Exec::Local(punsubscribe_cmd), "[pattern [pattern ...]]"),
    spec("ssubscribe", -2, SUB, ALL_KEYS, "pubsub", "Listens for messages published to shard channels.", Exec::Local(ssubscribe_cmd),
        "shardchannel [shardchannel ...]"),
    spec("sunsubscribe", -1, SUB, ALL_KEYS, "pubsub", "Stops listening to messages posted to shard channels.",
        Exec::Local(sunsubscribe_cmd), "[shardchannel [shardchannel ...]]"),
    spec("publish", 3, PUB, NO_KEYS, "pubsub", "Posts a message to a channel.", Exec::Unordered(crate::client_fn!(publish_cmd)), "channel message"),
    spec("spublish", 3, PUB, KEY1, "pubsub", "Post a message to a shard channel", Exec::Unordered(crate::client_fn!(spublish_cmd)), "shardchannel message"),
    container("pubsub", "pubsub", "A container for Pub/Sub commands.", PUBSUB_SUBS),
];
