//! Free space of the filesystem holding a path, as `df` reports it to unprivileged users.

use std::path::Path;

/// Sizes of a filesystem, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// What an unprivileged process may still write (statvfs' `f_bavail`).
    pub available: u64,
    pub total: u64,
}

impl DiskSpace {
    /// The free share in percent.
    pub fn free_percent(&self) -> u8 {
        if self.total == 0 {
            return 100;
        }
        (self.available as u128 * 100 / self.total as u128) as u8
    }
}

/// The sizes of the filesystem holding `path`; None if it cannot be read.
pub fn of(path: &Path) -> Option<DiskSpace> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a writable statvfs.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 || stat.f_blocks == 0 {
        return None;
    }
    let fragment = stat.f_frsize as u64;
    Some(DiskSpace {
        available: stat.f_bavail as u64 * fragment,
        total: stat.f_blocks as u64 * fragment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_filesystem_has_a_size_and_no_more_free_than_that() {
        let space = of(Path::new("/")).expect("statvfs /");
        assert!(space.total > 0);
        assert!(space.available <= space.total);
        assert!(space.free_percent() <= 100);
    }

    #[test]
    fn a_missing_path_has_no_size() {
        assert_eq!(of(Path::new("/nonexistent/pika-disk-space")), None);
    }
}
