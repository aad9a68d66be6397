"""Reading a settings × seeds sweep run by ``run_trainer(..., settings=...)``.

Members are setting-major (member ``i`` has setting ``i // num_seeds``), so every per-member
metric reshapes to ``[rows, settings, seeds]``; :func:`best_setting` picks a setting the way a
learning-rate sweep does (e.g. GRNG, arXiv 2601.18420: the best final validation loss among the
learning rates whose seeds all stayed finite).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from jaxml.utils.trainer import member_metric


class SweepChoice(NamedTuple):
    best: int | None  # Index of the chosen setting; None when every setting diverged.
    diverged: tuple[int, ...]  # Settings where at least one seed went non-finite.


def setting_metric(history: list[dict[str, Any]], name: str, num_settings: int) -> np.ndarray:
    """``[rows, settings, seeds]`` values of metric ``name`` (rows that hold it)."""
    values = member_metric(history, name)
    if values.shape[1] % num_settings:
        raise ValueError(
            f"num_settings: expected a divisor of the {values.shape[1]} members, got {num_settings}"
        )
    return values.reshape(len(values), num_settings, -1)


def best_setting(
    history: list[dict[str, Any]],
    objective: str,
    num_settings: int,
    *,
    alive: str | None = "alive",
) -> SweepChoice:
    """The setting with the lowest seed-mean final ``objective`` among those never diverged.

    Args:
      history: metrics rows of a ``run_trainer`` sweep (``<name>_per_seed`` per member).
      objective: a metric to minimise, e.g. ``"val_loss"``; its last row is used.
      num_settings: the number of settings the members were built from.
      alive: the metric ``supervised_trainer(freeze_non_finite=True)`` reports (1 while finite);
        a member counts as diverged unless it is 1 over the whole last chunk. None: no check.

    Returns:
      ``SweepChoice``; ties go to the first setting.
    """
    final = setting_metric(history, objective, num_settings)[-1]
    if alive is None:
        ok = np.ones(num_settings, bool)
    else:
        # ``alive`` is a chunk mean: a member that diverged inside the last chunk reports a value
        # in (0, 1), and its frozen objective (zeroed) must not win.
        ok = np.all(setting_metric(history, alive, num_settings)[-1] >= 1.0, axis=1)
    diverged = tuple(i for i in range(num_settings) if not ok[i])
    candidates = [i for i in range(num_settings) if ok[i]]
    best = min(candidates, key=lambda i: final[i].mean()) if candidates else None
    return SweepChoice(best, diverged)
