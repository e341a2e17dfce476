//! HF `BertPreTokenizer`: split on whitespace, and make every punctuation character a word.
//! The WordPiece pipeline fuses this into its single pass (see `tokenizer.rs`) with these
//! character classes; [`split`] is the plain-text form the trainer uses.
use unicode_categories::UnicodeCategories;

/// HF's `is_bert_punc`: ASCII punctuation (so `$+<=>^`|~` count) or any Unicode P* category.
#[inline]
pub fn is_bert_punc(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation(); // every ASCII P* character is ASCII punctuation
    }
    c.is_punctuation()
}

/// Whitespace as the pre-tokenizer sees it (after normalization).
#[inline]
pub fn is_split_whitespace(c: char) -> bool {
    c.is_whitespace()
}

/// HF `BertPreTokenizer` on plain text: whitespace separates words (and is dropped), every
/// punctuation character is a word of its own. Calls `emit(start, end)` per word, in order.
pub fn split(s: &str, emit: &mut impl FnMut(usize, usize)) {
    let mut start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        let space = is_split_whitespace(c);
        if space || is_bert_punc(c) {
            if let Some(st) = start.take() {
                emit(st, i);
            }
            if !space {
                emit(i, i + c.len_utf8());
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        emit(st, s.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn punctuation_classes() {
        for c in "$+<=>^`|~!.,;:'\"()[]{}-_¿،。".chars() {
            assert!(is_bert_punc(c), "{c:?}");
        }
        for c in "€©a1 ".chars() {
            assert!(!is_bert_punc(c), "{c:?}");
        }
    }
}
