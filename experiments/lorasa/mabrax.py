"""LoRASA's MABrax runs: PS, PS+id, NPS and LoRASA with per-agent tanh-Gaussian heads (IPPO).

"Low-Rank Agent-Specific Adaptation (LoRASA) for Multi-Agent Policy Learning" (Zhang, Kapoor,
Sun, arXiv 2502.05573) evaluates on MAMuJoCo; jaxmarl's MABrax has its splits (``ant_4x2``,
``halfcheetah_6x1``, ``walker2d_2x3``; ``config.MABRAX_TASKS``). For each task in
``config.mabrax.tasks`` and run in ``config.mabrax.run_names`` (trainer config
``config.mabrax.runs.<run>``) this trains ``num_seeds`` vmapped seeds through the runner, as
``experiments.lorasa.main`` does on SMAX (a LoRASA run: the PS phase in ``init``, then the
adapters on the frozen backbone). Final returns are the final policy's on ``eval_episodes``
fresh episodes per seed with each agent's squashed mean action (``jaxml.rl.evaluate``); the
return is the team's (every agent receives it), per step summed over the episode.

  python -m experiments.lorasa.mabrax --preset=full --workdir=results/full/lorasa_mabrax
  python -m experiments.lorasa.mabrax --config.mabrax.tasks='("halfcheetah_6x1",)'
"""

from __future__ import annotations

import json
from pathlib import Path

import ml_collections
import numpy as np

from experiments.lorasa.config import MABRAX_TASKS, RUNS, get_config
from experiments.lorasa.main import build_trainer, parameter_counts
from experiments.rl_common import train_curves
from jaxml import envs
from jaxml.utils import checks
from jaxml.utils.config import ConfigError, check_base, check_positive

NAME = "lorasa_mabrax"


def make_env(config: ml_collections.ConfigDict, task: str):
    return envs.make(
        "jaxmarl/MABrax",
        env_name=task,
        episode_length=int(config.mabrax.episode_length),
        backend=config.mabrax.backend,
        homogenisation_method=MABRAX_TASKS[task],
    )


def trainer_config(config: ml_collections.ConfigDict, name: str) -> ml_collections.ConfigDict:
    """Run ``name``'s MABrax trainer config, LoRASA's switch point filled in."""
    out = config.mabrax.runs[name].copy_and_resolve_references()
    if out.parameter_sharing == "lora" and not out.lora.phase1_timesteps:
        out.lora.phase1_timesteps = int(RUNS[name].switch * out.total_timesteps)
    return out


def make_trainer(config: ml_collections.ConfigDict, task: str, name: str, env=None):
    run_config = trainer_config(config, name)
    env = make_env(config, task) if env is None else env
    return build_trainer(run_config, env, f"--config.mabrax.runs.{name}"), run_config


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_positive(config, ("num_chunks", "eval_episodes"))
    for field in ("total_timesteps", "episode_length"):
        value = config.mabrax[field]
        checks.positive_int(value, f"--config.mabrax.{field}", ConfigError)
    checks.choices(config.mabrax.run_names, "--config.mabrax.run_names", RUNS, ConfigError)
    if config.mabrax.tasks:  # None: the quick preset.
        checks.choices(config.mabrax.tasks, "--config.mabrax.tasks", MABRAX_TASKS, ConfigError)


def train_mabrax(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> list[dict]:
    """Every task x run of ``config.mabrax``; writes ``results.json`` and ``summary.md``."""
    validate(config)
    workdir = Path(workdir)
    records = []
    for task in config.mabrax.tasks:
        env = make_env(config, task)
        for name in config.mabrax.run_names:
            trainer, run_config = make_trainer(config, task, name, env)
            curves = train_curves(
                trainer,
                config,
                workdir / task / name,
                resume,
                description=f"{task}/{name}",
                metrics=("episode_return", "eval_return"),
            )
            offset = 0  # A LoRASA run's steps are phase 2's.
            if run_config.parameter_sharing == "lora":
                batch = trainer.sizes.batch_size
                offset = (run_config.lora.phase1_timesteps // batch) * batch
            curves["env_steps"] = [s + offset for s in curves["env_steps"]]
            record = {"task": task, "run": name, "params": parameter_counts(trainer), **curves}
            records.append(record)
            workdir.mkdir(parents=True, exist_ok=True)
            (workdir / "results.json").write_text(json.dumps(records, indent=1))
    write_summary(config, records, workdir)
    return records


def write_summary(config, records: list[dict], workdir: Path) -> None:
    lines = [
        f"MABrax, IPPO with per-agent tanh-Gaussian heads, {config.mabrax.total_timesteps:,} env "
        f"steps per run (LoRASA: PS then adapters), episodes of {config.mabrax.episode_length} "
        f"steps. The final policy evaluated (`jaxml.rl.evaluate`, {config.eval_episodes} fresh "
        f"episodes per seed, squashed mean actions; an agent's return, which is the team's): "
        f"mean ± std over {config.num_seeds} vmapped seeds; env steps/s warm, all seeds "
        "together (LoRASA: the adapter phase).",
        "",
        "| task | run | params | adapters | evaluated return | per seed | training return "
        "(last chunk) | env steps/s | job seconds (incl. compile) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in records:
        ev, tr = np.asarray(r["eval_return"]["final_per_seed"]), r["episode_return"]
        tr = np.asarray(tr["final_per_seed"])
        speed = r["env_steps_per_second"]
        lines.append(
            f"| {r['task']} | {RUNS[r['run']].label} | {r['params']['total']:,} | "
            f"{r['params']['adapters']:,} | {ev.mean():.2f} ± {ev.std():.2f} | "
            f"{', '.join(f'{v:.2f}' for v in ev)} | {tr.mean():.2f} ± {tr.std():.2f} | "
            f"{'—' if speed is None else f'{speed:,.0f}'} | {r['job_seconds']:.0f} |"
        )
    (workdir / "summary.md").write_text("\n".join(lines + [""]))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    return {"records": train_mabrax(config, workdir, resume)}


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)
