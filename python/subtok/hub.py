"""Where ``from_pretrained(name_or_dir)`` finds a model: one resolver for the tokenizer, the BERT
models and the sentence encoder.

A name is looked up, without any network access, as

1. a local folder (``"path/to/model"``), then
2. a snapshot in the Hugging Face hub cache (``models--ORG--NAME/snapshots/<revision>/``) under
   ``$HF_HUB_CACHE``, ``$HF_HOME/hub``, ``$XDG_CACHE_HOME/huggingface/hub`` and
   ``~/.cache/huggingface/hub``; the revision ``refs/main`` points at comes first.

When nothing fits, ``FileNotFoundError`` lists every place that was looked at.
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Union

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["hf_cache_dirs", "resolve_pretrained"]


def hf_cache_dirs() -> List[str]:
    """The Hugging Face hub cache folders to search, in order (existing or not, no duplicates)."""
    dirs: List[str] = []
    env = os.environ
    if env.get("HF_HUB_CACHE"):
        dirs.append(env["HF_HUB_CACHE"])
    if env.get("HUGGINGFACE_HUB_CACHE"):
        dirs.append(env["HUGGINGFACE_HUB_CACHE"])
    if env.get("HF_HOME"):
        dirs.append(os.path.join(env["HF_HOME"], "hub"))
    if env.get("XDG_CACHE_HOME"):
        dirs.append(os.path.join(env["XDG_CACHE_HOME"], "huggingface", "hub"))
    dirs.append(os.path.join(os.path.expanduser("~"), ".cache", "huggingface", "hub"))
    out: List[str] = []
    for d in dirs:
        d = os.path.abspath(os.path.expanduser(d))
        if d not in out:
            out.append(d)
    return out


def _has_all(folder: str, required: Sequence[str]) -> bool:
    return all(os.path.isfile(os.path.join(folder, f)) for f in required)


def _snapshots(repo_dir: str) -> List[str]:
    """Snapshot folders of one cached repo: the one ``refs/main`` names first, then newest first."""
    snap_root = os.path.join(repo_dir, "snapshots")
    try:
        names = os.listdir(snap_root)
    except OSError:
        return []
    paths = [os.path.join(snap_root, n) for n in names if os.path.isdir(os.path.join(snap_root, n))]
    paths.sort(key=lambda p: os.path.getmtime(p), reverse=True)
    try:
        with open(os.path.join(repo_dir, "refs", "main"), encoding="utf-8") as f:
            main = os.path.join(snap_root, f.read().strip())
        if main in paths:
            paths.remove(main)
            paths.insert(0, main)
    except OSError:
        pass
    return paths


def resolve_pretrained(
    name_or_path: PathLike,
    required: Sequence[str] = ("tokenizer.json",),
    *,
    any_of: Sequence[str] = (),
    what: str = "model",
    cache_dir: Optional[PathLike] = None,
) -> str:
    """The folder for ``name_or_path`` holding every file of ``required`` (and one of ``any_of``).

    ``name_or_path`` is a local folder or a hub name (``"ORG/NAME"`` or ``"NAME"``) found in the
    offline Hugging Face cache (``cache_dir`` first when given). Raises ``FileNotFoundError``
    naming each place looked at, and ``TypeError`` for a non-path argument.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"expected a folder path or a model name, not {type(name_or_path).__name__}")
    name = os.fspath(name_or_path)
    if not name:
        raise ValueError("the model name or folder is empty")
    need = list(required) + ([f"one of {', '.join(any_of)}"] if any_of else [])

    def fits(folder: str) -> bool:
        return _has_all(folder, required) and (not any_of or any(os.path.isfile(os.path.join(folder, f)) for f in any_of))

    looked: List[str] = []
    if os.path.isdir(name):
        if fits(name):
            return name
        missing = [f for f in required if not os.path.isfile(os.path.join(name, f))]
        if any_of and not any(os.path.isfile(os.path.join(name, f)) for f in any_of):
            missing.append(f"one of {', '.join(any_of)}")
        raise FileNotFoundError(f"{name}: the {what} folder lacks {', '.join(missing)}")
    looked.append(f"{os.path.abspath(name)} (no such folder)")
    parts = name.replace("\\", "/").strip("/").split("/")
    if len(parts) <= 2 and all(parts) and not name.startswith((".", "/", "~")):
        repo = "models--" + "--".join(parts)
        roots = ([os.fspath(cache_dir)] if cache_dir is not None else []) + hf_cache_dirs()
        for root in roots:
            repo_dir = os.path.join(root, repo)
            snaps = _snapshots(repo_dir)
            for snap in snaps:
                if fits(snap):
                    return snap
            if snaps:
                looked.append(f"{repo_dir}/snapshots/* ({len(snaps)} snapshot(s), none with {', '.join(need)})")
            else:
                looked.append(f"{repo_dir}/snapshots/* (not in this cache)")
    raise FileNotFoundError(
        f"{what} {name!r} not found (subtok never downloads; needs {', '.join(need)}). Looked in: "
        + "; ".join(looked)
    )


def resolve_model(name_or_path: PathLike, *, need_tokenizer: bool = False) -> str:
    """The folder of a BERT checkpoint (``config.json`` + ``model.safetensors`` or
    ``pytorch_model.bin``, and ``tokenizer.json`` if ``need_tokenizer``), resolved as
    :func:`resolve_pretrained` does; a path to an existing file is returned unchanged."""
    if isinstance(name_or_path, (str, os.PathLike)) and os.path.isfile(name_or_path):
        return os.fspath(name_or_path)
    required = ("config.json", "tokenizer.json") if need_tokenizer else ("config.json",)
    return resolve_pretrained(name_or_path, required, any_of=("model.safetensors", "pytorch_model.bin"), what="model")
