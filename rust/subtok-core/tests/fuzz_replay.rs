//! Replays every saved fuzz input (`fuzz/corpus/<target>/`, the minimized corpora, and
//! `fuzz/regressions/<target>/`, the crashers found so far) through the fuzz target bodies
//! (`subtok_core::fuzzing`), so that CI checks them on stable Rust without cargo-fuzz.
use std::path::Path;
use subtok_core::fuzzing::{run, TARGETS};

#[test]
fn replay_fuzz_corpora_and_crashers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for target in TARGETS {
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for p in paths {
                let data = std::fs::read(&p).unwrap();
                let r = std::panic::catch_unwind(|| run(target, &data));
                assert!(r.is_ok(), "fuzz input {} fails", p.display());
                replayed += 1;
            }
        }
    }
    assert!(replayed > 0, "no fuzz inputs found under {}", root.display());
}

/// A mutation fuzzer on stable Rust for machines without cargo-fuzz (and a quick local run):
/// mutates the saved corpora with byte edits and JSON/number-aware insertions for
/// `SUBTOK_FUZZ_SECONDS` (default 10) per target, and saves each input that panics to
/// `fuzz/regressions/<target>/`. Run: `cargo test --release -p subtok-core --test fuzz_replay
/// -- --ignored --nocapture` (optionally `SUBTOK_FUZZ_TARGET=tiktoken`, and
/// `SUBTOK_FUZZ_CURRENT=/tmp/x` to keep the input in flight).
#[test]
#[ignore]
fn mutation_fuzz() {
    use std::time::{Duration, Instant};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let secs: u64 = std::env::var("SUBTOK_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let only = std::env::var("SUBTOK_FUZZ_TARGET").ok();
    let tokens: &[&[u8]] = &[
        b"4294967299", b"2147483648", b"67108864", b"-1", b"1.5", b"1e309", b"null", b"true", b"\"\"", b"[]",
        b"{}", b"\"x\"", b"0", b"\"Sequence\"", b"\"type\"", b"\\ud800", b"\n", b" ", b"##", b"\xc3\xa9", b"==",
    ];
    let mut failures = 0;
    for target in TARGETS.iter().filter(|t| only.as_deref().is_none_or(|o| o == **t)) {
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(root.join("corpus").join(target))
            .map(|d| d.filter_map(|e| std::fs::read(e.ok()?.path()).ok()).collect())
            .unwrap_or_default();
        if seeds.is_empty() {
            seeds.push(Vec::new());
        }
        let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ target.len() as u64;
        let mut next = move |n: usize| -> usize {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n.max(1) as u64) as usize
        };
        let (start, mut execs, mut crashes) = (Instant::now(), 0u64, 0u64);
        std::panic::set_hook(Box::new(|_| {}));
        while start.elapsed() < Duration::from_secs(secs) {
            let mut d = seeds[next(seeds.len())].clone();
            for _ in 0..1 + next(4) {
                let i = next(d.len() + 1);
                match next(6) {
                    0 if i < d.len() => d[i] ^= 1 << next(8),
                    1 if i < d.len() => d[i] = b"\"{}[],: \n0123456789-"[next(20)],
                    2 => d.splice(i..i, tokens[next(tokens.len())].iter().copied()).for_each(drop),
                    3 if i < d.len() => {
                        let j = (i + 1 + next(16)).min(d.len());
                        d.drain(i..j);
                    }
                    4 => {
                        // replace a run of digits with an interesting number
                        let at = (i..d.len()).find(|&k| d[k].is_ascii_digit()).unwrap_or(i);
                        let end = (at..d.len()).find(|&k| !d[k].is_ascii_digit()).unwrap_or(d.len());
                        d.splice(at..end, tokens[next(5)].iter().copied()).for_each(drop);
                    }
                    _ => {
                        let other = &seeds[next(seeds.len())];
                        let j = next(other.len() + 1);
                        d.splice(i..i, other[j..(j + next(64)).min(other.len())].iter().copied()).for_each(drop);
                    }
                }
            }
            execs += 1;
            if let Ok(p) = std::env::var("SUBTOK_FUZZ_CURRENT") {
                // the input in flight, for a run the OOM killer ends
                std::fs::write(p, &d).unwrap();
            }
            if std::panic::catch_unwind(|| run(target, &d)).is_err() {
                crashes += 1;
                let dir = root.join("regressions").join(target);
                std::fs::create_dir_all(&dir).unwrap();
                let name = format!("crash-{:016x}", d.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3)));
                std::fs::write(dir.join(name), &d).unwrap();
            }
        }
        let _ = std::panic::take_hook();
        println!("fuzz {target}: {execs} execs in {secs} s, {crashes} crashing inputs");
        failures += crashes;
    }
    assert_eq!(failures, 0, "crashing inputs saved under fuzz/regressions/");
}
