"""Character-level text from the Python standard library: real English prose that ships with Python.

The corpus is the docstrings of a fixed list of standard-library modules, so it is the same on every
machine with the same Python minor version, and nothing is downloaded.
"""

from __future__ import annotations

import importlib
import inspect
from typing import NamedTuple

import numpy as np

# Modules with long, prose-heavy docstrings.
MODULES = (
    "argparse", "asyncio", "collections", "contextlib", "csv", "dataclasses", "datetime",
    "decimal", "difflib", "email", "enum", "fractions", "functools", "heapq", "http.client",
    "inspect", "itertools", "json", "logging", "pathlib", "pickle", "random", "re", "shutil",
    "socket", "statistics", "string", "subprocess", "tarfile", "textwrap", "threading", "typing",
    "unittest", "urllib.parse", "zipfile",
)  # fmt: skip
# Printable ASCII plus newline; anything else maps to "?".
ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))


class CharCorpus(NamedTuple):
    train: np.ndarray  # [N_train] int32 token ids.
    test: np.ndarray  # [N_test] int32 token ids.
    alphabet: str  # Token id i is alphabet[i].


def stdlib_text(max_chars: int) -> str:
    """Docstrings of :data:`MODULES` and their public members, joined and cut at ``max_chars``."""
    parts = []
    for name in MODULES:
        module = importlib.import_module(name)
        parts.append(inspect.getdoc(module) or "")
        for member_name, member in sorted(vars(module).items()):
            if member_name.startswith("_") or getattr(member, "__module__", None) != name:
                continue
            parts.append(inspect.getdoc(member) or "")
    text = "\n\n".join(p for p in parts if p)
    return text[:max_chars]


def encode(text: str) -> np.ndarray:
    index = {c: i for i, c in enumerate(ALPHABET)}
    unknown = index["?"]
    return np.array([index.get(c, unknown) for c in text], np.int32)


def load_char_corpus(max_chars: int = 200_000, test_fraction: float = 0.1) -> CharCorpus:
    """The stdlib corpus as token ids; the last ``test_fraction`` of the text is the test split."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction}: must be in (0, 1)")
    tokens = encode(stdlib_text(max_chars))
    cut = int(len(tokens) * (1.0 - test_fraction))
    return CharCorpus(tokens[:cut], tokens[cut:], ALPHABET)
