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
