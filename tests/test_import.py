"""`import subtok` stays light: the NumPy encoder (subtok.bert, which may pull in SciPy) and the
Dask helpers load on first use of their names, not at import."""
from __future__ import annotations

import subprocess
import sys
from typing import List

import subtok

HEAVY = ("subtok.bert", "scipy", "subtok.dask", "dask", "subtok.embeddings")


def _imported_modules(code: str) -> List[str]:
    """Modules that `python -X importtime -c code` reports importing, in order."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    names = []
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.append(name)
    return names


def test_import_subtok_loads_no_encoder_scipy_or_dask() -> None:
    names = _imported_modules("import subtok")
    assert "subtok" in names and "subtok._core" in names
    heavy = [n for n in names if n.split(".")[0] in ("scipy", "dask") or n.startswith(HEAVY)]
    assert heavy == [], f"import subtok imported {heavy}"


def test_the_check_sees_a_lazy_import() -> None:
    # The same check on code that does touch the encoder must see subtok.bert.
    names = _imported_modules("import subtok; subtok.BertModel")
    assert "subtok.bert.model" in names


def test_lazy_names_resolve_to_their_modules() -> None:
    import subtok.bert
    import subtok.embeddings

    assert subtok.BertModel is subtok.bert.BertModel
    assert subtok.BertForQuestionAnswering is subtok.bert.BertForQuestionAnswering
    assert subtok.SentenceEncoder is subtok.embeddings.SentenceEncoder
    assert set(subtok.__all__) <= set(dir(subtok))
    for name in subtok.__all__:
        assert getattr(subtok, name) is not None


def test_namespace_has_only_public_names() -> None:
    assert not hasattr(subtok, "annotations")  # no `from __future__ import annotations` leak
    public = {n for n in dir(subtok) if not n.startswith("_")}
    assert public <= set(subtok.__all__) | {"bert", "embeddings", "tokenizer", "training", "cli", "inputs",
                                             "pretraining", "tasks", "dask"}
    try:
        subtok.no_such_name
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("expected AttributeError")
