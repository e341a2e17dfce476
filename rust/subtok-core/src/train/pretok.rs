//! The trainer's pre-tokenizers and BERT normalizer: how training cuts text into words.
//!
//! They are the encoder's own components, so training counts exactly the words encoding sees
//! (and HF tokenizers counts):
//!
//! * `gpt2`: the GPT-2 split of HF `ByteLevel(use_regex=True)` ([`Splitter::Gpt2`]).
//! * `cl100k`: the Llama-3 spelling of cl100k written into trained files
//!   ([`Splitter::Llama3`], [`CL100K_PATTERN`]).
//! * `whitespace`: HF `Whitespace`, `\w+|[^\w\s]+` ([`Splitter::Words`]).
//! * `bert`: HF `BertPreTokenizer` ([`bert::split`]); use [`bert_normalize`] first for the
//!   BERT pipeline (HF `BertNormalizer`, [`BertNormalizer`]).
use crate::normalize::bert::{self as bert_norm, BertNormalizer, CharClass};
use crate::pretokenize::bert;
use crate::pretokenize::regex::Splitter;

/// The regex of the cl100k split, as written into `tokenizer.json`.
pub use crate::pretokenize::regex::LLAMA3_PATTERN as CL100K_PATTERN;

/// A character the BERT normalizer turns into a space (so it always separates words).
#[inline]
pub fn is_bert_separator(c: char) -> bool {
    bert_norm::is_whitespace(c) && !bert_norm::is_control(c)
}

/// HF `BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
/// lowercase)`, appended to `out`.
pub fn bert_normalize(s: &str, lowercase: bool, out: &mut String) {
    let n = BertNormalizer { lowercase, ..Default::default() };
    for c in s.chars() {
        if c.is_ascii_graphic() {
            // printable ASCII: kept, only lowercased
            out.push(if lowercase { c.to_ascii_lowercase() } else { c });
            continue;
        }
        match n.classify(c) {
            CharClass::Drop => {}
            CharClass::Space => out.push(' '),
            CharClass::Cjk => {
                out.push(' ');
                n.normalize_char(c, |x| out.push(x));
                out.push(' ');
            }
            CharClass::Other => n.normalize_char(c, |x| out.push(x)),
        }
    }
}

/// The pre-tokenizers the trainer offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    Gpt2,
    Cl100k,
    Whitespace,
    Bert,
}

impl PreTokenizer {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "gpt2" | "byte_level" | "bytelevel" => Self::Gpt2,
            "cl100k" | "cl100k_base" => Self::Cl100k,
            "whitespace" => Self::Whitespace,
            "bert" => Self::Bert,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Gpt2 => "gpt2",
            Self::Cl100k => "cl100k",
            Self::Whitespace => "whitespace",
            Self::Bert => "bert",
        }
    }
    /// Run this splitter over `s`: `f` gets each piece, in order.
    pub fn split(self, s: &str, f: &mut impl FnMut(&str)) {
        let mut emit = |a: usize, b: usize| {
            f(&s[a..b]);
            true
        };
        let splitter = match self {
            Self::Gpt2 => Splitter::Gpt2,
            Self::Cl100k => Splitter::Llama3,
            Self::Whitespace => Splitter::Words,
            Self::Bert => return bert::split(s, &mut |a, b| f(&s[a..b])),
        };
        // hand-written splitters never fail (only the general regex engine can)
        let _ = splitter.split_while(s, &mut emit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(p: PreTokenizer, s: &str) -> Vec<String> {
        let mut v = Vec::new();
        p.split(s, &mut |w: &str| v.push(w.to_string()));
        v
    }
    const G: PreTokenizer = PreTokenizer::Gpt2;
    const C: PreTokenizer = PreTokenizer::Cl100k;
    const B: PreTokenizer = PreTokenizer::Bert;
    const W: PreTokenizer = PreTokenizer::Whitespace;

    #[test]
    fn gpt2_split() {
        assert_eq!(
            pieces(G, "Hello world's  end!!\n\n x12 'S"),
            ["Hello", " world", "'s", " ", " end", "!!", "\n\n", " x", "12", " '", "S"]
        );
        assert_eq!(pieces(G, "a  \n"), ["a", "  \n"]);
        assert_eq!(pieces(G, "don't ''s"), ["don", "'t", " ''", "s"]);
        assert_eq!(pieces(G, "héllo 世界 ٣٤"), ["héllo", " 世界", " ٣٤"]);
        assert_eq!(pieces(G, ""), Vec::<String>::new());
    }

    #[test]
    fn cl100k_split() {
        assert_eq!(
            pieces(C, "Hello WORLD'S 12345 (x)!\n\n  y"),
            ["Hello", " WORLD", "'S", " ", "123", "45", " (", "x", ")!\n\n", " ", " y"]
        );
        assert_eq!(pieces(C, "a \n\n b"), ["a", " \n\n", " b"]);
        assert_eq!(pieces(C, "\tfoo"), ["\tfoo"]);
    }

    #[test]
    fn bert_and_whitespace_split() {
        assert_eq!(
            pieces(B, " Hi, there$5 €x "),
            ["Hi", ",", "there", "$", "5", "€x"]
        );
        assert_eq!(
            pieces(W, "Hi, there$5 _a-b"),
            ["Hi", ",", "there", "$", "5", "_a", "-", "b"]
        );
    }

    #[test]
    fn bert_normalizer() {
        let mut o = String::new();
        bert_normalize("Héllo\u{200b} ΟΔΟΣ\t中文\u{0}x", true, &mut o);
        assert_eq!(o, "hello οδοσ  中  文 x");
        let mut o = String::new();
        bert_normalize("Héllo", false, &mut o);
        assert_eq!(o, "Héllo");
    }
}
