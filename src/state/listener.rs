//! Hands a new listening socket from CONFIG SET port to the accept loop.
//!
//! CONFIG SET binds the new port itself, so that a port already in use fails the command
//! (and the whole CONFIG SET is rolled back) instead of failing later, out of sight. The
//! accept loop then takes the socket and closes the old one; connections already open stay.

use parking_lot::Mutex;
use tokio::sync::Notify;

/// One listening socket waiting to replace the accept loop's.
#[derive(Default)]
pub struct ListenerHandoff {
    next: Mutex<Option<std::net::TcpListener>>,
    offered: Notify,
}

impl ListenerHandoff {
    /// Queues `listener` (already non-blocking) for the accept loop; a newer offer replaces
    /// one not yet taken.
    pub fn offer(&self, listener: std::net::TcpListener) {
        *self.next.lock() = Some(listener);
        self.offered.notify_one();
    }

    /// Waits for an offered socket and takes it.
    pub async fn take(&self) -> std::net::TcpListener {
        loop {
            if let Some(listener) = self.next.lock().take() {
                return listener;
            }
            self.offered.notified().await;
        }
    }
}
