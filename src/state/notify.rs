//! The publisher of keyspace notifications: turns an event into Redis' two channels and
//! delivers them through the server's pub/sub.
//!
//! `K` publishes the event name on `__keyspace@<db>__:<key>`, `E` the key on
//! `__keyevent@<db>__:<event>`, in that order, as Redis does. The storage calls it only for
//! classes that are on (see [`crate::storage::notify`]).

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::pubsub::PubSub;
use crate::storage::notify::EventSink;
use crate::util::keyspace_events::EventClasses;

/// Publishes keyspace notifications on the server's pub/sub.
pub struct Publisher {
    pub pubsub: Arc<PubSub>,
}

/// `__<kind>@<db>__:<suffix>`.
fn channel(kind: &str, db: usize, suffix: &[u8]) -> Bytes {
    let mut db_digits = itoa::Buffer::new();
    let db_digits = db_digits.format(db);
    let mut out = BytesMut::with_capacity(kind.len() + db_digits.len() + suffix.len() + 6);
    out.put_slice(b"__");
    out.put_slice(kind.as_bytes());
    out.put_u8(b'@');
    out.put_slice(db_digits.as_bytes());
    out.put_slice(b"__:");
    out.put_slice(suffix);
    out.freeze()
}

impl EventSink for Publisher {
    fn publish(&self, classes: EventClasses, db: usize, event: &str, key: &[u8]) {
        if classes.contains(EventClasses::KEYSPACE) {
            let chan = channel("keyspace", db, key);
            self.pubsub
                .publish(&chan, &Bytes::copy_from_slice(event.as_bytes()));
        }
        if classes.contains(EventClasses::KEYEVENT) {
            let chan = channel("keyevent", db, event.as_bytes());
            self.pubsub.publish(&chan, &Bytes::copy_from_slice(key));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn channels_name_database_and_key_or_event() {
        assert_eq!(
            &super::channel("keyspace", 3, b"foo")[..],
            b"__keyspace@3__:foo"
        );
        assert_eq!(
            &super::channel("keyevent", 12, b"set")[..],
            b"__keyevent@12__:set"
        );
    }
}
