//! The token <-> id table of a `tokenizer.json` model's `vocab`, shared by the word-level models.
use crate::error::{Error, Result};
use rustc_hash::FxHashMap;

#[derive(Debug, Clone, Default)]
pub struct Vocab {
    by_token: FxHashMap<String, u32>,
    /// id -> token ("" for ids without one).
    by_id: Vec<String>,
}

impl Vocab {
    /// Ids may leave gaps, but an id far beyond the entry count is refused: the id table is
    /// sized by the largest id, so memory must stay proportional to the file.
    pub fn new(entries: Vec<(String, u32)>) -> Result<Self> {
        let max = entries.iter().map(|v| v.1 as usize + 1).max().unwrap_or(0);
        if max > entries.len() * 4 + 1_000_000 {
            return Err(Error::invalid(format!("model.vocab: id {} is far beyond the vocabulary size", max - 1)));
        }
        let mut by_id = vec![String::new(); max];
        let mut by_token = FxHashMap::default();
        by_token.reserve(entries.len());
        for (t, id) in entries {
            by_id[id as usize] = t.clone();
            by_token.insert(t, id);
        }
        Ok(Vocab { by_token, by_id })
    }

    pub fn map(&self) -> &FxHashMap<String, u32> {
        &self.by_token
    }
    pub fn token_to_id(&self, t: &str) -> Option<u32> {
        self.by_token.get(t).copied()
    }
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.by_id.get(id as usize).map(String::as_str).filter(|s| !s.is_empty())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.by_token.iter().map(|(k, v)| (k.as_str(), *v))
    }
    /// One past the largest id.
    pub fn id_capacity(&self) -> usize {
        self.by_id.len()
    }
    pub fn len(&self) -> usize {
        self.by_token.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_allowed_and_far_ids_refused() {
        let v = Vocab::new(vec![("a".into(), 0), ("c".into(), 2)]).unwrap();
        assert_eq!((v.token_to_id("c"), v.id_to_token(1), v.id_to_token(2), v.id_capacity()), (Some(2), None, Some("c"), 3));
        assert!(Vocab::new(vec![("a".into(), 1 << 31)]).is_err());
    }
}
