"""TAR² against its baselines and ablations on sparse-reward SMAX, with IPPO and MAPPO.

"Redistributing Rewards Across Time and Agents for Multi-Agent Reinforcement Learning" (TAR²;
Kapoor et al., arXiv 2502.04864 v2; earlier arXiv 2412.14779). Each (scenario, algorithm) is one
``jaxml.rl.tar2_train`` trainer whose slots are the methods of ``--config.<algo>.tar2.methods``
(one compiled program for all of them; the slots start from the same policy and environment
keys), run by ``run_trainer`` with ``num_seeds`` vmapped seeds (chunks, checkpoints, resume).
The team reward is withheld until the episode's end (``SparseReward``); ``dense`` trains on
the withheld reward (the ceiling). Curves: each rollout's first-episode win rate and return
(seed mean, 95% band) against env steps. Final figures: the final policies evaluated by
``jaxml.rl.evaluate`` (``eval_episodes`` fresh episodes per seed, argmax actions).

  python -m experiments.tar2.main --preset=quick --workdir=results/quick/tar2
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import ml_collections
import numpy as np

from experiments.tar2.config import LABELS, get_config
from experiments.tar2.lbf import make_lbf
from experiments.tar2.mabrax import TASKS as MABRAX_TASKS
from experiments.tar2.mabrax import make_mabrax
from jaxml import envs
from jaxml.envs.wrappers import SparseReward
from jaxml.rl import tar2_train
from jaxml.utils import checks
from jaxml.utils.claims import Claim, write_claims
from jaxml.utils.config import ConfigError, check_base, check_choices, check_positive
from jaxml.utils.plotting import Band, Panel, plot_bands
from jaxml.utils.trainer import member_metric, run_options, run_trainer

NAME = "tar2"
FIGURE = "win_rates.png"
ALGORITHMS = ("ippo", "mappo")
LBF = "lbf"  # jumanji's Level-Based Foraging as a team task (experiments.tar2.lbf).
MABRAX = "mabrax"  # JaxMARL's multi-agent MuJoCo, continuous actions (experiments.tar2.mabrax).
SCENARIOS = ("3m", "5m_vs_6m", "10m_vs_11m", "3s5z", "2s3z", "8m", LBF, *MABRAX_TASKS)
# What the claims compare per task: SMAX's win rate; on LBF the team return (the share of the
# food's value collected, 1 when all of it is), since a small budget rarely collects it all.
# (evaluated metric, training metric, its name), fixed before any LBF run.
PRIMARY = {
    "smax": ("eval_won", "win_rate", "win rate"),
    LBF: ("eval_return", "episode_return", "team return"),
    # MABrax: the team's episode return (forward progress summed over the episode), fixed
    # before any MABrax run.
    MABRAX: ("eval_return", "episode_return", "team return"),
}


def task(scenario: str) -> str:
    if scenario == LBF:
        return LBF
    return MABRAX if scenario in MABRAX_TASKS else "smax"


def episode_steps(config: ml_collections.ConfigDict, scenario: str) -> int:
    """The most transitions an episode of ``scenario`` has: the rollout's length. An SMAX
    episode that no team wins has ``max_steps + 1``; an LBF one ``time_limit``."""
    if scenario == LBF:
        return int(config.lbf.time_limit)
    if task(scenario) == MABRAX:  # The time limit: every episode ends by then.
        return int(config.mabrax.episode_length)
    return int(config.horizon) + 1


def make_env(config: ml_collections.ConfigDict, scenario: str):
    """Sparse ``scenario``: the team reward withheld until the episode's end (SMAX, or LBF as
    a team task, ``experiments.tar2.lbf``), with the elapsed time observed if configured."""
    if scenario == LBF:
        dense = make_lbf(**config.lbf)
    elif task(scenario) == MABRAX:
        dense = make_mabrax(scenario, config.mabrax.episode_length, config.mabrax.backend)
    else:
        dense = envs.make("jaxmarl/SMAX", scenario=scenario, max_steps=config.horizon)
    env = SparseReward(dense)
    if config.elapsed_time:
        env = tar2_train.ElapsedTime(env, episode_steps(config, scenario), env.num_agents)
    return env


def make_trainer(config: ml_collections.ConfigDict, algorithm: str, scenario: str):
    """The trainer of ``algorithm`` on sparse ``scenario``; rollouts of one whole episode
    (``episode_steps``), so every episode's return is known before GAE reads its rewards."""
    run_config = config[algorithm].copy_and_resolve_references()
    if task(scenario) == MABRAX:  # MAMuJoCo's PPO settings (experiments.tar2.mabrax).
        run_config.update(config.mabrax.ppo.to_dict())
    steps = episode_steps(config, scenario)
    run_config.num_steps = steps
    run_config.eval_max_steps = steps + 1
    try:
        env = make_env(config, scenario)
        return tar2_train.make_trainer(run_config, env), run_config
    except ValueError as error:
        raise ConfigError(f"--config.{algorithm}: {error}") from error


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_positive(config, ("horizon", "num_chunks", "eval_episodes"))
    for field in ("grid_size", "num_agents", "num_food", "time_limit"):
        checks.positive_int(config.lbf[field], f"--config.lbf.{field}", ConfigError)
    checks.positive_int(config.mabrax.episode_length, "--config.mabrax.episode_length", ConfigError)
    check_choices(config, "algorithms", ALGORITHMS)
    check_choices(config, "scenarios", SCENARIOS)


def curve(history: list[dict], name: str) -> dict | None:
    rows = [row for row in history if name in row]
    if not rows:
        return None
    per_seed = member_metric(rows, name).astype(np.float64)  # [chunks, seeds]
    return {
        "mean": per_seed.mean(axis=1).tolist(),
        "ci95": (1.96 * per_seed.std(axis=1) / math.sqrt(per_seed.shape[1])).tolist(),
        "final_per_seed": per_seed[-1].tolist(),
    }


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    validate(config)
    workdir = Path(workdir)
    records = []
    for scenario in config.scenarios:
        for algorithm in config.algorithms:
            trainer, run_config = make_trainer(config, algorithm, scenario)
            methods = tuple(run_config.tar2.methods)
            start = time.perf_counter()
            run = run_trainer(
                trainer,
                workdir / "runs" / f"{scenario}_{algorithm}",
                num_chunks=config.num_chunks,
                eval_every_chunks=config.num_chunks,
                resume=resume,
                **run_options(config),
                description=f"{scenario} {algorithm}",
            )
            seconds = time.perf_counter() - start
            history = run.result.history
            prefix = (lambda m: f"{m}/") if len(methods) > 1 else (lambda m: "")
            batch = trainer.sizes.batch_size
            for method in methods:
                p = prefix(method)
                steps = [row["step"] * batch for row in history if p + "win_rate" in row]
                record = {
                    "scenario": scenario,
                    "task": task(scenario),
                    "algorithm": algorithm,
                    "method": method,
                    "env_steps": steps,
                    "job_seconds": seconds,
                }
                for name in ("win_rate", "episode_return", "eval_won", "eval_return"):
                    record[name] = curve(history, p + name)
                if record["eval_won"] is None:  # LBF's outcome extra is "success".
                    record["eval_won"] = curve(history, p + "eval_success")
                records.append(record)
            (workdir / "results.json").write_text(json.dumps(records, indent=1))
    plot(config, records, workdir / FIGURE)
    write_summary(config, records, workdir)
    write_claims(workdir, claims(records))
    return {"records": records}


def _final(record: dict | None, name: str) -> np.ndarray | None:
    if record is None or record.get(name) is None:
        return None
    return np.asarray(record[name]["final_per_seed"])


def _spread(values: np.ndarray) -> str:
    return f"{values.mean():.3f} ± {values.std():.3f}"


def claims(records: list[dict]) -> list[Claim]:
    """The paper's claims at this run's scale, with thresholds fixed before any run.

    The metric is the task's ``PRIMARY`` one: SMAX's win rate, LBF's team return.

    - TAR² (IPPO) ends higher than AREL, STAS and the sparse baseline: its seed-mean evaluated
      metric is strictly above each one's;
    - TAR² learns faster: the seed mean of its training metric averaged over the chunks (the
      curve's area) is strictly above each one's;
    - with TAR², IPPO does as well as MAPPO: IPPO's seed-mean evaluated metric is at least
      MAPPO's minus 0.05.
    """
    found = []
    by = {(r["scenario"], r["algorithm"], r["method"]): r for r in records}
    for scenario in dict.fromkeys(r["scenario"] for r in records):
        ours = by.get((scenario, "ippo", "tar2"))
        if ours is None:
            continue
        evaluated, trained, what = PRIMARY[ours.get("task", "smax")]
        ours_eval = _final(ours, evaluated)
        for rival in ("arel", "stas", "sparse"):
            other = by.get((scenario, "ippo", rival))
            if other is None:
                continue
            theirs_eval = _final(other, evaluated)
            if ours_eval is not None and theirs_eval is not None:
                found.append(
                    Claim(
                        f"{scenario}, IPPO: TAR² ends higher than {LABELS[rival]} "
                        f"(evaluated {what}, seed mean)",
                        bool(ours_eval.mean() > theirs_eval.mean()),
                        f"evaluated {what}: TAR² {_spread(ours_eval)}, {LABELS[rival]} "
                        f"{_spread(theirs_eval)} (mean ± std over {len(ours_eval)} seeds)",
                    )
                )
            a = float(np.mean(ours[trained]["mean"]))
            b = float(np.mean(other[trained]["mean"]))
            found.append(
                Claim(
                    f"{scenario}, IPPO: TAR² learns faster than {LABELS[rival]} (training "
                    f"{what} averaged over the chunks, seed mean)",
                    bool(a > b),
                    f"mean training {what} over {len(ours[trained]['mean'])} chunks: TAR² "
                    f"{a:.3f}, {LABELS[rival]} {b:.3f}",
                )
            )
        mappo = by.get((scenario, "mappo", "tar2"))
        mappo_eval = _final(mappo, evaluated)
        if ours_eval is not None and mappo_eval is not None:
            found.append(
                Claim(
                    f"{scenario}: with TAR², IPPO does as well as MAPPO (evaluated {what}, "
                    "seed mean, within 0.05)",
                    bool(ours_eval.mean() >= mappo_eval.mean() - 0.05),
                    f"evaluated {what}: IPPO+TAR² {_spread(ours_eval)}, MAPPO+TAR² "
                    f"{_spread(mappo_eval)}",
                )
            )
    if not found:  # E.g. a smoke run with one method: say whether anything was measured.
        r = records[0]
        _, trained, what = PRIMARY[r.get("task", "smax")]
        w = r[trained]["mean"]
        found.append(
            Claim(
                f"{r['scenario']} {r['algorithm']} {LABELS[r['method']]}: the training {what} "
                "does not fall",
                bool(w[-1] >= w[0]),
                f"training {what} {w[0]:.3f} in the first chunk, {w[-1]:.3f} in the last",
            )
        )
    return found


def plot(config, records: list[dict], path: Path) -> None:
    """Per scenario: IPPO's methods' training metric (``PRIMARY``) vs env steps, then IPPO vs
    MAPPO."""
    rows = []
    for scenario in config.scenarios:
        mine = [r for r in records if r["scenario"] == scenario]
        if not mine:
            continue
        _, trained, what = PRIMARY[task(scenario)]
        # Win rates and LBF's share of the food lie in [0, 1]; MABrax's return does not.
        ylim = None if task(scenario) == MABRAX else (-0.02, 1.02)
        ippo = [r for r in mine if r["algorithm"] == "ippo"]
        panels = []
        if ippo:
            bands = [
                Band(r["env_steps"], r[trained]["mean"], r[trained]["ci95"], LABELS[r["method"]])
                for r in ippo
            ]
            panels.append(Panel(bands, f"{scenario} (sparse), IPPO", "environment steps",
                                f"training {what}", ylim=ylim, legend=True))  # fmt: skip
        pair = [r for r in mine if r["method"] in ("tar2", "sparse")]
        if len({r["algorithm"] for r in pair}) > 1:
            bands = [
                Band(
                    r["env_steps"],
                    r[trained]["mean"],
                    r[trained]["ci95"],
                    f"{r['algorithm'].upper()} {LABELS[r['method']]}",
                )  # fmt: skip
                for r in pair
            ]
            panels.append(Panel(bands, f"{scenario}: IPPO vs MAPPO", "environment steps",
                                f"training {what}", ylim=ylim, legend=True))  # fmt: skip
        if panels:
            rows.append(panels)
    if rows:
        plot_bands(rows, path, title="TAR² on sparse tasks: seed mean, 95% band",
                   panel_size=(5.5, 4), band_alpha=0.2, legend_fontsize=7, dpi=90)  # fmt: skip


def write_summary(config, records: list[dict], workdir: Path) -> None:
    lines = [
        "Sparse tasks (team reward released at the end): SMAX at horizon "
        f"{config.horizon}, LBF ({config.lbf.grid_size}x{config.lbf.grid_size}, "
        f"{config.lbf.num_agents} agents, {config.lbf.num_food} food, "
        f"{config.lbf.time_limit} steps) where run; "
        f"{'with' if config.elapsed_time else 'without'} the elapsed-time feature, "
        f"{config.num_seeds} vmapped seeds. Final policies evaluated by `jaxml.rl.evaluate` "
        f"({config.eval_episodes} fresh episodes per seed, argmax actions): mean ± std over "
        "seeds. Training figures: the last chunk's rollouts (first episode of each env).",
        "",
        "| scenario | algorithm | method | env steps | evaluated win (SMAX) / success (LBF) rate | "
        "evaluated return | training win / success rate (last chunk) | "
        "training return (last chunk) | job seconds (all slots, incl. compile) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def cell(metric):
        if metric is None:
            return "—"
        return _spread(np.asarray(metric["final_per_seed"]))

    for r in records:
        lines.append(
            f"| {r['scenario']} | {r['algorithm'].upper()} | {LABELS[r['method']]} | "
            f"{r['env_steps'][-1]:,} | {cell(r['eval_won'])} | {cell(r['eval_return'])} | "
            f"{cell(r['win_rate'])} | {cell(r['episode_return'])} | {r['job_seconds']:.0f} |"
        )
    lines += ["", f"![win rates]({FIGURE})", ""]
    (workdir / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)
