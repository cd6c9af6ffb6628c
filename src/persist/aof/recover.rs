//! Recovery at start: the base, then every generation of incremental
//! files, each shard's file replayed on its own shard, then the keys moved
//! to the shards they hash to now (see `aof` for the whole argument).
//!
//! A file is read as units: a record, or a MULTI..EXEC block (with its
//! `#TXN:<id>:<parts>` annotation when it is one part of a transaction over
//! several shards). A unit is applied whole or not at all. A transaction
//! whose parts did not all reach disk is cut, with everything after it on
//! each shard that has a part of it (none of that was acknowledged:
//! `log`'s replies wait for every part); cutting can make another
//! transaction incomplete, so cuts are taken to a fixed point.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::manifest::{self, Manifest};
use crate::cmd::Exec;
use crate::config::Config;
use crate::resp::Out;
use crate::shard::route::shard_of;
use crate::shard::{ctx, now_ms, Shard, ShardLimits};

/// One unit of a file (see the module doc).
#[derive(Debug)]
enum Body<'a> {
    One(Vec<&'a [u8]>),
    Block {
        txn: Option<(u64, usize)>,
        cmds: Vec<Vec<&'a [u8]>>,
    },
}

#[derive(Debug)]
struct Unit<'a> {
    /// Offset just past the unit.
    end: u64,
    body: Body<'a>,
}

/// A MULTI not yet closed: where it starts, its transaction tag, its commands.
type OpenBlock<'a> = (usize, Option<(u64, usize)>, Vec<Vec<&'a [u8]>>);

/// Replays a FUNCTION command on the server's libraries.
pub type FunctionReplay<'a> = &'a dyn Fn(&[&[u8]]) -> Result<(), String>;

/// How a file ends.
#[derive(Debug, PartialEq)]
enum Tail {
    Clean,
    /// A record or block cut short (a torn write) at this offset.
    Truncated(u64),
}

struct Parsed<'a> {
    units: Vec<Unit<'a>>,
    tail: Tail,
}

/// Reads a file of RESP records into units. Garbage in the middle is an
/// error naming the offset; an unfinished record or block at the end (or
/// zeros to the end: a write the crash left unfinished) is a torn tail.
fn parse<'a>(data: &'a [u8], name: &str) -> Result<Parsed<'a>, String> {
    let mut units = Vec::new();
    let mut pos = 0usize;
    let mut txn_tag: Option<(u64, usize)> = None;
    // An open MULTI: (its start, tag, commands).
    let mut block: Option<OpenBlock> = None;
    let bad = |at: usize, why: &str| {
        format!(
            "Bad file format reading the append only file {name} at offset {at}: {why}: make a \
             backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
        )
    };
    while pos < data.len() {
        let start = pos;
        if data[pos] == b'#' {
            let Some(eol) = find_crlf(data, pos) else {
                return torn(units, block.map_or(start, |b| b.0));
            };
            let line = &data[pos + 1..eol];
            if let Some(rest) = line.strip_prefix(b"TXN:") {
                let text = std::str::from_utf8(rest).unwrap_or("");
                let mut it = text.split(':');
                match (
                    it.next().and_then(|v| v.parse().ok()),
                    it.next().and_then(|v| v.parse().ok()),
                ) {
                    (Some(id), Some(parts)) => txn_tag = Some((id, parts)),
                    _ => return Err(bad(pos, "bad transaction annotation")),
                }
            }
            pos = eol + 2;
            continue;
        }
        let argv = match read_command(data, &mut pos) {
            Ok(Some(argv)) => argv,
            Ok(None) => return torn(units, block.map_or(start, |b| b.0)),
            Err(why) => {
                if data[start..].iter().all(|&b| b == 0) {
                    return torn(units, block.map_or(start, |b| b.0));
                }
                return Err(bad(start, why));
            }
        };
        let is = |name: &[u8]| argv.len() == 1 && argv[0].eq_ignore_ascii_case(name);
        if is(b"MULTI") {
            if block.is_some() {
                return Err(bad(start, "nested MULTI"));
            }
            block = Some((start, txn_tag.take(), Vec::new()));
        } else if is(b"EXEC") {
            let Some((_, txn, cmds)) = block.take() else {
                return Err(bad(start, "EXEC without MULTI"));
            };
            units.push(Unit {
                end: pos as u64,
                body: Body::Block { txn, cmds },
            });
        } else if let Some((_, _, cmds)) = &mut block {
            cmds.push(argv);
        } else {
            units.push(Unit {
                end: pos as u64,
                body: Body::One(argv),
            });
        }
    }
    match block {
        Some((start, ..)) => torn(units, start),
        None => Ok(Parsed {
            units,
            tail: Tail::Clean,
        }),
    }
}

fn torn(units: Vec<Unit<'_>>, at: usize) -> Result<Parsed<'_>, String> {
    Ok(Parsed {
        units,
        tail: Tail::Truncated(at as u64),
    })
}

fn find_crlf(data: &[u8], from: usize) -> Option<usize> {
    data[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

/// One `*<n>\r\n($<len>\r\n<bytes>\r\n)*` record: Ok(None) if the data ends
/// inside it.
fn read_command<'a>(
    data: &'a [u8],
    pos: &mut usize,
) -> Result<Option<Vec<&'a [u8]>>, &'static str> {
    let mut p = *pos;
    let number = |p: &mut usize, lead: u8| -> Result<Option<usize>, &'static str> {
        if *p >= data.len() {
            return Ok(None);
        }
        if data[*p] != lead {
            return Err(if lead == b'*' {
                "expected '*'"
            } else {
                "expected '$'"
            });
        }
        let Some(eol) = find_crlf(data, *p + 1) else {
            return if data.len() - *p > 32 {
                Err("line too long")
            } else {
                Ok(None)
            };
        };
        let text = std::str::from_utf8(&data[*p + 1..eol]).map_err(|_| "bad number")?;
        let n: usize = text.parse().map_err(|_| "bad number")?;
        *p = eol + 2;
        Ok(Some(n))
    };
    let Some(argc) = number(&mut p, b'*')? else {
        return Ok(None);
    };
    if argc == 0 || argc > 1 << 24 {
        return Err("bad argument count");
    }
    let mut argv = Vec::with_capacity(argc.min(1024));
    for _ in 0..argc {
        let Some(len) = number(&mut p, b'$')? else {
            return Ok(None);
        };
        if p + len + 2 > data.len() {
            return Ok(None);
        }
        if &data[p + len..p + len + 2] != b"\r\n" {
            return Err("bulk string not followed by CRLF");
        }
        argv.push(&data[p..p + len]);
        p += len + 2;
    }
    *pos = p;
    Ok(Some(argv))
}

/// Where each shard's replay of a generation stops: the number of units
/// applied. Takes cuts to a fixed point (module doc).
fn cuts(files: &[&Parsed<'_>]) -> Vec<usize> {
    let mut cut: Vec<usize> = files.iter().map(|f| f.units.len()).collect();
    loop {
        // Parts of each transaction found before the cuts.
        let mut found: HashMap<u64, usize> = HashMap::new();
        for (s, f) in files.iter().enumerate() {
            for u in &f.units[..cut[s]] {
                if let Body::Block {
                    txn: Some((id, _)), ..
                } = u.body
                {
                    *found.entry(id).or_default() += 1;
                }
            }
        }
        let mut changed = false;
        for (s, f) in files.iter().enumerate() {
            let first_bad = f.units[..cut[s]].iter().position(|u| {
                matches!(u.body, Body::Block { txn: Some((id, parts)), .. }
                    if found.get(&id).copied().unwrap_or(0) < parts)
            });
            if let Some(i) = first_bad {
                cut[s] = i;
                changed = true;
            }
        }
        if !changed {
            return cut;
        }
    }
}

/// Runs one logged command on `shard` (recovery: no clients, no log);
/// `out` takes the reply, which nobody reads.
fn apply(
    shard: &mut Shard,
    db: &mut usize,
    args: &[&[u8]],
    cfg: &Replay,
    out: &mut Out,
) -> Result<(), String> {
    let is = |n: &str| args[0].eq_ignore_ascii_case(n.as_bytes());
    let name = || String::from_utf8_lossy(args[0]).to_ascii_lowercase();
    if is("select") {
        let n = args
            .get(1)
            .and_then(|a| std::str::from_utf8(a).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&n| n < shard.dbs.len())
            .ok_or("SELECT of a database ringbus does not have (--databases)")?;
        *db = n;
        return Ok(());
    }
    if is("flushall") {
        shard.flush(None);
        return Ok(());
    }
    if is("flushdb") {
        shard.flush(Some(*db));
        return Ok(());
    }
    if is("function") {
        return (cfg.function)(args);
    }
    let mut spec = crate::cmd::table::lookup(args[0])
        .ok_or_else(|| format!("Unknown command '{}' reading the append only file", name()))?;
    if !spec.subcommands.is_empty() {
        spec = args
            .get(1)
            .and_then(|sub| spec.subcommand(sub))
            .ok_or_else(|| {
                format!(
                    "Unknown subcommand of '{}' reading the append only file",
                    name()
                )
            })?;
    }
    if !spec.arity_ok(args.len()) {
        return Err(format!(
            "wrong number of arguments for '{}' in the append only file",
            name()
        ));
    }
    let f = match spec.exec {
        Exec::Shard(f) | Exec::Multi(f, _) => f,
        _ => {
            return Err(format!(
                "'{}' cannot be replayed from the append only file",
                name()
            ))
        }
    };
    out.buf.clear();
    let mut c = ctx::Ctx {
        shard,
        db: *db,
        now: now_ms(),
    };
    ctx::run(f, &mut c, args, out);
    Ok(())
}

/// What replay needs from the server.
pub struct Replay<'a> {
    /// FUNCTION LOAD/DELETE/FLUSH/RESTORE, on the server's libraries.
    pub function: FunctionReplay<'a>,
    pub load_truncated: bool,
}

/// What recovery found and made.
pub struct Recovered {
    pub shards: Vec<Shard>,
    pub manifest: Manifest,
    /// Each shard's file to append to, and its length.
    pub files: Vec<(PathBuf, u64)>,
    /// The generation appended to is new: the shard count changed (a
    /// rewrite should follow) or there was no log.
    pub new_generation: bool,
    pub keys: u64,
    /// Bytes of the base.
    pub base_size: u64,
}

/// Moves every key of `shards` to the shard it hashes to among `n`.
fn redistribute(
    shards: Vec<Shard>,
    n: usize,
    databases: usize,
    limits: &std::sync::Arc<ShardLimits>,
) -> Vec<Shard> {
    let mut to: Vec<Shard> = (0..n)
        .map(|id| Shard::new(id, databases, limits.clone()))
        .collect();
    for mut s in shards {
        for (d, db) in s.dbs.iter_mut().enumerate() {
            for (key, value, at) in db.drain() {
                let t = shard_of(&key, n);
                to[t].dbs[d].set(&key, value, at);
            }
        }
    }
    to
}

/// Loads the log in `config`'s `appenddirname` into `n` shards (creating an
/// empty log when there is none), and says where each shard appends.
pub fn recover(
    config: &Config,
    n: usize,
    limits: &std::sync::Arc<ShardLimits>,
    progress: &crate::persist::snapshot::Persistence,
    replay: &Replay,
) -> Result<Recovered, String> {
    let dir = config.dir.join(&config.appenddirname);
    let basename = &config.appendfilename;
    let mname = manifest::manifest_name(basename);
    let mpath = dir.join(&mname);
    let databases = config.databases;
    let mut out = Out::default();
    let fresh = |k: usize| -> Vec<Shard> {
        (0..k)
            .map(|id| Shard::new(id, databases, limits.clone()))
            .collect()
    };
    if !mpath.exists() {
        fs::create_dir_all(&dir)
            .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
        let mut m = Manifest::default();
        let names = m.add_generation(basename, 1, n);
        let files = create_files(&dir, &names)?;
        manifest::write_durably(&dir, &mname, m.render().as_bytes())
            .map_err(|e| format!("Can't write the AOF manifest {}: {e}", mpath.display()))?;
        return Ok(Recovered {
            shards: fresh(n),
            manifest: m,
            files,
            new_generation: true,
            keys: 0,
            base_size: 0,
        });
    }
    let text = fs::read_to_string(&mpath)
        .map_err(|e| format!("Can't read the AOF manifest {}: {e}", mpath.display()))?;
    let mut m = Manifest::parse(&text, &mpath)?;
    let gens = m.generations()?;
    let first = gens.first().map_or(n, |g| g.files.len());
    let mut shards = fresh(first);
    let mut base_size = 0;
    if let Some(base) = &m.base {
        let path = dir.join(&base.name);
        base_size = fs::metadata(&path).map_or(0, |md| md.len());
        progress.begin_loading(&path);
        if is_rdb(&path)? {
            let (s, loaded) = crate::persist::snapshot::load(&path, shards, progress)?;
            shards = s;
            for code in &loaded.functions {
                let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"LOAD", b"REPLACE"];
                args.push(code);
                (replay.function)(&args)
                    .map_err(|e| format!("{}: function library: {e}", path.display()))?;
            }
        } else {
            let data =
                fs::read(&path).map_err(|e| format!("Can't read {}: {e}", path.display()))?;
            let parsed = parse(&data, &base.name)?;
            if parsed.tail != Tail::Clean {
                return Err(format!(
                    "Unexpected end of file reading the append only file {}",
                    base.name
                ));
            }
            let k = shards.len();
            let mut dbs = vec![0usize; k];
            for u in parsed.units {
                let cmds = match u.body {
                    Body::One(c) => vec![c],
                    Body::Block { cmds, .. } => cmds,
                };
                for c in cmds {
                    // A base names one key per command: it goes where the key does.
                    let s = if k == 1 || c.len() < 2 {
                        0
                    } else {
                        shard_of(c[1], k)
                    };
                    if c[0].eq_ignore_ascii_case(b"SELECT") {
                        for (i, sh) in shards.iter_mut().enumerate() {
                            apply(sh, &mut dbs[i], &c, replay, &mut out)?;
                        }
                    } else {
                        apply(&mut shards[s], &mut dbs[s], &c, replay, &mut out)?;
                    }
                }
            }
        }
    }
    let last_gen = gens.len().saturating_sub(1);
    // Shards cut in a generation: their later generations were never acknowledged.
    let mut cut_shards: Vec<bool> = Vec::new();
    for (g, gen) in gens.iter().enumerate() {
        let k = gen.files.len();
        if shards.len() != k {
            shards = redistribute(shards, k, databases, limits);
            cut_shards = vec![false; k];
        }
        cut_shards.resize(k, false);
        let mut datas = Vec::with_capacity(k);
        for name in &gen.files {
            let path = dir.join(name);
            let data = match fs::read(&path) {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && g == last_gen => Vec::new(),
                Err(e) => {
                    return Err(format!(
                        "Can't read the append only file {}: {e}",
                        path.display()
                    ))
                }
            };
            datas.push((data, path));
        }
        let mut parsed = Vec::with_capacity(k);
        for (s, (name, (data, path))) in gen.files.iter().zip(&datas).enumerate() {
            let path = path.clone();
            let mut p = parse(data, name)?;
            if cut_shards[s] {
                p.units.clear();
                p.tail = Tail::Truncated(0);
            }
            if let Tail::Truncated(at) = p.tail {
                if !cut_shards[s] && (g != last_gen || !replay.load_truncated) {
                    return Err(format!(
                        "Unexpected end of file reading the append only file {name}. You can: 1) \
                         Make a backup of your AOF file, then use ./redis-check-aof --fix \
                         <filename.manifest>. 2) Alternatively you can set the \
                         'aof-load-truncated' configuration option to yes and restart the server."
                    ));
                }
                if at < data.len() as u64 {
                    eprintln!(
                        "ringbus: !!! Warning: short read while loading the AOF file {name}!!! \
                         Truncating the AOF {name} at offset {at}; AOF loaded anyway because \
                         aof-load-truncated is enabled"
                    );
                }
            }
            parsed.push((p, data.len() as u64, path));
        }
        let views: Vec<&Parsed> = parsed.iter().map(|(p, ..)| p).collect();
        let cut = cuts(&views);
        for (s, ((p, len, path), c)) in parsed.into_iter().zip(cut).enumerate() {
            let keep_to = if c == 0 { 0 } else { p.units[c - 1].end };
            let cut_here = c < p.units.len();
            if cut_here {
                eprintln!(
                    "ringbus: !!! Warning: {}: a transaction over several shards did not reach \
                     every shard's log before the crash: dropped from offset {keep_to} (none of \
                     it was acknowledged)",
                    path.display()
                );
                cut_shards[s] = true;
            }
            if keep_to < len {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| format!("Can't open {} to truncate it: {e}", path.display()))?;
                f.set_len(keep_to).map_err(|e| {
                    format!("Error truncating the AOF file {}: {e}", path.display())
                })?;
                f.sync_all()
                    .map_err(|e| format!("Can't fsync {}: {e}", path.display()))?;
            }
            let mut db = 0;
            for u in p.units.into_iter().take(c) {
                let cmds = match u.body {
                    Body::One(c) => vec![c],
                    Body::Block { cmds, .. } => cmds,
                };
                for cmd in cmds {
                    apply(&mut shards[s], &mut db, &cmd, replay, &mut out)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
            }
        }
    }
    if shards.len() != n {
        shards = redistribute(shards, n, databases, limits);
    }
    let keys = shards
        .iter()
        .flat_map(|s| s.dbs.iter())
        .map(|d| d.len() as u64)
        .sum();
    let (files, new_generation) = match gens.last() {
        Some(g) if g.files.len() == n => {
            let files = g
                .files
                .iter()
                .map(|name| {
                    let path = dir.join(name);
                    if !path.exists() {
                        fs::File::create(&path)
                            .map_err(|e| format!("Can't create {}: {e}", path.display()))?;
                    }
                    let len = fs::metadata(&path).map_or(0, |md| md.len());
                    Ok((path, len))
                })
                .collect::<Result<Vec<_>, String>>()?;
            (files, false)
        }
        _ => {
            let names = m.add_generation(basename, m.last_seq() + 1, n);
            let files = create_files(&dir, &names)?;
            manifest::write_durably(&dir, &mname, m.render().as_bytes())
                .map_err(|e| format!("Can't write the AOF manifest {}: {e}", mpath.display()))?;
            (files, true)
        }
    };
    Ok(Recovered {
        shards,
        manifest: m,
        files,
        new_generation,
        keys,
        base_size,
    })
}

fn create_files(dir: &Path, names: &[String]) -> Result<Vec<(PathBuf, u64)>, String> {
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(name);
        fs::File::create(&path)
            .map_err(|e| format!("Can't create the append only file {}: {e}", path.display()))?;
        out.push((path, 0));
    }
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("Can't fsync {}: {e}", dir.display()))?;
    Ok(out)
}

/// Whether a base file is RDB (starts with "REDIS") rather than AOF.
fn is_rdb(path: &Path) -> Result<bool, String> {
    use std::io::Read;
    let mut head = [0u8; 5];
    let mut f = fs::File::open(path)
        .map_err(|e| format!("Can't open the AOF base {}: {e}", path.display()))?;
    let n = f
        .read(&mut head)
        .map_err(|e| format!("Can't read {}: {e}", path.display()))?;
    Ok(n == 5 && &head == b"REDIS")
}
