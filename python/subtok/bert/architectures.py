"""The BERT family members the NumPy encoder loads, dispatched on ``config.json``'s ``model_type``.

* ``bert``: the reference layout (keys under ``bert.`` in head checkpoints).
* ``roberta`` (also ``xlm-roberta``, ``camembert``): BERT's key names under ``roberta.``, one token
  type, and position ids that start at ``padding_idx + 1`` and skip padding tokens
  (``cumsum(input_ids != pad) * (input_ids != pad) + pad``, as transformers' ``RobertaEmbeddings``).
* ``distilbert``: no token types, no pooler, its own key names (``transformer.layer.N.attention.q_lin``
  ...) and config keys (``dim``, ``n_layers``, ``n_heads``, ``hidden_dim``, ``activation``).

:func:`canonical_name` maps a checkpoint key to the BERT name the encoder reads.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Optional, Tuple

#: ``model_type`` values and the family whose layout they use.
MODEL_TYPES = {
    "bert": "bert",
    "roberta": "roberta",
    "xlm-roberta": "roberta",
    "camembert": "roberta",
    "distilbert": "distilbert",
}

#: Prefix of the encoder's keys in head checkpoints, per family.
BASE_PREFIXES = {"bert": "bert.", "roberta": "roberta.", "distilbert": "distilbert."}

#: Top-level prefixes of the heads of each family (ignored when only the encoder is loaded).
HEAD_PREFIXES = {
    "bert": ("cls.", "classifier.", "qa_outputs."),
    "roberta": ("lm_head.", "classifier.", "qa_outputs."),
    "distilbert": ("vocab_transform.", "vocab_layer_norm.", "vocab_projector.", "pre_classifier.", "classifier.",
                   "qa_outputs."),
}

#: Architecture class-name prefixes accepted in ``architectures``.
ARCHITECTURE_PREFIXES = ("Bert", "Roberta", "XLMRoberta", "Camembert", "DistilBert")

_DISTIL_LAYER = {
    "attention.q_lin": "attention.self.query",
    "attention.k_lin": "attention.self.key",
    "attention.v_lin": "attention.self.value",
    "attention.out_lin": "attention.output.dense",
    "sa_layer_norm": "attention.output.LayerNorm",
    "ffn.lin1": "intermediate.dense",
    "ffn.lin2": "output.dense",
    "output_layer_norm": "output.LayerNorm",
}
_DISTIL_RE = re.compile(r"^transformer\.layer\.(\d+)\.(.+)\.(weight|bias)$")

#: DistilBERT ``config.json`` keys -> BERT's.
_DISTIL_CONFIG = {
    "dim": "hidden_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "hidden_dim": "intermediate_size",
    "activation": "hidden_act",
}


def family(model_type: Optional[str]) -> str:
    """The layout family (``bert``, ``roberta``, ``distilbert``) of a ``model_type``."""
    if model_type is None:
        return "bert"
    try:
        return MODEL_TYPES[model_type]
    except KeyError:
        raise ValueError(
            f"unsupported model_type {model_type!r}: supported: {', '.join(MODEL_TYPES)}"
        ) from None


def bert_config_dict(d: Dict[str, Any]) -> Dict[str, Any]:
    """A ``config.json`` dict with DistilBERT's keys renamed to BERT's (others unchanged)."""
    if d.get("model_type") != "distilbert":
        return d
    out = {_DISTIL_CONFIG.get(k, k): v for k, v in d.items()}
    out.setdefault("type_vocab_size", 1)
    out.setdefault("layer_norm_eps", 1e-12)
    return out


def canonical_name(name: str, fam: str) -> Tuple[str, bool]:
    """``(BERT key, is_base)``: the checkpoint key ``name`` as the encoder names it, and whether
    it carried the family's base-model prefix (``bert.``/``roberta.``/``distilbert.``)."""
    prefix = BASE_PREFIXES[fam]
    based = name.startswith(prefix)
    if based:
        name = name[len(prefix) :]
    if fam == "distilbert":
        m = _DISTIL_RE.match(name)
        if m and m.group(2) in _DISTIL_LAYER:
            name = f"encoder.layer.{m.group(1)}.{_DISTIL_LAYER[m.group(2)]}.{m.group(3)}"
    return name, based
