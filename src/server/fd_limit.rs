//! The open-files limit (RLIMIT_NOFILE), raised at start so that `maxclients` clients, RocksDB's
//! table files (`max-cache-files`) and the server's own files fit, as Redis does: when the
//! operating system grants less, `maxclients` is lowered to what fits, and the log says so.
//! A client costs [`FDS_PER_CLIENT`] descriptors: its socket, and the handle workers write
//! replies through.

use crate::config::Config;

/// Descriptors kept for everything but clients and table files: listeners, WAL and binlog
/// files, backups, replication snapshots, logs, epoll and eventfds.
pub const RESERVED_FDS: u64 = 128;

/// Descriptors one client connection holds.
pub const FDS_PER_CLIENT: u64 = 2;

/// Fewest clients the server starts with: below it, RocksDB's table files give way.
const MIN_CLIENTS: u64 = 32;

/// What the limit allows, after [`adjust`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdBudget {
    pub maxclients: usize,
    /// RocksDB's `max_open_files`.
    pub table_files: i32,
}

/// Raises RLIMIT_NOFILE as far as `cfg` needs (or the hard limit allows, for an unprivileged
/// process), and returns how many clients and table files fit in what was granted.
pub fn adjust(cfg: &Config) -> FdBudget {
    let clients = cfg.maxclients as u64;
    let tables = cfg.max_cache_files.max(1) as u64;
    let needed = clients * FDS_PER_CLIENT + tables + RESERVED_FDS;
    let granted = match raise_to(needed) {
        Ok((before, after)) => {
            if after > before {
                tracing::info!(
                    "increased maximum number of open files to {after} (it was originally set to {before})"
                );
            }
            after
        }
        Err(e) => {
            tracing::warn!("cannot read the open files limit: {e}");
            return FdBudget {
                maxclients: cfg.maxclients,
                table_files: cfg.max_cache_files,
            };
        }
    };
    let budget = fit(clients, tables, granted);
    if (budget.maxclients as u64) < clients {
        tracing::warn!(
            "you requested maxclients of {clients} requiring at least {needed} max file descriptors; \
             the limit is {granted}: maxclients has been reduced to {} and max-cache-files to {} \
             to compensate; if you need more, increase 'ulimit -n'",
            budget.maxclients,
            budget.table_files,
        );
    }
    budget
}

/// Splits `granted` descriptors between clients and table files, keeping [`RESERVED_FDS`].
fn fit(clients: u64, tables: u64, granted: u64) -> FdBudget {
    let usable = granted.saturating_sub(RESERVED_FDS);
    let (clients, tables) = if clients * FDS_PER_CLIENT + tables <= usable {
        (clients, tables)
    } else if usable >= tables + MIN_CLIENTS * FDS_PER_CLIENT {
        ((usable - tables) / FDS_PER_CLIENT, tables)
    } else {
        // Too few even for the table files: half each, clients first.
        let clients = clients.min(usable / 2 / FDS_PER_CLIENT).max(1);
        (
            clients,
            usable.saturating_sub(clients * FDS_PER_CLIENT).max(16),
        )
    };
    FdBudget {
        maxclients: clients as usize,
        table_files: i32::try_from(tables).unwrap_or(i32::MAX),
    }
}

/// Raises the soft limit to `wanted` (and the hard limit, where allowed); returns the limit
/// before and after.
fn raise_to(wanted: u64) -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = lim.rlim_cur;
    if before >= wanted {
        return Ok((before, before));
    }
    // First with the hard limit raised too (root may), then up to the hard limit.
    for (cur, max) in [
        (wanted, wanted.max(lim.rlim_max)),
        (wanted.min(lim.rlim_max), lim.rlim_max),
    ] {
        let next = libc::rlimit {
            rlim_cur: cur,
            rlim_max: max,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &next) } == 0 {
            return Ok((before, cur));
        }
    }
    Ok((before, before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_fits_under_a_high_limit() {
        assert_eq!(
            fit(10_000, 5000, 1 << 20),
            FdBudget {
                maxclients: 10_000,
                table_files: 5000
            }
        );
    }

    #[test]
    fn clients_give_way_first() {
        let b = fit(10_000, 1000, 4096);
        assert_eq!(b.table_files, 1000);
        assert_eq!(
            b.maxclients as u64,
            (4096 - RESERVED_FDS - 1000) / FDS_PER_CLIENT
        );
    }

    #[test]
    fn a_tiny_limit_is_split() {
        let b = fit(10_000, 5000, 256);
        assert!(b.maxclients >= 1);
        assert!(b.maxclients as u64 * FDS_PER_CLIENT + b.table_files as u64 + RESERVED_FDS <= 256);
    }
}
