//! The scripts every core knows: EVAL and SCRIPT LOAD add here, EVALSHA and
//! SCRIPT EXISTS read here, SCRIPT FLUSH empties it. Shared by all cores
//! behind a read-write lock that is only written by those rare commands;
//! each core also keeps its compiled functions, keyed by SHA, and drops them
//! when the registry's generation (bumped by SCRIPT FLUSH) moves on.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use ahash::AHashMap;

/// A script's SHA1 as 40 lower-case hex digits.
pub type Sha = [u8; 40];

pub struct Script {
    pub sha: Sha,
    pub source: Vec<u8>,
    /// What its runs so far showed (see `script`): [`UNSEEN`], [`STAYS`] or
    /// [`ROAMS`].
    pub reach: Arc<AtomicU8>,
}

/// Not run yet (with several cores): the next run holds every shard and
/// watches where the script goes.
pub const UNSEEN: u8 = 0;
/// Every run so far touched only keys of its declared keys' shard.
pub const STAYS: u8 = 1;
/// It touched keys elsewhere: it always runs with every shard held.
pub const ROAMS: u8 = 2;

impl Script {
    pub fn reach(&self) -> u8 {
        self.reach.load(Ordering::Relaxed)
    }

    pub fn set_reach(&self, reach: u8) {
        self.reach.store(reach, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub struct Registry {
    scripts: RwLock<AHashMap<Sha, Arc<Script>>>,
    generation: AtomicU64,
}

/// SHA1 of `source`, as Redis names scripts.
pub fn sha1_hex(source: &[u8]) -> Sha {
    let hex = sha1_smol::Sha1::from(source).digest().to_string();
    let mut sha = [0u8; 40];
    sha.copy_from_slice(hex.as_bytes());
    sha
}

/// A SHA argument, lower-cased; None when it is not 40 bytes.
pub fn parse_sha(arg: &[u8]) -> Option<Sha> {
    let mut sha = [0u8; 40];
    if arg.len() != 40 {
        return None;
    }
    for (d, s) in sha.iter_mut().zip(arg) {
        *d = s.to_ascii_lowercase();
    }
    Some(sha)
}

impl Registry {
    /// The entry for `source`: the registered one, or a new one not yet
    /// registered (it is, by [`Registry::add`], once it compiles).
    pub fn find_or_make(&self, source: &[u8]) -> Arc<Script> {
        let sha = sha1_hex(source);
        self.get(&sha).unwrap_or_else(|| {
            Arc::new(Script {
                sha,
                source: source.to_vec(),
                reach: Arc::new(AtomicU8::new(UNSEEN)),
            })
        })
    }

    /// Registers `script` (a script that compiled); keeps an earlier entry.
    pub fn add(&self, script: &Arc<Script>) {
        let mut scripts = self.scripts.write().expect("script registry");
        scripts.entry(script.sha).or_insert_with(|| script.clone());
    }

    pub fn get(&self, sha: &Sha) -> Option<Arc<Script>> {
        self.scripts
            .read()
            .expect("script registry")
            .get(sha)
            .cloned()
    }

    pub fn contains(&self, sha: &Sha) -> bool {
        self.scripts
            .read()
            .expect("script registry")
            .contains_key(sha)
    }

    /// SCRIPT FLUSH: forgets every script; cores drop their compiled ones.
    pub fn flush(&self) {
        self.scripts.write().expect("script registry").clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn len(&self) -> usize {
        self.scripts.read().expect("script registry").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_of_the_empty_script_is_redis_s() {
        assert_eq!(
            &sha1_hex(b"")[..],
            b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            parse_sha(b"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"),
            Some(sha1_hex(b""))
        );
        assert_eq!(parse_sha(b"abc"), None);
    }

    #[test]
    fn flush_forgets_and_bumps_the_generation() {
        let r = Registry::default();
        let s = r.find_or_make(b"return 1");
        assert!(!r.contains(&s.sha));
        r.add(&s);
        assert!(r.contains(&s.sha));
        assert!(Arc::ptr_eq(&r.find_or_make(b"return 1"), &s));
        let g = r.generation();
        r.flush();
        assert!(!r.contains(&s.sha));
        assert_eq!(r.generation(), g + 1);
    }
}
