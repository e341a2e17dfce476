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

/// The flat ids and lengths of a batch's parallel parts, one after the other. A single part
/// (one text, or a small batch) is returned as it is: copying a 10 MB text's ids would fault in
/// and write a second buffer as large.
pub fn join_flat(mut parts: Vec<(Vec<u32>, Vec<i64>)>) -> (Vec<u32>, Vec<i64>) {
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    let total = parts.iter().map(|p| p.0.len()).sum();
    let mut ids = Vec::with_capacity(total);
    let mut lens = Vec::with_capacity(parts.iter().map(|p| p.1.len()).sum());
    for (i, l) in parts {
        ids.extend_from_slice(&i);
        lens.extend_from_slice(&l);
    }
    (ids, lens)
}

/// One token with every per-token field: what a [`CompactEncoding`] stores and hands out.
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

/// What encoders append tokens to: an [`Encoding`] (seven vectors) or a [`CompactEncoding`]
/// (what Python `Encoding`s hold). Building the compact form directly skips the seven vectors
/// and the packing copy: on a huge text that is most of the memory to touch.
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
    // Kept out of line: inlined into WordPiece's fused pass it made `encode_batch` ~7% slower.
    #[inline(never)]
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

impl TokenSink for CompactEncoding {
    #[inline]
    fn len(&self) -> usize {
        self.tokens.len()
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

/// The per-token fields of a [`TokenRecord`] that rarely change from one token to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Meta {
    type_id: u32,
    special: u8,
    attention: u8,
    seq: u8,
}

/// The fields of a [`TokenRecord`] that change from token to token (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tok {
    id: u32,
    start: u32,
    end: u32,
    word: u32,
}

/// An [`Encoding`] packed into one allocation (what Python `Encoding` objects hold): 16 bytes
/// per token (id, offsets, word), and the fields that stay the same over a sequence (type id,
/// special and attention masks, sequence id) once per run of equal values. A text of one token
/// per byte (a punctuation run) thus writes 16 bytes per input byte instead of the 24 of a full
/// record, and on a 10 MB text those are fresh pages, a page fault each (issue #12).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactEncoding {
    tokens: Vec<Tok>,
    /// `(first token, meta)`, one per run of equal metas, in order (so equal encodings compare
    /// equal); the first starts at 0. Up to four are held inline (`[CLS]`, text, `[SEP]`,
    /// padding): one allocation per single-text encoding, and a struct small enough to move
    /// cheaply.
    runs: smallvec::SmallVec<[(u32, Meta); 4]>,
    pub overflowing: Vec<CompactEncoding>,
}

impl CompactEncoding {
    /// Room for `n` tokens.
    pub fn with_capacity(n: usize) -> Self {
        CompactEncoding {
            tokens: Vec::with_capacity(n),
            runs: smallvec::SmallVec::new(),
            overflowing: Vec::new(),
        }
    }
    /// Append one token.
    #[inline]
    pub fn push(&mut self, r: TokenRecord) {
        self.push_meta(self.tokens.len(), Self::meta(&r));
        self.tokens.push(Tok {
            id: r.id,
            start: r.start,
            end: r.end,
            word: r.word,
        });
    }
    #[inline(always)]
    fn meta(r: &TokenRecord) -> Meta {
        Meta {
            type_id: r.type_id,
            special: r.special,
            attention: r.attention,
            seq: r.seq,
        }
    }
    /// Token `i` has `meta`: a new run unless the last one has it.
    #[inline(always)]
    fn push_meta(&mut self, i: usize, meta: Meta) {
        if self.runs.last().is_none_or(|l| l.1 != meta) {
            self.runs.push((i as u32, meta));
        }
    }
    fn record(t: &Tok, m: &Meta) -> TokenRecord {
        TokenRecord {
            id: t.id,
            type_id: m.type_id,
            start: t.start,
            end: t.end,
            word: t.word,
            special: m.special,
            attention: m.attention,
            seq: m.seq,
        }
    }
    /// Token `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<TokenRecord> {
        let t = self.tokens.get(i)?;
        let run = self.runs.partition_point(|r| r.0 as usize <= i) - 1;
        Some(Self::record(t, &self.runs[run].1))
    }
    /// Every token, in order.
    pub fn records(&self) -> impl DoubleEndedIterator<Item = TokenRecord> + '_ {
        self.runs.iter().enumerate().flat_map(move |(k, (from, m))| {
            let to = self.runs.get(k + 1).map_or(self.tokens.len(), |r| r.0 as usize);
            self.tokens[*from as usize..to]
                .iter()
                .map(move |t| Self::record(t, m))
        })
    }
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
        self.records().map(|t| t.type_id).collect()
    }
    pub fn offsets(&self) -> Vec<(usize, usize)> {
        self.tokens
            .iter()
            .map(|t| (t.start as usize, t.end as usize))
            .collect()
    }
    pub fn special_tokens_mask(&self) -> Vec<u32> {
        self.records().map(|t| t.special as u32).collect()
    }
    pub fn attention_mask(&self) -> Vec<u32> {
        self.records().map(|t| t.attention as u32).collect()
    }
    pub fn word_ids(&self) -> Vec<Option<u32>> {
        self.tokens
            .iter()
            .map(|t| (t.word != u32::MAX).then_some(t.word))
            .collect()
    }
    pub fn sequence_ids(&self) -> Vec<Option<u32>> {
        self.records()
            .map(|t| (t.seq != u8::MAX).then_some(t.seq as u32))
            .collect()
    }
}

impl FromIterator<TokenRecord> for CompactEncoding {
    fn from_iter<I: IntoIterator<Item = TokenRecord>>(it: I) -> Self {
        let it = it.into_iter();
        let mut e = CompactEncoding::with_capacity(it.size_hint().0);
        for r in it {
            e.push(r);
        }
        e
    }
}

impl From<&Encoding> for CompactEncoding {
    fn from(e: &Encoding) -> Self {
        let n = e.ids.len();
        let mut c = CompactEncoding::with_capacity(n);
        let (ids, offsets, words) = (&e.ids[..n], &e.offsets[..n], &e.word_ids[..n]);
        c.tokens.extend((0..n).map(|i| Tok {
            id: ids[i],
            start: offsets[i].0 as u32,
            end: offsets[i].1 as u32,
            word: words[i].unwrap_or(u32::MAX),
        }));
        let (types, special) = (&e.type_ids[..n], &e.special_tokens_mask[..n]);
        let (attention, seqs) = (&e.attention_mask[..n], &e.sequence_ids[..n]);
        for i in 0..n {
            let meta = Meta {
                type_id: types[i],
                special: special[i] as u8,
                attention: attention[i] as u8,
                seq: seqs[i].map_or(u8::MAX, |s| s as u8),
            };
            c.push_meta(i, meta);
        }
        c.overflowing = e.overflowing.iter().map(CompactEncoding::from).collect();
        c
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
        for t in c.records() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u32, type_id: u32, special: u8, attention: u8, seq: u8) -> TokenRecord {
        let word = if special == 1 { u32::MAX } else { id };
        TokenRecord { id, type_id, start: id, end: id + 1, word, special, attention, seq }
    }

    #[test]
    fn compact_runs_give_back_every_record() {
        // [CLS] a b [SEP] c [SEP] pad pad: runs of differing type, special, attention, seq.
        let recs = vec![
            rec(1, 0, 1, 1, u8::MAX),
            rec(5, 0, 0, 1, 0),
            rec(6, 0, 0, 1, 0),
            rec(2, 0, 1, 1, u8::MAX),
            rec(7, 1, 0, 1, 1),
            rec(2, 1, 1, 1, u8::MAX),
            rec(0, 0, 1, 0, u8::MAX),
            rec(0, 0, 1, 0, u8::MAX),
        ];
        let c: CompactEncoding = recs.iter().copied().collect();
        assert_eq!(c.records().collect::<Vec<_>>(), recs);
        assert_eq!(c.records().rev().collect::<Vec<_>>(), recs.iter().rev().copied().collect::<Vec<_>>());
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(c.get(i), Some(*r));
        }
        assert_eq!(c.get(recs.len()), None);
        assert_eq!(c.runs.len(), 6);
        let back = Encoding::from(&c);
        assert_eq!(CompactEncoding::from(&back), c);
        assert_eq!(back.sequence_ids[4], Some(1));
        assert_eq!(back.word_ids[0], None);
        // The same tokens built another way compare equal (runs are canonical).
        let mut d = CompactEncoding::with_capacity(0);
        recs.iter().for_each(|r| d.push(*r));
        assert_eq!(c, d);
    }
}
