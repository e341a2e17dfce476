"""`subtok encode` as a tool (streamed chunks through encode_batch_flat, formats, stored settings,
pipes) and the CLI conventions shared by the subcommands. Oracle: HF tokenizers."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest

from conftest import corpus_lines


def _cli(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "subtok.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env, **kw)


@pytest.fixture(scope="module")
def minilm_json(minilm_dir: Path) -> Path:
    return minilm_dir / "tokenizer.json"


@pytest.fixture(scope="module")
def hf_plain(minilm_json: Path):
    """HF tokenizer with the file's stored truncation (128) and padding turned off."""
    from tokenizers import Tokenizer

    t = Tokenizer.from_file(str(minilm_json))
    assert t.truncation is not None and t.padding is not None  # the file stores both
    t.no_truncation()
    t.no_padding()
    return t


@pytest.fixture(scope="module")
def lines() -> List[str]:
    # a long line (beyond the stored max_length 128), an empty line and non-ASCII text included
    ls = corpus_lines("wikitext2-test.txt")[:300] + ["", "word " * 300] + corpus_lines("udhr-multilingual.txt")[:200]
    return ls


@pytest.fixture(scope="module")
def input_file(tmp_path_factory: pytest.TempPathFactory, lines: List[str]) -> Path:
    p = tmp_path_factory.mktemp("enc") / "in.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_default_is_plain_ids_of_each_line(tmp_path: Path, minilm_json: Path, hf_plain, lines, input_file) -> None:
    # --chunk-mb small: the file goes through many chunks
    p = _cli("encode", "-t", str(minilm_json), "-i", str(input_file), "--chunk-mb", "0.01", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    got = [[int(x) for x in r.split()] for r in p.stdout.split("\n")[:-1]]
    want = [hf_plain.encode(l, add_special_tokens=False).ids for l in lines]
    assert got == want
    assert max(map(len, got)) > 128  # the stored truncation did not apply


def test_special_tokens_max_length_and_padding(tmp_path: Path, minilm_json: Path, minilm_dir: Path, lines) -> None:
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(str(minilm_json))
    hf.enable_truncation(16)
    hf.enable_padding(length=16, pad_id=0, pad_token="[PAD]")
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(lines[:50]) + "\n", encoding="utf-8")
    p = _cli("encode", "-t", str(minilm_json), "-i", str(inp), "--add-special-tokens", "--max-length", "16",
             "--padding", "-f", "tokens", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert [r.split(" ") for r in p.stdout.split("\n")[:-1]] == [e.tokens for e in hf.encode_batch(lines[:50])]
    # --truncation / --padding: the settings stored in the file (128, padded to 128)
    p = _cli("encode", "-t", str(minilm_json), "-i", str(inp), "--add-special-tokens", "--truncation", "--padding",
             cwd=tmp_path)
    stored = Tokenizer.from_file(str(minilm_json))
    assert [[int(x) for x in r.split()] for r in p.stdout.split("\n")[:-1]] == [e.ids for e in stored.encode_batch(lines[:50])]


@pytest.mark.parametrize("fmt", ["npy", "bin", "jsonl"])
def test_file_formats(tmp_path: Path, minilm_json: Path, hf_plain, lines, input_file, fmt: str) -> None:
    want = [hf_plain.encode(l, add_special_tokens=False) for l in lines]
    out = tmp_path / f"out.{fmt}"
    p = _cli("encode", "-t", str(minilm_json), "-i", str(input_file), "-f", fmt, "-o", str(out), "--chunk-mb", "0.02",
             cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert f"{len(lines)} lines" in p.stderr
    if fmt == "npy":
        ids, lengths = np.load(out), np.load(tmp_path / "out.lengths.npy")
        assert ids.dtype == np.uint32 and lengths.dtype == np.int64
        assert lengths.tolist() == [len(e.ids) for e in want]
        assert ids.tolist() == [i for e in want for i in e.ids]
    elif fmt == "bin":
        ids = np.fromfile(out, dtype="<u2")  # vocab 30522 <= 65536: uint16
        offsets = np.fromfile(str(out) + ".offsets", dtype="<u8")
        assert len(offsets) == len(lines) + 1 and offsets[0] == 0 and offsets[-1] == len(ids)
        assert [ids[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])] == [e.ids for e in want]
    else:
        rows = [json.loads(r) for r in out.read_text(encoding="utf-8").splitlines()]
        assert [r["ids"] for r in rows] == [e.ids for e in want]
        assert [r["tokens"] for r in rows] == [e.tokens for e in want]
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []  # no temp file left


def test_stdin_and_broken_pipe(tmp_path: Path, minilm_json: Path, hf_plain, lines, input_file) -> None:
    text = "\r\n".join(lines[:20]) + "\r\n"  # CRLF lines
    p = _cli("encode", "-t", str(minilm_json), "-i", "-", "-f", "tokens", cwd=tmp_path, input=text)
    assert p.returncode == 0, p.stderr
    assert [r.split(" ") if r else [] for r in p.stdout.split("\n")[:-1]] == [
        hf_plain.encode(l, add_special_tokens=False).tokens for l in lines[:20]]
    big = tmp_path / "big.txt"
    big.write_text(input_file.read_text(encoding="utf-8") * 40, encoding="utf-8")
    cmd = f"{sys.executable} -m subtok.cli encode -t {minilm_json} -i {big} | head -3"
    r = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=300)
    assert len(r.stdout.splitlines()) == 3
    assert r.stderr == ""  # quiet, like Unix tools
    assert r.returncode == 141  # 128 + SIGPIPE


def test_errors_name_the_file(tmp_path: Path, minilm_json: Path) -> None:
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"ok line\n" + bytes(range(128, 256)) * 4)
    p = _cli("encode", "-t", str(minilm_json), "-i", str(binary), cwd=tmp_path)
    assert p.returncode == 2 and "data.bin" in p.stderr and "UTF-8" in p.stderr and "Traceback" not in p.stderr
    (tmp_path / "adir").mkdir()
    p = _cli("encode", "-t", str(minilm_json), "-i", str(binary), "-o", "adir", cwd=tmp_path)
    assert p.returncode == 2 and "adir: is a directory" in p.stderr and ".tmp" not in p.stderr
    p = _cli("encode", "-t", str(minilm_json), "hi", "-f", "npy", cwd=tmp_path)
    assert p.returncode == 2 and "npy needs -o" in p.stderr
    p = _cli("encode", "-t", str(minilm_json), "-i", str(tmp_path / "nope.txt"), cwd=tmp_path)
    assert p.returncode == 2 and "nope.txt" in p.stderr
    p = _cli("encode", "-t", str(minilm_json), "hi", "--padding", cwd=tmp_path)
    # the MiniLM file's stored padding has a fixed length (128), so --padding works without --max-length
    assert p.returncode == 0 and len(p.stdout.split()) == 128


def test_cli_conventions(tmp_path: Path, minilm_json: Path) -> None:
    import subtok

    p = _cli("--version", cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == f"subtok {subtok.__version__}"
    # an unknown flag is reported by the subcommand's parser (its usage line)
    p = _cli("encode", "-t", str(minilm_json), "--no-such-flag", "hi", cwd=tmp_path)
    assert p.returncode == 2 and "usage: subtok encode" in p.stderr and "--no-such-flag" in p.stderr
    # -t / -i / -o in every subcommand that takes them
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(corpus_lines("shakespeare.txt")[:2000]) + "\n", encoding="utf-8")
    p = _cli("train", "--model", "wordpiece", "--vocab-size", "400", "-q", "-i", str(corpus), "-o", "t.json",
             cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = _cli("pretraining-data", "-t", "t.json", "-i", str(corpus), "-o", "p.npz", "--dupe-factor", "1",
             "--max-seq-length", "32", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert np.load(tmp_path / "p.npz")["input_ids"].shape[1] == 32
    for cmd in ("encode", "embed", "pretraining-data"):
        h = _cli(cmd, "--help", cwd=tmp_path).stdout
        for short, long in (("-t", "--tokenizer"), ("-i", "--input"), ("-o", "--output")):
            if cmd == "embed" and short == "-t":
                continue  # embed takes a model folder (-m), whose tokenizer it uses
            assert re.search(rf"{short}( \S+)?, {long}\b", h), (cmd, short, long)
