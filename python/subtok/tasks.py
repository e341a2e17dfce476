"""What BERT is for, as small helpers over the NumPy heads and a tokenizer.

* :func:`answer` - extractive QA over long contexts (overflow windows, best valid span).
* :func:`tag_tokens` - word-level labels from the first sub-token of each word.
* :func:`classify` / :func:`classify_pairs` - ``[CLS]`` (pair) classification with ``config.id2label``.
* :func:`fill_mask` - top-k candidates for each ``[MASK]``.
* :class:`LinearProbe` - a softmax classifier trained in NumPy on frozen features
  (e.g. :class:`subtok.SentenceEncoder` embeddings).
* :func:`pretraining_loss` - MLM + NSP losses of a :class:`~subtok.bert.BertForPreTraining` on a batch
  in the ``create_pretraining_data`` layout (``masked_lm_positions``/``ids``/``weights``).

The tokenizer is a :class:`subtok.Tokenizer` (or anything with the same API: ``tok(...,
return_tensors="np")`` returning numpy arrays as ``BertTokenizerFast`` does, and ``tok.encode(text)`` returning
an ``Encoding`` with ``ids``, ``type_ids``, ``offsets`` and ``word_ids``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, List, Optional, Sequence, Tuple

import numpy as np

from subtok.bert.ops import log_softmax, softmax


# ---------------------------------------------------------------------------------- helpers
def _config(model: Any) -> Any:
    cfg = getattr(model, "config", None)
    if cfg is None:
        raise TypeError("model must have a .config (a subtok.bert model)")
    return cfg


def _run(model: Any, batch: Any) -> Any:
    return model(
        np.asarray(batch["input_ids"]),
        attention_mask=np.asarray(batch["attention_mask"]),
        token_type_ids=np.asarray(batch["token_type_ids"]) if "token_type_ids" in batch else None,
    )


def _id_to_token(tokenizer: Any, i: int) -> str:
    if hasattr(tokenizer, "id_to_token"):
        t = tokenizer.id_to_token(int(i))
    else:
        t = tokenizer.convert_ids_to_tokens(int(i))
    return "" if t is None else str(t)


def _max_length(model: Any, max_length: Optional[int]) -> int:
    limit = int(_config(model).max_position_embeddings)
    return limit if max_length is None else min(int(max_length), limit)


# ---------------------------------------------------------------------------------- QA
@dataclass
class Answer:
    """An extracted answer: ``context[start:end] == text``; ``score`` = p(start) * p(end)."""

    text: str
    start: int
    end: int
    score: float


def best_span(
    start_logits: np.ndarray, end_logits: np.ndarray, allowed: np.ndarray, max_answer_length: int
) -> Tuple[int, int, float]:
    """The best span ``(s, e, score)`` over positions where ``allowed`` is true.

    Valid spans have ``s <= e``, both allowed, and ``e - s + 1 <= max_answer_length``. The score is
    ``softmax(start)[s] * softmax(end)[e]`` with both softmaxes taken over the allowed positions.
    Returns ``(-1, -1, 0.0)`` when no position is allowed.
    """
    idx = np.flatnonzero(allowed)
    if idx.size == 0 or max_answer_length < 1:
        return -1, -1, 0.0
    ps = softmax(np.asarray(start_logits, dtype=np.float32)[idx])
    pe = softmax(np.asarray(end_logits, dtype=np.float32)[idx])
    scores = np.outer(ps, pe)
    # positions in idx are increasing; forbid e < s and spans longer than the limit (in tokens)
    pos = idx[:, None]
    span = idx[None, :] - pos
    scores[(span < 0) | (span >= max_answer_length)] = -1.0
    flat = int(np.argmax(scores))
    i, j = divmod(flat, idx.size)
    if scores[i, j] < 0:
        return -1, -1, 0.0
    return int(idx[i]), int(idx[j]), float(scores[i, j])


def answer(
    question: str,
    context: str,
    model: Any,
    tokenizer: Any,
    max_answer_length: int = 30,
    stride: int = 128,
    max_length: Optional[int] = 384,
) -> Answer:
    """Answer ``question`` from ``context`` with a :class:`~subtok.bert.BertForQuestionAnswering`.

    The context is split into overlapping windows of at most ``max_length`` tokens (clipped to the
    model's ``max_position_embeddings``) sharing ``stride`` tokens (reduced to half the window's
    context budget when the window is too small for it). In every window only context tokens
    (segment 1, not special) can start or end the answer; the best valid span across windows wins.
    """
    if not isinstance(question, str) or not isinstance(context, str):
        raise TypeError("question and context must be strings")
    if max_answer_length < 1:
        raise ValueError("max_answer_length must be >= 1")
    if stride < 0:
        raise ValueError("stride must be >= 0")
    L = _max_length(model, max_length)
    q_len = int(np.asarray(tokenizer(question, return_tensors="np")["input_ids"]).shape[-1]) - 2  # without [CLS]/[SEP]
    budget = L - q_len - 3
    if budget < 1:
        raise ValueError(f"the question ({q_len} tokens) leaves no room for context in {L}-token windows")
    if stride >= budget:
        stride = budget // 2
    batch = tokenizer(
        question,
        context,
        truncation="only_second",
        max_length=L,
        stride=stride,
        padding=True,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_tensors="np",
    )
    out = _run(model, batch)
    tt = np.asarray(batch["token_type_ids"])
    special = np.asarray(batch["special_tokens_mask"])
    att = np.asarray(batch["attention_mask"])
    offsets = np.asarray(batch["offset_mapping"])
    ctx_mask = (tt == 1) & (special == 0) & (att == 1)
    best = Answer("", 0, 0, 0.0)
    found = False
    for w in range(ctx_mask.shape[0]):
        s, e, score = best_span(out.start_logits[w], out.end_logits[w], ctx_mask[w], max_answer_length)
        if s < 0:
            continue
        if not found or score > best.score:
            cs, ce = int(offsets[w, s, 0]), int(offsets[w, e, 1])
            best = Answer(context[cs:ce], cs, ce, score)
            found = True
    if not found:
        raise ValueError("the context has no tokens to answer from")
    return best


# ---------------------------------------------------------------------------------- tagging
@dataclass
class TaggedWord:
    """A word of the input with its label (from the word's first sub-token)."""

    word: str
    start: int
    end: int
    label: str
    score: float


def tag_tokens(text: str, model: Any, tokenizer: Any) -> List[TaggedWord]:
    """Label each word of ``text`` with a :class:`~subtok.bert.BertForTokenClassification`.

    The label of a word is the argmax at its first sub-token (``word_ids``); ``score`` is that
    label's softmax probability; the word's span covers all its sub-tokens.
    """
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    enc = tokenizer.encode(text)
    ids = np.asarray(enc.ids, dtype=np.int64)[None]
    tt = np.asarray(enc.type_ids, dtype=np.int64)[None]
    mask = np.ones_like(ids)
    logits = model(ids, attention_mask=mask, token_type_ids=tt).logits[0]
    probs = softmax(logits)
    cfg = _config(model)
    words: List[TaggedWord] = []
    first: dict = {}
    for pos, w in enumerate(enc.word_ids):
        if w is None:
            continue
        s, e = enc.offsets[pos]
        if w not in first:
            first[w] = len(words)
            k = int(np.argmax(logits[pos]))
            words.append(TaggedWord("", int(s), int(e), cfg.label_name(k), float(probs[pos, k])))
        else:
            tw = words[first[w]]
            tw.start, tw.end = min(tw.start, int(s)), max(tw.end, int(e))
    for tw in words:
        tw.word = text[tw.start : tw.end]
    return words


# ---------------------------------------------------------------------------------- classification
@dataclass
class Prediction:
    """A classification: the best ``label`` (via ``config.id2label``), its probability, all probabilities."""

    label: str
    score: float
    label_id: int
    probabilities: np.ndarray


def _predictions(model: Any, logits: np.ndarray) -> List[Prediction]:
    cfg = _config(model)
    probs = softmax(logits)
    out = []
    for row in probs:
        k = int(np.argmax(row))
        out.append(Prediction(cfg.label_name(k), float(row[k]), k, row))
    return out


def classify(texts: Sequence[str], model: Any, tokenizer: Any, max_length: Optional[int] = None) -> List[Prediction]:
    """Classify single sentences with a :class:`~subtok.bert.BertForSequenceClassification`."""
    if isinstance(texts, str):
        texts = [texts]
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=_max_length(model, max_length),
                      return_tensors="np")
    return _predictions(model, _run(model, batch).logits)


def classify_pairs(
    pairs: Sequence[Tuple[str, str]], model: Any, tokenizer: Any, max_length: Optional[int] = None
) -> List[Prediction]:
    """Classify ``[CLS] A [SEP] B [SEP]`` pairs (entailment, paraphrase, ...)."""
    if isinstance(pairs, tuple) and len(pairs) == 2 and all(isinstance(p, str) for p in pairs):
        pairs = [pairs]
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    for x in a + b:
        if not isinstance(x, str):
            raise TypeError("pairs must be (str, str) tuples")
    batch = tokenizer(a, b, padding=True, truncation=True, max_length=_max_length(model, max_length),
                      return_tensors="np")
    return _predictions(model, _run(model, batch).logits)


# ---------------------------------------------------------------------------------- fill-mask
@dataclass
class MaskCandidate:
    token_id: int
    token: str
    score: float
    sequence: str


def fill_mask(text: str, model: Any, tokenizer: Any, top_k: int = 5) -> List[List[MaskCandidate]]:
    """Top-``k`` candidates (by probability) for each ``[MASK]`` in ``text``, left to right.

    ``model`` is a :class:`~subtok.bert.BertForMaskedLM` or :class:`~subtok.bert.BertForPreTraining`.
    Each candidate's ``sequence`` is the decoded text with that mask filled in.
    """
    if top_k < 1:
        raise ValueError("top_k must be >= 1")
    mask_id = getattr(tokenizer, "mask_token_id", None)
    if mask_id is None:
        raise ValueError("the tokenizer has no [MASK] token")
    batch = tokenizer(text, return_tensors="np")
    ids = np.asarray(batch["input_ids"])
    positions = np.flatnonzero(ids[0] == mask_id)
    if positions.size == 0:
        raise ValueError("the text contains no mask token")
    out = _run(model, batch)
    logits = out.logits if hasattr(out, "logits") else out.prediction_logits
    results = []
    for p in positions:
        lp = log_softmax(logits[0, p])
        k = min(top_k, lp.size)
        top = np.argpartition(-lp, k - 1)[:k]
        top = top[np.argsort(-lp[top], kind="stable")]
        cands = []
        for t in top:
            filled = ids[0].copy()
            filled[p] = t
            cands.append(
                MaskCandidate(int(t), _id_to_token(tokenizer, int(t)), float(np.exp(lp[t])),
                              tokenizer.decode([int(x) for x in filled], skip_special_tokens=True))
            )
        results.append(cands)
    return results


# ---------------------------------------------------------------------------------- linear probe
class LinearProbe:
    """Multinomial logistic regression (softmax classifier) trained in NumPy.

    Full-batch Adam on the L2-regularized mean cross-entropy; features are standardized with the
    training mean/std. Labels may be any hashable values (``classes_`` holds them sorted).
    """

    def __init__(self, l2: float = 1e-4, lr: float = 0.05, epochs: int = 300, seed: int = 0) -> None:
        self.l2, self.lr, self.epochs, self.seed = float(l2), float(lr), int(epochs), int(seed)
        self.classes_: List[Hashable] = []
        self.W: Optional[np.ndarray] = None
        self.b: Optional[np.ndarray] = None
        self.mean_: Optional[np.ndarray] = None
        self.std_: Optional[np.ndarray] = None
        self.loss_history: List[float] = []

    def _prep(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"features must be 2-D (n, dim), got shape {X.shape}")
        return (X - self.mean_) / self.std_

    def loss_and_grad(self, X: np.ndarray, Y: np.ndarray, W: np.ndarray, b: np.ndarray) -> Tuple[float, np.ndarray, np.ndarray]:
        """Loss and gradients for standardized ``X`` (n, d) and class indices ``Y`` (n,)."""
        n = X.shape[0]
        lp = log_softmax(X @ W + b)
        loss = -float(lp[np.arange(n), Y].astype(np.float64).mean()) + 0.5 * self.l2 * float((W.astype(np.float64) ** 2).sum())
        g = np.exp(lp)
        g[np.arange(n), Y] -= 1.0
        g /= n
        return loss, X.T @ g + self.l2 * W, g.sum(axis=0)

    def fit(self, X: np.ndarray, y: Sequence[Hashable]) -> "LinearProbe":
        X = np.asarray(X, dtype=np.float32)
        y = list(y)
        if X.ndim != 2 or X.shape[0] != len(y) or len(y) == 0:
            raise ValueError(f"need features (n, dim) and n labels, got {X.shape} and {len(y)} labels")
        self.classes_ = sorted(set(y), key=lambda c: (str(type(c)), c))
        if len(self.classes_) < 2:
            raise ValueError("need at least two classes")
        index = {c: i for i, c in enumerate(self.classes_)}
        Y = np.array([index[c] for c in y], dtype=np.int64)
        self.mean_ = X.mean(axis=0)
        self.std_ = X.std(axis=0) + np.float32(1e-6)
        Xs = self._prep(X)
        d, C = X.shape[1], len(self.classes_)
        rng = np.random.default_rng(self.seed)
        W = (rng.standard_normal((d, C)) * 0.01).astype(np.float32)
        b = np.zeros(C, dtype=np.float32)
        mW, vW, mb, vb = np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)
        b1, b2, eps = 0.9, 0.999, 1e-8
        self.loss_history = []
        for t in range(1, self.epochs + 1):
            loss, gW, gb = self.loss_and_grad(Xs, Y, W, b)
            self.loss_history.append(loss)
            mW = b1 * mW + (1 - b1) * gW
            vW = b2 * vW + (1 - b2) * gW * gW
            mb = b1 * mb + (1 - b1) * gb
            vb = b2 * vb + (1 - b2) * gb * gb
            c1, c2 = 1 - b1**t, 1 - b2**t
            W -= (self.lr * (mW / c1) / (np.sqrt(vW / c2) + eps)).astype(np.float32)
            b -= (self.lr * (mb / c1) / (np.sqrt(vb / c2) + eps)).astype(np.float32)
        self.W, self.b = W, b
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.W is None:
            raise ValueError("the probe is not fitted")
        return softmax(self._prep(X) @ self.W + self.b)

    def predict(self, X: np.ndarray) -> List[Hashable]:
        return [self.classes_[i] for i in np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X: np.ndarray, y: Sequence[Hashable]) -> float:
        """Accuracy on ``(X, y)``."""
        pred = self.predict(X)
        y = list(y)
        if len(y) != len(pred):
            raise ValueError("X and y have different lengths")
        return float(np.mean([p == t for p, t in zip(pred, y)])) if y else float("nan")


# ---------------------------------------------------------------------------------- pretraining
def mlm_labels_from_positions(
    input_ids: np.ndarray, masked_lm_positions: np.ndarray, masked_lm_ids: np.ndarray,
    masked_lm_weights: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Google-style ``masked_lm_positions/ids/weights`` (B, P) -> transformers-style labels (B, T).

    Positions with weight 0 (padding of the prediction list) are ignored; every other position of
    the result is -100.
    """
    ids = np.asarray(input_ids)
    pos = np.asarray(masked_lm_positions, dtype=np.int64)
    lab = np.asarray(masked_lm_ids, dtype=np.int64)
    if ids.ndim != 2 or pos.shape != lab.shape or pos.ndim != 2 or pos.shape[0] != ids.shape[0]:
        raise ValueError(
            f"expected input_ids (B, T) and masked_lm_positions/ids (B, P); got {ids.shape}, {pos.shape}, {lab.shape}"
        )
    w = np.ones(pos.shape, dtype=bool) if masked_lm_weights is None else np.asarray(masked_lm_weights) > 0
    if w.shape != pos.shape:
        raise ValueError(f"masked_lm_weights shape {w.shape} differs from masked_lm_positions {pos.shape}")
    if np.any(w & ((pos < 0) | (pos >= ids.shape[1]))):
        raise ValueError("masked_lm_positions outside the sequence")
    labels = np.full(ids.shape, -100, dtype=np.int64)
    rows = np.broadcast_to(np.arange(ids.shape[0])[:, None], pos.shape)
    labels[rows[w], pos[w]] = lab[w]
    return labels


def pretraining_loss(model: Any, batch: Any) -> Any:
    """Run a :class:`~subtok.bert.BertForPreTraining` on a pretraining batch and return its output.

    ``batch`` holds ``input_ids``, ``token_type_ids``, ``attention_mask``, ``masked_lm_positions``,
    ``masked_lm_ids``, ``masked_lm_weights`` and ``next_sentence_labels`` (1 = random next), as
    ``subtok.pretraining.create_pretraining_data`` returns them. The output carries ``mlm_loss``,
    ``nsp_loss`` and their sum ``loss``.
    """
    labels = mlm_labels_from_positions(
        batch["input_ids"], batch["masked_lm_positions"], batch["masked_lm_ids"], batch.get("masked_lm_weights")
    )
    return model(
        np.asarray(batch["input_ids"]),
        attention_mask=np.asarray(batch["attention_mask"]),
        token_type_ids=np.asarray(batch["token_type_ids"]),
        labels=labels,
        next_sentence_label=np.asarray(batch["next_sentence_labels"]).reshape(-1),
    )
