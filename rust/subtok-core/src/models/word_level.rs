//! HF's `WordLevel` model: each pre-tokenized word is one token (or the unknown token).
use crate::error::{Error, Result};
use rustc_hash::FxHashMap;

#[derive(Debug, Clone)]
pub struct WordLevel {
    vocab: FxHashMap<String, u32>,
    id_to_token: Vec<String>,
    pub unk_token: String,
}

impl WordLevel {
    pub fn new(vocab: Vec<(String, u32)>, unk_token: &str) -> Result<Self> {
        let max = vocab.iter().map(|v| v.1 as usize + 1).max().unwrap_or(0);
        if max > vocab.len() * 4 + 1_000_000 {
            return Err(Error::invalid("model.vocab: an id is far beyond the vocabulary size"));
        }
        let mut id_to_token = vec![String::new(); max];
        for (t, id) in &vocab {
            id_to_token[*id as usize] = t.clone();
        }
        Ok(WordLevel {
            vocab: vocab.into_iter().collect(),
            id_to_token,
            unk_token: unk_token.to_string(),
        })
    }

    /// The word's id, or the unknown token's; an error if neither exists (as in HF).
    pub fn tokenize(&self, word: &str, out: &mut Vec<(u32, u32, u32)>) -> Result<()> {
        let id = match self.vocab.get(word).or_else(|| self.vocab.get(&self.unk_token)) {
            Some(&id) => id,
            None => {
                return Err(Error::invalid(format!(
                    "WordLevel: {word:?} is not in the vocabulary and the unk_token {:?} is missing",
                    self.unk_token
                )))
            }
        };
        out.push((id, 0, word.len() as u32));
        Ok(())
    }

    pub fn token_to_id(&self, t: &str) -> Option<u32> {
        self.vocab.get(t).copied()
    }
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.id_to_token.get(id as usize).map(String::as_str).filter(|s| !s.is_empty())
    }
    pub fn vocab(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.vocab.iter().map(|(k, v)| (k.as_str(), *v))
    }
    pub fn id_capacity(&self) -> usize {
        self.id_to_token.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn word_or_unk() {
        let m = WordLevel::new(vec![("[UNK]".into(), 0), ("hi".into(), 1)], "[UNK]").unwrap();
        let mut out = vec![];
        m.tokenize("hi", &mut out).unwrap();
        m.tokenize("yo", &mut out).unwrap();
        assert_eq!(out, [(1, 0, 2), (0, 0, 2)]);
        let bare = WordLevel::new(vec![("hi".into(), 0)], "[UNK]").unwrap();
        assert!(bare.tokenize("yo", &mut out).is_err());
    }
}
