//! CLIENT PAUSE / UNPAUSE: one pause for the whole server, read by every
//! connection before it runs a command. A paused command waits (it is not
//! refused) until the pause ends or CLIENT UNPAUSE; its connection's later
//! commands wait behind it, so each client's order holds. While writes are
//! paused, the active expiry cycle stops too, as Redis's does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::cmd::table::CommandSpec;

#[derive(Default)]
pub struct Pause {
    /// Unix ms when the pause ends; 0 when there is none.
    until: AtomicU64,
    /// ALL rather than WRITE.
    all: AtomicBool,
}

impl Pause {
    /// CLIENT PAUSE: a pause never gets shorter or weaker while it lasts,
    /// as in Redis.
    pub fn start(&self, until: u64, all: bool, now: u64) {
        let running = self.until.load(Ordering::Acquire) > now;
        let all = all || (running && self.all.load(Ordering::Relaxed));
        self.all.store(all, Ordering::Relaxed);
        self.until.fetch_max(until, Ordering::AcqRel);
    }

    /// CLIENT UNPAUSE.
    pub fn end(&self) {
        self.until.store(0, Ordering::Release);
        self.all.store(false, Ordering::Relaxed);
    }

    /// Whether writes are paused now (the active expiry cycle waits too).
    pub fn writes_paused(&self, now: u64) -> bool {
        self.until.load(Ordering::Acquire) > now
    }

    /// Until when `spec` must wait, if it must: every command under ALL
    /// (but CLIENT UNPAUSE, which ends it), and under WRITE the commands
    /// that may write or replicate, scripts, PUBLISH and PFCOUNT, as Redis 7.
    pub fn holds(&self, spec: &CommandSpec, now: u64) -> Option<u64> {
        let until = self.until.load(Ordering::Acquire);
        if until <= now || spec.name == "client|unpause" {
            return None;
        }
        let write = spec.has_flag("write")
            || spec.has_flag("may_replicate")
            || matches!(
                spec.name,
                "eval" | "evalsha" | "fcall" | "publish" | "spublish" | "pfcount" | "wait"
            );
        (self.all.load(Ordering::Relaxed) || write).then_some(until)
    }
}
