//! BERT `vocab.txt`: one token per line, id = line index.
use crate::added_vocab::AddedToken;
use crate::error::{read_to_string, Error, Result};
use crate::models::WordPiece;
use crate::normalize::BertNormalizer;
use crate::postprocess::Template;
use crate::tokenizer::{WordPieceDecoder, WordPieceTokenizer};
use std::path::Path;

/// Read the tokens of a `vocab.txt` in id order.
pub fn read_vocab(path: &Path) -> Result<Vec<String>> {
    let text = read_to_string(path)?;
    parse_vocab(&text, &path.display().to_string())
}

pub fn parse_vocab(text: &str, label: &str) -> Result<Vec<String>> {
    let vocab: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect();
    if vocab.iter().all(|t| t.is_empty()) {
        return Err(Error::malformed(label, "the vocabulary is empty"));
    }
    Ok(vocab)
}

/// Settings of the BERT pipeline built from a `vocab.txt` (HF `BertWordPieceTokenizer`).
#[derive(Debug, Clone)]
pub struct BertVocabOptions {
    pub lowercase: bool,
    pub strip_accents: Option<bool>,
    pub handle_chinese_chars: bool,
    pub unk_token: String,
    pub max_input_chars_per_word: usize,
}

/// Build the full BERT pipeline from a `vocab.txt`: specials `[PAD] [UNK] [CLS] [SEP] [MASK]`
/// that exist in the vocabulary become added tokens, and `[CLS]`/`[SEP]` make the template.
pub fn bert_from_vocab(path: &Path, opts: &BertVocabOptions) -> Result<WordPieceTokenizer> {
    let text = read_to_string(path)?;
    bert_from_vocab_text(&text, &path.display().to_string(), opts)
}

/// [`bert_from_vocab`] from the text of a `vocab.txt`; `label` names the file in errors.
pub fn bert_from_vocab_text(
    text: &str,
    label: &str,
    opts: &BertVocabOptions,
) -> Result<WordPieceTokenizer> {
    let label = label.to_string();
    let vocab = parse_vocab(text, &label)?;
    let find = |t: &str| vocab.iter().rposition(|v| v == t).map(|i| i as u32);
    if find(&opts.unk_token).is_none() {
        return Err(Error::malformed(
            &label,
            format!(
                "the unknown token {:?} is not in the vocabulary",
                opts.unk_token
            ),
        ));
    }
    let (cls, sep) = match (find("[CLS]"), find("[SEP]")) {
        (Some(c), Some(s)) => (c, s),
        _ => {
            return Err(Error::malformed(
                &label,
                "the vocabulary lacks [CLS] or [SEP]",
            ))
        }
    };
    let mut added = Vec::new();
    for t in ["[PAD]", opts.unk_token.as_str(), "[CLS]", "[SEP]", "[MASK]"] {
        if let Some(id) = find(t) {
            if !added.iter().any(|a: &AddedToken| a.id == id) {
                added.push(AddedToken::special(id, t));
            }
        }
    }
    added.sort_by_key(|a| a.id);
    let model = WordPiece::new(vocab, &opts.unk_token, "##", opts.max_input_chars_per_word)
        .map_err(|e| Error::malformed(&label, e.to_string()))?;
    let normalizer = BertNormalizer {
        clean_text: true,
        handle_chinese_chars: opts.handle_chinese_chars,
        strip_accents: opts.strip_accents,
        lowercase: opts.lowercase,
    };
    WordPieceTokenizer::new(
        Some(normalizer),
        model,
        added,
        Some(Template::bert(("[CLS]", cls), ("[SEP]", sep))),
        WordPieceDecoder {
            prefix: "##".into(),
            cleanup: true,
        },
    )
}
