"""``subtok finetune`` and ``subtok pretrain``: train a NumPy BERT from the command line.

Input of ``finetune`` (``-i``, and ``--eval``):

* ``--task classify``: TSV lines ``label<TAB>text``; ``--task pair``: ``label<TAB>text<TAB>text_pair``;
* ``--task tag``: JSON lines ``{"words": [...], "tags": [...]}``;
* ``--task qa``: JSON lines ``{"question", "context", "answer_start", "answer_text"}``.

``pretrain`` reads the output of ``subtok pretraining-data``: one ``.npz`` (loaded whole), or a
directory of shards (streamed, one shard in memory at a time).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, List, Tuple

import numpy as np

TASK_CLASSES = {"classify": "BertForSequenceClassification", "pair": "BertForSequenceClassification",
                "tag": "BertForTokenClassification", "qa": "BertForQuestionAnswering"}


def _lines(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [ln.rstrip("\n").rstrip("\r") for ln in f if ln.strip()]


def read_examples(path: str, task: str) -> List[Any]:
    """Examples of ``task`` from a TSV (classify, pair) or JSON-lines (tag, qa) file."""
    out: List[Any] = []
    for n, ln in enumerate(_lines(path), 1):
        if task in ("classify", "pair"):
            parts = ln.split("\t")
            want = 2 if task == "classify" else 3
            if len(parts) != want:
                raise ValueError(f"{path}:{n}: expected {want} tab-separated fields, got {len(parts)}")
            out.append((parts[1], parts[0]) if task == "classify" else (parts[1], parts[2], parts[0]))
            continue
        try:
            d = json.loads(ln)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not JSON: {e}") from None
        keys = ("words", "tags") if task == "tag" else ("question", "context", "answer_start", "answer_text")
        if not isinstance(d, dict) or any(k not in d for k in keys):
            raise ValueError(f"{path}:{n}: expected an object with {', '.join(keys)}")
        out.append((list(d["words"]), list(d["tags"])) if task == "tag" else d)
    if not out:
        raise ValueError(f"{path}: no examples")
    return out


def _tokenizer(arg: Any, model_dir: Any) -> Any:
    import subtok

    if arg is None:
        for name in ("tokenizer.json", "vocab.txt"):
            p = Path(model_dir) / name
            if p.is_file():
                arg = str(p)
                break
        else:
            raise FileNotFoundError(f"{model_dir}: no tokenizer.json or vocab.txt; pass -t/--tokenizer")
    if not Path(arg).is_file():
        raise FileNotFoundError(f"{arg}: no such file")
    return subtok.Tokenizer.from_vocab(arg) if arg.endswith(".txt") else subtok.Tokenizer.from_file(arg)


def _split(data: List[Any], fraction: float, seed: int) -> Tuple[List[Any], List[Any]]:
    if not 0.0 < fraction < 1.0:
        raise ValueError("--eval-fraction must be in (0, 1)")
    order = np.random.default_rng(seed).permutation(len(data))
    k = max(1, int(round(len(data) * fraction)))
    return [data[i] for i in order[k:]], [data[i] for i in order[:k]]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--tokenizer", metavar="T", help="tokenizer.json or vocab.txt (default: the model folder's)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the best model (config.json + model.safetensors)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--eval-fraction", type=float, default=0.1, help="held-out share when --eval is not given")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-dropout", action="store_true", help="train without dropout")


def _report(result: Any, output: str) -> None:
    """The final held-out metrics, then the best epoch (the one saved)."""
    final = {k: v for k, v in result.history[-1].items() if k not in ("loss", "seconds")}
    print("final held-out " + "  ".join(f"{k} {v:.4f}" for k, v in final.items()), file=sys.stderr)
    print(f"best {result.metric_name} {result.best_metric:.4f} at epoch {result.best_epoch}; saved to {output}",
          file=sys.stderr)


def run_finetune(args: argparse.Namespace) -> int:
    import subtok.bert as sb
    from subtok.finetune import fit

    data = read_examples(args.input, args.task)
    if args.eval:
        train, ev = data, read_examples(args.eval, args.task)
    else:
        train, ev = _split(data, args.eval_fraction, args.seed)
    tok = _tokenizer(args.tokenizer, args.model)
    cls = getattr(sb, TASK_CLASSES[args.task])
    if args.task == "qa":
        model = cls.from_pretrained_base(args.model, seed=args.seed)
    else:
        labels = sorted({str(e[-1]) for e in data + ev} if args.task != "tag" else {str(t) for e in data + ev for t in e[1]})
        model = cls.from_pretrained_base(args.model, id2label=dict(enumerate(labels)), seed=args.seed)
        if args.task == "tag":
            train = [(w, [str(t) for t in tags]) for w, tags in train]
            ev = [(w, [str(t) for t in tags]) for w, tags in ev]
    result = fit(model, tok, train, ev, epochs=args.epochs, batch_size=args.batch_size,
                 lr=5e-5 if args.lr is None else args.lr, warmup_ratio=args.warmup_ratio,
                 weight_decay=args.weight_decay, max_length=args.max_length, seed=args.seed,
                 dropout=not args.no_dropout, output_dir=args.output)
    _report(result, args.output)
    return 0


def _read_instances(path: Path, eval_fraction: float, seed: int) -> Tuple[Any, Any, int, int]:
    """``(train, eval, max_seq_length, largest id)`` of a ``.npz`` (loaded, split at random) or of a
    shard directory (streamed; the largest id is not scanned: -1)."""
    from subtok.pretraining import PRETRAINING_KEYS, PretrainingShards

    if not 0.0 < eval_fraction < 1.0:
        raise ValueError("--eval-fraction must be in (0, 1)")
    if path.is_dir():
        shards = PretrainingShards(path)
        if len(shards) < 2:
            raise ValueError(f"{path}: fewer than 2 instances")
        tr, ev = shards.split(eval_fraction)
        return tr, ev, shards.max_seq_length, -1
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or directory")
    with np.load(path) as f:
        inst = {k: f[k] for k in f.files}
    missing = [k for k in PRETRAINING_KEYS if k not in inst]
    if missing:
        raise ValueError(f"{path}: not a pretraining-data file (missing {', '.join(missing)})")
    n = inst["input_ids"].shape[0]
    order = np.random.default_rng(seed).permutation(n)
    k = max(1, int(round(n * eval_fraction)))
    ev = {key: v[order[:k]] for key, v in inst.items()}
    tr = {key: v[order[k:]] for key, v in inst.items()}
    return tr, ev, inst["input_ids"].shape[1], int(max(inst["input_ids"].max(), inst["masked_lm_ids"].max()))


def run_pretrain(args: argparse.Namespace) -> int:
    import subtok.bert as sb
    from subtok.finetune import pretrain

    tr, ev, max_seq_length, max_id = _read_instances(Path(args.input), args.eval_fraction, args.seed)
    if args.model:
        tok = _tokenizer(args.tokenizer, args.model)
        model = sb.BertForPreTraining.from_pretrained_base(args.model, seed=args.seed)
    else:
        if args.tokenizer is None:
            raise ValueError("pass -t/--tokenizer (or -m/--model to continue training a model)")
        tok = _tokenizer(args.tokenizer, None)
        vocab = max(max_id + 1, tok.get_vocab_size())
        cfg = sb.BertConfig(vocab_size=vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                            num_attention_heads=args.heads, intermediate_size=args.intermediate or 4 * args.hidden,
                            max_position_embeddings=max(max_seq_length, 128),
                            pad_token_id=tok.token_to_id("[PAD]") or 0)
        model = sb.BertForPreTraining.from_config(cfg, seed=args.seed)
    result = pretrain(model, tok, tr, epochs=args.epochs, batch_size=args.batch_size,
                      lr=1e-4 if args.lr is None else args.lr, warmup_ratio=args.warmup_ratio,
                      weight_decay=args.weight_decay, seed=args.seed, dropout=not args.no_dropout,
                      eval_instances=ev, output_dir=args.output)
    _report(result, args.output)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "finetune",
        help="fine-tune every parameter of a BERT on classification, pairs, tagging or QA",
        description="Fine-tune a Hugging Face BERT folder (a new head is initialized) with AdamW, linear "
        "warmup/decay and dropout; one metrics line per epoch; the best epoch is saved to -o.",
    )
    p.add_argument("--task", required=True, choices=sorted(TASK_CLASSES))
    p.add_argument("-i", "--input", required=True, metavar="FILE", help="training examples (TSV or JSON lines)")
    p.add_argument("--eval", metavar="FILE", help="evaluation examples (default: --eval-fraction of the input)")
    p.add_argument("-m", "--model", required=True, metavar="DIR", help="Hugging Face BERT folder to start from")
    p.add_argument("--max-length", type=int, default=128)
    _common(p)
    p.set_defaults(func=run_finetune)

    q = subparsers.add_parser(
        "pretrain",
        help="pretrain a BERT with masked LM + next-sentence prediction",
        description="MLM + NSP training on the output of `subtok pretraining-data` with dynamic masking: "
        "one .npz, or a directory of shards read one shard at a time (memory does not grow with the corpus; "
        "--eval-fraction of every shard is held out). A new model of the given size, or -m to continue one. "
        "The epoch with the best held-out MLM accuracy is saved to -o.",
    )
    q.add_argument("-i", "--input", required=True, metavar="FILE.npz|DIR",
                   help="output of `subtok pretraining-data`: an .npz or a directory of shards")
    q.add_argument("-m", "--model", metavar="DIR", help="continue from this BERT folder")
    q.add_argument("--layers", type=int, default=4)
    q.add_argument("--hidden", type=int, default=256)
    q.add_argument("--heads", type=int, default=4)
    q.add_argument("--intermediate", type=int, default=None, help="default: 4 x hidden")
    _common(q)
    q.set_defaults(func=run_pretrain, eval_fraction=0.05)


__all__ = ["read_examples", "register"]
