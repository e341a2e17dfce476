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
        self.ids.push(id);
        self.type_ids.push(type_id);
        self.offsets.push((0, 0));
        self.special_tokens_mask.push(1);
        self.attention_mask.push(1);
        self.word_ids.push(None);
        self.sequence_ids.push(None);
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
