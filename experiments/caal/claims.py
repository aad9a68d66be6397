"""The caal experiment's claim (Confidence-Aware Active Learning, arXiv 2602.11825), from its rows.

Apart from ``main.py`` so that the launcher stays short. ``records[benchmark]`` are the rows of
``results.json`` (one per strategy, seed and round), whose areas ``summary.md`` tabulates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxml import al
from jaxml.utils.claims import Claim, best_of, write_claims


def caal_claims(records: dict[str, list[dict]], strategies: tuple[str, ...]) -> list[Claim]:
    """Per benchmark: CAAL has the smallest mean area under the test-RMSE curve of all
    strategies (none if CAAL or every baseline was left out)."""
    if "caal" not in strategies or len(strategies) < 2:
        return []
    claims = []
    for benchmark, rows in records.items():
        auc = al.curve_areas(rows, strategies, "test_rmse")  # Per seed, as in the summary.
        means = {s: float(np.mean(a)) for s, a in auc.items()}
        statement = (
            f"{benchmark}: CAAL has the smallest area under the RMSE curve of all strategies"
        )
        claims.append(best_of(statement, means, "caal"))
    return claims


def write_caal_claims(workdir: Path, records: dict[str, list[dict]], strategies) -> list[Claim]:
    """Writes ``claims.json`` of :func:`caal_claims` into ``workdir``; returns the claims."""
    claims = caal_claims(records, tuple(strategies))
    write_claims(workdir, claims)
    return claims
