//! What a command is: its name, arity, flags, where its keys are, its
//! documentation, and how it runs. Every family declares its commands with
//! these (see `table`); routing, EXEC's shards, scripts, COMMAND GETKEYS and
//! COMMAND INFO all read a command's keys from its [`KeySpec`]s, the one
//! place they are declared.
//!
//! Key specifications are Redis 7's: a *begin search* step finds where the
//! keys start (a fixed index, or the argument after a keyword), and a *find
//! keys* step says how many follow (a range, or a count given in the
//! arguments). `XREAD ... STREAMS k1 k2 id1 id2`, `EVAL script numkeys k...`
//! and `ZUNIONSTORE dst numkeys k...` are all described this way, so no
//! command needs a hand-written key finder.

use smallvec::SmallVec;

use super::Exec;
use crate::resp::parse::parse_i64;

pub struct CommandSpec {
    /// Lower-case name; subcommands are named `container|sub` as Redis does.
    pub name: &'static str,
    /// Positive: exact argument count (name included); negative: at least -arity.
    pub arity: i32,
    pub flags: &'static [&'static str],
    /// Where the command's keys are.
    pub keys: &'static [KeySpec],
    /// ACL category / COMMAND DOCS group.
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    /// The arguments as Redis's documentation writes them after the command name,
    /// e.g. `key value [key value ...]`; empty for commands without arguments.
    /// COMMAND DOCS derives its `arguments` entry from it.
    pub syntax: &'static str,
    pub exec: Exec,
    pub subcommands: &'static [CommandSpec],
}

/// What a script's `redis.call` needs to know of a command's flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScriptFlags {
    pub write: bool,
    /// May write though not flagged `write` (PFCOUNT): a read-only script
    /// refuses it as a write.
    pub may_replicate: bool,
    pub noscript: bool,
    pub pubsub: bool,
}

/// One group of a command's keys, as a Redis 7 key specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub begin: Begin,
    pub find: Find,
}

/// Where a key specification's keys start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Begin {
    /// At this argument position.
    Index(usize),
    /// Right after `word`, searched from argument `from` on (a negative
    /// `from` counts from the end and searches backwards).
    Keyword { word: &'static str, from: i32 },
}

/// How many keys follow where they start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Find {
    /// Up to `last` (relative to the start; negative counts from the end),
    /// every `step` arguments. With `limit` > 1 and `last` -1, only the
    /// first 1/limit of the remaining arguments (XREAD's streams, whose IDs
    /// follow them).
    Range {
        last: i32,
        step: usize,
        limit: usize,
    },
    /// A count of keys at `numkeys` (relative to the start), the keys from
    /// `first` (relative to the start), every `step`.
    KeyNum {
        numkeys: usize,
        first: usize,
        step: usize,
    },
}

/// Where a request's keys live (see [`CommandSpec::shards_of_keys`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyShards {
    None,
    One(usize),
    Several,
}

/// Positions of a request's keys; most commands have one or two.
pub type KeyPositions = SmallVec<[usize; 4]>;

/// Shard numbers, in increasing order, each once.
pub type ShardSet = SmallVec<[usize; 4]>;

/// A key specification's arguments do not parse (a bad `numkeys`, keys
/// past the end): the command will report its own error.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidKeys;

impl KeySpec {
    /// One key at `at`.
    pub const fn one(at: usize) -> KeySpec {
        KeySpec {
            begin: Begin::Index(at),
            find: Find::Range {
                last: 0,
                step: 1,
                limit: 0,
            },
        }
    }

    /// Keys from `first` to `last` (absolute; negative from the end), every `step`.
    pub const fn range(first: usize, last: i32, step: usize) -> KeySpec {
        KeySpec {
            begin: Begin::Index(first),
            find: Find::Range {
                last: if last < 0 { last } else { last - first as i32 },
                step,
                limit: 0,
            },
        }
    }

    /// `numkeys key [key ...]` with the count at `at`.
    pub const fn numkeys(at: usize) -> KeySpec {
        KeySpec {
            begin: Begin::Index(at),
            find: Find::KeyNum {
                numkeys: 0,
                first: 1,
                step: 1,
            },
        }
    }

    /// The first half of what follows `word` (XREAD's `STREAMS k... id...`).
    pub const fn half_after(word: &'static str) -> KeySpec {
        KeySpec {
            begin: Begin::Keyword { word, from: 1 },
            find: Find::Range {
                last: -1,
                step: 1,
                limit: 2,
            },
        }
    }

    /// Visits the positions of this spec's keys in `argv` (Redis's
    /// `getKeysUsingKeySpecs` for one spec). Ok with none visited when a
    /// keyword it starts after is absent.
    fn positions(&self, argv: &[&[u8]], visit: &mut dyn FnMut(usize)) -> Result<(), InvalidKeys> {
        let argc = argv.len() as i64;
        let first = match self.begin {
            Begin::Index(i) => i as i64,
            Begin::Keyword { word, from } => {
                let found = if from > 0 {
                    // Forward, and a keyword in the last place starts nothing.
                    (from as i64..argc - 1).find(|&i| is_word(argv[i as usize], word))
                } else {
                    (1..=argc + from as i64)
                        .rev()
                        .find(|&i| is_word(argv[i as usize], word))
                };
                match found {
                    Some(i) => i + 1,
                    None => return Ok(()),
                }
            }
        };
        let (first, last, step) = match self.find {
            Find::Range { last, step, limit } => {
                let last = if last >= 0 {
                    first + last as i64
                } else if limit == 0 {
                    argc + last as i64
                } else {
                    first + ((argc - first) / limit as i64 + last as i64)
                };
                (first, last, step)
            }
            Find::KeyNum {
                numkeys,
                first: offset,
                step,
            } => {
                let at = first + numkeys as i64;
                if at >= argc {
                    return Err(InvalidKeys);
                }
                let n = parse_i64(argv[at as usize])
                    .filter(|&n| (0..=argc).contains(&n))
                    .ok_or(InvalidKeys)?;
                let first = first + offset as i64;
                (first, first + n - 1, step)
            }
        };
        if last < first {
            // No keys (numkeys 0, or a range that ends before it starts).
            return if last == first - 1 {
                Ok(())
            } else {
                Err(InvalidKeys)
            };
        }
        if first >= argc || last >= argc {
            return Err(InvalidKeys);
        }
        let mut i = first;
        while i <= last {
            visit(i as usize);
            i += step.max(1) as i64;
        }
        Ok(())
    }
}

fn is_word(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// The flags a script's call checks, in one pass over them.
    pub fn script_flags(&self) -> ScriptFlags {
        let mut found = ScriptFlags::default();
        for &flag in self.flags {
            match flag {
                "write" => found.write = true,
                "may_replicate" => found.may_replicate = true,
                "noscript" => found.noscript = true,
                "pubsub" => found.pubsub = true,
                _ => {}
            }
        }
        found
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Positions of the keys of `argv` (arity already checked).
    pub fn key_positions(&self, argv: &[&[u8]]) -> Result<KeyPositions, InvalidKeys> {
        let mut at = KeyPositions::new();
        for spec in self.keys {
            spec.positions(argv, &mut |i| at.push(i))?;
        }
        Ok(at)
    }

    /// Where the keys of `argv` live among `shards`: on one shard, on
    /// several, or nowhere (no keys, or key arguments that do not parse).
    /// Computed without collecting the keys.
    pub fn shards_of_keys(&self, argv: &[&[u8]], shards: usize) -> KeyShards {
        let mut found = KeyShards::None;
        for spec in self.keys {
            let seen = spec.positions(argv, &mut |i| {
                let shard = crate::shard::route::shard_of(argv[i], shards);
                found = match found {
                    KeyShards::None => KeyShards::One(shard),
                    KeyShards::One(s) if s == shard => KeyShards::One(s),
                    _ => KeyShards::Several,
                };
            });
            if seen.is_err() {
                return KeyShards::None;
            }
        }
        found
    }

    /// The shards of the keys of `argv`, in increasing order, each once.
    pub fn shard_set(&self, argv: &[&[u8]], shards: usize) -> ShardSet {
        let mut set = ShardSet::new();
        for key in self.keys_of(argv) {
            let shard = crate::shard::route::shard_of(key, shards);
            if let Err(at) = set.binary_search(&shard) {
                set.insert(at, shard);
            }
        }
        set
    }

    /// The keys of `argv`; none when its key arguments do not parse (the
    /// command then answers its own error, wherever it runs).
    pub fn keys_of<'a>(&self, argv: &[&'a [u8]]) -> SmallVec<[&'a [u8]; 4]> {
        match self.key_positions(argv) {
            Ok(at) => at.into_iter().map(|i| argv[i]).collect(),
            Err(InvalidKeys) => SmallVec::new(),
        }
    }

    /// The first key of `argv`, the shard a one-shard command routes to.
    pub fn first_key<'a>(&self, argv: &[&'a [u8]]) -> Option<&'a [u8]> {
        // The common case, one key at a fixed place, without collecting.
        if let [KeySpec {
            begin: Begin::Index(i),
            find: Find::Range { .. },
        }] = self.keys
        {
            return argv.get(*i).copied();
        }
        self.keys_of(argv).first().copied()
    }

    /// Redis's legacy `(first, last, step)` of COMMAND INFO, derived from the
    /// key specifications as `populateCommandLegacyRangeSpec` does: the
    /// consecutive plain ranges, or `(0, 0, 0)` when there are none.
    pub fn legacy_range(&self) -> (i64, i64, i64) {
        if let [KeySpec {
            begin: Begin::Index(pos),
            find: Find::Range { last, step, .. },
        }] = self.keys
        {
            let last = if *last < 0 {
                *last as i64
            } else {
                *pos as i64 + *last as i64
            };
            return (*pos as i64, last, *step as i64);
        }
        let mut first = i64::MAX;
        let mut last: i64 = 0;
        let mut prev_last: i64 = 0;
        for spec in self.keys {
            let (Begin::Index(pos), Find::Range { last: l, step, .. }) = (spec.begin, spec.find)
            else {
                continue;
            };
            if step != 1 || (prev_last != 0 && prev_last != pos as i64 - 1) {
                continue;
            }
            first = first.min(pos as i64);
            let abs = if l >= 0 {
                pos as i64 + l as i64
            } else {
                l as i64
            };
            // Redis compares as unsigned: a negative (to the end) wins.
            if (abs as u64) > (last as u64) {
                last = abs;
            }
            prev_last = last;
        }
        if first == i64::MAX {
            return (0, 0, 0);
        }
        (first, last, 1)
    }

    /// The subcommand of a container, by the request's second argument.
    pub fn subcommand(&self, sub: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|s| {
            let short = s.name.rsplit('|').next().unwrap_or(s.name);
            sub.eq_ignore_ascii_case(short.as_bytes())
        })
    }
}

/// What families declare their commands with: flag sets, key
/// specifications and the constructors of the command table's rows.
pub mod decl {
    pub use super::{CommandSpec, KeySpec};
    pub use crate::cmd::Exec;

    pub const W: &[&str] = &["write", "denyoom"];
    pub const WF: &[&str] = &["write", "denyoom", "fast"];
    pub const WD: &[&str] = &["write"];
    pub const WDF: &[&str] = &["write", "fast"];
    pub const R: &[&str] = &["readonly"];
    pub const RF: &[&str] = &["readonly", "fast"];
    pub const CONN: &[&str] = &["fast", "loading", "stale"];
    pub const NOAUTH: &[&str] = &[
        "noscript",
        "loading",
        "stale",
        "fast",
        "no_auth",
        "allow_busy",
    ];
    pub const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
    pub const SUB: &[&str] = &["pubsub", "noscript", "loading", "stale"];
    pub const PUB: &[&str] = &["pubsub", "loading", "stale", "fast"];
    pub const PUBSUB_INFO: &[&str] = &["pubsub", "loading", "stale"];
    pub const SERVER: &[&str] = &["loading", "stale"];
    pub const TX_FLAGS: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];

    /// A command with its arguments' syntax as Redis's documentation writes it after the name.
    /// One positional argument per column of the table below.
    #[allow(clippy::too_many_arguments)]
    pub const fn spec(
        name: &'static str,
        arity: i32,
        flags: &'static [&'static str],
        keys: &'static [KeySpec],
        group: &'static str,
        summary: &'static str,
        exec: Exec,
        syntax: &'static str,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            keys,
            group,
            summary,
            since: "1.0.0",
            syntax,
            exec,
            subcommands: &[],
        }
    }

    /// A container command (CLIENT, CONFIG...): no arguments of its own, only subcommands.
    pub const fn container(
        name: &'static str,
        group: &'static str,
        summary: &'static str,
        subs: &'static [CommandSpec],
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity: -2,
            flags: &[],
            keys: NO_KEYS,
            group,
            summary,
            since: "1.0.0",
            syntax: "",
            exec: Exec::Container,
            subcommands: subs,
        }
    }

    pub const NO_KEYS: &[KeySpec] = &[];
    pub const KEY1: &[KeySpec] = &[KeySpec::one(1)];
    pub const KEY2: &[KeySpec] = &[KeySpec::one(2)];
    /// Two keys (a source and a destination).
    pub const KEYS12: &[KeySpec] = &[KeySpec::one(1), KeySpec::one(2)];
    pub const ALL_KEYS: &[KeySpec] = &[KeySpec::range(1, -1, 1)];
    pub const PAIRS: &[KeySpec] = &[KeySpec::range(1, -1, 2)];
    /// Keys then a timeout (BLPOP...).
    pub const KEYS_TIMEOUT: &[KeySpec] = &[KeySpec::range(1, -2, 1)];
    /// `numkeys key [key ...]` with the count first (LMPOP...), or after one
    /// argument (BLMPOP's timeout, EVAL's script).
    pub const NUMKEYS1: &[KeySpec] = &[KeySpec::numkeys(1)];
    pub const NUMKEYS2: &[KeySpec] = &[KeySpec::numkeys(2)];
    /// XREAD / XREADGROUP: `STREAMS key [key ...] id [id ...]`.
    pub const STREAMS: &[KeySpec] = &[KeySpec::half_after("STREAMS")];

    /// A client command of an `async fn(&mut dyn Client, &[&[u8]]) -> CmdResult`.
    #[macro_export]
    macro_rules! awaits {
        ($f:path) => {
            $crate::cmd::Exec::Client(|c, a| {
                Box::pin(async move {
                    let result = $f(&mut *c, a).await;
                    $crate::cmd::exec::finish(c, result)
                })
            })
        };
    }

    /// As [`awaits!`], for a command that may use any shard
    /// ([`Exec::Anywhere`](crate::cmd::Exec::Anywhere)).
    #[macro_export]
    macro_rules! anywhere {
        ($f:path) => {
            $crate::cmd::Exec::Anywhere(
                |c, a| {
                    Box::pin(async move {
                        let result = $f(&mut *c, a).await;
                        $crate::cmd::exec::finish(c, result)
                    })
                },
                None,
            )
        };
        // With a way to run at once when it can (see `Exec::Anywhere`).
        ($f:path, $now:path) => {
            $crate::cmd::Exec::Anywhere(
                |c, a| {
                    Box::pin(async move {
                        let result = $f(&mut *c, a).await;
                        $crate::cmd::exec::finish(c, result)
                    })
                },
                Some($now),
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(specs: &'static [KeySpec], argv: &[&str]) -> Result<Vec<usize>, InvalidKeys> {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        let mut at = KeyPositions::new();
        for s in specs {
            s.positions(&argv, &mut |i| at.push(i))?;
        }
        Ok(at.to_vec())
    }

    #[test]
    fn ranges() {
        static ONE: &[KeySpec] = &[KeySpec::one(1)];
        static ALL: &[KeySpec] = &[KeySpec::range(1, -1, 1)];
        static PAIRS: &[KeySpec] = &[KeySpec::range(1, -1, 2)];
        static BLOCKING: &[KeySpec] = &[KeySpec::range(1, -2, 1)];
        assert_eq!(positions(ONE, &["get", "k"]), Ok(vec![1]));
        assert_eq!(positions(ALL, &["del", "a", "b", "c"]), Ok(vec![1, 2, 3]));
        assert_eq!(
            positions(PAIRS, &["mset", "a", "1", "b", "2"]),
            Ok(vec![1, 3])
        );
        assert_eq!(
            positions(BLOCKING, &["blpop", "a", "b", "0"]),
            Ok(vec![1, 2])
        );
    }

    #[test]
    fn numkeys_and_keywords() {
        static EVAL: &[KeySpec] = &[KeySpec::numkeys(2)];
        static STORE: &[KeySpec] = &[KeySpec::one(1), KeySpec::numkeys(2)];
        static XREAD: &[KeySpec] = &[KeySpec::half_after("STREAMS")];
        assert_eq!(
            positions(EVAL, &["eval", "s", "2", "a", "b", "x"]),
            Ok(vec![3, 4])
        );
        assert_eq!(positions(EVAL, &["eval", "s", "0", "x"]), Ok(vec![]));
        assert_eq!(positions(EVAL, &["eval", "s", "3", "a"]), Err(InvalidKeys));
        assert_eq!(positions(EVAL, &["eval", "s", "-1"]), Err(InvalidKeys));
        assert_eq!(positions(EVAL, &["eval", "s", "x"]), Err(InvalidKeys));
        assert_eq!(
            positions(EVAL, &["eval", "s", "9223372036854775807", "a"]),
            Err(InvalidKeys)
        );
        assert_eq!(
            positions(
                STORE,
                &["zunionstore", "d", "2", "a", "b", "weights", "1", "2"]
            ),
            Ok(vec![1, 3, 4])
        );
        assert_eq!(
            positions(
                XREAD,
                &["xread", "count", "2", "streams", "a", "b", "0", "0"]
            ),
            Ok(vec![4, 5])
        );
        assert_eq!(positions(XREAD, &["xread", "count", "2"]), Ok(vec![]));
    }

    #[test]
    fn legacy_ranges_as_redis() {
        let spec = |keys: &'static [KeySpec]| CommandSpec {
            name: "x",
            arity: -1,
            flags: &[],
            keys,
            group: "",
            summary: "",
            since: "",
            syntax: "",
            exec: Exec::Container,
            subcommands: &[],
        };
        static TWO: &[KeySpec] = &[KeySpec::one(1), KeySpec::one(2)];
        static STORE: &[KeySpec] = &[KeySpec::one(1), KeySpec::numkeys(2)];
        static PAIRS: &[KeySpec] = &[KeySpec::range(1, -1, 2)];
        assert_eq!(spec(TWO).legacy_range(), (1, 2, 1));
        assert_eq!(spec(STORE).legacy_range(), (1, 1, 1));
        assert_eq!(spec(PAIRS).legacy_range(), (1, -1, 2));
        assert_eq!(spec(&[]).legacy_range(), (0, 0, 0));
        static NUM: &[KeySpec] = &[KeySpec::numkeys(2)];
        assert_eq!(spec(NUM).legacy_range(), (0, 0, 0));
    }
}
