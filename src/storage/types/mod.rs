//! One view per Redis type over the shared engine, and one over the keyspace.
//!
//! A [`Scope`] is one logical database as one writer sees it: the storage, the database index
//! and the [`Writer`] named in the binlog note of every batch it commits. The typed views
//! ([`Strings`], [`Hashes`], [`Lists`], [`Sets`], [`Zsets`], [`Streams`], [`Keyspace`]) are scopes with the
//! operations of one type, named alike across types (`get`, `set`/`add`, `remove`, `len`,
//! `range`, `pop`, `scan`, `random`, ...), so `storage.at(db, writer).hash().set(key, pairs)`.

pub mod algebra;
pub mod hash;
pub mod keyspace;
pub mod list;
pub mod set;
pub mod slots;
pub mod sort;
pub mod stream;
pub mod strings;
pub mod zset;

use std::ops::Deref;

use super::write::{TransactionGroup, WriteTxn};
use super::Storage;

/// Who writes: the command (or internal job) named in the binlog note of its batches, and the
/// EXEC whose batches reach a slave as one group.
#[derive(Clone, Copy)]
pub struct Writer<'a> {
    pub command: &'static str,
    pub transaction: Option<&'a TransactionGroup<'a>>,
}

impl Writer<'_> {
    /// A writer outside any transaction.
    pub const fn named(command: &'static str) -> Writer<'static> {
        Writer {
            command,
            transaction: None,
        }
    }

    /// Reads, and writes of no particular command (tests, tools): noted as `-`.
    pub const INTERNAL: Writer<'static> = Writer::named("-");
}

/// One logical database as one writer sees it.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    storage: &'a Storage,
    /// Logical database index.
    pub db: usize,
    writer: Writer<'a>,
}

impl<'a> Scope<'a> {
    /// Starts a write transaction noted with this scope's writer and database.
    pub fn txn(&self) -> WriteTxn<'a> {
        self.storage.txn_by(self.writer, self.db)
    }

    /// The string view.
    pub fn strings(self) -> Strings<'a> {
        Strings(self)
    }

    /// The hash view.
    pub fn hash(self) -> Hashes<'a> {
        Hashes(self)
    }

    /// The list view.
    pub fn list(self) -> Lists<'a> {
        Lists(self)
    }

    /// The set view.
    pub fn set(self) -> Sets<'a> {
        Sets(self)
    }

    /// The sorted-set view.
    pub fn zset(self) -> Zsets<'a> {
        Zsets(self)
    }

    /// The stream view.
    pub fn stream(self) -> Streams<'a> {
        Streams(self)
    }

    /// The type-independent view: existence, deletion, expiry, renames, scans.
    pub fn keys(self) -> Keyspace<'a> {
        Keyspace(self)
    }
}

impl Deref for Scope<'_> {
    type Target = Storage;

    fn deref(&self) -> &Storage {
        self.storage
    }
}

impl Storage {
    /// Database `db` as `writer` sees it.
    pub fn at<'a>(&'a self, db: usize, writer: Writer<'a>) -> Scope<'a> {
        Scope {
            storage: self,
            db,
            writer,
        }
    }
}

/// Declares a typed view: a scope with the operations of one type.
macro_rules! view {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(Scope<'a>);

        impl<'a> Deref for $name<'a> {
            type Target = Scope<'a>;

            fn deref(&self) -> &Scope<'a> {
                &self.0
            }
        }
    };
}

view!(
    /// Strings (and the bitmaps stored in them).
    Strings
);
view!(
    /// Hashes.
    Hashes
);
view!(
    /// Lists.
    Lists
);
view!(
    /// Sets.
    Sets
);
view!(
    /// Sorted sets.
    Zsets
);
view!(
    /// Streams.
    Streams
);
view!(
    /// Operations on keys whatever their type.
    Keyspace
);
