//! Recovery at start: the base, then every generation of incremental
//! files, each shard's file replayed on its own shard, then the keys moved
//! to the shards they hash to now (see `aof` for the whole argument).
//!
//! A file is mapped and checked whole first ([`scan`]): its units (a
//! record, or a MULTI..EXEC block, with a `#TXN:<id>:<parts>` annotation
//! when it is one part of a transaction over several shards), where the
//! last complete one ends, and its transaction parts. Only then is it
//! replayed in place, up to its cut, so a corrupt file is never half
//! loaded. A transaction whose parts did not all reach disk is cut, with
//! everything after it on each shard that has a part of it (none of that
//! was acknowledged: `log`'s replies wait for every part); cutting can make
//! another transaction incomplete, so cuts are taken to a fixed point.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::manifest::{self, Manifest};
use crate::cmd::Exec;
use crate::config::Config;
use crate::resp::Out;
use crate::shard::route::shard_of;
use crate::shard::{ctx, now_ms, Shard, ShardLimits};

/// Replays a FUNCTION command on the server's libraries.
pub type FunctionReplay<'a> = &'a (dyn Fn(&[&[u8]]) -> Result<(), String> + Sync);

/// A MULTI..EXEC block that is one part of a transaction over several
/// shards (its `#TXN:<id>:<parts>` annotation).
#[derive(Debug, Clone, Copy)]
struct TxnPart {
    /// Offsets of the annotation and just past the EXEC.
    start: u64,
    end: u64,
    id: u64,
    parts: usize,
}

/// A `#TXN` annotation read: (its offset, id, parts).
type Tag = (usize, u64, usize);

/// How a file ends.
#[derive(Debug, PartialEq)]
enum Tail {
    Clean,
    /// A record or block cut short (a torn write) at this offset.
    Truncated(u64),
}

/// What a first pass over a file found: where its complete units end, and
/// its transaction parts. Nothing is applied before the whole file checked
/// out, so a corrupt file is refused whole.
struct Scan {
    /// Offset just past the last complete unit.
    valid_end: u64,
    parts: Vec<TxnPart>,
    tail: Tail,
}

/// Checks a file of RESP records. Garbage in the middle is an error naming
/// the offset; an unfinished record or block at the end (or zeros to the
/// end: a write the crash left unfinished) is a torn tail.
fn scan(data: &[u8], name: &str) -> Result<Scan, String> {
    let mut out = Scan {
        valid_end: 0,
        parts: Vec::new(),
        tail: Tail::Clean,
    };
    let mut pos = 0usize;
    let mut args: Vec<&[u8]> = Vec::new();
    // The annotation before the next MULTI: (its offset, id, parts).
    let mut tag: Option<Tag> = None;
    // An open MULTI: where its unit starts, and its tag.
    let mut block: Option<(usize, Option<Tag>)> = None;
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
                break;
            };
            let line = &data[pos + 1..eol];
            if let Some(rest) = line.strip_prefix(b"TXN:") {
                let text = std::str::from_utf8(rest).unwrap_or("");
                let mut it = text.split(':');
                match (
                    it.next().and_then(|v| v.parse().ok()),
                    it.next().and_then(|v| v.parse().ok()),
                ) {
                    (Some(id), Some(parts)) => tag = Some((pos, id, parts)),
                    _ => return Err(bad(pos, "bad transaction annotation")),
                }
            } else if block.is_none() && tag.is_none() {
                out.valid_end = (eol + 2) as u64;
            }
            pos = eol + 2;
            continue;
        }
        match read_command(data, &mut pos, &mut args) {
            Ok(true) => {}
            Ok(false) => break,
            Err(why) => {
                if data[start..].iter().all(|&b| b == 0) {
                    break;
                }
                return Err(bad(start, why));
            }
        }
        let is = |name: &[u8]| args.len() == 1 && args[0].eq_ignore_ascii_case(name);
        if is(b"MULTI") {
            if block.is_some() {
                return Err(bad(start, "nested MULTI"));
            }
            let t = tag.take();
            block = Some((t.map_or(start, |t| t.0), t));
        } else if is(b"EXEC") {
            let Some((_, t)) = block.take() else {
                return Err(bad(start, "EXEC without MULTI"));
            };
            if let Some((at, id, parts)) = t {
                out.parts.push(TxnPart {
                    start: at as u64,
                    end: pos as u64,
                    id,
                    parts,
                });
            }
            out.valid_end = pos as u64;
        } else if block.is_none() {
            // An annotation leads its block, perhaps through a SELECT (older
            // logs put it first); the unit starts at the annotation.
            let select = args[0].eq_ignore_ascii_case(b"SELECT");
            if !(select && tag.is_some()) {
                tag = None;
                out.valid_end = pos as u64;
            }
        }
    }
    if (out.valid_end as usize) < data.len() {
        out.tail = Tail::Truncated(out.valid_end);
    }
    Ok(out)
}

/// Applies every command of `data` (a checked prefix of a file) to `shard`,
/// skipping annotations and the MULTI/EXEC around blocks; `route` picks the
/// shard of a command in a base of commands. Atomicity needs nothing here:
/// no client sees the shards before recovery ends.
fn replay_data(
    data: &[u8],
    shards: &mut [Shard],
    route: &dyn Fn(&[&[u8]]) -> Option<usize>,
    cfg: &Replay,
    out: &mut Out,
) -> Result<(), String> {
    let mut pos = 0usize;
    let mut args: Vec<&[u8]> = Vec::new();
    let mut dbs = vec![0usize; shards.len()];
    while pos < data.len() {
        if data[pos] == b'#' {
            pos = find_crlf(data, pos).map_or(data.len(), |e| e + 2);
            continue;
        }
        if !read_command(data, &mut pos, &mut args).map_err(|e| e.to_string())? {
            break;
        }
        let is = |name: &[u8]| args.len() == 1 && args[0].eq_ignore_ascii_case(name);
        if is(b"MULTI") || is(b"EXEC") {
            continue;
        }
        match route(&args) {
            Some(s) => apply(&mut shards[s], &mut dbs[s], &args, cfg, out)?,
            // SELECT in a routed base: every shard follows it.
            None => {
                for (s, shard) in shards.iter_mut().enumerate() {
                    apply(shard, &mut dbs[s], &args, cfg, out)?;
                }
            }
        }
    }
    Ok(())
}

/// A file mapped read-only (the page cache, not a copy).
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: a read-only mapping; threads only read it while it lives.
unsafe impl Sync for Mapped {}

impl Mapped {
    /// No bytes (an empty or missing file).
    fn empty() -> Mapped {
        Mapped {
            ptr: std::ptr::null_mut(),
            len: 0,
        }
    }

    fn open(path: &Path) -> std::io::Result<Mapped> {
        use std::os::fd::AsRawFd;
        let f = fs::File::open(path)?;
        let len = f.metadata()?.len() as usize;
        if len == 0 {
            return Ok(Mapped::empty());
        }
        // SAFETY: a read-only private mapping of a file we opened; checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                f.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the mapping just made, read in order.
        unsafe { libc::madvise(ptr, len, libc::MADV_SEQUENTIAL) };
        Ok(Mapped { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `len` bytes mapped readable for as long as self lives.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: the mapping made in `open`, unmapped once.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

fn find_crlf(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = data[i..].iter().position(|&b| b == b'\r') {
        let at = i + off;
        if data.get(at + 1) == Some(&b'\n') {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// One `*<n>\r\n($<len>\r\n<bytes>\r\n)*` record into `argv`: Ok(false)
/// if the data ends inside it.
fn read_command<'a>(
    data: &'a [u8],
    pos: &mut usize,
    argv: &mut Vec<&'a [u8]>,
) -> Result<bool, &'static str> {
    argv.clear();
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
        let mut n = 0usize;
        let mut i = *p + 1;
        loop {
            match data.get(i) {
                None => return Ok(None),
                Some(b'\r') => break,
                Some(&d) if d.is_ascii_digit() && i - *p <= 20 => {
                    n = n * 10 + (d - b'0') as usize;
                    i += 1;
                }
                Some(_) => return Err("bad number"),
            }
        }
        if i == *p + 1 {
            return Err("bad number");
        }
        match data.get(i + 1) {
            None => return Ok(None),
            Some(b'\n') => {}
            Some(_) => return Err("bad number"),
        }
        *p = i + 2;
        Ok(Some(n))
    };
    let Some(argc) = number(&mut p, b'*')? else {
        return Ok(false);
    };
    if argc == 0 || argc > 1 << 24 {
        return Err("bad argument count");
    }
    for _ in 0..argc {
        let Some(len) = number(&mut p, b'$')? else {
            return Ok(false);
        };
        if p + len + 2 > data.len() {
            return Ok(false);
        }
        if &data[p + len..p + len + 2] != b"\r\n" {
            return Err("bulk string not followed by CRLF");
        }
        argv.push(&data[p..p + len]);
        p += len + 2;
    }
    *pos = p;
    Ok(true)
}

/// Where each shard's replay of a generation stops (an offset): at its
/// last complete unit, or before its first part of a transaction that lacks
/// a part within the other shards' cuts; to a fixed point (module doc).
fn cuts(files: &[&Scan]) -> Vec<u64> {
    let mut cut: Vec<u64> = files.iter().map(|f| f.valid_end).collect();
    loop {
        let mut found: HashMap<u64, usize> = HashMap::new();
        for (s, f) in files.iter().enumerate() {
            for p in f.parts.iter().filter(|p| p.end <= cut[s]) {
                *found.entry(p.id).or_default() += 1;
            }
        }
        let mut changed = false;
        for (s, f) in files.iter().enumerate() {
            let first_bad = f
                .parts
                .iter()
                .filter(|p| p.end <= cut[s])
                .find(|p| found.get(&p.id).copied().unwrap_or(0) < p.parts);
            if let Some(p) = first_bad {
                cut[s] = p.start;
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
    if is("swapdb") && args.len() == 3 {
        let db = |a: &[u8]| {
            std::str::from_utf8(a)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|&n| n < shard.dbs.len())
        };
        let (a, b) = db(args[1])
            .zip(db(args[2]))
            .ok_or("SWAPDB of a database ringbus does not have (--databases)")?;
        crate::cmd::keymove::swap_on_shard(shard, a, b);
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
            let map =
                Mapped::open(&path).map_err(|e| format!("Can't read {}: {e}", path.display()))?;
            let data = map.bytes();
            let checked = scan(data, &base.name)?;
            if checked.tail != Tail::Clean {
                return Err(format!(
                    "Unexpected end of file reading the append only file {}",
                    base.name
                ));
            }
            let k = shards.len();
            // A base names one key per command: it goes where the key does.
            let route = |c: &[&[u8]]| {
                if c[0].eq_ignore_ascii_case(b"SELECT") && k > 1 {
                    None
                } else if k == 1 || c.len() < 2 {
                    Some(0)
                } else {
                    Some(shard_of(c[1], k))
                }
            };
            replay_data(data, &mut shards, &route, replay, &mut out)
                .map_err(|e| format!("{}: {e}", path.display()))?;
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
        let mut maps = Vec::with_capacity(k);
        for name in &gen.files {
            let path = dir.join(name);
            let map = match Mapped::open(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && g == last_gen => {
                    Mapped::empty()
                }
                Err(e) => {
                    return Err(format!(
                        "Can't read the append only file {}: {e}",
                        path.display()
                    ))
                }
            };
            maps.push((map, path));
        }
        let mut scans = Vec::with_capacity(k);
        for (s, (name, (map, _))) in gen.files.iter().zip(&maps).enumerate() {
            let data = map.bytes();
            let mut sc = scan(data, name)?;
            if cut_shards[s] {
                sc.parts.clear();
                sc.valid_end = 0;
                sc.tail = Tail::Truncated(0);
            }
            if let Tail::Truncated(at) = sc.tail {
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
            scans.push(sc);
        }
        let views: Vec<&Scan> = scans.iter().collect();
        let cut = cuts(&views);
        for (s, ((_, path), (sc, &keep_to))) in maps.iter().zip(scans.iter().zip(&cut)).enumerate()
        {
            if keep_to < sc.valid_end {
                eprintln!(
                    "ringbus: !!! Warning: {}: a transaction over several shards did not reach \
                     every shard's log before the crash: dropped from offset {keep_to} (none of \
                     it was acknowledged)",
                    path.display()
                );
                cut_shards[s] = true;
            }
        }
        // Each shard's file on its own shard, all at once.
        let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let running: Vec<_> = shards
                .iter_mut()
                .zip(maps.iter().zip(&cut))
                .map(|(shard, ((map, path), &keep_to))| {
                    scope.spawn(move || {
                        let data = &map.bytes()[..keep_to as usize];
                        let mut out = Out::default();
                        replay_data(
                            data,
                            std::slice::from_mut(shard),
                            &|_| Some(0),
                            replay,
                            &mut out,
                        )
                        .map_err(|e| format!("{}: {e}", path.display()))
                    })
                })
                .collect();
            running
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("a replay thread panicked".into()))
                })
                .collect()
        });
        results.into_iter().collect::<Result<Vec<()>, String>>()?;
        for ((map, path), &keep_to) in maps.iter().zip(&cut) {
            if keep_to < map.bytes().len() as u64 {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| format!("Can't open {} to truncate it: {e}", path.display()))?;
                f.set_len(keep_to).map_err(|e| {
                    format!("Error truncating the AOF file {}: {e}", path.display())
                })?;
                f.sync_all()
                    .map_err(|e| format!("Can't fsync {}: {e}", path.display()))?;
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
