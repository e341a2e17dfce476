//! GPT-2 style `vocab.json` (token -> id, ByteLevel strings) + `merges.txt` ("a b" per line).
use super::check::IdBound;
use crate::error::{Error, Result};
use crate::pretokenize::bytelevel::string_to_bytes;
use std::path::Path;

/// Parse `vocab.json` text into (token bytes, id).
pub fn parse_vocab(text: &str, label: &str) -> Result<Vec<(Vec<u8>, u32)>> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::malformed(label, format!("invalid JSON ({e})")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| Error::malformed(label, "expected a JSON object {token: id}"))?;
    vocab_from_object(obj, label)
}

pub fn vocab_from_object(
    obj: &serde_json::Map<String, serde_json::Value>,
    label: &str,
) -> Result<Vec<(Vec<u8>, u32)>> {
    let bound = IdBound::for_entries(obj.len());
    let mut out = Vec::with_capacity(obj.len());
    for (tok, id) in obj {
        let id = bound.check_json(id, label, &format!("token {tok:?}"))?;
        out.push((string_to_bytes(tok), id));
    }
    Ok(out)
}

/// Parse `merges.txt` text (an optional `#version` first line, then "left right" per line).
pub fn parse_merges(text: &str, label: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if (lineno == 0 && line.starts_with("#version")) || line.is_empty() {
            continue;
        }
        out.push(split_merge(line).ok_or_else(|| {
            Error::malformed(
                label,
                format!(
                    "line {}: expected two tokens separated by one space, got {line:?}",
                    lineno + 1
                ),
            )
        })?);
    }
    Ok(out)
}

/// "a b" -> (bytes of a, bytes of b)
pub fn split_merge(line: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut it = line.split(' ');
    match (it.next(), it.next(), it.next()) {
        (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty() => {
            Some((string_to_bytes(a), string_to_bytes(b)))
        }
        _ => None,
    }
}

/// Token bytes with their ranks (ids).
pub type Ranks = Vec<(Vec<u8>, u32)>;
/// Merge pairs, in priority order.
pub type Merges = Vec<(Vec<u8>, Vec<u8>)>;

pub fn read(vocab: &Path, merges: &Path) -> Result<(Ranks, Merges)> {
    let v = parse_vocab(
        &crate::error::read_to_string(vocab)?,
        &vocab.display().to_string(),
    )?;
    let m = parse_merges(
        &crate::error::read_to_string(merges)?,
        &merges.display().to_string(),
    )?;
    Ok((v, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_files() {
        let v = parse_vocab(r#"{"a": 0, "Ġ": 1, "Ġa": 2}"#, "v").unwrap();
        assert!(v.contains(&(b" a".to_vec(), 2)));
        let m = parse_merges("#version: 0.2\nĠ a\n", "m").unwrap();
        assert_eq!(m, vec![(b" ".to_vec(), b"a".to_vec())]);
        assert!(parse_merges("a b c\n", "merges.txt")
            .unwrap_err()
            .to_string()
            .starts_with("merges.txt"));
        assert!(parse_vocab("[1]", "vocab.json")
            .unwrap_err()
            .to_string()
            .starts_with("vocab.json"));
        for bad in [r#"{"a": -1}"#, r#"{"a": 2147483648}"#, r#"{"a": 4294967299}"#, r#"{"a": 1.0}"#] {
            let e = parse_vocab(bad, "vocab.json").unwrap_err().to_string();
            assert!(e.starts_with("vocab.json") && e.contains("\"a\""), "{e}");
        }
    }
}
