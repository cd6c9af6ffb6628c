//! Long scripts: BUSY and SCRIPT KILL, as far as a thread-per-core server
//! allows. A script runs on one core without yielding, so that core serves
//! nobody until it ends. After `busy-reply-threshold` (alias
//! `lua-time-limit`, 5 s by default) every other core answers BUSY to commands
//! that are not marked `allow_busy`, as Redis answers every client, and
//! SCRIPT KILL / FUNCTION KILL from a client of another core stops the
//! script at its next check (every 100,000 Lua instructions), unless it has
//! already written (UNKILLABLE, as in Redis). With a single executor no
//! other core is left to say so: the script's core is the only one.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

pub const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Redis's default `busy-reply-threshold` (`lua-time-limit`), in ms.
pub const BUSY_AFTER_MS: u64 = 5000;

/// The state of the script running on one core, if any.
#[derive(Default)]
pub struct CoreScript {
    /// Unix ms when it started; 0 when no script runs there.
    since: AtomicU64,
    /// It ran a write command (then it cannot be killed).
    wrote: AtomicBool,
    /// SCRIPT KILL asked it to stop.
    kill: AtomicBool,
    /// FCALL rather than EVAL (which KILL command may stop it).
    function: AtomicBool,
}

#[derive(Default)]
pub struct Busy {
    cores: Box<[CoreScript]>,
    /// Scripts running now, over all cores: the one check a command pays.
    running: AtomicUsize,
    /// `busy-reply-threshold` in ms (CONFIG SET changes it).
    after_ms: AtomicU64,
}

/// What SCRIPT KILL / FUNCTION KILL found.
#[derive(Debug, PartialEq, Eq)]
pub enum Kill {
    Killed,
    NotBusy,
    Unkillable,
    /// A function runs and SCRIPT KILL was asked, or the other way round.
    WrongKind,
}

impl Busy {
    pub fn new(cores: usize) -> Busy {
        Busy {
            cores: (0..cores).map(|_| CoreScript::default()).collect(),
            running: AtomicUsize::new(0),
            after_ms: AtomicU64::new(BUSY_AFTER_MS),
        }
    }

    /// Sets `busy-reply-threshold` (ms).
    pub fn set_threshold(&self, ms: u64) {
        self.after_ms.store(ms, Ordering::Relaxed);
    }

    pub fn start(&self, core: usize, now: u64, function: bool) {
        let c = &self.cores[core];
        c.wrote.store(false, Ordering::Relaxed);
        c.kill.store(false, Ordering::Relaxed);
        c.function.store(function, Ordering::Relaxed);
        c.since.store(now.max(1), Ordering::Release);
        self.running.fetch_add(1, Ordering::AcqRel);
    }

    pub fn end(&self, core: usize) {
        self.cores[core].since.store(0, Ordering::Release);
        self.running.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn wrote(&self, core: usize) {
        self.cores[core].wrote.store(true, Ordering::Relaxed);
    }

    /// Whether the script on `core` was asked to stop.
    pub fn killed(&self, core: usize) -> bool {
        self.cores[core].kill.load(Ordering::Relaxed)
    }

    /// The BUSY reply when a script has run past the threshold on any core
    /// but `here` (it names the kill command for a script or a function).
    pub fn busy_elsewhere(&self, here: usize, now: u64) -> Option<&'static str> {
        if self.running.load(Ordering::Acquire) == 0 {
            return None;
        }
        let after = self.after_ms.load(Ordering::Relaxed);
        self.cores.iter().enumerate().find_map(|(i, c)| {
            let since = c.since.load(Ordering::Acquire);
            (i != here && since != 0 && now.saturating_sub(since) >= after).then(|| {
                if c.function.load(Ordering::Relaxed) {
                    BUSY_FUNCTION
                } else {
                    BUSY_SCRIPT
                }
            })
        })
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL.
    pub fn kill(&self, here: usize, now: u64, function: bool) -> Kill {
        let after = self.after_ms.load(Ordering::Relaxed);
        for (i, c) in self.cores.iter().enumerate() {
            let since = c.since.load(Ordering::Acquire);
            if i == here || since == 0 || now.saturating_sub(since) < after {
                continue;
            }
            if c.function.load(Ordering::Relaxed) != function {
                return Kill::WrongKind;
            }
            if c.wrote.load(Ordering::Relaxed) {
                return Kill::Unkillable;
            }
            c.kill.store(true, Ordering::Relaxed);
            return Kill::Killed;
        }
        Kill::NotBusy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_only_past_the_threshold_and_on_other_cores() {
        let b = Busy::new(2);
        assert!(b.busy_elsewhere(1, 10_000).is_none());
        b.start(0, 10_000, false);
        assert!(b.busy_elsewhere(1, 10_000 + BUSY_AFTER_MS - 1).is_none());
        assert_eq!(
            b.busy_elsewhere(1, 10_000 + BUSY_AFTER_MS),
            Some(BUSY_SCRIPT)
        );
        assert!(b.busy_elsewhere(0, 10_000 + BUSY_AFTER_MS).is_none());
        assert_eq!(b.kill(1, 10_000 + BUSY_AFTER_MS, true), Kill::WrongKind);
        assert_eq!(b.kill(1, 10_000 + BUSY_AFTER_MS, false), Kill::Killed);
        assert!(b.killed(0));
        b.end(0);
        assert_eq!(b.kill(1, 20_000, false), Kill::NotBusy);
        b.start(0, 30_000, false);
        b.wrote(0);
        assert_eq!(b.kill(1, 40_000, false), Kill::Unkillable);
    }
}
