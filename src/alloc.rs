//! The global allocator: mimalloc, wrapped to count live heap bytes for INFO
//! memory's `used_memory` and the `maxmemory` limit. Each thread adds to its own
//! padded counter, so counting costs one uncontended atomic add per call.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use mimalloc::MiMalloc;

const SLOTS: usize = 64;

#[repr(align(128))]
struct Slot(AtomicI64);

static COUNTERS: [Slot; SLOTS] = [const { Slot(AtomicI64::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn my_slot() -> usize {
    MY_SLOT
        .try_with(|slot| {
            let s = slot.get();
            if s != usize::MAX {
                return s;
            }
            let s = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS;
            slot.set(s);
            s
        })
        .unwrap_or(0)
}

fn count(delta: i64) {
    COUNTERS[my_slot()].0.fetch_add(delta, Ordering::Relaxed);
}

pub struct CountingAlloc;

// SAFETY: every call is forwarded unchanged to mimalloc; only counters are added.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = MiMalloc.alloc(layout);
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = MiMalloc.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        MiMalloc.dealloc(ptr, layout);
        count(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = MiMalloc.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Bytes currently allocated by the whole process.
pub fn used_memory() -> u64 {
    let used = NEXT_SLOT.load(Ordering::Relaxed).min(SLOTS);
    COUNTERS[..used.max(1)]
        .iter()
        .map(|s| s.0.load(Ordering::Relaxed))
        .sum::<i64>()
        .max(0) as u64
}

static PEAK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Records `used_memory` as the peak if it is the highest seen, and returns
/// the peak (INFO's `used_memory_peak`). Sampled after each read's commands
/// (Redis samples after each command), by every core's cron and by INFO; the
/// shared peak is only written when it grows.
pub fn note_peak() -> u64 {
    let used = used_memory();
    let peak = PEAK.load(Ordering::Relaxed);
    if used > peak {
        PEAK.fetch_max(used, Ordering::Relaxed).max(used)
    } else {
        peak
    }
}

/// The machine's memory from /proc/meminfo (0 if unavailable).
pub fn total_system_memory() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A random number for RANDOMKEY-style picks (not for anything secret).
pub fn random_u64() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    ahash::RandomState::new().hash_one(n)
}

/// Resident set size from /proc (0 if unavailable).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64
}

/// (system, user) CPU seconds used by the process.
pub fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_stime), secs(usage.ru_utime))
}
