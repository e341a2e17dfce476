//! `.tiktoken` files: one `base64(token bytes) rank` pair per line.
use super::check::IdBound;
use crate::error::{Error, Result};
use base64::Engine;
use std::path::Path;

/// Parse the text of a `.tiktoken` file; `label` names the file in errors.
pub fn parse(text: &str, label: &str) -> Result<Vec<(Vec<u8>, u32)>> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut lines = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split(' ');
        let (Some(tok), Some(rank), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::malformed(
                label,
                format!("line {}: expected 'base64-token rank'", lineno + 1),
            ));
        };
        let bytes = engine.decode(tok).map_err(|e| {
            Error::malformed(
                label,
                format!("line {}: bad base64 token {tok:?} ({e})", lineno + 1),
            )
        })?;
        let rank: u64 = rank.parse().map_err(|_| {
            Error::malformed(label, format!("line {}: bad rank {rank:?}", lineno + 1))
        })?;
        if bytes.is_empty() {
            return Err(Error::malformed(
                label,
                format!("line {}: empty token", lineno + 1),
            ));
        }
        lines.push((bytes, rank, lineno + 1));
    }
    if lines.is_empty() {
        return Err(Error::malformed(label, "no tokens"));
    }
    // Ranks index the model's tables: bound them by the file's own entry count.
    let bound = IdBound::for_entries(lines.len());
    lines
        .into_iter()
        .map(|(bytes, rank, line)| Ok((bytes, bound.check(rank, label, &format!("line {line}: rank"))?)))
        .collect()
}

pub fn read(path: &Path) -> Result<Vec<(Vec<u8>, u32)>> {
    let text = crate::error::read_to_string(path)?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let v = parse("IQ== 0\nIg== 1\n\n", "f").unwrap();
        assert_eq!(v, vec![(b"!".to_vec(), 0), (b"\"".to_vec(), 1)]);
        for bad in ["IQ==", "IQ== x", "!!! 0", "IQ== 0 1", "", "IQ== 2147483648", "IQ== 4294967299"] {
            let e = parse(bad, "my.tiktoken").unwrap_err();
            assert!(e.to_string().starts_with("my.tiktoken"), "{e}");
        }
    }
}
