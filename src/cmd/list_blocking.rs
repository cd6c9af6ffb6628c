//! The blocking list commands: BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH,
//! as the list family's parameters of the one blocking loop (`blocking`).
//! A pop takes from the first of its keys holding a list, in argument order;
//! a move follows the rules of every list move (`lists::Move`).

use std::rc::Rc;
use std::sync::Arc;

use super::args::Error;
use super::blocking::{self, Attempt, Blocked, Blocking, Wake, Wants};
use super::exec::Client;
use super::lists::{self, End, Move};
use super::Ctx;
use crate::resp::Out;
use crate::server::connection::Flow;
use crate::shard::blocking::{Round, Waiter};
use crate::shard::ctx::Here;
use crate::shard::dispatch::Core;
use crate::shard::route::shard_of;
use crate::shard::txn::Txn;

/// What a blocked list client waits for.
#[derive(Clone, Debug)]
enum ListWants {
    /// BLPOP / BRPOP (one element) and BLMPOP (`count` elements).
    Pop { end: End, count: usize },
    /// BLMOVE / BRPOPLPUSH into the move's destination.
    Move { dst: Vec<u8>, from: End, to: End },
}

/// What a served list client gets.
#[derive(Debug)]
pub enum ListServed {
    Popped { key: Vec<u8>, values: Vec<Vec<u8>> },
    Moved(Vec<u8>),
}

impl Wants for ListWants {
    type Served = ListServed;

    fn ready(&self, ctx: &mut Ctx, key: &[u8], round: &mut Round) -> bool {
        let now = ctx.now;
        let len = match lists::list_mut(ctx.db(), key, now) {
            Ok(Some(list)) => list.len(),
            _ => 0,
        };
        len > round.promised
    }

    fn take(&self, here: &mut Here, db: usize, key: &[u8], round: &mut Round) -> Wake<ListServed> {
        let result = match self {
            ListWants::Pop { end, count } => here.ctx(db, |ctx| {
                let values = lists::pop_logged(ctx, key, *end, *count)?.unwrap_or_default();
                Ok(ListServed::Popped {
                    key: key.to_vec(),
                    values,
                })
            }),
            // A destination on another shard: the client runs the move as
            // a transaction itself; the element it will take is promised,
            // so no more movers are woken than there are elements.
            ListWants::Move { dst, .. } if shard_of(dst, here.core.cores()) != here.shard.id => {
                round.promised += 1;
                return Wake::Retry;
            }
            ListWants::Move { dst, from, to } => {
                let mv = Move {
                    src: key.to_vec(),
                    dst: dst.clone(),
                    from: *from,
                    to: *to,
                };
                here.ctx(db, |ctx| mv.run_here(ctx))
                    .map(|moved| ListServed::Moved(moved.expect("the source was found ready")))
            }
        };
        match result {
            Ok(served) => Wake::Served(served),
            Err(e) => Wake::Failed(e),
        }
    }
}

/// The blocking commands of this family, as the table names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListCmd {
    Blpop,
    Brpop,
    Blmpop,
    Blmove,
    Brpoplpush,
}

/// A parsed blocking list command.
struct Request {
    cmd: ListCmd,
    blocked: Blocked<ListWants>,
}

fn parse(cmd: ListCmd, argv: &[&[u8]]) -> Result<Request, Error> {
    let owned = |keys: &[&[u8]]| keys.iter().map(|k| k.to_vec()).collect::<Vec<_>>();
    Ok(match cmd {
        ListCmd::Blpop | ListCmd::Brpop => {
            let timeout = blocking::parse_timeout(argv[argv.len() - 1])?;
            let end = if cmd == ListCmd::Blpop {
                End::Left
            } else {
                End::Right
            };
            Request {
                cmd,
                blocked: Blocked {
                    keys: owned(&argv[1..argv.len() - 1]),
                    timeout,
                    wants: ListWants::Pop { end, count: 1 },
                },
            }
        }
        ListCmd::Blmpop => {
            let timeout = blocking::parse_timeout(argv[1])?;
            let m = lists::parse_mpop(&argv[1..])?;
            Request {
                cmd,
                blocked: Blocked {
                    keys: owned(m.keys),
                    timeout,
                    wants: ListWants::Pop {
                        end: m.end,
                        count: m.count,
                    },
                },
            }
        }
        ListCmd::Blmove | ListCmd::Brpoplpush => {
            let (from, to, timeout) = if cmd == ListCmd::Blmove {
                (End::parse(argv[3])?, End::parse(argv[4])?, argv[5])
            } else {
                (End::Right, End::Left, argv[3])
            };
            Request {
                cmd,
                blocked: Blocked {
                    keys: owned(&argv[1..2]),
                    timeout: blocking::parse_timeout(timeout)?,
                    wants: ListWants::Move {
                        dst: argv[2].to_vec(),
                        from,
                        to,
                    },
                },
            }
        }
    })
}

/// Runs BLPOP, BRPOP, BLMPOP, BLMOVE or BRPOPLPUSH.
pub async fn run(c: &mut dyn Client, cmd: ListCmd, argv: &[&[u8]]) -> Flow {
    blocking::parse_and_run(c, parse(cmd, argv)).await
}

impl Blocking for Request {
    type Wants = ListWants;

    fn blocked(&self) -> &Blocked<ListWants> {
        &self.blocked
    }

    fn attempt<'a>(
        &'a self,
        core: &'a Rc<Core>,
        db: usize,
        waiter: Option<&'a Arc<Waiter>>,
        outer: Option<&'a mut Txn>,
    ) -> Attempt<'a, ListServed> {
        Box::pin(async move {
            match &self.blocked.wants {
                ListWants::Pop { end, count } => {
                    let (end, count) = (*end, *count);
                    let popped = blocking::pop_attempt(
                        core,
                        db,
                        &self.blocked.keys,
                        waiter,
                        outer,
                        lists::holds_list,
                        move |ctx, key| {
                            lists::pop_logged(ctx, key, end, count).map(Option::unwrap_or_default)
                        },
                    )
                    .await?;
                    Ok(popped.map(|(i, values)| ListServed::Popped {
                        key: self.blocked.keys[i].clone(),
                        values,
                    }))
                }
                ListWants::Move { dst, from, to } => {
                    let mv = Move {
                        src: self.blocked.keys[0].clone(),
                        dst: dst.clone(),
                        from: *from,
                        to: *to,
                    };
                    move_attempt(core, db, mv, waiter, outer)
                        .await
                        .map(|moved| moved.map(ListServed::Moved))
                }
            }
        })
    }

    fn answer(&self, out: &mut Out, served: ListServed) {
        match served {
            ListServed::Popped { key, values } if self.cmd == ListCmd::Blmpop => {
                lists::reply_mpop(out, &key, &values)
            }
            ListServed::Popped { key, values } => {
                out.array(2);
                out.bulk(&key);
                out.bulk(values.first().map_or(&b""[..], |v| v));
            }
            ListServed::Moved(value) => out.bulk(&value),
        }
    }

    /// Redis answers a move that cannot block (inside EXEC) with a null
    /// bulk string, a pop with a null array.
    fn nothing(&self, out: &mut Out) {
        match self.blocked.wants {
            ListWants::Move { .. } => out.null(),
            ListWants::Pop { .. } => out.null_array(),
        }
    }
}

/// BLMOVE / BRPOPLPUSH's attempt: the move now, or the waiter registered on
/// the source in the same step (with both lists' shards held).
async fn move_attempt(
    core: &Rc<Core>,
    db: usize,
    mv: Move,
    waiter: Option<&Arc<Waiter>>,
    outer: Option<&mut Txn>,
) -> Result<Option<Vec<u8>>, Error> {
    let keys = [mv.src.clone(), mv.dst.clone()];
    let waiter = waiter.cloned();
    blocking::attempt_on(core, &keys, outer, move |shards| {
        let moved = mv.run_across(shards, db)?;
        if moved.is_none() {
            if let Some(waiter) = waiter {
                blocking::register_all(shards, db, std::slice::from_ref(&mv.src), &waiter);
            }
        }
        Ok(moved)
    })
    .await
}
