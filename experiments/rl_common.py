"""What the RL launchers (npg, marl) share: seed-vmapped learning curves and evaluations.

The curve of a metric is the seed mean of each chunk's value with a 95% normal confidence band
(1.96 · std / √seeds). Wall-clock is the run's time per update after compilation (the first
chunk, which compiles, is left out of the rate) times the update index. A trainer's
``evaluate`` (``jaxml.rl.evaluate`` on fresh episodes, ``config.trainers.<algo>.eval_*``) runs
every ``eval_every_chunks`` chunks and after the last; its metrics (``eval_return``, ...) are
the final figures the experiments report, not the last training episodes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import ml_collections
import numpy as np

from jaxml.utils.plotting import Band, Panel, plot_bands
from jaxml.utils.trainer import Trainer, member_metric, run_options, run_trainer


def eval_every_chunks(config: ml_collections.ConfigDict) -> int:
    """``config.eval_every_chunks``, where 0 (or absent) means after the last chunk only."""
    every = config.get("eval_every_chunks", 0)
    if not isinstance(every, int) or every < 0:
        raise ValueError(f"config.eval_every_chunks: expected an integer >= 0, got {every!r}")
    return every or config.num_chunks


def _run(trainer, config, workdir, resume, description, seed, num_seeds):
    options = {**run_options(config), "seed": seed, "num_seeds": num_seeds}
    return run_trainer(
        trainer,
        workdir,
        num_chunks=config.num_chunks,
        eval_every_chunks=eval_every_chunks(config),
        resume=resume,
        **options,
        description=description,
    )


def train_curves(
    trainer: Trainer,
    config: ml_collections.ConfigDict,
    workdir: Path,
    resume: bool,
    *,
    description: str,
    metrics: Sequence[str] = ("episode_return",),
    vmap_seeds: bool = True,
) -> dict:
    """Trains ``config.num_seeds`` seeds in ``config.num_chunks`` chunks; returns their curves.

    ``metrics`` absent from the run's rows are left out (an ``eval_*`` metric is only in the rows
    where the trainer evaluated).

    Reads ``seed``, ``num_seeds``, ``mesh``, ``num_chunks``, ``checkpoint_every_chunks``,
    ``max_checkpoints_to_keep``, ``tensorboard`` and ``progress_bar`` from ``config``. With
    ``vmap_seeds=False`` each seed is its own runner job (``workdir/seed_<s>``), one after the
    other.
    """
    start = time.perf_counter()
    if vmap_seeds:
        runs = [_run(trainer, config, workdir, resume, description, config.seed, config.num_seeds)]
    else:
        runs = [
            _run(trainer, config, Path(workdir) / f"seed_{s}", resume, f"{description}/{s}", s, 1)
            for s in range(config.seed, config.seed + config.num_seeds)
        ]
    seconds = time.perf_counter() - start
    histories = [run.result.history for run in runs]
    updates = np.array([r["step"] for r in histories[0]])
    rates = [run.result.warm_steps_per_second for run in runs]
    # Updates per second after compilation, of all seeds together.
    rate = None if None in rates else (1.0 / sum(1.0 / r for r in rates))
    batch = trainer.sizes.batch_size
    out = {
        "env_steps": (updates * batch).tolist(),
        "wall_seconds": (updates / rate).tolist() if rate else None,
        "env_steps_per_second": rate * batch * config.num_seeds if rate else None,
        "job_seconds": seconds,
    }
    for name in metrics:
        if not any(name in row for row in histories[0]):
            continue  # E.g. an evaluation metric of a trainer without evaluate.
        per_seed = np.concatenate(
            [member_metric(history, name).astype(np.float64) for history in histories], axis=1
        )  # [chunks, seeds]
        out[name] = {
            "mean": per_seed.mean(axis=1).tolist(),
            "ci95": (1.96 * per_seed.std(axis=1) / math.sqrt(per_seed.shape[1])).tolist(),
            "final_per_seed": per_seed[-1].tolist(),
        }
    return out


def plot_rate_curves(
    records: list[dict], path: Path, *, labels: dict[str, str], ylabel: str, title: str
) -> None:
    """Each run's training ``win_rate`` (seed mean, 95% band) against env steps and wall-clock;
    ``labels`` maps a record's ``"run"`` to its legend entry."""
    panels = []
    for x_key, xlabel in (("env_steps", "environment steps"),
                          ("wall_seconds", "wall-clock after compilation (s)")):  # fmt: skip
        bands = [
            Band(r[x_key], r["win_rate"]["mean"], r["win_rate"]["ci95"], labels[r["run"]])
            for r in records
            if r[x_key] is not None
        ]
        panels.append(Panel(bands, "", xlabel, ylabel, ylim=(-0.02, 1.02),
                            legend=x_key == "env_steps"))  # fmt: skip
    plot_bands([panels], path, title=title, panel_size=(5.5, 4), band_alpha=0.2,
               legend_fontsize=8, dpi=90)  # fmt: skip
