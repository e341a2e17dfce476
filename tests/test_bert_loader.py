"""Checkpoint loading: safetensors (memory-mapped) and pytorch_model.bin (restricted unpickler)."""
from __future__ import annotations

import json
import os
import pickle
import struct

import numpy as np
import pytest

from _bert_helpers import TINY, make_checkpoint, read_reference_tensors, write_pickle_bin, write_torch_bin
from subtok.bert import BertForSequenceClassification, BertModel, UnsafeCheckpointError, load_pytorch_bin, load_safetensors



@pytest.fixture(scope="module")
def expected():
    return dict(np.load(TINY / "expected.npz"))


@pytest.fixture(scope="module")
def pt_tensors():
    return read_reference_tensors(TINY / "pretraining")


def _run(model, e):
    return model(e["input_ids"], e["attention_mask"], e["token_type_ids"])


def _check_base(model, e, tol=1e-5):
    out = _run(model, e)
    valid = e["attention_mask"].astype(bool)
    assert np.abs(out.last_hidden_state[valid] - e["base.last_hidden_state"][valid]).max() <= tol
    np.testing.assert_allclose(out.pooler_output, e["base.pooler_output"], atol=tol, rtol=0)


def test_safetensors_reader_matches_safetensors_package(pt_tensors):
    mine = load_safetensors(TINY / "pretraining" / "model.safetensors")
    assert set(mine) == set(pt_tensors)
    for k, v in pt_tensors.items():
        assert mine[k].dtype == v.dtype and mine[k].shape == v.shape
        np.testing.assert_array_equal(mine[k], v)
    # memory-mapped, not copied
    w = mine["bert.embeddings.word_embeddings.weight"]
    assert not w.flags.owndata and not w.flags.writeable


@pytest.mark.parametrize("kw", [{}, {"transpose_2d": True}, {"prefix": "pytorch_model"}])
def test_pytorch_bin_without_torch(tmp_path, pt_tensors, expected, kw):
    d = make_checkpoint(tmp_path / "bin", pt_tensors, TINY / "pretraining", fmt="bin", **kw)
    state = load_pytorch_bin(d / "pytorch_model.bin")
    for k, v in pt_tensors.items():
        np.testing.assert_array_equal(state[k], v)
    _check_base(BertModel.from_pretrained(d), expected)


def test_pytorch_bin_written_by_torch(tmp_path, pt_tensors, expected):
    torch = pytest.importorskip("torch")
    d = tmp_path / "torch"
    d.mkdir()
    (d / "config.json").write_text((TINY / "pretraining" / "config.json").read_text())
    sd = {k: torch.from_numpy(np.array(v)) for k, v in pt_tensors.items()}
    sd["bert.pooler.dense.weight"] = sd["bert.pooler.dense.weight"].t().contiguous().t()  # non-contiguous
    sd["bert.pooler.dense.weight"] = torch.nn.Parameter(sd["bert.pooler.dense.weight"])
    torch.save(sd, d / "pytorch_model.bin")
    _check_base(BertModel.from_pretrained(d), expected)
    torch.save({k: v.to(torch.bfloat16) for k, v in sd.items()}, d / "pytorch_model.bin")
    state = load_pytorch_bin(d / "pytorch_model.bin")
    w = state["bert.embeddings.word_embeddings.weight"]
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, sd["bert.embeddings.word_embeddings.weight"].to(torch.bfloat16).float().numpy())


def _bf16_round_trip(x):
    return ((x.view(np.uint32) >> 16) << 16).view(np.float32)


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_half_precision_is_upcast(tmp_path, pt_tensors, fmt):
    f16 = {k: v.astype(np.float16) for k, v in pt_tensors.items()}
    d = make_checkpoint(tmp_path / "f16", f16, TINY / "pretraining", fmt=fmt)
    m = BertModel.from_pretrained(d)
    assert m.word_embeddings.dtype == np.float32
    np.testing.assert_array_equal(m.word_embeddings, f16["bert.embeddings.word_embeddings.weight"].astype(np.float32))
    d = make_checkpoint(tmp_path / "bf16", pt_tensors, TINY / "pretraining", fmt=fmt, bf16=True)
    m = BertModel.from_pretrained(d)
    assert m.word_embeddings.dtype == np.float32
    np.testing.assert_array_equal(m.word_embeddings, _bf16_round_trip(pt_tensors["bert.embeddings.word_embeddings.weight"]))


def test_keys_without_prefix_and_old_layernorm_names(tmp_path, pt_tensors, expected):
    renamed = {}
    for k, v in pt_tensors.items():
        if not k.startswith("bert."):
            continue  # a bare BertModel checkpoint has no heads
        k = k[len("bert."):]
        if k.endswith("LayerNorm.weight"):
            k = k[: -len("weight")] + "gamma"
        elif k.endswith("LayerNorm.bias"):
            k = k[: -len("bias")] + "beta"
        renamed[k] = v
    renamed["embeddings.position_ids"] = np.arange(64, dtype=np.int64)[None]  # a buffer, ignored
    d = make_checkpoint(tmp_path / "old", renamed, TINY / "pretraining", fmt="safetensors")
    _check_base(BertModel.from_pretrained(d), expected)


def test_missing_and_unexpected_weights_are_listed(tmp_path, pt_tensors):
    t = dict(pt_tensors)
    del t["bert.encoder.layer.1.output.dense.bias"]
    t["bert.encoder.layer.0.attention.self.extra.weight"] = np.zeros(3, np.float32)
    d = make_checkpoint(tmp_path / "bad", t, TINY / "pretraining", fmt="safetensors")
    with pytest.raises(ValueError) as ei:
        BertModel.from_pretrained(d)
    msg = str(ei.value)
    assert "missing weights: encoder.layer.1.output.dense.bias" in msg
    assert "unexpected weights: encoder.layer.0.attention.self.extra.weight" in msg


def test_classifier_head_required(tmp_path, pt_tensors):
    # the pretraining checkpoint has no classifier.* weights
    d = make_checkpoint(tmp_path / "nocls", pt_tensors, TINY / "sequence-classification", fmt="safetensors")
    with pytest.raises(ValueError, match="classifier.weight"):
        BertForSequenceClassification.from_pretrained(d)


def test_wrong_shape_is_a_value_error(tmp_path, pt_tensors):
    t = dict(pt_tensors)
    t["bert.pooler.dense.bias"] = np.zeros(63, np.float32)
    d = make_checkpoint(tmp_path / "shape", t, TINY / "pretraining", fmt="safetensors")
    with pytest.raises(ValueError, match="pooler.dense.bias"):
        BertModel.from_pretrained(d)


# ------------------------------------------------------------------ hostile files
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_malicious_pickle_is_rejected_without_running(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"bert.embeddings.word_embeddings.weight": _Evil(marker)}, protocol=protocol)
    p = tmp_path / "pytorch_model.bin"
    write_pickle_bin(p, payload)
    with pytest.raises(UnsafeCheckpointError, match=r"posix\.system|os\.system"):
        load_pytorch_bin(p)
    assert not marker.exists()
    # also through the model loader, as a ValueError naming the global
    (tmp_path / "config.json").write_text((TINY / "pretraining" / "config.json").read_text())
    with pytest.raises(ValueError, match="refusing to load global"):
        BertModel.from_pretrained(tmp_path)
    assert not marker.exists()


def test_builtins_eval_is_rejected(tmp_path):
    payload = b"cbuiltins\neval\n(S'__import__(\"os\").getcwd()'\ntR."
    p = tmp_path / "x.bin"
    write_pickle_bin(p, payload)
    with pytest.raises(UnsafeCheckpointError, match="builtins.eval"):
        load_pytorch_bin(p)


def test_malformed_files(tmp_path):
    p = tmp_path / "model.safetensors"
    p.write_bytes(b"\x01")
    with pytest.raises(ValueError):
        load_safetensors(p)
    p.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(ValueError, match="header length"):
        load_safetensors(p)
    p.write_bytes(struct.pack("<Q", 5) + b"nope!")
    with pytest.raises(ValueError, match="JSON"):
        load_safetensors(p)
    hdr = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 64]}}).encode()
    p.write_bytes(struct.pack("<Q", len(hdr)) + hdr + b"\0" * 16)
    with pytest.raises(ValueError, match="data_offsets"):
        load_safetensors(p)
    b = tmp_path / "pytorch_model.bin"
    b.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="zip"):
        load_pytorch_bin(b)
    write_pickle_bin(b, b"\x80\x02}q\x00")  # truncated pickle
    with pytest.raises(ValueError, match="malformed"):
        load_pytorch_bin(b)


def test_storage_overrun_is_detected(tmp_path, pt_tensors):
    # declare a larger shape than the storage holds
    p = tmp_path / "over.bin"
    write_torch_bin(p, {"w": np.zeros(4, np.float32)})
    import zipfile

    with zipfile.ZipFile(p) as zf:
        pkl = zf.read("archive/data.pkl")
        data = zf.read("archive/data/0")
    pkl = pkl.replace(b"K\x04\x85", b"K\x09\x85")  # size (4,) -> (9,)
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/data/0", data)
    with pytest.raises(ValueError, match="overruns"):
        load_pytorch_bin(p)
