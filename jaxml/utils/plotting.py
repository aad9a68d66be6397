"""Figures for run reports (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_curves(
    history: Sequence[dict[str, Any]],
    panels: Sequence[tuple[str, str, bool]],
    path: str | os.PathLike,
    title: str = "",
) -> None:
    """One panel per ``(metric, y-label, log_y)`` against ``step``, from metrics.jsonl rows.

    Where a row holds ``<metric>_per_seed``, each seed is drawn thin and the mean thick.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.4), squeeze=False)
    for ax, (name, label, log_y) in zip(axes[0], panels, strict=True):
        rows = [r for r in history if name in r]
        steps = [r["step"] for r in rows]
        per_seed = [r[f"{name}_per_seed"] for r in rows if f"{name}_per_seed" in r]
        if per_seed and len(per_seed) == len(rows):
            for seed_curve in zip(*per_seed, strict=True):
                ax.plot(steps, seed_curve, lw=0.6, alpha=0.5, color="tab:gray")
        ax.plot(steps, [r[name] for r in rows], lw=1.8, color="tab:blue")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
