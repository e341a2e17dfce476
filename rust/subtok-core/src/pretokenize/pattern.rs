//! HF's split/replace patterns (a literal string, a regex, or a character predicate) and its
//! `find_matches`: the whole text cut into `(start, end, is_match)` ranges, in order.
use crate::error::{Error, Result};
use crate::pretokenize::regex::Splitter;
use serde_json::{json, Value};

/// A `{"String": ...}` or `{"Regex": ...}` pattern.
#[derive(Debug, Clone)]
pub enum Pattern {
    String(String),
    /// The regex (known GPT-2/cl100k/o200k patterns run their hand-written splitter).
    Regex(Splitter),
}

impl Pattern {
    pub fn from_json(v: &Value, what: &str) -> Result<Self> {
        if let Some(s) = v.get("String").and_then(Value::as_str) {
            return Ok(Pattern::String(s.to_string()));
        }
        if let Some(r) = v.get("Regex").and_then(Value::as_str) {
            return Ok(Pattern::Regex(Splitter::from_pattern(r, true)?));
        }
        Err(Error::invalid(format!(
            "{what}: pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}"
        )))
    }

    pub fn to_json(&self) -> Value {
        match self {
            Pattern::String(s) => json!({ "String": s }),
            Pattern::Regex(r) => json!({ "Regex": r.pattern() }),
        }
    }

    /// The matches only (byte ranges, in order, non-overlapping).
    pub fn matches(&self, text: &str, out: &mut Vec<(usize, usize)>) -> Result<()> {
        out.clear();
        match self {
            Pattern::String(s) if s.is_empty() => {}
            Pattern::String(s) => {
                let mut cs = s.chars();
                match (cs.next(), cs.next()) {
                    // one character: the char searcher (memchr) instead of the substring one
                    (Some(c), None) => out.extend(text.match_indices(c).map(|(i, m)| (i, i + m.len()))),
                    _ => out.extend(text.match_indices(s.as_str()).map(|(i, m)| (i, i + m.len()))),
                }
            }
            Pattern::Regex(Splitter::Regex { regex, .. }) => {
                for m in regex.find_iter(text) {
                    let m = m.map_err(|e| Error::invalid(format!("pre-tokenizer regex failed: {e}")))?;
                    out.push((m.start(), m.end()));
                }
            }
            Pattern::Regex(sp) => sp.split(text, &mut |a, b| out.push((a, b)))?,
        }
        Ok(())
    }
}

/// HF `find_matches`: `text` cut into ranges flagged as match or not (an empty text is one
/// empty non-match). `is_match` chooses the predicate form for character patterns.
pub fn find_matches(
    text: &str,
    matches: &[(usize, usize)],
    out: &mut Vec<(usize, usize, bool)>,
) {
    out.clear();
    if text.is_empty() {
        out.push((0, 0, false));
        return;
    }
    let mut prev = 0;
    for &(s, e) in matches {
        if s > prev {
            out.push((prev, s, false));
        }
        out.push((s, e, true));
        prev = e;
    }
    if prev < text.len() {
        out.push((prev, text.len(), false));
    }
}

/// Matches of a character predicate: every matching character alone.
pub fn char_matches(text: &str, pred: impl Fn(char) -> bool, out: &mut Vec<(usize, usize)>) {
    out.clear();
    out.extend(
        text.char_indices()
            .filter(|&(_, c)| pred(c))
            .map(|(i, c)| (i, i + c.len_utf8())),
    );
}

/// [`char_matches`] + [`find_matches`] + [`Behavior::apply`] in one pass, for the behaviours
/// that need no look-back (`Removed`, `Isolated`, `Contiguous`); `false` (nothing pushed) for
/// the others. Empty pieces are never pushed.
pub fn split_chars(text: &str, pred: impl Fn(char) -> bool, behavior: Behavior, out: &mut Vec<(usize, usize)>) -> bool {
    out.clear();
    match behavior {
        Behavior::Removed | Behavior::Isolated => {
            let mut start = 0;
            for (i, c) in text.char_indices() {
                if pred(c) {
                    if i > start {
                        out.push((start, i));
                    }
                    start = i + c.len_utf8();
                    if behavior == Behavior::Isolated {
                        out.push((i, start));
                    }
                }
            }
            if start < text.len() {
                out.push((start, text.len()));
            }
        }
        Behavior::Contiguous => {
            let (mut start, mut prev) = (0, None);
            for (i, c) in text.char_indices() {
                let m = pred(c);
                if prev.is_some_and(|p| p != m) {
                    out.push((start, i));
                    start = i;
                }
                prev = Some(m);
            }
            if start < text.len() {
                out.push((start, text.len()));
            }
        }
        Behavior::MergedWithPrevious | Behavior::MergedWithNext => return false,
    }
    true
}

/// HF `SplitDelimiterBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

impl Behavior {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "Removed" => Behavior::Removed,
            "Isolated" => Behavior::Isolated,
            "MergedWithPrevious" => Behavior::MergedWithPrevious,
            "MergedWithNext" => Behavior::MergedWithNext,
            "Contiguous" => Behavior::Contiguous,
            _ => return Err(Error::invalid(format!("unknown split behavior {s:?}"))),
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Behavior::Removed => "Removed",
            Behavior::Isolated => "Isolated",
            Behavior::MergedWithPrevious => "MergedWithPrevious",
            Behavior::MergedWithNext => "MergedWithNext",
            Behavior::Contiguous => "Contiguous",
        }
    }

    /// The pieces (byte ranges) to keep from `find_matches` output, HF's rules; empty pieces
    /// are dropped later by the caller.
    pub fn apply(self, m: &[(usize, usize, bool)], out: &mut Vec<(usize, usize)>) {
        out.clear();
        match self {
            Behavior::Isolated => out.extend(m.iter().map(|&(s, e, _)| (s, e))),
            Behavior::Removed => out.extend(m.iter().filter(|x| !x.2).map(|&(s, e, _)| (s, e))),
            Behavior::Contiguous | Behavior::MergedWithPrevious => {
                let mut prev = false;
                for &(s, e, is) in m {
                    let glue = if self == Behavior::Contiguous {
                        is == prev
                    } else {
                        is && !prev
                    };
                    match out.last_mut() {
                        Some(last) if glue => last.1 = e,
                        _ => out.push((s, e)),
                    }
                    prev = is;
                }
            }
            Behavior::MergedWithNext => {
                let mut prev = false;
                for &(s, e, is) in m.iter().rev() {
                    match out.last_mut() {
                        Some(last) if is && !prev => last.0 = s,
                        _ => out.push((s, e)),
                    }
                    prev = is;
                }
                out.reverse();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, b: Behavior) -> Vec<&str> {
        let mut ms = vec![];
        char_matches(text, |c| c == '-', &mut ms);
        let mut fm = vec![];
        find_matches(text, &ms, &mut fm);
        let mut out = vec![];
        b.apply(&fm, &mut out);
        out.iter().map(|&(s, e)| &text[s..e]).filter(|s| !s.is_empty()).collect()
    }

    #[test]
    fn one_pass_char_split_matches_the_general_one() {
        for t in ["the-final--countdown", "", "-", "--a-", "a", "é-ü--", "-x-y-"] {
            for b in [Behavior::Removed, Behavior::Isolated, Behavior::Contiguous] {
                let mut fast = vec![];
                assert!(split_chars(t, |c| c == '-', b, &mut fast));
                let slow: Vec<(usize, usize)> = {
                    let (mut ms, mut fm, mut out) = (vec![], vec![], vec![]);
                    char_matches(t, |c| c == '-', &mut ms);
                    find_matches(t, &ms, &mut fm);
                    b.apply(&fm, &mut out);
                    out.into_iter().filter(|r| r.1 > r.0).collect()
                };
                assert_eq!(fast, slow, "{t:?} {b:?}");
            }
        }
    }

    #[test]
    fn behaviors_match_hf_docs() {
        let t = "the-final--countdown";
        assert_eq!(split(t, Behavior::Removed), ["the", "final", "countdown"]);
        assert_eq!(split(t, Behavior::Isolated), ["the", "-", "final", "-", "-", "countdown"]);
        assert_eq!(split(t, Behavior::MergedWithPrevious), ["the-", "final-", "-", "countdown"]);
        assert_eq!(split(t, Behavior::MergedWithNext), ["the", "-final", "-", "-countdown"]);
        assert_eq!(split(t, Behavior::Contiguous), ["the", "-", "final", "--", "countdown"]);
    }
}
