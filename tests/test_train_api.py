"""subtok.train / train_json: corpus kinds, bad input, progress and quiet modes, exports,
determinism across runs and thread counts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

import subtok
from subtok.training import default_corpus, export_vocab_files, save_json, train_json

from conftest import FRESH_SIGINT

CORPORA = ("shakespeare.txt", "wikitext2-test.txt", "udhr-multilingual.txt")


@pytest.fixture(scope="module")
def corpus_file(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("api") / "c.txt"
    text = "".join((shared_dir / "corpora" / n).read_text(encoding="utf-8")[:60_000] for n in CORPORA)
    p.write_text(text, encoding="utf-8")
    return p


def _vocab(text: str) -> List[str]:
    v = json.loads(text)["model"]["vocab"]
    return sorted(v, key=v.__getitem__)


# ---------------------------------------------------------------- corpus kinds
def test_files_texts_iterator_and_counts_agree(corpus_file: Path) -> None:
    lines = corpus_file.read_text(encoding="utf-8").splitlines(keepends=True)
    kw = dict(model="wordpiece", vocab_size=800, show_progress=False)
    from_file = train_json([str(corpus_file)], **kw)
    assert train_json(corpus_file, **kw) == from_file  # a single PathLike
    assert train_json(str(corpus_file), **kw) == from_file  # a single str path
    # The BERT pipeline does not care about line boundaries, so texts give the same model.
    assert train_json(lines, **kw) == from_file
    assert train_json(iter(lines), **kw) == from_file
    assert train_json((lines[i:i + 100] for i in range(0, len(lines), 100)), **kw) == from_file
    assert train_json(lines, files=False, **kw) == from_file


def test_str_list_of_texts_is_not_taken_for_files() -> None:
    j = train_json(["hello world", "hello there"] * 5, model="bpe", vocab_size=260, show_progress=False)
    assert "hello" in "".join(_vocab(j)) or len(_vocab(j)) == 260


def test_word_count_mapping_is_verbatim() -> None:
    j = json.loads(train_json({"Low": 5, "lower": 2, "newest": 6}, model="wordpiece", vocab_size=100,
                              lowercase=True, show_progress=False))
    assert "L" in j["model"]["vocab"]  # keys are words as given: no normalization


@pytest.mark.parametrize("model", ["wordpiece", "bpe"])
def test_returns_tokenizer_when_available(corpus_file: Path, model: str) -> None:
    if not hasattr(subtok._core, "load_tokenizer_str"):
        pytest.skip("subtok.Tokenizer loader not merged yet")
    from subtok.tokenizer import Tokenizer
    from tokenizers import Tokenizer as HFTokenizer

    try:
        tok = subtok.train([str(corpus_file)], model=model, vocab_size=500, show_progress=False)
    except ValueError as e:
        if "not supported" in str(e):
            pytest.skip(f"subtok cannot load this model yet: {e}")
        raise
    assert isinstance(tok, Tokenizer)
    assert tok.vocab_size == 500
    hf = HFTokenizer.from_str(train_json([str(corpus_file)], model=model, vocab_size=500, show_progress=False))
    text = corpus_file.read_text(encoding="utf-8")[:3000]
    assert tok.encode(text).ids == hf.encode(text).ids


def test_counts_are_u64() -> None:
    # Counts beyond 2**32 (and sums beyond 2**63) must neither wrap nor lose order.
    wc = {"ab": 2**40, "cd": 2**40 + 1, "ef": 3}
    v = _vocab(train_json(wc, model="bpe", vocab_size=258, min_frequency=1, show_progress=False))
    assert v[256:] == ["cd", "ab"]
    wc = {"xy": 2**63, "xyz": 2**63 - 1, "q": 5}
    v = _vocab(train_json(wc, model="bpe", vocab_size=257, min_frequency=1, show_progress=False))
    assert v[256:] == ["xy"]


_RSS = """
import sys
from subtok.training import train_json
train_json([sys.argv[1]], model="bpe", vocab_size=5000, show_progress=False)
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_memory_follows_unique_words_not_corpus_size(shared_dir: Path, tmp_path: Path) -> None:
    text = "".join((shared_dir / "corpora" / n).read_text(encoding="utf-8") for n in CORPORA)
    one, ten = tmp_path / "x1.txt", tmp_path / "x10.txt"
    one.write_text(text, encoding="utf-8")
    ten.write_text(text * 10, encoding="utf-8")
    peak = []
    for f in (one, ten):
        p = subprocess.run([sys.executable, "-c", _RSS, str(f)], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        peak.append(int(p.stdout.split()[-1]) / 1024)
    # 34 MB of text on top of 3.4 MB: files are streamed, so the peak barely moves.
    assert peak[1] < peak[0] + 15, peak


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,exc,msg",
    [
        (dict(model="unigram"), ValueError, "model"),
        (dict(score="best"), ValueError, "score"),
        (dict(pre_tokenizer="nope"), ValueError, "pre_tokenizer"),
        (dict(model="wordpiece", pre_tokenizer="gpt2"), ValueError, "wordpiece"),
        (dict(vocab_size=0), ValueError, "vocab_size"),
        (dict(vocab_size=-5), ValueError, "vocab_size"),
        (dict(vocab_size="big"), TypeError, "vocab_size"),
        (dict(min_frequency=-1), ValueError, "min_frequency"),
        (dict(limit_alphabet=0), ValueError, "limit_alphabet"),
        (dict(special_tokens="[CLS]"), TypeError, "special_tokens"),
        (dict(special_tokens=[""]), ValueError, "special"),
        (dict(model="wordpiece", special_tokens=["[CLS]"]), ValueError, "unk_token"),
        (dict(vocab_size=100), ValueError, "vocab_size 100 is smaller"),
        (dict(model="wordpiece", vocab_size=10), ValueError, "vocab_size 10 is smaller"),
    ],
)
def test_invalid_options(kwargs: dict, exc: type, msg: str) -> None:
    with pytest.raises(exc, match=msg):
        train_json(["some text here and there"] * 3, **{"show_progress": False, **kwargs})


# Whitespace-only text is empty for WordPiece (BERT splitting drops it) but not for byte-level
# BPE, where runs of whitespace are words.
@pytest.mark.parametrize(
    "model,corpus",
    [(m, c) for m in ("bpe", "wordpiece") for c in ([], [""], {}, {"a": 0})] + [("wordpiece", ["   \n\t \u3000"])],
)
def test_empty_corpus(corpus, model: str) -> None:
    with pytest.raises(ValueError, match="empty corpus"):
        train_json(corpus, model=model, vocab_size=300, show_progress=False, files=False if isinstance(corpus, list) else None)


def test_missing_file_is_named(corpus_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        train_json([str(corpus_file), str(missing)], vocab_size=300, show_progress=False)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        train_json(missing, vocab_size=300, show_progress=False)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        train_json([str(missing)], vocab_size=300, show_progress=False)  # looks like a file name
    with pytest.raises(FileNotFoundError, match="some text"):
        train_json(["some text", str(missing)], vocab_size=300, show_progress=False, files=True)


def test_unreadable_and_bad_files(tmp_path: Path) -> None:
    d = tmp_path / "dir"
    d.mkdir()
    with pytest.raises(OSError, match="dir"):
        train_json([d], vocab_size=300, show_progress=False)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9 ol\xe9\n" * 10)
    with pytest.raises(ValueError, match="latin1.txt.*UTF-8"):
        train_json([bad], vocab_size=300, show_progress=False)
    if os.geteuid() != 0:
        locked = tmp_path / "locked.txt"
        locked.write_text("x")
        locked.chmod(0)
        with pytest.raises(PermissionError, match="locked.txt"):
            train_json([locked], vocab_size=300, show_progress=False)


def test_bad_corpus_items() -> None:
    with pytest.raises(TypeError):
        train_json([b"bytes"], show_progress=False)
    with pytest.raises(TypeError):
        train_json(iter([1, 2]), show_progress=False)
    with pytest.raises(TypeError):
        train_json({"a": "many"}, show_progress=False)
    with pytest.raises(ValueError):
        train_json({"a": -1}, show_progress=False)


# ---------------------------------------------------------------- progress
def test_progress_callback_reports_stages(corpus_file: Path) -> None:
    calls: List[Tuple[str, int, int]] = []
    train_json([str(corpus_file)], model="bpe", vocab_size=2000, show_progress=False,
               progress_callback=lambda s, d, t: calls.append((s, d, t)))
    stages = [c[0] for c in calls]
    assert stages[0] == "count words"
    order = list(dict.fromkeys(stages))
    assert order == ["count words", "count pairs", "merge"]
    words = [c for c in calls if c[0] == "count words"]
    assert words[-1][1] == words[-1][2] == corpus_file.stat().st_size
    merges = [c for c in calls if c[0] == "merge"]
    assert merges[-1][1] == 2000 - 256 and merges[-1][2] == 2000 - 256
    assert all(a[1] <= b[1] for a, b in zip(merges, merges[1:]))
    assert len(calls) < 60  # throttled


def test_progress_callback_exception_aborts(corpus_file: Path) -> None:
    def boom(stage: str, done: int, total: int) -> None:
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        train_json([str(corpus_file)], vocab_size=2000, show_progress=False, progress_callback=boom)


_SNIPPET = """
import sys
from subtok.training import train_json
train_json([sys.argv[1]], model=sys.argv[2], vocab_size=1500, show_progress=sys.argv[3] == "1")
"""


def _run_on_pty(args: List[str]) -> str:
    import pty

    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        assert p.wait(timeout=120) == 0
        return b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(master)


@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_progress_bar_only_on_a_tty(corpus_file: Path, model: str) -> None:
    cmd = [sys.executable, "-c", _SNIPPET, str(corpus_file), model]
    out = _run_on_pty(cmd + ["1"])
    assert "merge" in out and "count words" in out and "100%" in out
    assert _run_on_pty(cmd + ["0"]) == ""  # show_progress=False: quiet on a terminal
    p = subprocess.run(cmd + ["1"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stderr == ""  # not a terminal: quiet


# ---------------------------------------------------------------- determinism
_DET = """
import hashlib, sys
from subtok.training import train_json
files = sys.argv[3:]
for model in ("bpe", "wordpiece"):
    for score in ("count", "likelihood"):
        j = train_json(files, model=model, score=score, vocab_size=int(sys.argv[1]), show_progress=False)
        print(model, score, hashlib.sha256(j.encode()).hexdigest())
"""


def test_deterministic_across_runs_and_threads(shared_dir: Path) -> None:
    files = [str(shared_dir / "corpora" / n) for n in CORPORA]
    outs = []
    for threads in ("1", "2", "2"):
        env = {**os.environ, "RAYON_NUM_THREADS": threads}
        p = subprocess.run([sys.executable, "-c", _DET, "6000", "x", *files], env=env, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout)
    assert len(outs[0].splitlines()) == 4
    assert outs[0] == outs[1] == outs[2]


# ---------------------------------------------------------------- exports and saving
def test_export_vocab_files(corpus_file: Path, tmp_path: Path) -> None:
    wp = train_json([str(corpus_file)], model="wordpiece", vocab_size=700, show_progress=False)
    (p,) = export_vocab_files(wp, tmp_path)
    assert Path(p).name == "vocab.txt"
    assert Path(p).read_text(encoding="utf-8").splitlines() == _vocab(wp)
    bpe = train_json([str(corpus_file)], model="bpe", vocab_size=700, show_progress=False)
    saved = tmp_path / "bpe.json"
    save_json(bpe, saved)
    pv, pm = export_vocab_files(saved, tmp_path, prefix="x")
    assert Path(pv).name == "x-vocab.json" and Path(pm).name == "x-merges.txt"
    assert json.loads(Path(pv).read_text(encoding="utf-8")) == json.loads(bpe)["model"]["vocab"]
    lines = Path(pm).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#version: 0.2"
    assert [l.split(" ") for l in lines[1:]] == json.loads(bpe)["model"]["merges"]
    # HF loads the classic files and encodes like the tokenizer.json.
    from tokenizers import ByteLevelBPETokenizer, Tokenizer

    a = ByteLevelBPETokenizer(pv, pm)
    b = Tokenizer.from_str(bpe)
    text = corpus_file.read_text(encoding="utf-8")[:5000]
    assert a.encode(text).ids == b.encode(text).ids
    # A missing directory is created; a path that is a file is an error.
    written = export_vocab_files(wp, tmp_path / "new" / "dir")
    assert [Path(w).name for w in written] == ["vocab.txt"] and Path(written[0]).is_file()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        export_vocab_files(wp, blocker)


def test_save_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "tok.json"
    target.write_text("old")
    with pytest.raises(OSError):
        save_json("new", tmp_path / "no-such-dir" / "tok.json")
    save_json("new", target)
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["tok.json"]


def test_default_corpus_trains() -> None:
    texts = default_corpus()
    assert sum(map(len, texts)) > 100_000
    j = train_json(texts, model="wordpiece", vocab_size=1200, show_progress=False)
    assert len(_vocab(j)) == 1200


_INTERRUPTIBLE = FRESH_SIGINT + """
import sys
from subtok.training import train_json
print("ready", flush=True)
while True:
    train_json(sys.argv[1:], model="wordpiece", vocab_size=200000, min_frequency=1, show_progress=False)
"""


def test_ctrl_c_interrupts_training(shared_dir: Path) -> None:
    import signal
    import time

    files = [str(shared_dir / "corpora" / n) for n in CORPORA]
    p = subprocess.Popen([sys.executable, "-c", _INTERRUPTIBLE, *files], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode != 0
    assert "KeyboardInterrupt" in err
    assert "PanicException" not in err and "internal error" not in err


def test_progress_bar_is_drawn_in_a_notebook(corpus_file: Path, monkeypatch) -> None:
    """In a Jupyter kernel stderr is not a TTY and the extension's own bar would not show: the bar
    is drawn from Python on the kernel's stream instead, and the caller's callback still runs."""
    import io
    import sys

    OutStream = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})
    stream = OutStream()
    monkeypatch.setattr(sys, "stderr", stream)
    calls: List[str] = []
    train_json([str(corpus_file)], vocab_size=2000, progress_callback=lambda s, d, t: calls.append(s))
    out = stream.getvalue()
    assert "\rcount words [" in out and "\rmerge [" in out and out.endswith("\n")
    assert "merge" in calls
    plain = io.StringIO()  # a log file or pipe: silent
    monkeypatch.setattr(sys, "stderr", plain)
    train_json([str(corpus_file)], vocab_size=2000)
    assert plain.getvalue() == ""
