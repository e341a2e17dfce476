"""``subtok encode-corpus``: text files -> token shards (``*.ids.npy`` + ``*.offsets.npy`` +
``manifest.json``) that ``subtok.TokenDataset`` memory-maps; resumable, optionally on Dask."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from subtok.cli.train import add_cluster_arguments, closing_client, cluster_client


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "encode-corpus",
        help="encode text files into token shards (.npy) for LM training",
        description="Encode UTF-8 text files into token id shards (uint16 when the vocabulary fits, else "
        "uint32) with document offsets and a manifest.json; rerunning resumes an interrupted run. "
        "Read them with subtok.TokenDataset(DIR).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUTS", help="UTF-8 text files")
    p.add_argument("-t", "--tokenizer", required=True, metavar="TOKENIZER", help="tokenizer.json")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory (created if missing)")
    p.add_argument("--doc-sep", choices=["line", "blank"], default="line",
                   help="documents are lines, or blank-line separated paragraphs (default: %(default)s)")
    p.add_argument("--add-special-tokens", action="store_true", help="add the post-processor's tokens ([CLS] ... [SEP])")
    p.add_argument("--append-eos", default=None, metavar="TOKEN", help="append TOKEN after every document, e.g. '<|endoftext|>'")
    add_cluster_arguments(p, "encode blocks on")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import subtok
    from subtok.corpus import DEFAULT_BLOCKSIZE
    from subtok.dask import encode_corpus

    tok = subtok.Tokenizer.from_file(args.tokenizer)
    t0 = time.perf_counter()
    client = cluster_client(args)
    kwargs = dict(doc_sep=args.doc_sep, add_special_tokens=args.add_special_tokens, append_eos=args.append_eos,
                  blocksize=args.blocksize or DEFAULT_BLOCKSIZE, show_progress=not args.quiet)
    if client is None:
        m = encode_corpus(args.inputs, tok, args.output, client=None, **kwargs)
    else:
        with closing_client(client):
            m = encode_corpus(args.inputs, tok, args.output, client=client, **kwargs)
    if not args.quiet:
        print(
            f"encoded {m['documents']} documents, {m['tokens']} tokens ({m['dtype']}) into "
            f"{len(m['shards'])} shard(s) in {args.output} in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )
    return 0
