"""Blocks, token shards and pretraining shards without Dask (issue 14 §3-§4)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import subtok
from subtok.corpus import read_block
from subtok.pretraining import PRETRAINING_KEYS, read_documents, shard_seed
from subtok.wordcounts import file_blocks

TEXT = "first doc line\r\nsecond line\n\n\nnext  doc\n   \nthird\n\u00a0\nfourth ünïcode\nend without newline"


@pytest.mark.parametrize("doc_sep", ["line", "blank"])
def test_blocks_cover_every_document_once(tmp_path, doc_sep):
    p = tmp_path / "t.txt"
    p.write_bytes(TEXT.encode("utf-8"))
    whole = read_block(p, 0, p.stat().st_size, doc_sep)
    if doc_sep == "blank":
        assert [d[0] for d in whole] == ["first doc line", "next  doc", "third", "fourth ünïcode"]
        assert read_documents([p]) == [[s.strip() for s in d] for d in whole]
    else:
        assert whole[0] == ["first doc line"] and len(whole) == 6  # the NBSP line is blank
    for size in range(1, 40):
        parts = [d for _, s, e in file_blocks([p], size) for d in read_block(p, s, e, doc_sep)]
        assert parts == whole, size


def test_encode_corpus_without_dask(tmp_path):
    """subtok.dask imports and runs sequentially when Dask is not installed."""
    p = tmp_path / "in.txt"
    p.write_text("hello world\nsecond line here\n", encoding="utf-8")
    script = (
        "import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
        "import subtok, subtok.dask as sd\n"
        "tok = subtok.train(['a b c hello world line'] * 5, model='wordpiece', vocab_size=120, show_progress=False)\n"
        "m = sd.encode_corpus([sys.argv[1]], tok, sys.argv[2], show_progress=False)\n"
        "ds = subtok.TokenDataset(sys.argv[2])\n"
        "assert len(ds) == 2 and m['complete'] and ds.dtype.name == 'uint16'\n"
        "assert ds[0].tolist() == tok.encode('hello world', add_special_tokens=False).ids\n"
        "assert sd.train([sys.argv[1]], vocab_size=300, show_progress=False).to_str() == "
        "subtok.train([sys.argv[1]], vocab_size=300, show_progress=False).to_str()\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", script, str(p), str(tmp_path / "out")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_shard_seeds():
    assert shard_seed(12345, 0) == 12345
    assert shard_seed(-1, 0) == 2**64 - 1
    assert len({shard_seed(7, i) for i in range(1000)}) == 1000


def test_pretraining_cli_shards_and_npz(tmp_path, minilm_dir):
    from subtok.cli import main

    lines = []
    for d in range(40):
        lines += [f"Document {d} has a sentence about topic {d % 7}.", f"And another one, number {d}.", ""]
    src = tmp_path / "docs.txt"
    src.write_text("\n".join(lines), encoding="utf-8")
    tok = str(minilm_dir / "tokenizer.json")
    common = ["--tokenizer", tok, "--max-seq-length", "32", "--dupe-factor", "2", "--seed", "3"]
    assert main(["pretraining-data", str(src), "-o", str(tmp_path / "one.npz"), *common]) == 0
    assert main(["pretraining-data", str(src), "-o", str(tmp_path / "dir"), "--blocksize", "1m", *common]) == 0
    one = np.load(tmp_path / "one.npz")
    shard = np.load(tmp_path / "dir" / "pretrain-000000.npz")
    want = subtok.pretraining.create_pretraining_data(read_documents([src]), subtok.Tokenizer.from_file(tok),
                                                      max_seq_length=32, dupe_factor=2, seed=3)
    for k in PRETRAINING_KEYS:
        np.testing.assert_array_equal(one[k], want[k])
        np.testing.assert_array_equal(shard[k], want[k])
    assert one["input_ids"].dtype == np.uint16 and one["next_sentence_labels"].dtype == np.uint8
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tmp_path / "one.npz").st_mode & 0o777 == 0o666 & ~mask
    assert main(["pretraining-data", str(src), "-o", str(tmp_path / "dir2"), "--blocksize", "500", *common]) == 0
    import json

    m = json.loads((tmp_path / "dir2" / "manifest.json").read_text())
    assert len(m["shards"]) > 5 and m["documents"] == 40 and m["complete"]
    assert sum(np.load(tmp_path / "dir2" / e["file"])["input_ids"].shape[0] for e in m["shards"] if e["file"]) == m["instances"]
