//! Thread CPU priority.

/// Sets the calling thread's nice value (Linux: each thread has its own). Failure (an
/// unprivileged process going back below a raised value) only costs the intended preference,
/// so it is logged, not returned.
pub fn set_current_thread_nice(nice: i32) {
    // SAFETY: plain syscalls on the calling thread's id; no memory is passed.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, nice)
    };
    if rc != 0 {
        tracing::debug!(
            "cannot set thread nice value {nice}: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// True when this process may bring a lowered thread back to nice 0: it is root (or has
/// CAP_SYS_NICE), or RLIMIT_NICE allows it. Others can only lower their priority for good.
pub fn can_return_to_normal() -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct passed; geteuid has no arguments.
    unsafe {
        libc::geteuid() == 0
            || (libc::getrlimit(libc::RLIMIT_NICE, &mut limit) == 0 && limit.rlim_cur >= 20)
    }
}

/// The calling thread's nice value.
pub fn current_thread_nice() -> i32 {
    // SAFETY: as above. getpriority can return -1 legitimately; errno is not needed here
    // because callers only compare values.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::getpriority(libc::PRIO_PROCESS, tid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_lowers_only_its_own_priority() {
        let before = current_thread_nice();
        let inside = std::thread::spawn(|| {
            set_current_thread_nice(7);
            current_thread_nice()
        })
        .join()
        .unwrap();
        assert_eq!(inside, 7);
        assert_eq!(current_thread_nice(), before);
    }
}
