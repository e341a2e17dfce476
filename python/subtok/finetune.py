"""Fine-tune every parameter of a NumPy BERT (and pretrain one), without PyTorch.

:func:`fit` trains a head model (:class:`~subtok.bert.BertForSequenceClassification`,
``BertForTokenClassification``, ``BertForQuestionAnswering``) on examples of its task with AdamW,
linear warmup and decay, gradient clipping and dropout, as transformers' ``Trainer`` does by
default; after each epoch it evaluates, prints one metrics line, and saves the best model.
:func:`pretrain` runs masked-LM + next-sentence training on ``create_pretraining_data`` instances
with dynamic masking.

Examples (``train`` / ``eval``):

* sequence classification: ``(text, label)`` or ``(text, text_pair, label)``; labels are ints or
  names (``model.config.label2id`` maps names, else they are numbered in sorted order);
* token classification: ``(words, tags)``; words are joined with spaces, the first sub-token of
  each word carries its tag, the others are ignored (-100), as in transformers' examples;
* question answering: ``{"question", "context", "answer_start", "answer_text"}`` (character
  offset); contexts are split into windows with ``stride``, windows without the answer point at
  ``[CLS]``.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Hashable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from subtok._progress import ProgressBar
from subtok.bert.optim import AdamW, LinearWarmupSchedule, clip_grad_norm

PathLike = Union[str, "os.PathLike[str]"]
Batch = Dict[str, np.ndarray]


@dataclass
class FitResult:
    """What :func:`fit` / :func:`pretrain` did: one dict of metrics per epoch (``loss`` is the mean
    training loss), the best evaluation metric and its epoch (1-based; 0 without evaluation)."""

    history: List[Dict[str, float]] = field(default_factory=list)
    best_metric: float = float("nan")
    best_epoch: int = 0
    metric_name: str = ""


# ---------------------------------------------------------------------------------- metrics
def accuracy(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> float:
    """Share of equal items."""
    if len(pred) != len(gold):
        raise ValueError("pred and gold differ in length")
    return float(np.mean([p == g for p, g in zip(pred, gold)])) if gold else float("nan")


def macro_f1(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> float:
    """Unweighted mean over the gold classes of the per-class F1."""
    if len(pred) != len(gold):
        raise ValueError("pred and gold differ in length")
    scores = []
    for c in sorted(set(gold), key=repr):
        tp = sum(1 for p, g in zip(pred, gold) if p == c and g == c)
        fp = sum(1 for p, g in zip(pred, gold) if p == c and g != c)
        fn = sum(1 for p, g in zip(pred, gold) if p != c and g == c)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def _normalize_answer(s: str) -> List[str]:
    import re
    import string

    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return s.split()


def squad_scores(pred: str, gold: str) -> Tuple[float, float]:
    """SQuAD exact match and token F1 of one answer (lowercased, punctuation and articles removed)."""
    p, g = _normalize_answer(pred), _normalize_answer(gold)
    em = float(p == g)
    common: Dict[str, int] = {}
    for t in p:
        common[t] = common.get(t, 0) + 1
    overlap = 0
    for t in g:
        if common.get(t, 0) > 0:
            overlap += 1
            common[t] -= 1
    if not p or not g:
        return em, float(p == g)
    if overlap == 0:
        return em, 0.0
    prec, rec = overlap / len(p), overlap / len(g)
    return em, 2 * prec * rec / (prec + rec)


# ---------------------------------------------------------------------------------- tasks
def _kind(model: Any) -> str:
    name = type(model).__name__
    kinds = {"BertForSequenceClassification": "seq", "BertForTokenClassification": "tok",
             "BertForQuestionAnswering": "qa"}
    for cls in type(model).__mro__:
        if cls.__name__ in kinds:
            return kinds[cls.__name__]
    raise TypeError(f"fit() trains BertForSequenceClassification, BertForTokenClassification or "
                    f"BertForQuestionAnswering models, not {name}")


def _label_index(model: Any, labels: Sequence[Hashable]) -> Dict[Hashable, int]:
    """Label -> class index: ints as they are, names through ``config.label2id`` or sorted order."""
    names = [y for y in labels if not isinstance(y, (int, np.integer))]
    if not names:
        return {}
    l2i = dict(model.config.label2id or {})
    if all(str(y) in l2i for y in names) and not all(k.startswith("LABEL_") for k in l2i):
        return {y: l2i[str(y)] for y in set(names)}
    return {y: i for i, y in enumerate(sorted(set(names), key=str))}


def _cls_index(index: Dict[Hashable, int], y: Hashable, n: int) -> int:
    i = int(y) if isinstance(y, (int, np.integer)) else index[y]
    if not 0 <= i < n:
        raise ValueError(f"label {y!r} is outside the model's {n} classes")
    return i


def _words_encode(tok: Any, words_list: Sequence[Sequence[str]], max_length: int) -> Tuple[Batch, List[List[int]]]:
    """Encode space-joined words; for each row, the word index of every token (-1: special/none)
    where the token is the first of its word, else -2."""
    texts, spans = [], []
    for words in words_list:
        pos, sp = 0, []
        for w in words:
            sp.append((pos, pos + len(w)))
            pos += len(w) + 1
        texts.append(" ".join(words))
        spans.append(sp)
    b = tok(texts, truncation=True, max_length=max_length, padding=True, return_offsets_mapping=True,
            return_special_tokens_mask=True, return_tensors="np")
    offs, special = b.pop("offset_mapping"), b["special_tokens_mask"]
    owners = []
    for r, sp in enumerate(spans):
        starts = np.array([s for s, _ in sp]) if sp else np.zeros(0, dtype=np.int64)
        row, last = [], -1
        for t in range(offs.shape[1]):
            if special[r, t] or b["attention_mask"][r, t] == 0:
                row.append(-1)
                continue
            w = int(np.searchsorted(starts, offs[r, t, 0], side="right")) - 1
            row.append(w if w != last else -2)
            last = w
        owners.append(row)
    return b, owners


def _inputs(b: Batch) -> Batch:
    return {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


def _seq_batches(model: Any, tok: Any, data: Sequence[Any], max_length: int, index: Dict[Hashable, int]) -> Callable[[Sequence[int]], Tuple[Batch, Dict[str, np.ndarray]]]:
    n = model.num_labels

    def make(idx: Sequence[int]) -> Tuple[Batch, Dict[str, np.ndarray]]:
        ex = [data[i] for i in idx]
        if len(ex[0]) == 3:
            b = tok([e[0] for e in ex], [e[1] for e in ex], truncation=True, max_length=max_length, padding=True,
                    return_tensors="np")
        else:
            b = tok([e[0] for e in ex], truncation=True, max_length=max_length, padding=True, return_tensors="np")
        y = np.array([_cls_index(index, e[-1], n) for e in ex], dtype=np.int64)
        return _inputs(b), {"labels": y}

    return make


def _tok_batches(model: Any, tok: Any, data: Sequence[Any], max_length: int, index: Dict[Hashable, int]) -> Callable[[Sequence[int]], Tuple[Batch, Dict[str, np.ndarray]]]:
    n = model.num_labels

    def make(idx: Sequence[int]) -> Tuple[Batch, Dict[str, np.ndarray]]:
        ex = [data[i] for i in idx]
        for words, tags in ex:
            if len(words) != len(tags):
                raise ValueError(f"{len(words)} words but {len(tags)} tags")
        b, owners = _words_encode(tok, [e[0] for e in ex], max_length)
        lab = np.full(b["input_ids"].shape, -100, dtype=np.int64)
        for r, (row, (_, tags)) in enumerate(zip(owners, ex)):
            for t, w in enumerate(row):
                if w >= 0:
                    lab[r, t] = _cls_index(index, tags[w], n)
        return _inputs(b), {"labels": lab}

    return make


def _qa_features(tok: Any, data: Sequence[Dict[str, Any]], max_length: int, stride: int) -> List[Tuple[Batch, int, int]]:
    """One (inputs row, start token, end token) per window of every example."""
    feats = []
    for ex in data:
        q, c = ex["question"], ex["context"]
        s_char = int(ex["answer_start"])
        e_char = s_char + len(ex["answer_text"])
        b = tok(q, c, truncation="only_second", max_length=max_length, stride=stride, padding="max_length",
                return_overflowing_tokens=True, return_offsets_mapping=True, return_sequence_ids=True, return_tensors="np")
        offs, seq = b["offset_mapping"], b["sequence_ids"]
        for w in range(b["input_ids"].shape[0]):
            ctx = np.flatnonzero(seq[w] == 1)
            s_tok = e_tok = 0
            if ctx.size and offs[w, ctx[0], 0] <= s_char and offs[w, ctx[-1], 1] >= e_char:
                s_tok = int(ctx[offs[w, ctx, 0] <= s_char][-1])
                e_tok = int(ctx[offs[w, ctx, 1] >= e_char][0])
            feats.append(({k: b[k][w] for k in ("input_ids", "attention_mask", "token_type_ids")}, s_tok, e_tok))
    return feats


def _stack(rows: Sequence[Batch]) -> Batch:
    L = max(int(r["attention_mask"].sum()) for r in rows)
    return {k: np.stack([r[k][:L] for r in rows]) for k in rows[0]}


# ---------------------------------------------------------------------------------- evaluation
MetricsFn = Callable[[List[Hashable], List[Hashable]], Dict[str, float]]


def evaluate(model: Any, tokenizer: Any, data: Sequence[Any], batch_size: int = 32, max_length: int = 128,
             stride: int = 128, extra_metrics: Optional[MetricsFn] = None) -> Dict[str, float]:
    """Metrics of ``model`` on examples of its task (see the module docstring): ``accuracy`` and
    ``macro_f1`` (classification, tagging: over tagged words) or ``exact_match`` and ``f1`` (QA).
    ``extra_metrics(predicted, gold)`` (classification, tagging), given the labels as the examples
    name them, adds its own metrics."""
    kind = _kind(model)
    was_training = model.training
    model.eval()
    try:
        if kind == "qa":
            from subtok.tasks import answer

            ems, f1s = [], []
            for ex in data:
                a = answer(ex["question"], ex["context"], model, tokenizer, max_length=max_length, stride=stride)
                em, f1 = squad_scores(a.text, ex["answer_text"])
                ems.append(em)
                f1s.append(f1)
            return {"exact_match": float(np.mean(ems)), "f1": float(np.mean(f1s))}
        index = _label_index(model, [e[-1] for e in data] if kind == "seq" else [t for e in data for t in e[1]])
        make = (_seq_batches if kind == "seq" else _tok_batches)(model, tokenizer, data, max_length, index)
        pred: List[int] = []
        gold: List[int] = []
        for i in range(0, len(data), batch_size):
            inputs, lab = make(range(i, min(i + batch_size, len(data))))
            logits = model(**inputs).logits
            y = lab["labels"]
            keep = y != -100
            pred.extend(np.argmax(logits, axis=-1)[keep].tolist())
            gold.extend(y[keep].tolist())
        metrics = {"accuracy": accuracy(pred, gold), "macro_f1": macro_f1(pred, gold)}
        if extra_metrics is not None:
            name = {i: y for y, i in index.items()}
            metrics.update(extra_metrics([name.get(i, i) for i in pred], [name.get(i, i) for i in gold]))
        return metrics
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------------------- the loop
def _tokenizer_saver(tokenizer: Any) -> Callable[[str], None]:
    def save(folder: str) -> None:
        if hasattr(tokenizer, "save"):
            tokenizer.save(os.path.join(folder, "tokenizer.json"))

    return save


def _log_line(epoch: int, metrics: Dict[str, float], stream: Any) -> None:
    parts = [f"epoch {epoch}"] + [f"{k} {v:.4f}" for k, v in metrics.items()]
    print("  ".join(parts), file=stream, flush=True)


Batches = Callable[[np.random.Generator], Iterator[Tuple[Batch, Dict[str, np.ndarray]]]]


def _shuffled(n_items: int, batch_size: int, make: Callable[[Sequence[int]], Tuple[Batch, Dict[str, np.ndarray]]]) -> Batches:
    """An epoch's batches: ``make(indices)`` over one random permutation of the items."""

    def batches(rng: np.random.Generator) -> Iterator[Tuple[Batch, Dict[str, np.ndarray]]]:
        order = rng.permutation(n_items)
        for i in range(0, n_items, batch_size):
            yield make(order[i : i + batch_size])

    return batches


def _run_epochs(
    model: Any,
    n_items: int,
    batches: Batches,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    warmup_ratio: float,
    weight_decay: float,
    max_grad_norm: Optional[float],
    grad_accum: int,
    seed: int,
    dropout: bool,
    evaluate_fn: Optional[Callable[[], Dict[str, float]]],
    metric: str,
    output_dir: Optional[PathLike],
    save_extra: Optional[Callable[[str], None]],
    progress: Optional[bool],
    log: Any,
) -> FitResult:
    if epochs < 1 or batch_size < 1 or grad_accum < 1:
        raise ValueError("epochs, batch_size and grad_accum must be >= 1")
    if not 0.0 <= warmup_ratio <= 1.0:
        raise ValueError("warmup_ratio must be in [0, 1]")
    if n_items == 0:
        raise ValueError("no training examples")
    rng = np.random.default_rng(seed)
    steps_per_epoch = math.ceil(math.ceil(n_items / batch_size) / grad_accum)
    total = steps_per_epoch * epochs
    opt = AdamW(model, lr=lr, weight_decay=weight_decay)
    sched = LinearWarmupSchedule(opt, int(math.ceil(warmup_ratio * total)), total)
    model.train(dropout, seed=seed) if dropout else model.eval()
    result = FitResult(metric_name=metric)
    best = -math.inf
    n_batches = math.ceil(n_items / batch_size)
    for epoch in range(1, epochs + 1):
        bar = ProgressBar(n_batches, f"epoch {epoch}/{epochs}", enabled=progress)
        losses = []
        t0 = time.perf_counter()
        grads = None
        for bi, (inputs, labels) in enumerate(batches(rng)):
            loss, grads = model.loss_and_grads(**inputs, **labels, grads=grads, loss_scale=1.0 / grad_accum)
            losses.append(loss)
            if (bi + 1) % grad_accum == 0 or bi == n_batches - 1:
                if max_grad_norm:
                    clip_grad_norm(grads, max_grad_norm)
                opt.step(grads)
                sched.step()
                grads = None
            bar.update()
        bar.close()
        metrics = {"loss": float(np.nanmean(losses)), "seconds": time.perf_counter() - t0}
        if evaluate_fn is not None:
            model.eval()
            metrics.update(evaluate_fn())
            model.train(dropout) if dropout else None
        result.history.append(metrics)
        if log is not None:
            _log_line(epoch, metrics, sys.stderr if log == "stderr" else log)
        score = -metrics["loss"] if metric == "loss" else metrics[metric]
        if score > best:
            best = score
            result.best_metric, result.best_epoch = float(score), epoch
            if output_dir is not None:
                model.save_pretrained(output_dir)
                if save_extra is not None:
                    save_extra(os.fspath(output_dir))
    model.eval()
    return result


def fit(
    model: Any,
    tokenizer: Any,
    train: Sequence[Any],
    eval: Optional[Sequence[Any]] = None,  # noqa: A002 - the name the issue asks for
    *,
    epochs: int = 3,
    batch_size: int = 16,
    lr: float = 5e-5,
    warmup_ratio: float = 0.1,
    weight_decay: float = 0.01,
    max_grad_norm: Optional[float] = 1.0,
    grad_accum: int = 1,
    max_length: int = 128,
    stride: int = 64,
    seed: int = 0,
    dropout: bool = True,
    output_dir: Optional[PathLike] = None,
    progress: Optional[bool] = None,
    log: Any = "stderr",
    extra_metrics: Optional[MetricsFn] = None,
) -> FitResult:
    """Fine-tune all parameters of ``model`` on ``train`` (see the module docstring for formats).

    AdamW (weight decay except on biases and LayerNorm weights), linear warmup over
    ``warmup_ratio`` of the steps then linear decay, clipping to ``max_grad_norm``, ``grad_accum``
    batches per step, dropout from the config (seeded with ``seed``) unless ``dropout=False``.
    After each epoch ``eval`` is scored (:func:`evaluate`), one line of metrics goes to ``log``
    (default ``sys.stderr``; ``None``: silent), and when the main metric (accuracy, or exact match for QA; the training loss
    without ``eval``) improves, the model is saved to ``output_dir`` (with ``tokenizer.json``).
    A progress bar is drawn on terminals (``progress=True/False`` forces it). The model ends in
    eval mode with the weights of the last epoch. ``extra_metrics`` is passed to :func:`evaluate`.
    """
    kind = _kind(model)
    if kind == "qa":
        feats = _qa_features(tokenizer, train, max_length, stride)

        def make(idx: Sequence[int]) -> Tuple[Batch, Dict[str, np.ndarray]]:
            rows = [feats[i] for i in idx]
            b = _stack([r[0] for r in rows])
            return b, {"start_positions": np.array([r[1] for r in rows]), "end_positions": np.array([r[2] for r in rows])}

        n_items = len(feats)
        metric = "exact_match"
    else:
        labels = [e[-1] for e in train] if kind == "seq" else [t for e in train for t in e[1]]
        index = _label_index(model, labels + ([e[-1] for e in eval] if eval and kind == "seq" else
                                              [t for e in eval for t in e[1]] if eval else []))
        if index:  # record the names, so evaluation and the saved config.json use the same mapping
            model.config.id2label = {i: str(y) for y, i in index.items()}
            model.config.label2id = {str(y): i for y, i in index.items()}
        make = (_seq_batches if kind == "seq" else _tok_batches)(model, tokenizer, train, max_length, index)
        n_items = len(train)
        metric = "accuracy"
    if eval is None:
        metric = "loss"
    evaluate_fn = None if eval is None else (lambda: evaluate(model, tokenizer, eval, max(batch_size, 32), max_length, stride,
                                                              extra_metrics))

    return _run_epochs(model, n_items, _shuffled(n_items, batch_size, make), epochs=epochs, batch_size=batch_size,
                       lr=lr, warmup_ratio=warmup_ratio,
                       weight_decay=weight_decay, max_grad_norm=max_grad_norm, grad_accum=grad_accum, seed=seed,
                       dropout=dropout, evaluate_fn=evaluate_fn, metric=metric, output_dir=output_dir,
                       save_extra=_tokenizer_saver(tokenizer), progress=progress, log=log)


# ---------------------------------------------------------------------------------- pretraining
Instances = Union[Dict[str, np.ndarray], PathLike, Any]  # a dict of arrays, a shard directory, PretrainingShards


class _InMemory:
    """A dict of instance arrays seen as one shard (the interface of PretrainingShards used here)."""

    num_shards = 1

    def __init__(self, arrays: Dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return int(self.arrays["input_ids"].shape[0])

    def shard(self, i: int) -> Dict[str, np.ndarray]:
        return self.arrays


def _instance_source(instances: Instances) -> Any:
    from subtok.pretraining import PretrainingShards

    if isinstance(instances, dict):
        return _InMemory(instances)
    if isinstance(instances, (str, os.PathLike)):
        return PretrainingShards(instances)
    if isinstance(instances, (PretrainingShards, _InMemory)):
        return instances
    raise TypeError("instances must be a dict of arrays, a directory of pretraining shards or a PretrainingShards, "
                    f"not {type(instances).__name__}")


def _stream_batches(source: Any, batch_size: int, rng: np.random.Generator,
                    prepare: Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]) -> Iterator[Dict[str, np.ndarray]]:
    """One epoch of batches of ``prepare``d rows, one shard in memory at a time: the shards in
    random order (one shard: no draw), each shard's rows in random order, and the rows left over
    at a shard's end completed from the next shard, so there are ``ceil(len / batch_size)``
    batches, as over one array. The rows of a batch keep their order within their shard."""
    order = rng.permutation(source.num_shards) if source.num_shards > 1 else range(source.num_shards)
    carry: Optional[Dict[str, np.ndarray]] = None
    for s in order:
        part = prepare(source.shard(int(s)))
        n = len(part["input_ids"])
        perm = rng.permutation(n)
        start = 0
        while start < n:
            need = batch_size - (0 if carry is None else len(carry["input_ids"]))
            idx = np.sort(perm[start : start + need])
            start += need
            rows = {k: v[idx] for k, v in part.items()}
            batch = rows if carry is None else {k: np.concatenate([carry[k], rows[k]]) for k in rows}
            if len(batch["input_ids"]) < batch_size:
                carry = batch
            else:
                carry = None
                yield batch
        del part
    if carry is not None:
        yield carry


def _unmasked_ids(inst: Dict[str, np.ndarray]) -> np.ndarray:
    """The instances' ``input_ids`` with their static masks undone (original tokens put back), in
    their stored dtype (a shard stays compact until its batches are made)."""
    ids = np.array(inst["input_ids"])
    pos, lab = inst["masked_lm_positions"], inst["masked_lm_ids"]
    w = inst["masked_lm_weights"] > 0
    rows = np.broadcast_to(np.arange(ids.shape[0])[:, None], pos.shape)
    ids[rows[w], pos[w]] = lab[w]
    return ids


def _mask_and_special_ids(tokenizer: Any) -> Tuple[int, List[int]]:
    mask_id = tokenizer.token_to_id("[MASK]")
    if mask_id is None:
        raise ValueError("the tokenizer has no [MASK] token")
    special_ids = [tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]")]
    return mask_id, [i for i in special_ids if i is not None]


def evaluate_pretraining(model: Any, tokenizer: Any, instances: Instances, *, batch_size: int = 64,
                         mlm_probability: float = 0.15, seed: int = 12345) -> Dict[str, float]:
    """Held-out metrics of a :class:`~subtok.bert.BertForPreTraining` on ``create_pretraining_data``
    instances (a dict of arrays or streamed shards, as :func:`pretrain` takes), re-masked once with
    ``seed`` (``seed + s`` for shard ``s``: the same masks on every call): ``mlm_accuracy`` and
    ``mlm_loss`` (mean cross-entropy, nats) over the masked tokens, ``mlm_nats_per_char`` (their
    summed cross-entropy over the characters they spell, ``##`` not counted: comparable across
    vocabularies), and ``nsp_accuracy``."""
    from subtok.pretraining import mask_tokens
    from subtok.bert.ops import log_softmax

    mask_id, special_ids = _mask_and_special_ids(tokenizer)
    src = _instance_source(instances)
    chars: Dict[int, int] = {}
    was_training = model.training
    model.eval()
    hit = tot = nsp_hit = n = n_chars = 0
    nats = 0.0
    try:
        for s in range(src.num_shards):
            inst = src.shard(s)
            ids = _unmasked_ids(inst).astype(np.int64)
            att = inst["attention_mask"]
            masked, labels = mask_tokens(ids, special_tokens_mask=np.isin(ids, special_ids),
                                         vocab_size=model.config.vocab_size, mask_token_id=mask_id,
                                         mlm_probability=mlm_probability, seed=seed + s, attention_mask=att)
            for i in range(0, ids.shape[0], batch_size):
                sl = slice(i, i + batch_size)
                L = int(att[sl].sum(axis=1).max())
                out = model(masked[sl, :L], attention_mask=att[sl, :L], token_type_ids=inst["token_type_ids"][sl, :L])
                lab = labels[sl, :L]
                keep = lab != -100
                logits = out.prediction_logits[keep]
                gold = lab[keep]
                hit += int((np.argmax(logits, -1) == gold).sum())
                tot += int(keep.sum())
                nats -= float(log_softmax(logits.astype(np.float64), axis=-1)[np.arange(gold.size), gold].sum())
                for g in gold.tolist():
                    if g not in chars:
                        piece = tokenizer.id_to_token(g) or ""
                        chars[g] = max(1, len(piece[2:] if piece.startswith("##") else piece))
                    n_chars += chars[g]
                nsp = inst["next_sentence_labels"][sl].reshape(-1)
                nsp_hit += int((np.argmax(out.seq_relationship_logits, -1) == nsp).sum())
            n += ids.shape[0]
    finally:
        model.train(was_training)
    return {"mlm_accuracy": hit / max(tot, 1), "mlm_loss": nats / max(tot, 1),
            "mlm_nats_per_char": nats / max(n_chars, 1), "nsp_accuracy": nsp_hit / max(n, 1)}


def pretrain(
    model: Any,
    tokenizer: Any,
    instances: Instances,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 1e-4,
    warmup_ratio: float = 0.1,
    weight_decay: float = 0.01,
    max_grad_norm: Optional[float] = 1.0,
    mlm_probability: float = 0.15,
    seed: int = 0,
    dropout: bool = True,
    eval_instances: Optional[Instances] = None,
    output_dir: Optional[PathLike] = None,
    progress: Optional[bool] = None,
    log: Any = "stderr",
) -> FitResult:
    """MLM + NSP training of a :class:`~subtok.bert.BertForPreTraining` on
    :func:`subtok.pretraining.create_pretraining_data` instances, re-masked dynamically every
    batch (:func:`subtok.pretraining.mask_tokens`; the instances' own static masks are undone).

    ``instances`` (and ``eval_instances``) is a dict of arrays, or streamed pretraining data: the
    directory written by ``subtok pretraining-data -o DIR`` / :func:`subtok.dask.pretraining_data`
    or a :class:`subtok.pretraining.PretrainingShards` (e.g. one side of its ``split``). Streamed
    data is read one shard at a time (memory: one shard, whatever the corpus size); each epoch
    visits the shards in random order and each shard's instances in random order. Per epoch, the
    evaluation instances are scored by :func:`evaluate_pretraining` (masked the same way every
    epoch: ``mlm_accuracy``, ``mlm_loss``, ``mlm_nats_per_char``, ``nsp_accuracy``)."""
    from subtok.pretraining import mask_tokens

    if type(model).__name__ != "BertForPreTraining":
        raise TypeError("pretrain() trains a BertForPreTraining model")
    vocab = model.config.vocab_size
    mask_id, special_ids = _mask_and_special_ids(tokenizer)
    train_src = _instance_source(instances)
    eval_src = None if eval_instances is None else _instance_source(eval_instances)

    def prepare(inst: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """The model's inputs of some instances, with the original ids at the static masks (ids in
        their stored dtype: a shard stays compact until its batches are made)."""
        ids = _unmasked_ids(inst)
        if ids.size and int(ids.max()) >= vocab:
            raise ValueError(f"the instances hold token id {int(ids.max())}, outside the model's vocabulary ({vocab})")
        return {"input_ids": ids, "attention_mask": inst["attention_mask"], "token_type_ids": inst["token_type_ids"],
                "next_sentence_labels": inst["next_sentence_labels"].reshape(-1)}

    mask_rng = np.random.default_rng(seed + 1)

    def make(b: Dict[str, np.ndarray]) -> Tuple[Batch, Dict[str, np.ndarray]]:
        att = b["attention_mask"]
        L = int(att.sum(axis=1).max())
        ids, att = b["input_ids"][:, :L].astype(np.int64), att[:, :L]
        special = np.isin(ids, special_ids)
        masked, labels = mask_tokens(ids, special_tokens_mask=special, vocab_size=vocab, mask_token_id=mask_id,
                                     mlm_probability=mlm_probability, seed=mask_rng, attention_mask=att)
        if (labels == -100).all():
            labels[0, 1] = ids[0, 1]
        return ({"input_ids": masked, "attention_mask": att, "token_type_ids": b["token_type_ids"][:, :L]},
                {"labels": labels, "next_sentence_label": b["next_sentence_labels"]})

    def batches(rng: np.random.Generator) -> Iterator[Tuple[Batch, Dict[str, np.ndarray]]]:
        return (make(b) for b in _stream_batches(train_src, batch_size, rng, prepare))

    evaluate_fn = None
    if eval_src is not None:
        ev_src = eval_src

        def evaluate_fn() -> Dict[str, float]:
            return evaluate_pretraining(model, tokenizer, ev_src, mlm_probability=mlm_probability)

    return _run_epochs(model, len(train_src), batches, epochs=epochs, batch_size=batch_size, lr=lr,
                       warmup_ratio=warmup_ratio, weight_decay=weight_decay, max_grad_norm=max_grad_norm, grad_accum=1,
                       seed=seed, dropout=dropout, evaluate_fn=evaluate_fn,
                       metric="mlm_accuracy" if eval_instances is not None else "loss", output_dir=output_dir,
                       save_extra=_tokenizer_saver(tokenizer), progress=progress, log=log)
