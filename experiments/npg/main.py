"""Rank-1 NPG (arXiv 2601.18626) vs A2C, PPO and TRPO: returns against steps and wall-clock.

For each environment and algorithm one runner job trains ``num_seeds`` seeds at once (vmap) in
``num_chunks`` chunks; the curves (``experiments.rl_common``) are the seed mean with a 95%
normal confidence band of each chunk's ``episode_return`` (the mean over environments of each
one's last finished episode), against environment steps and against wall-clock after
compilation. The final figures (summary, claims) are the final policy's ``eval_return``:
``eval_episodes`` fresh episodes per seed with the mean action (``jaxml.rl.evaluate``, the
trainer's observation normaliser applied). ``--mesh`` splits each run's environments over the
local devices.

  python -m experiments.npg.main --preset=quick --workdir=results/quick/npg
"""

from __future__ import annotations

import json
from pathlib import Path

import ml_collections
import numpy as np

from experiments.npg.config import ALGOS, get_config
from experiments.rl_common import train_curves
from jaxml import envs, rl
from jaxml.utils import is_primary
from jaxml.utils.claims import best_of, write_claims
from jaxml.utils.config import ConfigError, check_base, check_choices, check_positive
from jaxml.utils.plotting import Band, Panel, plot_bands

NAME = "npg"
FIGURE = "returns.png"
LABELS = {"npg": "NPG-rank1", "a2c": "A2C", "ppo": "PPO", "trpo": "TRPO"}
FINAL = "eval_return"  # What the summary and the claims compare: the final policy evaluated.


def make_env(name: str, brax_backend: str = "generalized"):
    """A gymnax env by its name, or ``brax/<env>`` on the ``brax_backend`` physics pipeline."""
    if name.startswith("brax/"):
        if name not in envs.names():
            envs.register(name, "jaxml.envs.adapters.brax:BraxAdapter", env_name=name[5:])
        return envs.make(name, backend=brax_backend)
    return envs.make(name if "/" in name else f"gymnax/{name}")


def algo_config(config: ml_collections.ConfigDict, algo: str, env_name: str):
    """``config.trainers.<algo>`` (brax: ``config.brax_trainers.<algo>``) at the family's budget."""
    brax = env_name.startswith("brax/")
    algo_cfg = (config.brax_trainers if brax else config.trainers)[algo]
    algo_cfg = algo_cfg.copy_and_resolve_references()
    algo_cfg.total_timesteps = config.brax_total_timesteps if brax else config.total_timesteps
    return algo_cfg


def make_trainer(config: ml_collections.ConfigDict, algo: str, env_name: str):
    try:
        return rl.make_trainer(
            algo, algo_config(config, algo, env_name), make_env(env_name, config.brax_backend)
        )
    except ValueError as error:
        field = "brax_trainers" if env_name.startswith("brax/") else "trainers"
        raise ConfigError(f"--config.{field}.{algo} on {env_name}: {error}") from error


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_positive(config, ("total_timesteps", "brax_total_timesteps", "num_chunks"))
    check_choices(config, "algos", ALGOS)
    for algo in config.algos:
        for env_name in config.envs:
            if not env_name.startswith("brax/"):  # brax is slow to import: built when run.
                make_trainer(config, algo, env_name)


def run_one(config, algo: str, env_name: str, workdir: Path, resume: bool) -> dict:
    """Trains ``num_seeds`` seeds of ``algo`` on ``env_name``; returns curves and final returns."""
    trainer = make_trainer(config, algo, env_name)
    curves = train_curves(
        trainer,
        config,
        workdir,
        resume,
        description=f"{env_name}/{algo}",
        metrics=("episode_return", "eval_return"),
    )
    return {"algo": algo, "env": env_name, **curves}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    validate(config)
    workdir = Path(workdir)
    records = []
    for env_name in config.envs:
        for algo in config.algos:
            run_dir = workdir / "runs" / env_name.replace("/", "_") / algo
            records.append(run_one(config, algo, env_name, run_dir, resume))
            if is_primary():  # With --distributed, one process writes the outputs.
                (workdir / "results.json").write_text(json.dumps(records, indent=1))
    if is_primary():
        plot(records, workdir / FIGURE)
        write_summary(config, records, workdir)
    found = []  # Per env: the seed-mean evaluation return of each algorithm, as in the summary.
    for env_name in config.envs:
        final = {LABELS[r["algo"]]: np.mean(r[FINAL]["final_per_seed"])
                 for r in records if r["env"] == env_name}  # fmt: skip
        others = "/".join(k for k in final if k != LABELS["npg"])
        if LABELS["npg"] in final and others:
            statement = (
                f"{env_name}: NPG-rank1's evaluation return is at least the best of {others}"
            )
            found.append(
                best_of(statement, final, LABELS["npg"], higher_is_better=True, spec=".1f")
            )
    write_claims(workdir, found)
    return {"records": records}


def plot(records: list[dict], path: Path) -> None:
    """Return against environment steps (top) and wall-clock (bottom), one column per env."""
    env_names = list(dict.fromkeys(r["env"] for r in records))
    rows = []
    for x_key, xlabel in (("env_steps", "environment steps"),
                          ("wall_seconds", "wall-clock after compilation (s)")):  # fmt: skip
        row = []
        for col, env_name in enumerate(env_names):
            bands = [
                Band(
                    r[x_key],
                    r["episode_return"]["mean"],
                    r["episode_return"]["ci95"],
                    LABELS[r["algo"]],
                    {"lw": 2.0 if r["algo"] == "npg" else 1.0},
                )  # fmt: skip
                for r in records
                if r["env"] == env_name and r[x_key] is not None
            ]
            title = env_name if x_key == "env_steps" else ""
            legend = x_key == "env_steps" and col == 0
            row.append(Panel(bands, title, xlabel, "episode return", legend=legend))
        rows.append(row)
    plot_bands(rows, path, title="Rank-1 NPG vs A2C, PPO, TRPO: seed mean, 95% band",
               panel_size=(4.5, 3.5), band_alpha=0.2, legend_fontsize=8, dpi=90)  # fmt: skip


def write_summary(config, records: list[dict], workdir: Path) -> None:
    env_names = list(dict.fromkeys(r["env"] for r in records))
    algos = list(dict.fromkeys(r["algo"] for r in records))
    steps = [r["env_steps"][-1] for r in records]
    budgets = []
    if any(not name.startswith("brax/") for name in env_names):
        budgets.append(f"{config.total_timesteps:,} environment steps per gymnax run")
    if any(name.startswith("brax/") for name in env_names):
        budgets.append(f"{config.brax_total_timesteps:,} environment steps per brax run")
    lines = [
        f"Evaluation return of the final policy (mean ± std over {config.num_seeds} vmapped seeds "
        f"of the mean over {config.eval_episodes} fresh episodes each, mean action, "
        f"`jaxml.rl.evaluate`), a budget of {' and '.join(budgets)}, rounded down to whole "
        f"chunks ({min(steps):,}–{max(steps):,} run). Each algorithm at "
        "`config.trainers.<algo>` (`jaxml.rl.default_config(algo)`; brax: "
        '`config.brax_trainers.<algo>`, `rl.default_config(algo, "continuous")`); nothing '
        "tuned per env. "
        "The last training episodes (the last chunk's `episode_return`) follow in brackets.",
        "",
        "| env | " + " | ".join(LABELS[a] for a in algos) + " |",
        "| --- |" + " --- |" * len(algos),
    ]
    by = {(r["env"], r["algo"]): r for r in records}
    for env_name in env_names:
        cells = []
        for algo in algos:
            v = np.asarray(by[(env_name, algo)][FINAL]["final_per_seed"])
            t = np.asarray(by[(env_name, algo)]["episode_return"]["final_per_seed"])
            cells.append(f"{v.mean():.1f} ± {v.std():.1f} ({t.mean():.1f})")
        lines.append(f"| {env_name} | " + " | ".join(cells) + " |")
    lines += ["", "| env | algo | job seconds (incl. compile) | env steps/s (all seeds, warm) |",
              "| --- | --- | --- | --- |"]  # fmt: skip
    for r in records:
        rate = r["env_steps_per_second"]
        lines.append(f"| {r['env']} | {LABELS[r['algo']]} | {r['job_seconds']:.1f} | "
                     f"{'—' if rate is None else f'{rate:,.0f}'} |")  # fmt: skip
    lines += ["", f"![returns]({FIGURE})", ""]
    (workdir / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)
