//! `.tiktoken` files: one `base64(token bytes) rank` pair per line.
use crate::error::{Error, Result};
use base64::Engine;
use std::path::Path;

/// Parse the text of a `.tiktoken` file; `label` names the file in errors.
pub fn parse(text: &str, label: &str) -> Result<Vec<(Vec<u8>, u32)>> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
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
        let rank: u32 = rank
            .parse()
            .ok()
            .filter(|&r: &u32| r < u32::MAX - 2)
            .ok_or_else(|| {
                Error::malformed(label, format!("line {}: bad rank {rank:?}", lineno + 1))
            })?;
        if bytes.is_empty() {
            return Err(Error::malformed(
                label,
                format!("line {}: empty token", lineno + 1),
            ));
        }
        out.push((bytes, rank));
    }
    if out.is_empty() {
        return Err(Error::malformed(label, "no tokens"));
    }
    Ok(out)
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
        for bad in ["IQ==", "IQ== x", "!!! 0", "IQ== 0 1", ""] {
            let e = parse(bad, "my.tiktoken").unwrap_err();
            assert!(e.to_string().starts_with("my.tiktoken"), "{e}");
        }
    }
}
