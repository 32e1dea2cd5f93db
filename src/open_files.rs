//! The process's limit of open files (issue 12, limits): each connection holds a file
//! descriptor, and the soft limit most Linux sessions start with (1,024) is also the default of
//! `--max-connections`.

/// File descriptors the server holds besides its connections: SQLite's files, the listeners,
/// epoll and event descriptors, the standard streams (36 with both listeners on), with room.
const HELD_BESIDES_CONNECTIONS: u64 = 64;

/// Lifts the soft limit of open files to the hard limit. A soft limit below the hard one exists
/// for programs that use `select(2)`, whose sets stop at 1,024 descriptors; nothing here does
/// (tokio waits with epoll). Go's runtime does the same at start since Go 1.19, and systemd asks
/// programs that need many files to raise the soft limit themselves
/// (<https://0pointer.net/blog/file-descriptor-limits.html>). Where it cannot (no hard limit
/// above the soft one, or a system that refuses the value), the limit stays as it was.
pub fn raise() {
    #[cfg(target_os = "linux")]
    {
        let Some(limit) = limits().filter(|l| l.rlim_cur < l.rlim_max) else {
            return;
        };
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid `rlimit` for the call's duration; raising the soft limit
        // up to the hard one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            tracing::debug!(
                "open-files limit left at {}: {}",
                limit.rlim_cur,
                std::io::Error::last_os_error()
            );
        }
    }
}

/// The soft limit of open files in force, where the system tells.
pub fn soft_limit() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        limits().map(|l| l.rlim_cur)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The soft and hard limits of open files, or `None` if the system does not tell.
#[cfg(target_os = "linux")]
fn limits() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid `rlimit` that the call fills in.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit)
}

/// A warning when `max_connections` and what the server holds besides do not fit under the
/// soft limit (as nginx warns of `worker_connections` that exceed it): past the limit `accept`
/// fails with `EMFILE`, and actix-server then stops accepting for half a second at a time
/// instead of letting connections wait for a free slot.
pub fn shortfall(max_connections: usize, soft_limit: Option<u64>) -> Option<String> {
    let limit = soft_limit?;
    let needed = (max_connections as u64).saturating_add(HELD_BESIDES_CONNECTIONS);
    (needed > limit).then(|| {
        format!(
            "--max-connections {max_connections} and the {HELD_BESIDES_CONNECTIONS} files the \
             server keeps besides exceed the open-files limit of {limit}: raise it \
             (`ulimit -n`) or lower --max-connections to {}",
            limit.saturating_sub(HELD_BESIDES_CONNECTIONS).max(1)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_that_fits_under_the_limit_with_the_servers_own_files_gives_no_warning() {
        assert_eq!(shortfall(1024, Some(1088)), None);
        assert_eq!(shortfall(1024, None), None);
        let warning = shortfall(1024, Some(1024)).unwrap();
        assert!(warning.contains("open-files limit of 1024"), "{warning}");
        assert!(warning.contains("--max-connections to 960"), "{warning}");
        assert!(shortfall(10, Some(8))
            .unwrap()
            .contains("--max-connections to 1"));
    }
}
