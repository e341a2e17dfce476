//! The output of encoding one input (or one pair), HF tokenizers' `Encoding`.

/// One encoded sequence. All vectors have the same length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoding {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
    /// Character (code point) offsets into the original input string, half-open.
    pub offsets: Vec<(usize, usize)>,
    pub special_tokens_mask: Vec<u32>,
    pub attention_mask: Vec<u32>,
    /// Index of the pre-tokenized word each token came from; `None` for added specials and pads.
    pub word_ids: Vec<Option<u32>>,
    /// 0 for the first sequence, 1 for the pair; `None` for added specials and pads.
    pub sequence_ids: Vec<Option<u32>>,
    /// Windows produced by truncation with overflow (HF `overflowing`).
    pub overflowing: Vec<Encoding>,
}

impl Encoding {
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    /// Empty all fields, keeping their capacity.
    pub fn clear(&mut self) {
        self.ids.clear();
        self.type_ids.clear();
        self.offsets.clear();
        self.special_tokens_mask.clear();
        self.attention_mask.clear();
        self.word_ids.clear();
        self.sequence_ids.clear();
        self.overflowing.clear();
    }

    /// Append a template special token: offsets (0,0), no word, mask 1.
    #[inline]
    pub fn push_special(&mut self, id: u32, type_id: u32) {
        TokenSink::push_special(self, id, type_id);
    }

    pub fn with_capacity(n: usize) -> Self {
        Encoding {
            ids: Vec::with_capacity(n),
            type_ids: Vec::with_capacity(n),
            offsets: Vec::with_capacity(n),
            special_tokens_mask: Vec::with_capacity(n),
            attention_mask: Vec::with_capacity(n),
            word_ids: Vec::with_capacity(n),
            sequence_ids: Vec::with_capacity(n),
            overflowing: Vec::new(),
        }
    }
}

/// One token of a [`CompactEncoding`]: every per-token field in 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: u32,
    pub type_id: u32,
    pub start: u32,
    pub end: u32,
    /// `u32::MAX` for none.
    pub word: u32,
    pub special: u8,
    pub attention: u8,
    /// `u8::MAX` for none.
    pub seq: u8,
}

/// What encoders append tokens to: an [`Encoding`] (seven vectors) or the records of a
/// [`CompactEncoding`] (one 24-byte record per token, what Python `Encoding`s hold). Building
/// the records directly skips the seven vectors and the packing copy: on a huge text that is a
/// third of the memory to touch.
pub trait TokenSink {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// One token with attention mask 1.
    fn push_token(
        &mut self,
        id: u32,
        type_id: u32,
        offsets: (usize, usize),
        special: bool,
        word: Option<u32>,
        seq: Option<u32>,
    );
    /// A template special token: offsets (0,0), no word, no sequence.
    #[inline]
    fn push_special(&mut self, id: u32, type_id: u32) {
        self.push_token(id, type_id, (0, 0), true, None, None);
    }
}

impl TokenSink for Encoding {
    #[inline]
    fn len(&self) -> usize {
        self.ids.len()
    }
    #[inline]
    fn push_token(
        &mut self,
        id: u32,
        type_id: u32,
        offsets: (usize, usize),
        special: bool,
        word: Option<u32>,
        seq: Option<u32>,
    ) {
        self.ids.push(id);
        self.type_ids.push(type_id);
        self.offsets.push(offsets);
        self.special_tokens_mask.push(special as u32);
        self.attention_mask.push(1);
        self.word_ids.push(word);
        self.sequence_ids.push(seq);
    }
}

impl TokenSink for Vec<TokenRecord> {
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline]
    fn push_token(
        &mut self,
        id: u32,
        type_id: u32,
        offsets: (usize, usize),
        special: bool,
        word: Option<u32>,
        seq: Option<u32>,
    ) {
        self.push(TokenRecord {
            id,
            type_id,
            start: offsets.0 as u32,
            end: offsets.1 as u32,
            word: word.unwrap_or(u32::MAX),
            special: special as u8,
            attention: 1,
            seq: seq.map_or(u8::MAX, |s| s as u8),
        });
    }
}

/// An [`Encoding`] packed into one allocation (what Python `Encoding` objects hold), so a batch
/// of them costs one allocation per text instead of seven.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactEncoding {
    pub tokens: Vec<TokenRecord>,
    pub overflowing: Vec<CompactEncoding>,
}

impl From<&Encoding> for CompactEncoding {
    fn from(e: &Encoding) -> Self {
        let n = e.ids.len();
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            tokens.push(TokenRecord {
                id: e.ids[i],
                type_id: e.type_ids[i],
                start: e.offsets[i].0 as u32,
                end: e.offsets[i].1 as u32,
                word: e.word_ids[i].unwrap_or(u32::MAX),
                special: e.special_tokens_mask[i] as u8,
                attention: e.attention_mask[i] as u8,
                seq: e.sequence_ids[i].map_or(u8::MAX, |s| s as u8),
            });
        }
        CompactEncoding {
            tokens,
            overflowing: e.overflowing.iter().map(CompactEncoding::from).collect(),
        }
    }
}

impl From<Encoding> for CompactEncoding {
    fn from(e: Encoding) -> Self {
        CompactEncoding::from(&e)
    }
}

impl From<&CompactEncoding> for Encoding {
    fn from(c: &CompactEncoding) -> Self {
        let mut e = Encoding::with_capacity(c.len());
        for t in &c.tokens {
            e.ids.push(t.id);
            e.type_ids.push(t.type_id);
            e.offsets.push((t.start as usize, t.end as usize));
            e.special_tokens_mask.push(t.special as u32);
            e.attention_mask.push(t.attention as u32);
            e.word_ids.push((t.word != u32::MAX).then_some(t.word));
            e.sequence_ids.push((t.seq != u8::MAX).then_some(t.seq as u32));
        }
        e.overflowing = c.overflowing.iter().map(Encoding::from).collect();
        e
    }
}

impl Encoding {
    /// HF `Encoding.merge`: the encodings one after the other. With `growing_offsets`, each
    /// one's offsets are shifted by the end offset of the last token before it. Overflow windows
    /// combine as in HF (see [`Self::merge_with`]).
    pub fn merge(parts: &[Encoding], growing_offsets: bool) -> Encoding {
        let mut out = Encoding::with_capacity(parts.iter().map(Encoding::len).sum());
        for p in parts {
            out.merge_with(p, growing_offsets);
        }
        out
    }

    /// Append `other` (HF `Encoding.merge_with`). The overflow windows of the result are, in
    /// HF's order: for each of our windows, that window merged with `other` and then with each
    /// of `other`'s windows; then all of us merged with each of `other`'s windows.
    pub fn merge_with(&mut self, other: &Encoding, growing_offsets: bool) {
        let mut windows = Vec::new();
        for mine in &self.overflowing {
            for theirs in std::iter::once(other).chain(&other.overflowing) {
                let mut w = mine.clone();
                w.merge_with(theirs, growing_offsets);
                windows.push(w);
            }
        }
        for theirs in &other.overflowing {
            let mut w = self.clone();
            w.merge_with(theirs, growing_offsets);
            windows.push(w);
        }
        let shift = if growing_offsets {
            self.offsets.last().map_or(0, |o| o.1)
        } else {
            0
        };
        self.ids.extend_from_slice(&other.ids);
        self.type_ids.extend_from_slice(&other.type_ids);
        self.offsets
            .extend(other.offsets.iter().map(|&(s, e)| (s + shift, e + shift)));
        self.special_tokens_mask
            .extend_from_slice(&other.special_tokens_mask);
        self.attention_mask.extend_from_slice(&other.attention_mask);
        self.word_ids.extend_from_slice(&other.word_ids);
        self.sequence_ids.extend_from_slice(&other.sequence_ids);
        self.overflowing = windows;
    }

    /// Encodings of pre-tokenized words (HF `is_pretokenized=True`): each word encoded on its
    /// own by `encode_word`, every token's word id set to the word's index, offsets relative to
    /// each word.
    pub fn from_words<E>(
        words: &[&str],
        mut encode_word: impl FnMut(&str) -> Result<Encoding, E>,
    ) -> Result<Encoding, E> {
        let mut parts = Vec::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            let mut e = encode_word(w)?;
            for (word, special) in e.word_ids.iter_mut().zip(&e.special_tokens_mask) {
                if word.is_some() || *special == 0 {
                    *word = Some(i as u32);
                }
            }
            parts.push(e);
        }
        Ok(Encoding::merge(&parts, false))
    }
}

impl CompactEncoding {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
    pub fn ids(&self) -> Vec<u32> {
        self.tokens.iter().map(|t| t.id).collect()
    }
    pub fn type_ids(&self) -> Vec<u32> {
        self.tokens.iter().map(|t| t.type_id).collect()
    }
    pub fn offsets(&self) -> Vec<(usize, usize)> {
        self.tokens
            .iter()
            .map(|t| (t.start as usize, t.end as usize))
            .collect()
    }
    pub fn special_tokens_mask(&self) -> Vec<u32> {
        self.tokens.iter().map(|t| t.special as u32).collect()
    }
    pub fn attention_mask(&self) -> Vec<u32> {
        self.tokens.iter().map(|t| t.attention as u32).collect()
    }
    pub fn word_ids(&self) -> Vec<Option<u32>> {
        self.tokens
            .iter()
            .map(|t| (t.word != u32::MAX).then_some(t.word))
            .collect()
    }
    pub fn sequence_ids(&self) -> Vec<Option<u32>> {
        self.tokens
            .iter()
            .map(|t| (t.seq != u8::MAX).then_some(t.seq as u32))
            .collect()
    }
}
