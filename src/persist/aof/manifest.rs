//! The manifest: which files make up the log, in Redis 7's format, one line
//! per file: `file <name> seq <n> type <b|h|i>`. ringbus adds two keys to an
//! incremental file's line, `shard <k> shards <n>` (Redis's reader skips
//! keys it does not know): one incremental file per shard and sequence
//! number. A manifest without them (redis-server's) is one shard.
//!
//! The files, in `appenddirname`, named as Redis names them: one base
//! (`<appendfilename>.<seq>.base.rdb`), then generations of incremental
//! files (`<appendfilename>.<seq>.incr.aof`), one per shard, sequence
//! numbers rising through a generation and from one to the next (Redis's
//! tools require it). A new generation starts at every rewrite and at a
//! start with another number of shards. The manifest is replaced whole: written to a temp file, fsynced,
//! renamed, directory fsynced.

use std::fs;
use std::io::Write;
use std::path::Path;

/// One file of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub seq: u64,
    /// `b` base, `h` history (to delete), `i` incremental.
    pub kind: char,
    /// (shard, shards) of an incremental file; None: one shard.
    pub shard: Option<(usize, usize)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<Entry>,
    pub incrs: Vec<Entry>,
    pub history: Vec<Entry>,
}

/// A generation: the incremental files of one sequence number, by shard.
#[derive(Debug, Clone)]
pub struct Generation {
    pub seq: u64,
    pub files: Vec<String>,
}

impl Manifest {
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, String> {
        let bad = |line: usize, why: &str| {
            format!(
                "Invalid AOF manifest file format ({}, line {line}): {why}",
                path.display()
            )
        };
        let mut m = Manifest::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
            if words.len() < 6 || !words.len().is_multiple_of(2) {
                return Err(bad(i + 1, "wrong number of fields"));
            }
            let (mut name, mut seq, mut kind, mut shard, mut shards) =
                (None, None, None, None, None);
            for kv in words.chunks(2) {
                match kv[0] {
                    "file" => name = Some(kv[1].to_string()),
                    "seq" => seq = kv[1].parse::<u64>().ok(),
                    "type" => kind = kv[1].chars().next().filter(|_| kv[1].len() == 1),
                    "shard" => shard = kv[1].parse::<usize>().ok(),
                    "shards" => shards = kv[1].parse::<usize>().ok(),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(bad(i + 1, "missing or bad file, seq or type"));
            };
            if name.contains('/') {
                return Err(bad(i + 1, "a file name with a path"));
            }
            let shard = match (shard, shards) {
                (Some(s), Some(n)) if s < n => Some((s, n)),
                (None, None) => None,
                _ => return Err(bad(i + 1, "bad shard or shards")),
            };
            let e = Entry {
                name,
                seq,
                kind,
                shard,
            };
            match kind {
                'b' if m.base.is_some() => return Err(bad(i + 1, "more than one base file")),
                'b' => m.base = Some(e),
                'h' => m.history.push(e),
                'i' => m.incrs.push(e),
                _ => return Err(bad(i + 1, "unknown file type")),
            }
        }
        if m.base.is_none() && m.incrs.is_empty() {
            return Err(format!(
                "Found an empty AOF manifest ({}): no base and no incremental file",
                path.display()
            ));
        }
        Ok(m)
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let line = |s: &mut String, e: &Entry| {
            s.push_str(&format!("file {} seq {} type {}", e.name, e.seq, e.kind));
            if let Some((k, n)) = e.shard {
                s.push_str(&format!(" shard {k} shards {n}"));
            }
            s.push('\n');
        };
        if let Some(b) = &self.base {
            line(&mut s, b);
        }
        for e in self.history.iter().chain(&self.incrs) {
            line(&mut s, e);
        }
        s
    }

    /// The incremental files by generation, oldest first; each generation's
    /// files in shard order. A generation is a run of files with shard
    /// numbers 0..n (sequence numbers rise through it, as Redis requires);
    /// a file without a shard is a generation of one.
    pub fn generations(&self) -> Result<Vec<Generation>, String> {
        let mut incrs = self.incrs.clone();
        incrs.sort_by_key(|e| e.seq);
        let mut gens: Vec<(Generation, usize)> = Vec::new();
        for e in incrs {
            let (k, n) = e.shard.unwrap_or((0, 1));
            if k == 0 {
                gens.push((
                    Generation {
                        seq: e.seq,
                        files: vec![e.name],
                    },
                    n,
                ));
                continue;
            }
            match gens.last_mut() {
                Some((g, count)) if *count == n && g.files.len() == k => g.files.push(e.name),
                _ => {
                    return Err(format!(
                        "AOF manifest: {} is shard {k} of {n}, but does not follow shard {} of the \
                         same generation",
                        e.name,
                        k - 1
                    ))
                }
            }
        }
        for (g, n) in &gens {
            if g.files.len() != *n {
                return Err(format!(
                    "AOF manifest: the generation starting at seq {} has {} of its {n} files",
                    g.seq,
                    g.files.len()
                ));
            }
        }
        Ok(gens.into_iter().map(|(g, _)| g).collect())
    }

    /// The highest sequence number in use.
    pub fn last_seq(&self) -> u64 {
        self.base
            .iter()
            .chain(&self.incrs)
            .chain(&self.history)
            .map(|e| e.seq)
            .max()
            .unwrap_or(0)
    }

    /// Adds a generation of `shards` incremental files, sequence numbers
    /// from `seq` on; returns their names in shard order.
    pub fn add_generation(&mut self, basename: &str, seq: u64, shards: usize) -> Vec<String> {
        let names: Vec<String> = (0..shards as u64)
            .map(|k| incr_name(basename, seq + k))
            .collect();
        for (k, name) in names.iter().enumerate() {
            self.incrs.push(Entry {
                name: name.clone(),
                seq: seq + k as u64,
                kind: 'i',
                shard: (shards > 1).then_some((k, shards)),
            });
        }
        names
    }
}

/// Redis's name for incremental file `seq`.
pub fn incr_name(basename: &str, seq: u64) -> String {
    format!("{basename}.{seq}.incr.aof")
}

pub fn base_name(basename: &str, seq: u64, rdb: bool) -> String {
    format!("{basename}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}

pub fn manifest_name(basename: &str) -> String {
    format!("{basename}.manifest")
}

/// Replaces `dir/<name>` with `text` durably: temp file, fsync, rename,
/// directory fsync.
pub fn write_durably(dir: &Path, name: &str, text: &[u8]) -> std::io::Result<()> {
    let temp = dir.join(format!("temp-{name}"));
    let mut f = fs::File::create(&temp)?;
    f.write_all(text)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&temp, dir.join(name))?;
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_redis_and_ringbus_manifests() {
        let p = Path::new("m");
        let redis = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(redis, p).unwrap();
        assert_eq!(m.render(), redis);
        let gens = m.generations().unwrap();
        assert_eq!(gens.len(), 1);
        assert_eq!(gens[0].files, vec!["appendonly.aof.2.incr.aof"]);

        let mut m = Manifest::default();
        m.add_generation("appendonly.aof", 1, 1);
        m.add_generation("appendonly.aof", 2, 3);
        assert_eq!(m.incrs[3].shard, Some((2, 3)));
        let text = m.render();
        let back = Manifest::parse(&text, p).unwrap();
        assert_eq!(back, m);
        let gens = back.generations().unwrap();
        assert_eq!(gens.len(), 2);
        assert_eq!(gens[1].files[2], "appendonly.aof.4.incr.aof");
        assert_eq!(back.last_seq(), 4);

        assert!(Manifest::parse("file a seq 1\n", p).is_err());
        assert!(Manifest::parse("file a seq 1 type i shard 3 shards 2\n", p).is_err());
        assert!(Manifest::parse("", p).is_err());
        let missing = "file a seq 1 type i shard 0 shards 2\n";
        assert!(Manifest::parse(missing, p).unwrap().generations().is_err());
    }
}
