"""IPPO/MAPPO on SMAX and IPPO-LSTM on the Foraging Games: win or success rate vs steps.

Each run (``--config.run_names``; its trainer config ``--config.runs.<run>.<field>``) trains
``num_seeds`` seeds in ``num_chunks`` chunks through the runner, with checkpoints and exact
resume (seeds vmapped; ``--config.vmap_seeds=false`` runs them one after the other);
``--mesh`` splits its environments over the local devices. ``win_rate`` is the share of the episodes
that ended in a chunk's rollouts that were won (SMAX: the enemy team wiped out with an ally alive)
or succeeded (Foraging Games: ``extras["success"]``), averaged over the chunk's updates; curves are
the seed mean with a 95% normal band (``experiments.rl_common``). The final figures are the final
policy's, evaluated on ``eval_episodes`` fresh episodes per seed with each agent's most likely
action (``jaxml.rl.evaluate``): ``eval_won`` (SMAX) or ``eval_success`` (Foraging Games) and
``eval_return`` (the mean over agents of each one's episode return).

  python -m experiments.marl.main --preset=quick --workdir=results/quick/marl
"""

from __future__ import annotations

import json
from pathlib import Path

import ml_collections
import numpy as np

from experiments.marl.config import RUNS, get_config
from experiments.rl_common import plot_rate_curves, train_curves
from jaxml import envs
from jaxml.rl import mappo
from jaxml.utils.claims import Claim, write_claims
from jaxml.utils.config import ConfigError, check_base, check_choices, check_positive

NAME = "marl"
FIGURE = "win_rates.png"


def make_trainer(config: ml_collections.ConfigDict, name: str):
    run = RUNS[name]
    try:
        return mappo.make_trainer(config.runs[name], envs.make(run.env_id, **run.env_kwargs))
    except ValueError as error:
        raise ConfigError(f"--config.runs.{name}: {error}") from error


def eval_rate(name: str) -> str:
    """The evaluation metric of run ``name``'s outcome: ``eval_won`` or ``eval_success``."""
    return "eval_won" if RUNS[name].rate == "win" else "eval_success"


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_positive(config, ("smax_total_timesteps", "foraging_total_timesteps", "num_chunks"))
    check_choices(config, "run_names", RUNS)
    for name in config.run_names:
        make_trainer(config, name)  # Sizes, the env's specs.


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    validate(config)
    workdir = Path(workdir)
    records = []
    for name in config.run_names:
        trainer = make_trainer(config, name)
        curves = train_curves(
            trainer,
            config,
            workdir / "runs" / name,
            resume,
            description=name,
            metrics=("win_rate", "episode_return", "eval_return", eval_rate(name)),
            vmap_seeds=config.vmap_seeds,
        )
        records.append({"run": name, **curves})
        (workdir / "results.json").write_text(json.dumps(records, indent=1))
    plot(records, workdir / FIGURE)
    write_summary(config, records, workdir)
    found = []  # It learns: the last chunk's seed-mean rate above the first chunk's.
    for r in records:
        run, (first, last) = RUNS[r["run"]], np.asarray(r["win_rate"]["mean"])[[0, -1]]
        evidence = (
            f"{run.rate} rate (seed mean) {first:.3f} in the first chunk, {last:.3f} in the last"
        )
        statement = f"{run.label} learns: its final {run.rate} rate is above its first chunk's"
        found.append(Claim(statement, last > first, evidence))
    write_claims(workdir, found)
    return {"records": records}


def plot(records: list[dict], path: Path) -> None:
    """Win / success rate against environment steps and against wall-clock."""
    labels = {name: run.label for name, run in RUNS.items()}
    plot_rate_curves(
        records,
        path,
        labels=labels,
        ylabel="win / success rate",
        title="IPPO / MAPPO: seed mean, 95% band",
    )


def write_summary(config, records: list[dict], workdir: Path) -> None:
    lines = [
        f"The final policy evaluated (`jaxml.rl.evaluate`, {config.eval_episodes} fresh episodes "
        "per seed, each agent's most likely action): win (SMAX) or success (Foraging) rate and "
        f"return (mean over agents), mean ± std over {config.num_seeds} seeds "
        f"({'vmapped' if config.vmap_seeds else 'one after the other'}); then the training "
        "rate of the last chunk's rollouts. Each run at the settings in "
        "`experiments/marl/config.py`, nothing tuned per run.",
        "",
        "| run | env steps | evaluated win / success rate | evaluated return | training rate "
        "(last chunk) | env steps/s (all seeds, warm) | job seconds (incl. compile) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]

    def cell(values, spec=".3f"):
        values = np.asarray(values)
        return f"{values.mean():{spec}} ± {values.std():{spec}}"

    for r in records:
        speed = r["env_steps_per_second"]
        lines.append(
            f"| {RUNS[r['run']].label} | {r['env_steps'][-1]:,} | "
            f"{cell(r[eval_rate(r['run'])]['final_per_seed'])} | "
            f"{cell(r['eval_return']['final_per_seed'])} | "
            f"{cell(r['win_rate']['final_per_seed'])} | "
            f"{'—' if speed is None else f'{speed:,.0f}'} | {r['job_seconds']:.0f} |"
        )
    lines += ["", f"![win rates]({FIGURE})", ""]
    (workdir / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)
