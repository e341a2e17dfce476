//! The stored truncation and padding settings of a tokenizer, changeable through `&self` while
//! other threads encode: the settings live behind an `Arc` that a write replaces as a whole, and
//! every encode call reads one snapshot at its start, so it never sees half of a change.
use crate::postprocess::{PaddingParams, TruncationParams};
use std::sync::{Arc, RwLock};

/// One consistent set of stored settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostSettings {
    pub truncation: Option<TruncationParams>,
    pub padding: Option<PaddingParams>,
}

/// The settings cell. Cloning gives an independent cell that starts from the same snapshot.
#[derive(Debug, Default)]
pub struct SettingsCell(RwLock<Arc<PostSettings>>);

impl SettingsCell {
    /// The current settings; later writes do not change the returned snapshot.
    pub fn snapshot(&self) -> Arc<PostSettings> {
        // A poisoned lock still holds a whole `Arc` (writes only swap it), so it is safe to use.
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub fn truncation(&self) -> Option<TruncationParams> {
        self.snapshot().truncation
    }
    pub fn padding(&self) -> Option<PaddingParams> {
        self.snapshot().padding.clone()
    }
    /// Apply `f` to a copy of the settings and publish the copy atomically.
    pub fn update(&self, f: impl FnOnce(&mut PostSettings)) {
        let mut guard = self.0.write().unwrap_or_else(|e| e.into_inner());
        let mut next = PostSettings::clone(&guard);
        f(&mut next);
        *guard = Arc::new(next);
    }
    pub fn set_truncation(&self, t: Option<TruncationParams>) {
        self.update(|s| s.truncation = t);
    }
    pub fn set_padding(&self, p: Option<PaddingParams>) {
        self.update(|s| s.padding = p);
    }
}

impl Clone for SettingsCell {
    fn clone(&self) -> Self {
        SettingsCell(RwLock::new(self.snapshot()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::{Direction, TruncationStrategy};

    #[test]
    fn snapshots_and_clones_are_independent() {
        let cell = SettingsCell::default();
        let before = cell.snapshot();
        let t = TruncationParams {
            max_length: 8,
            stride: 0,
            strategy: TruncationStrategy::LongestFirst,
            direction: Direction::Right,
        };
        cell.set_truncation(Some(t));
        assert_eq!(before.truncation, None);
        assert_eq!(cell.truncation(), Some(t));
        let copy = cell.clone();
        cell.set_truncation(None);
        assert_eq!(copy.truncation(), Some(t));
        assert_eq!(cell.truncation(), None);
    }
}
