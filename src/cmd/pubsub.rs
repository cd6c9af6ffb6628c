//! Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and
//! PUBSUB's introspection, as Redis 7.2 answers them.
//!
//! Subscriptions belong to the connection's core (`shard::pubsub`); a publish
//! delivers on its own core at once and sends one hop, carrying one shared
//! copy of the message, to each other core that has a matching subscriber.

use std::rc::Rc;
use std::sync::Arc;

use smallvec::SmallVec;

use super::args::{truncated, Error};
use super::ConnCmd;
use crate::resp::Out;
use crate::server::connection::Session;
use crate::shard::dispatch::{Core, HopFuture};
use crate::shard::locks::LockMode;
use crate::shard::pubsub::{CoreSet, Kind, Message, Name};

/// Runs one pub/sub command.
pub async fn run(s: &mut Session, cmd: ConnCmd, argv: &[&[u8]]) -> Result<(), Error> {
    match cmd {
        ConnCmd::Subscribe => subscribe(s, Kind::Channel, &argv[1..]),
        ConnCmd::Psubscribe => subscribe(s, Kind::Pattern, &argv[1..]),
        ConnCmd::Ssubscribe => subscribe(s, Kind::Shard, &argv[1..]),
        ConnCmd::Unsubscribe => unsubscribe(s, Kind::Channel, &argv[1..]),
        ConnCmd::Punsubscribe => unsubscribe(s, Kind::Pattern, &argv[1..]),
        ConnCmd::Sunsubscribe => unsubscribe(s, Kind::Shard, &argv[1..]),
        ConnCmd::Publish => publish(s, argv[1], argv[2], false).await,
        ConnCmd::Spublish => publish(s, argv[1], argv[2], true).await,
        ConnCmd::PubsubChannels | ConnCmd::PubsubShardChannels => {
            let kind = if cmd == ConnCmd::PubsubChannels {
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
            channels(s, kind, argv.get(2).copied()).await
        }
        ConnCmd::PubsubNumsub => numsub(s, Kind::Channel, &argv[2..]).await,
        ConnCmd::PubsubShardNumsub => numsub(s, Kind::Shard, &argv[2..]).await,
        ConnCmd::PubsubNumpat => numpat(s).await,
        ConnCmd::PubsubHelp => help(&mut s.out),
        _ => unreachable!("not a pub/sub command: {cmd:?}"),
    }
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
            core.submit_job(target, Vec::new(), LockMode::Plain, move |core: &Core| {
                deliver_here(core, &message.channel, &message.payload, message.sharded)
            })
        })
        .collect()
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
    let limit = core.shard.borrow().config.output_limits.pubsub;
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
pub async fn channels(s: &mut Session, kind: Kind, pattern: Option<&[u8]>) {
    let pattern: Option<Box<[u8]>> = pattern.map(Into::into);
    let per_core = s
        .core
        .run_on_all(move |core| core.pubsub.borrow().local_names(kind, pattern.as_deref()))
        .await;
    let mut names: Vec<Name> = per_core.into_iter().flatten().collect();
    names.sort_unstable();
    names.dedup();
    s.out.array(names.len());
    names.iter().for_each(|n| s.out.bulk(n));
}

/// PUBSUB NUMSUB / SHARDNUMSUB channel...: `[channel, count, ...]`, summed
/// over every core.
pub async fn numsub(s: &mut Session, kind: Kind, names: &[&[u8]]) {
    let owned: Vec<Name> = names.iter().map(|&n| n.into()).collect();
    let query = owned.clone();
    let per_core = s
        .core
        .run_on_all(move |core| {
            let pubsub = core.pubsub.borrow();
            query
                .iter()
                .map(|n| pubsub.local_count(kind, n))
                .collect::<Vec<usize>>()
        })
        .await;
    // A flat array even in RESP3, as Redis answers.
    let out: &mut Out = &mut s.out;
    out.array(owned.len() * 2);
    for (i, name) in owned.iter().enumerate() {
        out.bulk(name);
        out.int(per_core.iter().map(|counts| counts[i]).sum::<usize>() as i64);
    }
}

/// PUBSUB NUMPAT: distinct patterns subscribed to on any core.
pub async fn numpat(s: &mut Session) {
    let per_core = s
        .core
        .run_on_all(|core| core.pubsub.borrow().local_names(Kind::Pattern, None))
        .await;
    let mut names: Vec<Name> = per_core.into_iter().flatten().collect();
    names.sort_unstable();
    names.dedup();
    s.out.int(names.len() as i64);
}

/// Distinct names per kind over every core, for INFO stats.
pub async fn totals(core: &std::rc::Rc<Core>) -> [usize; 3] {
    let per_core = core
        .run_on_all(|core| {
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
    out.array(LINES.len());
    LINES.iter().for_each(|l| out.simple(l));
}
