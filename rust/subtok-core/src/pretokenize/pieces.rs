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
    ranges: Vec<(usize, usize)>,
    new_splits: Vec<Split>,
    /// Scratch of the pre-tokenizers: matches, and flagged ranges (reused across inputs).
    pub(crate) found: Vec<(usize, usize)>,
    pub(crate) flagged: Vec<(usize, usize, bool)>,
    /// Scratch text of the pre-tokenizers (reused across inputs).
    pub(crate) buf: String,
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

    /// [`push_text`](Self::push_text) that takes `n`'s buffers instead of copying them when
    /// nothing precedes (`n` gets this value's old buffers, emptied).
    pub fn take_text(&mut self, n: &mut Normalized) {
        if !self.norm.text.is_empty() || n.is_empty() {
            return self.push_text(n);
        }
        let base = self.norm.base;
        std::mem::swap(&mut self.norm, n);
        self.norm.base = base;
        self.splits.push(Split {
            start: 0,
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

    /// Rewrite each plain split: `f` gets the split's text and spans, appends its new text
    /// (with spans) to the output buffer and pushes the byte ranges of that buffer that become
    /// splits. Added tokens' splits are carried over. Empty pieces are dropped.
    pub fn rewrite_each(
        &mut self,
        mut f: impl FnMut(&str, &[(u32, u32)], &mut Normalized, &mut Vec<(usize, usize)>) -> Result<()>,
    ) -> Result<()> {
        let mut out = std::mem::take(&mut self.spare);
        out.text.clear();
        out.align.clear();
        out.base = self.norm.base;
        let mut new_splits = std::mem::take(&mut self.new_splits);
        new_splits.clear();
        let mut ranges = std::mem::take(&mut self.ranges);
        for sp in &self.splits {
            let (text, align) = (&self.norm.text[sp.start..sp.end], &self.norm.align[sp.start..sp.end]);
            if sp.added.is_some() {
                let at = out.text.len();
                out.text.push_str(text);
                out.align.extend_from_slice(align);
                new_splits.push(Split {
                    start: at,
                    end: out.text.len(),
                    added: sp.added,
                });
                continue;
            }
            ranges.clear();
            f(text, align, &mut out, &mut ranges)?;
            new_splits.extend(ranges.iter().filter(|r| r.1 > r.0).map(|&(start, end)| Split {
                start,
                end,
                added: None,
            }));
        }
        self.spare = std::mem::replace(&mut self.norm, out);
        self.new_splits = std::mem::replace(&mut self.splits, new_splits);
        self.ranges = ranges;
        Ok(())
    }

    /// Cut each plain split where `f` says, without rewriting the text: `f` gets the split's
    /// text and pushes the byte ranges (relative to it) of the pieces to keep. The new splits
    /// are ranges of the same buffer, so nothing is copied. Empty pieces are dropped.
    pub fn split_in_place(&mut self, mut f: impl FnMut(&str, &mut Vec<(usize, usize)>) -> Result<()>) -> Result<()> {
        let mut new_splits = std::mem::take(&mut self.new_splits);
        new_splits.clear();
        let mut ranges = std::mem::take(&mut self.ranges);
        for sp in &self.splits {
            if sp.added.is_some() {
                new_splits.push(*sp);
                continue;
            }
            ranges.clear();
            f(&self.norm.text[sp.start..sp.end], &mut ranges)?;
            new_splits.extend(ranges.iter().filter(|r| r.1 > r.0).map(|&(s, e)| Split {
                start: sp.start + s,
                end: sp.start + e,
                added: None,
            }));
        }
        self.new_splits = std::mem::replace(&mut self.splits, new_splits);
        self.ranges = ranges;
        Ok(())
    }

    /// The text of split `i`.
    pub fn text(&self, i: usize) -> &str {
        let s = &self.splits[i];
        &self.norm.text[s.start..s.end]
    }
}
