"""Figures for run reports (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import matplotlib
import numpy as np

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


class Band(NamedTuple):
    """One curve of a :func:`plot_bands` panel: its mean, drawn over the shaded ``mean ± band``."""

    x: Any  # [T] e.g. labelled samples, environment steps, seconds.
    mean: Any  # [T] e.g. the mean over seeds.
    band: Any  # [T] or scalar half-width, e.g. the std over seeds or a 95% CI half-width.
    label: str = ""
    style: Mapping[str, Any] | None = None  # Extra Axes.plot keywords, e.g. {"lw": 2.4}.


class Panel(NamedTuple):
    """One axis of a :func:`plot_bands` figure."""

    bands: Sequence[Band]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    ylim: tuple[float, float] | None = None
    log_y: bool = False
    legend: bool = False


def plot_bands(
    panels: Sequence[Sequence[Panel]],
    path: str | os.PathLike,
    *,
    title: str = "",
    panel_size: tuple[float, float] = (5.0, 3.6),
    band_alpha: float = 0.15,
    legend_fontsize: float = 7,
    dpi: int = 110,
) -> matplotlib.figure.Figure:
    """Writes a grid of panels (rows of :class:`Panel`), each a set of mean ± band curves.

    Within a panel each band takes its line's colour; panels that list the same labels in the same
    order therefore colour them alike. Returns the (closed) figure, whose artists stay readable.
    """
    num_cols = {len(row) for row in panels}
    if len(num_cols) != 1 or 0 in num_cols:
        raise ValueError(f"panels: expected rows of equal, non-zero length, got {sorted(num_cols)}")
    (num_cols,) = num_cols
    width, height = panel_size
    fig, axes = plt.subplots(
        len(panels), num_cols, figsize=(width * num_cols, height * len(panels)), squeeze=False
    )
    for ax_row, row in zip(axes, panels, strict=True):
        for ax, panel in zip(ax_row, row, strict=True):
            for curve in panel.bands:
                x, mean = np.asarray(curve.x), np.asarray(curve.mean)
                band = np.broadcast_to(np.asarray(curve.band), mean.shape)
                if x.ndim != 1 or mean.shape != x.shape:
                    raise ValueError(
                        f"band {curve.label!r}: expected x and mean of one shape [T], got "
                        f"{x.shape} and {mean.shape}"
                    )
                (line,) = ax.plot(x, mean, label=curve.label, **(curve.style or {}))
                ax.fill_between(
                    x, mean - band, mean + band, color=line.get_color(), alpha=band_alpha, lw=0
                )
            ax.set(title=panel.title, xlabel=panel.xlabel, ylabel=panel.ylabel)
            if panel.ylim is not None:
                ax.set_ylim(*panel.ylim)
            if panel.log_y:
                ax.set_yscale("log")
            if panel.legend:
                ax.legend(fontsize=legend_fontsize)
            ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return fig
