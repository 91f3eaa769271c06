//! Decoded collection bodies held beside their meta records.

/// A decoded collection held beside its meta record. (placeholder)
pub struct Body;

impl Body {
    /// Bytes the body holds, counted against the tier's budget.
    pub fn size_bytes(&self) -> usize {
        0
    }
}
