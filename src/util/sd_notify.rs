//! systemd's readiness protocol (`sd_notify`): one datagram of `KEY=value` lines sent to the
//! Unix socket named by `$NOTIFY_SOCKET` (a path, or with a leading `@` an abstract name).
//! A `Type=notify` unit starts dependent units once `READY=1` arrives and knows from
//! `STOPPING=1` that the stop is orderly. The protocol is one `sendto`, so no crate is needed.

use std::io;
use std::os::unix::net::UnixDatagram;

/// How the server tells a supervisor about its state (`supervised` directive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervision {
    /// Nothing to tell.
    None,
    /// systemd: notify `$NOTIFY_SOCKET`.
    Systemd,
}

impl Supervision {
    /// The supervision `supervised` asks for: `systemd`, `auto` with `$NOTIFY_SOCKET` set
    /// (systemd sets it for `Type=notify` units), else none (`upstart` is accepted as in
    /// Redis, and does nothing).
    pub fn from_directive(value: &str) -> Supervision {
        match value {
            "systemd" => Supervision::Systemd,
            "auto" if std::env::var_os("NOTIFY_SOCKET").is_some() => Supervision::Systemd,
            _ => Supervision::None,
        }
    }

    /// Sends `state` (newline-separated `KEY=value` lines) to the supervisor; failures are
    /// logged, never fatal: the server serves whether or not systemd listens.
    pub fn notify(self, state: &str) {
        if self == Supervision::None {
            return;
        }
        match notify_socket(state) {
            Ok(true) => tracing::debug!("sd_notify: {}", state.trim_end().replace('\n', " ")),
            Ok(false) => tracing::warn!(
                "systemd supervision requested or auto-detected, but NOTIFY_SOCKET environment variable not found"
            ),
            Err(e) => tracing::warn!("cannot notify systemd: {e}"),
        }
    }
}

/// Sends `state` to `$NOTIFY_SOCKET`; `Ok(false)` when the variable is not set.
pub fn notify_socket(state: &str) -> io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    match bytes.strip_prefix(b"@") {
        Some(name) => send_abstract(&socket, name, state.as_bytes())?,
        None => {
            socket.send_to(state.as_bytes(), &path)?;
        }
    }
    Ok(true)
}

#[cfg(target_os = "linux")]
fn send_abstract(socket: &UnixDatagram, name: &[u8], data: &[u8]) -> io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(data, &addr).map(|_| ())
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &[u8]) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract socket names exist only on Linux",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervision_follows_the_directive() {
        assert_eq!(Supervision::from_directive("no"), Supervision::None);
        assert_eq!(Supervision::from_directive("upstart"), Supervision::None);
        assert_eq!(Supervision::from_directive("systemd"), Supervision::Systemd);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_names_are_reached() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("pika-sd-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        let sender = UnixDatagram::unbound().unwrap();
        send_abstract(&sender, name.as_bytes(), b"READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
    }
}
