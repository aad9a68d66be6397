"""A run's verdict on its paper's claims: ``claims.json`` beside ``summary.md``.

A launcher states each claim as a :class:`Claim` computed from the numbers it measured, so a claim
can come out either way; ``experiments/reproduce.py`` gathers every experiment's claims into the
first table of the report. In a ``--distributed`` job process 0 alone writes the file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxml._distributed import is_primary
from jaxml.utils._io import write_text_atomically

CLAIMS_FILE = "claims.json"


class Claim(NamedTuple):
    """One claim as this run measured it."""

    statement: str  # What is claimed, at this run's scale ("sine: CAAL has the smallest AUC").
    held: bool  # Whether this run's numbers bear it out.
    evidence: str  # The numbers that decided it.


def best_of(
    statement: str,
    values: Mapping[str, float],
    subject: str,
    *,
    higher_is_better: bool = False,
    strict: bool = False,
    spec: str = ".4g",
) -> Claim:
    """The claim that ``values[subject]`` is the best of ``values`` (lowest unless
    ``higher_is_better``); a tie holds unless ``strict``.

    Non-finite values are left out of the comparison (a diverged baseline is beaten by anything
    finite); a non-finite subject never holds. Evidence: the subject's value and rank, and the
    best of the others.
    """
    if subject not in values or len(values) < 2:
        raise ValueError(
            f"best_of: expected {subject!r} and at least one other in values, got {list(values)}"
        )
    sign = -1.0 if higher_is_better else 1.0
    score = {k: sign * float(v) for k, v in values.items()}  # Lower is better from here on.
    mine = score[subject]
    others = {k: v for k, v in score.items() if k != subject and math.isfinite(v)}
    if not math.isfinite(mine):
        held, rank = False, len(values)
    else:
        held = all(mine < v if strict else mine <= v for v in others.values())
        rank = 1 + sum(v < mine for v in others.values())
    evidence = f"{subject} {float(values[subject]):{spec}} ranks {rank} of {len(values)}"
    if others:
        best = min(others, key=others.get)
        evidence += f"; best other: {best} {float(values[best]):{spec}}"
    return Claim(statement, held, evidence)


def _checked(claim: Claim, where: str) -> Claim:
    statement, held, evidence = claim
    # numpy comparisons give np.bool_, which json cannot write; anything else is a caller's bug.
    if not isinstance(held, bool | np.bool_):
        raise ValueError(f"{where}: held must be a bool, got {held!r}")
    for name, text in (("statement", statement), ("evidence", evidence)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: {name} must be a non-empty string, got {text!r}")
    return Claim(statement, bool(held), evidence)


def write_claims(workdir: str | os.PathLike, claims: Sequence[Claim]) -> Path:
    """Writes ``<workdir>/claims.json`` (a JSON list of claims) on process 0; returns its path."""
    path = Path(workdir) / CLAIMS_FILE
    checked = [_checked(Claim(*c), f"claims[{i}]") for i, c in enumerate(claims)]
    if is_primary():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, json.dumps([c._asdict() for c in checked], indent=1) + "\n")
    return path


def read_claims(workdir: str | os.PathLike) -> list[Claim]:
    """The claims in ``<workdir>/claims.json``.

    Raises FileNotFoundError if there is none and ValueError naming the file if it is malformed.
    """
    path = Path(workdir) / CLAIMS_FILE
    try:
        rows = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error})") from None
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a list of claims, got {type(rows).__name__}")
    claims = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != set(Claim._fields):
            raise ValueError(f"{path}[{i}]: expected keys {', '.join(Claim._fields)}, got {row!r}")
        claims.append(_checked(Claim(**row), f"{path}[{i}]"))
    return claims
