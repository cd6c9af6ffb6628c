//! The open-file limit and `maxclients`, as Redis's `adjustOpenFilesLimit`:
//! every client is a descriptor, so the process's soft `RLIMIT_NOFILE` must
//! hold `maxclients` plus what the server itself keeps open. At start-up (and
//! on CONFIG SET maxclients) the limit is raised to fit; when the system will
//! not allow that, `maxclients` is lowered to what fits, with a warning, so
//! that a client past it gets `-ERR max number of clients reached` instead of
//! an accept that fails with EMFILE and leaves it hanging.

/// Descriptors Redis keeps in reserve beyond its clients (logs, files,
/// listeners: CONFIG_MIN_RESERVED_FDS).
const MIN_RESERVED_FDS: u64 = 32;
/// What each executor holds besides its clients: its io_uring, its wake-up
/// eventfd and the duplicate its mailbox reads, the runtime's own eventfd.
const FDS_PER_CORE: u64 = 4;

/// Descriptors the server keeps open itself with `threads` executors, each
/// listening on `listeners` addresses.
pub fn reserved_fds(threads: usize, listeners: usize) -> u64 {
    MIN_RESERVED_FDS + threads as u64 * (FDS_PER_CORE + listeners as u64)
}

/// What adjusting the limit did.
#[derive(Debug, PartialEq, Eq)]
pub enum Adjusted {
    /// The limit already fitted.
    Enough,
    /// The soft limit was raised from `from` to `to`.
    Raised { from: u64, to: u64 },
    /// The limit could not be raised far enough: `maxclients` must become
    /// `maxclients`; `limit` is what the process got, `error` why.
    Reduced {
        maxclients: usize,
        limit: u64,
        error: String,
    },
}

fn get() -> std::io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit)
}

fn set(cur: u64, max: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: cur,
        rlim_max: max,
    };
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Makes room for `maxclients` clients plus `reserved` descriptors: raises the
/// soft limit (and the hard one, when the process may), or says how far
/// `maxclients` must come down.
pub fn adjust(maxclients: usize, reserved: u64) -> Adjusted {
    let wanted = maxclients as u64 + reserved;
    let limit = match get() {
        Ok(l) => l,
        Err(e) => {
            // Redis assumes 1024 when it cannot tell.
            return Adjusted::Reduced {
                maxclients: 1024u64.saturating_sub(reserved) as usize,
                limit: 1024,
                error: e.to_string(),
            };
        }
    };
    if limit.rlim_cur >= wanted {
        return Adjusted::Enough;
    }
    let from = limit.rlim_cur;
    let error = match set(wanted, limit.rlim_max.max(wanted)) {
        Ok(()) => return Adjusted::Raised { from, to: wanted },
        Err(e) => e.to_string(),
    };
    // Not allowed past the hard limit: take all of it.
    let best = if limit.rlim_max > from && set(limit.rlim_max, limit.rlim_max).is_ok() {
        limit.rlim_max
    } else {
        from
    };
    Adjusted::Reduced {
        maxclients: best.saturating_sub(reserved) as usize,
        limit: best,
        error,
    }
}

/// Start-up: adjusts the limit for `maxclients` and returns the `maxclients`
/// to use, logging as Redis does. `None` when not even a handful of clients
/// fit (Redis exits then too).
pub fn at_start(maxclients: usize, reserved: u64) -> Option<usize> {
    match adjust(maxclients, reserved) {
        Adjusted::Enough => Some(maxclients),
        Adjusted::Raised { from, to } => {
            eprintln!(
                "ringbus: Increased maximum number of open files to {to} (it was originally set to {from})."
            );
            Some(maxclients)
        }
        Adjusted::Reduced {
            maxclients: fits,
            limit,
            error,
        } => {
            let wanted = maxclients as u64 + reserved;
            if fits == 0 {
                eprintln!(
                    "ringbus: Your current 'ulimit -n' of {limit} is not enough for the server to start. \
                     Please increase your open file limit to at least {wanted}. Exiting."
                );
                return None;
            }
            eprintln!(
                "ringbus: You requested maxclients of {maxclients} requiring at least {wanted} max file descriptors."
            );
            eprintln!(
                "ringbus: Server can't set maximum open files to {wanted} because of OS error: {error}."
            );
            eprintln!(
                "ringbus: Current maximum open files is {limit}. maxclients has been reduced to {fits} \
                 to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
            );
            Some(fits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_that_fits_is_left_alone() {
        let cur = get().unwrap().rlim_cur;
        assert_eq!(adjust(0, cur.min(64)), Adjusted::Enough);
    }

    #[test]
    fn reserve_grows_with_cores_and_listeners() {
        assert_eq!(reserved_fds(1, 1), 32 + 5);
        assert_eq!(reserved_fds(8, 2), 32 + 8 * 6);
    }
}
