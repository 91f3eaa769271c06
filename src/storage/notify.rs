//! Keyspace notifications as the storage and the commands raise them.
//!
//! The storage raises the events it alone sees (`new` when a write creates a key, `expired`
//! when it removes one whose deadline passed) and commands raise theirs through
//! [`Notifier::emit`]; both reach the pub/sub publisher the server installs ([`EventSink`]).
//! The classes are one atomic word holding only what publishes (empty unless `K` or `E` is
//! set), so with notifications off an event costs one relaxed load and builds nothing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use crate::util::keyspace_events::EventClasses;

/// Where events go: the server's pub/sub, which builds the channels `classes` ask for.
pub trait EventSink: Send + Sync {
    /// Publishes `event` on `key` of logical database `db` under the classes in force.
    fn publish(&self, classes: EventClasses, db: usize, event: &str, key: &[u8]);
}

/// The classes in force and the sink they publish to.
#[derive(Default)]
pub struct Notifier {
    /// [`EventClasses::effective`] bits of `notify-keyspace-events`.
    classes: AtomicU32,
    sink: OnceLock<Box<dyn EventSink>>,
}

impl Notifier {
    /// Installs the publisher (once; later calls are ignored).
    pub fn set_sink(&self, sink: Box<dyn EventSink>) {
        let _ = self.sink.set(sink);
    }

    /// Applies a new `notify-keyspace-events` setting.
    pub fn set_classes(&self, classes: EventClasses) {
        self.classes
            .store(classes.effective().bits(), Ordering::Relaxed);
    }

    /// True when events of `class` publish: callers that must gather something first check
    /// this before doing so.
    #[inline]
    pub fn wants(&self, class: EventClasses) -> bool {
        self.classes.load(Ordering::Relaxed) & class.bits() != 0
    }

    /// Publishes `event` of `class` on `key` of logical database `db`, if that class is on.
    #[inline]
    pub fn emit(&self, class: EventClasses, event: &str, db: usize, key: &[u8]) {
        let on = self.classes.load(Ordering::Relaxed);
        if on & class.bits() == 0 {
            return;
        }
        if let Some(sink) = self.sink.get() {
            sink.publish(EventClasses::from_bits_retain(on), db, event, key);
        }
    }
}

impl super::Storage {
    /// Publishes `event` of `class` on `key` of physical database `pdb`, named by the logical
    /// index that maps to it now (SWAPDB moves physical databases between indexes).
    pub(crate) fn notify_physical(&self, class: EventClasses, event: &str, pdb: u16, key: &[u8]) {
        if !self.notifier.wants(class) {
            return;
        }
        let db = self.db_map.read().iter().position(|&p| p == pdb);
        if let Some(db) = db {
            self.notifier.emit(class, event, db, key);
        }
    }
}
