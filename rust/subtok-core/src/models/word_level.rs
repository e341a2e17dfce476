//! HF's `WordLevel` model: each pre-tokenized word is one token (or the unknown token).
use crate::error::{Error, Result};
use super::vocab::Vocab;

#[derive(Debug, Clone)]
pub struct WordLevel {
    vocab: Vocab,
    pub unk_token: String,
}

impl WordLevel {
    pub fn new(vocab: Vec<(String, u32)>, unk_token: &str) -> Result<Self> {
        Ok(WordLevel {
            vocab: Vocab::new(vocab)?,
            unk_token: unk_token.to_string(),
        })
    }

    /// The word's id, or the unknown token's; an error if neither exists (as in HF).
    pub fn tokenize(&self, word: &str, out: &mut Vec<(u32, u32, u32)>) -> Result<()> {
        let id = match self.vocab.token_to_id(word).or_else(|| self.vocab.token_to_id(&self.unk_token)) {
            Some(id) => id,
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

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
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
