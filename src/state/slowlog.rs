//! The slow log: commands slower than `slowlog-log-slower-than` microseconds.

use std::collections::VecDeque;

use bytes::Bytes;
use parking_lot::Mutex;

/// Redis keeps at most this many arguments per entry, each cut to 128 bytes.
const MAX_ARGS: usize = 32;
const MAX_ARG_LEN: usize = 128;

/// One logged command.
#[derive(Debug, Clone)]
pub struct SlowlogEntry {
    pub id: u64,
    pub unix_time: u64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    pub client_addr: String,
    pub client_name: String,
}

/// The bounded log, newest first.
#[derive(Default)]
pub struct SlowLog {
    inner: Mutex<(u64, VecDeque<SlowlogEntry>)>,
}

impl SlowLog {
    /// Adds an entry, keeping at most `max_len`.
    pub fn push(
        &self,
        argv: &[Bytes],
        duration_us: u64,
        max_len: usize,
        client_addr: String,
        client_name: String,
    ) {
        let mut args: Vec<Bytes> = Vec::with_capacity(argv.len().min(MAX_ARGS));
        for (i, a) in argv.iter().enumerate() {
            if i == MAX_ARGS - 1 && argv.len() > MAX_ARGS {
                let more = argv.len() - MAX_ARGS + 1;
                args.push(Bytes::from(format!("... ({more} more arguments)")));
                break;
            }
            if a.len() > MAX_ARG_LEN {
                let mut cut = a.slice(..MAX_ARG_LEN).to_vec();
                cut.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes(),
                );
                args.push(Bytes::from(cut));
            } else {
                args.push(a.clone());
            }
        }
        let mut g = self.inner.lock();
        let id = g.0;
        g.0 += 1;
        g.1.push_front(SlowlogEntry {
            id,
            unix_time: crate::util::clock::unix_secs(),
            duration_us,
            args,
            client_addr,
            client_name,
        });
        g.1.truncate(max_len);
    }

    /// The newest `count` entries.
    pub fn entries(&self, count: usize) -> Vec<SlowlogEntry> {
        self.inner.lock().1.iter().take(count).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().1.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.inner.lock().1.clear();
    }
}
