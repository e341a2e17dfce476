//! HF `BertPreTokenizer`: split on whitespace, and make every punctuation character a word.
//! The WordPiece pipeline fuses this into its single pass (see `tokenizer.rs`); these are the
//! character classes it uses.
use unicode_categories::UnicodeCategories;

/// HF's `is_bert_punc`: ASCII punctuation (so `$+<=>^`|~` count) or any Unicode P* category.
#[inline]
pub fn is_bert_punc(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// Whitespace as the pre-tokenizer sees it (after normalization).
#[inline]
pub fn is_split_whitespace(c: char) -> bool {
    c.is_whitespace()
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
