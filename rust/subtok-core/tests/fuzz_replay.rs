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
