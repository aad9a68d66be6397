"""Active-learning curves: a metric against labelled samples, its area, and strategy ranks.

The summary statistic of "Confidence-Aware Active Learning for Heteroscedastic Atmospheric
Regression" (CAAL, Jiang et al., arXiv 2602.11825): the area under the test-error curve over the
labelled budget, so a strategy that is lower earlier scores better than one that only ends lower.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def learning_curve(
    rows: Sequence[Mapping], strategy: str, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_labelled [R], values [S, R])`` of one strategy from the loop's rows.

    Args:
      rows: rows of :func:`jaxml.al.run_active_learning` (``strategy, seed, round, n_labelled``
        and ``metric``), any number of seeds.
      strategy: the strategy whose rows are read.
      metric: the row field, e.g. ``"test_rmse"``.

    Returns:
      The labelled samples per round (all seeds share the budget) and the metric per seed
      (sorted by seed) and round.
    """
    mine = [r for r in rows if r["strategy"] == strategy]
    if not mine:
        raise ValueError(f"rows: no row of strategy {strategy!r}")
    by_key = {(r["seed"], r["round"]): r for r in mine}
    seeds = sorted({r["seed"] for r in mine})
    rounds = sorted({r["round"] for r in mine})
    values = np.array([[by_key[s, k][metric] for k in rounds] for s in seeds])
    n = np.array([next(r["n_labelled"] for r in mine if r["round"] == k) for k in rounds])
    return n, values


def area_under_curve(n: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Trapezoid area under each curve divided by the budget range: a budget-averaged metric.

    Args:
      n: ``[R]`` labelled samples per round, increasing (R >= 2).
      values: ``[S, R]`` the metric per seed and round.

    Returns:
      ``[S]`` the area per seed, in the metric's units (dividing by the range makes budgets of
      different sizes comparable).
    """
    n, values = np.asarray(n), np.asarray(values)
    if n.ndim != 1 or n.shape[0] < 2 or values.ndim != 2 or values.shape[1] != n.shape[0]:
        raise ValueError(
            f"n, values: expected shapes [R >= 2] and [S, R], got {n.shape} and {values.shape}"
        )
    widths = np.diff(n).astype(float)
    return (0.5 * (values[:, 1:] + values[:, :-1]) * widths).sum(1) / widths.sum()


def curve_areas(
    rows: Sequence[Mapping], strategies: Sequence[str], metric: str
) -> dict[str, np.ndarray]:
    """``{strategy: area [S]}``: :func:`area_under_curve` of each strategy's ``metric`` curve."""
    return {s: area_under_curve(*learning_curve(rows, s, metric)) for s in strategies}


def rank_strategies(areas: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Rank of each strategy by mean area over seeds (1 = lowest), in the order of ``areas``.

    Ties share the better rank (competition ranking: 1 + the number of strictly lower means), so a
    strategy is never ranked behind one it equals.
    """
    means = {s: float(np.mean(a)) for s, a in areas.items()}
    return {s: 1 + sum(v < m for v in means.values()) for s, m in means.items()}
