//! HF `TemplateProcessing` (and `BertProcessing`, which is the template
//! `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1`).
use crate::encoding::{CompactEncoding, Encoding, TokenRecord};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A special token's name (key of `special_tokens`) and its ids, with a type id.
    Special {
        name: String,
        ids: Vec<u32>,
        type_id: u32,
    },
    /// Sequence A (`0`) or B (`1`), with a type id.
    Sequence { seq: u8, type_id: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub single: Vec<Piece>,
    pub pair: Vec<Piece>,
}

impl Template {
    /// `[CLS] $A:0 [SEP]:0` / `[CLS] $A:0 [SEP]:0 $B:1 [SEP]:1`.
    pub fn bert(cls: (&str, u32), sep: (&str, u32)) -> Self {
        let sp = |(n, id): (&str, u32), t| Piece::Special {
            name: n.to_string(),
            ids: vec![id],
            type_id: t,
        };
        Template {
            single: vec![
                sp(cls, 0),
                Piece::Sequence { seq: 0, type_id: 0 },
                sp(sep, 0),
            ],
            pair: vec![
                sp(cls, 0),
                Piece::Sequence { seq: 0, type_id: 0 },
                sp(sep, 0),
                Piece::Sequence { seq: 1, type_id: 1 },
                sp(sep, 1),
            ],
        }
    }

    /// No post-processor: A, then B keeping its own type id 1 (as HF does before post-processing).
    pub fn plain() -> &'static Template {
        static PLAIN: std::sync::OnceLock<Template> = std::sync::OnceLock::new();
        PLAIN.get_or_init(|| Template {
            single: vec![Piece::Sequence { seq: 0, type_id: 0 }],
            pair: vec![
                Piece::Sequence { seq: 0, type_id: 0 },
                Piece::Sequence { seq: 1, type_id: 1 },
            ],
        })
    }

    /// Number of special tokens the template adds.
    pub fn added_tokens(&self, is_pair: bool) -> usize {
        let t = if is_pair { &self.pair } else { &self.single };
        t.iter()
            .map(|p| {
                if let Piece::Special { ids, .. } = p {
                    ids.len()
                } else {
                    0
                }
            })
            .sum()
    }

    /// Apply the template to `a` (and `b`), including every overflow window, in HF's order:
    /// for each window of A, B then each window of B; then A's main part with each window of B.
    /// As in HF, the template's type ids go to the main parts only: a window keeps the type ids
    /// it was encoded with (visible when `post_process` gets separately encoded sequences).
    pub fn apply(&self, a: Encoding, b: Option<Encoding>, add_special_tokens: bool) -> Encoding {
        let template = if b.is_some() {
            &self.pair
        } else {
            &self.single
        };
        let mut a = a;
        let a_over = std::mem::take(&mut a.overflowing);
        let (b_main, b_over) = match b {
            Some(mut b) => {
                let o = std::mem::take(&mut b.overflowing);
                (Some(b), o)
            }
            None => (None, Vec::new()),
        };
        let mut overflowing = Vec::new();
        for ao in &a_over {
            if let Some(bm) = &b_main {
                overflowing.push(fill(template, (ao, true), Some((bm, false)), add_special_tokens));
                for bo in &b_over {
                    overflowing.push(fill(template, (ao, true), Some((bo, true)), add_special_tokens));
                }
            } else {
                overflowing.push(fill(template, (ao, true), None, add_special_tokens));
            }
        }
        for bo in &b_over {
            overflowing.push(fill(template, (&a, false), Some((bo, true)), add_special_tokens));
        }
        let mut out: Encoding = fill(template, (&a, false), b_main.as_ref().map(|b| (b, false)), add_special_tokens);
        out.overflowing = overflowing;
        out
    }
}

impl Template {
    /// [`Self::apply`] for encodings without overflow windows, borrowing them (their buffers
    /// stay with the caller for reuse).
    pub fn apply_ref(&self, a: &Encoding, b: Option<&Encoding>, add_special_tokens: bool) -> Encoding {
        debug_assert!(a.overflowing.is_empty() && b.is_none_or(|b| b.overflowing.is_empty()));
        let template = if b.is_some() { &self.pair } else { &self.single };
        fill(template, (a, false), b.map(|b| (b, false)), add_special_tokens)
    }

    /// [`Self::apply_ref`] written straight into a [`CompactEncoding`].
    pub fn apply_compact(&self, a: &Encoding, b: Option<&Encoding>, add_special_tokens: bool) -> CompactEncoding {
        debug_assert!(a.overflowing.is_empty() && b.is_none_or(|b| b.overflowing.is_empty()));
        let template = if b.is_some() { &self.pair } else { &self.single };
        fill(template, (a, false), b.map(|b| (b, false)), add_special_tokens)
    }
}

/// Where [`fill`] writes the tokens of a template: an [`Encoding`], or straight into the
/// [`CompactEncoding`] the bindings hold (no intermediate vectors).
trait Sink {
    fn with_capacity(n: usize) -> Self;
    /// A template special token: offsets (0,0), no word, mask 1.
    fn special(&mut self, id: u32, type_id: u32);
    /// Sequence `s` as sequence `seq`: with `type_id`, or its own type ids when `None`.
    fn sequence(&mut self, s: &Encoding, seq: u8, type_id: Option<u32>);
}

impl Sink for Encoding {
    fn with_capacity(n: usize) -> Self {
        Encoding::with_capacity(n)
    }
    fn special(&mut self, id: u32, type_id: u32) {
        self.push_special(id, type_id);
    }
    fn sequence(&mut self, s: &Encoding, seq: u8, type_id: Option<u32>) {
        self.ids.extend_from_slice(&s.ids);
        match type_id {
            None => self.type_ids.extend_from_slice(&s.type_ids),
            Some(t) => self.type_ids.extend(std::iter::repeat_n(t, s.len())),
        }
        self.offsets.extend_from_slice(&s.offsets);
        self.special_tokens_mask.extend_from_slice(&s.special_tokens_mask);
        self.attention_mask.extend_from_slice(&s.attention_mask);
        self.word_ids.extend_from_slice(&s.word_ids);
        self.sequence_ids.extend(std::iter::repeat_n(Some(seq as u32), s.len()));
    }
}

impl Sink for CompactEncoding {
    fn with_capacity(n: usize) -> Self {
        CompactEncoding::with_capacity(n)
    }
    fn special(&mut self, id: u32, type_id: u32) {
        self.push(TokenRecord {
            id,
            type_id,
            start: 0,
            end: 0,
            word: u32::MAX,
            special: 1,
            attention: 1,
            seq: u8::MAX,
        });
    }
    fn sequence(&mut self, s: &Encoding, seq: u8, type_id: Option<u32>) {
        (0..s.len()).for_each(|i| self.push(TokenRecord {
            id: s.ids[i],
            type_id: type_id.unwrap_or(s.type_ids[i]),
            start: s.offsets[i].0 as u32,
            end: s.offsets[i].1 as u32,
            word: s.word_ids[i].unwrap_or(u32::MAX),
            special: s.special_tokens_mask[i] as u8,
            attention: s.attention_mask[i] as u8,
            seq,
        }));
    }
}

/// One flat encoding from a template: specials get offsets (0,0), word id None, mask 1.
/// Each sequence comes with whether it is an overflow window (which keeps its type ids).
fn fill<S: Sink>(
    template: &[Piece],
    a: (&Encoding, bool),
    b: Option<(&Encoding, bool)>,
    add_special_tokens: bool,
) -> S {
    let n = a.0.len() + b.map_or(0, |b| b.0.len()) + 4;
    let mut out = S::with_capacity(n);
    for piece in template {
        match piece {
            Piece::Special { ids, type_id, .. } => {
                if !add_special_tokens {
                    continue;
                }
                for &id in ids {
                    out.special(id, *type_id);
                }
            }
            Piece::Sequence { seq, type_id } => {
                let src = if *seq == 0 { Some(a) } else { b };
                if let Some((s, window)) = src {
                    out.sequence(s, *seq, (!window).then_some(*type_id));
                }
            }
        }
    }
    out
}
