//! The blocking sorted set pops (BZPOPMIN, BZPOPMAX, BZMPOP), as the sorted
//! set family's parameters of the one blocking loop (`blocking`): each pops
//! from the first of its keys holding a sorted set, in argument order (a key
//! of another type met first is a WRONGTYPE error).

use std::rc::Rc;
use std::sync::Arc;

use super::args::Error;
use super::blocking::{self, parse_timeout, Attempt, Blocked, Blocking, Wake, Wants};
use super::exec::Client;
use super::zsets::{self, parse_mpop};
use super::Ctx;
use crate::resp::Out;
use crate::server::connection::Flow;
use crate::shard::blocking::{Round, Waiter};
use crate::shard::ctx::Here;
use crate::shard::dispatch::Core;
use crate::shard::txn::Txn;

/// A pop's result: the key and its `(member, score)` pairs.
type Popped = (Vec<u8>, Vec<(Vec<u8>, f64)>);

/// What a blocked sorted set client waits for: its lowest (or, with `max`,
/// highest) `count` members.
#[derive(Clone, Copy, Debug)]
struct ZsetWants {
    max: bool,
    count: usize,
}

impl Wants for ZsetWants {
    type Served = Popped;

    fn ready(&self, ctx: &mut Ctx, key: &[u8], _: &mut Round) -> bool {
        zsets::holds_zset(ctx, key).unwrap_or(false)
    }

    fn take(&self, here: &mut Here, db: usize, key: &[u8], _: &mut Round) -> Wake<Popped> {
        let items = here.ctx(db, |ctx| zsets::pop_logged(ctx, key, self.max, self.count));
        match items {
            Ok(items) => Wake::Served((key.to_vec(), items.unwrap_or_default())),
            Err(e) => Wake::Failed(e),
        }
    }
}

/// The blocking commands of this family, as the table names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZsetCmd {
    Bzpopmin,
    Bzpopmax,
    Bzmpop,
}

/// A parsed BZPOPMIN / BZPOPMAX / BZMPOP.
struct Request {
    cmd: ZsetCmd,
    blocked: Blocked<ZsetWants>,
}

fn parse(cmd: ZsetCmd, argv: &[&[u8]]) -> Result<Request, Error> {
    let owned = |keys: &[&[u8]]| keys.iter().map(|k| k.to_vec()).collect::<Vec<_>>();
    Ok(match cmd {
        ZsetCmd::Bzpopmin | ZsetCmd::Bzpopmax => {
            let last = argv.len() - 1;
            let timeout = parse_timeout(argv[last])?;
            Request {
                cmd,
                blocked: Blocked {
                    keys: owned(&argv[1..last]),
                    timeout,
                    wants: ZsetWants {
                        max: cmd == ZsetCmd::Bzpopmax,
                        count: 1,
                    },
                },
            }
        }
        // BZMPOP checks numkeys, MIN|MAX and COUNT before the timeout.
        ZsetCmd::Bzmpop => {
            let m = parse_mpop(&argv[2..])?;
            let timeout = parse_timeout(argv[1])?;
            Request {
                cmd,
                blocked: Blocked {
                    keys: owned(m.keys),
                    timeout,
                    wants: ZsetWants {
                        max: m.max,
                        count: m.count,
                    },
                },
            }
        }
    })
}

/// Runs BZPOPMIN, BZPOPMAX or BZMPOP.
pub async fn run(c: &mut dyn Client, cmd: ZsetCmd, argv: &[&[u8]]) -> Flow {
    blocking::parse_and_run(c, parse(cmd, argv)).await
}

impl Blocking for Request {
    type Wants = ZsetWants;

    fn blocked(&self) -> &Blocked<ZsetWants> {
        &self.blocked
    }

    fn attempt<'a>(
        &'a self,
        core: &'a Rc<Core>,
        db: usize,
        waiter: Option<&'a Arc<Waiter>>,
        outer: Option<&'a mut Txn>,
    ) -> Attempt<'a, Popped> {
        let ZsetWants { max, count } = self.blocked.wants;
        Box::pin(async move {
            let popped = blocking::pop_attempt(
                core,
                db,
                &self.blocked.keys,
                waiter,
                outer,
                zsets::holds_zset,
                move |ctx, key| {
                    zsets::pop_logged(ctx, key, max, count).map(Option::unwrap_or_default)
                },
            )
            .await?;
            Ok(popped.map(|(i, items)| (self.blocked.keys[i].clone(), items)))
        })
    }

    fn answer(&self, out: &mut Out, (key, items): Popped) {
        match self.cmd {
            ZsetCmd::Bzpopmin | ZsetCmd::Bzpopmax => zsets::reply_bzpop(out, &key, &items),
            _ => zsets::reply_mpop(out, &key, &items),
        }
    }
}
