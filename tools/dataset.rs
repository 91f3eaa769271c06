//! The tools' model of a dataset: one `Record` per key, whatever it was read from (a server,
//! a database directory, a backup, an RDB file) and whatever it is written to.

/// One key with its value and deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Logical database index (SELECT number).
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute deadline in Unix milliseconds; `None` for a key without a TTL.
    pub expire_at_ms: Option<i64>,
}

/// A key's value. Lists keep their order; the other collections are compared as sets.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
}
