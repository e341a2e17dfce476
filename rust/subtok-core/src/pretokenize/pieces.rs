//! HF's `PreTokenizedString`: the normalized text of one input, cut into splits. Every split
//! is a byte range of one shared [`Normalized`] buffer (so a split costs no allocation); added
//! tokens found earlier are splits that no later step touches.
use crate::error::Result;
use crate::normalize::normalized::Normalized;

/// One split: a byte range of [`Pretok::norm`], or an added token's match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub start: usize,
    pub end: usize,
    /// The added token's id when this split is one.
    pub added: Option<u32>,
}

/// The splits of one input.
#[derive(Debug, Default, Clone)]
pub struct Pretok {
    pub norm: Normalized,
    pub splits: Vec<Split>,
    spare: Normalized,
    piece: Normalized,
    ranges: Vec<(usize, usize)>,
    new_splits: Vec<Split>,
    /// Scratch of the pre-tokenizers: matches, and flagged ranges (reused across inputs).
    pub(crate) found: Vec<(usize, usize)>,
    pub(crate) flagged: Vec<(usize, usize, bool)>,
}

impl Pretok {
    pub fn clear(&mut self) {
        self.norm.text.clear();
        self.norm.align.clear();
        self.splits.clear();
    }

    /// Append a plain split (already normalized).
    pub fn push_text(&mut self, n: &Normalized) {
        if n.is_empty() {
            return;
        }
        let start = self.norm.text.len();
        self.norm.push(n);
        self.splits.push(Split {
            start,
            end: self.norm.text.len(),
            added: None,
        });
    }

    /// Append an added token's split.
    pub fn push_added(&mut self, n: &Normalized, id: u32) {
        let start = self.norm.text.len();
        self.norm.push(n);
        self.splits.push(Split {
            start,
            end: self.norm.text.len(),
            added: Some(id),
        });
    }

    /// Run `f` on each plain split: it may rewrite the split's text (spans follow) and pushes
    /// the byte ranges of the pieces to keep into its last argument. Empty pieces are dropped.
    pub fn split_each(
        &mut self,
        mut f: impl FnMut(&mut Normalized, &mut Vec<(usize, usize)>) -> Result<()>,
    ) -> Result<()> {
        let mut out = std::mem::take(&mut self.spare);
        out.text.clear();
        out.align.clear();
        out.base = self.norm.base;
        let mut new_splits = std::mem::take(&mut self.new_splits);
        new_splits.clear();
        let mut piece = std::mem::take(&mut self.piece);
        let mut ranges = std::mem::take(&mut self.ranges);
        for sp in &self.splits {
            let at = out.text.len();
            if sp.added.is_some() {
                out.text.push_str(&self.norm.text[sp.start..sp.end]);
                out.align.extend_from_slice(&self.norm.align[sp.start..sp.end]);
                new_splits.push(Split {
                    start: at,
                    end: out.text.len(),
                    added: sp.added,
                });
                continue;
            }
            piece.text.clear();
            piece.text.push_str(&self.norm.text[sp.start..sp.end]);
            piece.align.clear();
            piece.align.extend_from_slice(&self.norm.align[sp.start..sp.end]);
            piece.base = self.norm.align.get(sp.start).map_or(self.norm.base, |a| a.0);
            ranges.clear();
            f(&mut piece, &mut ranges)?;
            out.push(&piece);
            for &(s, e) in &ranges {
                if e > s {
                    new_splits.push(Split {
                        start: at + s,
                        end: at + e,
                        added: None,
                    });
                }
            }
        }
        self.spare = std::mem::replace(&mut self.norm, out);
        self.new_splits = std::mem::replace(&mut self.splits, new_splits);
        self.piece = piece;
        self.ranges = ranges;
        Ok(())
    }

    /// The text of split `i`.
    pub fn text(&self, i: usize) -> &str {
        let s = &self.splits[i];
        &self.norm.text[s.start..s.end]
    }
}
