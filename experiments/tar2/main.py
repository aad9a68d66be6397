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
from jaxml import envs
from jaxml.envs.wrappers import SparseReward
from jaxml.rl import tar2_train
from jaxml.utils.claims import Claim, write_claims
from jaxml.utils.config import ConfigError, check_base, check_choices, check_positive
from jaxml.utils.plotting import Band, Panel, plot_bands
from jaxml.utils.trainer import member_metric, run_options, run_trainer

NAME = "tar2"
FIGURE = "win_rates.png"
ALGORITHMS = ("ippo", "mappo")
SCENARIOS = ("3m", "5m_vs_6m", "10m_vs_11m", "3s5z", "2s3z", "8m")


def make_env(scenario: str, horizon: int, elapsed_time: bool):
    env = SparseReward(envs.make("jaxmarl/SMAX", scenario=scenario, max_steps=horizon))
    if elapsed_time:
        env = tar2_train.ElapsedTime(env, horizon + 1, env.num_agents)
    return env


def make_trainer(config: ml_collections.ConfigDict, algorithm: str, scenario: str):
    """The trainer of ``algorithm`` on sparse ``scenario``; rollouts of ``horizon + 1`` steps
    (an SMAX episode that no team wins has ``max_steps + 1`` transitions)."""
    run_config = config[algorithm].copy_and_resolve_references()
    run_config.num_steps = config.horizon + 1
    run_config.eval_max_steps = config.horizon + 2
    try:
        env = make_env(scenario, config.horizon, bool(config.elapsed_time))
        return tar2_train.make_trainer(run_config, env), run_config
    except ValueError as error:
        raise ConfigError(f"--config.{algorithm}: {error}") from error


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_positive(config, ("horizon", "num_chunks", "eval_episodes"))
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
                    "algorithm": algorithm,
                    "method": method,
                    "env_steps": steps,
                    "job_seconds": seconds,
                }
                for name in ("win_rate", "episode_return", "eval_won", "eval_return"):
                    record[name] = curve(history, p + name)
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
    """The paper's claims at this run's scale, with thresholds fixed before any run:

    - TAR² (IPPO) ends higher than AREL, STAS and the sparse baseline: its seed-mean evaluated
      win rate is strictly above each one's;
    - TAR² learns faster: the seed mean of its training win rate averaged over the chunks (the
      curve's area) is strictly above each one's;
    - with TAR², IPPO does as well as MAPPO: IPPO's seed-mean evaluated win rate is at least
      MAPPO's minus 0.05.
    """
    found = []
    by = {(r["scenario"], r["algorithm"], r["method"]): r for r in records}
    for scenario in dict.fromkeys(r["scenario"] for r in records):
        ours = by.get((scenario, "ippo", "tar2"))
        if ours is None:
            continue
        ours_eval = _final(ours, "eval_won")
        for rival in ("arel", "stas", "sparse"):
            other = by.get((scenario, "ippo", rival))
            if other is None:
                continue
            theirs_eval = _final(other, "eval_won")
            if ours_eval is not None and theirs_eval is not None:
                found.append(
                    Claim(
                        f"{scenario}, IPPO: TAR² ends higher than {LABELS[rival]} "
                        "(evaluated win rate, seed mean)",
                        bool(ours_eval.mean() > theirs_eval.mean()),
                        f"evaluated win rate: TAR² {_spread(ours_eval)}, {LABELS[rival]} "
                        f"{_spread(theirs_eval)} (mean ± std over {len(ours_eval)} seeds)",
                    )
                )
            a = float(np.mean(ours["win_rate"]["mean"]))
            b = float(np.mean(other["win_rate"]["mean"]))
            found.append(
                Claim(
                    f"{scenario}, IPPO: TAR² learns faster than {LABELS[rival]} (training win "
                    "rate averaged over the chunks, seed mean)",
                    bool(a > b),
                    f"mean training win rate over {len(ours['win_rate']['mean'])} chunks: TAR² "
                    f"{a:.3f}, {LABELS[rival]} {b:.3f}",
                )
            )
        mappo = by.get((scenario, "mappo", "tar2"))
        mappo_eval = _final(mappo, "eval_won")
        if ours_eval is not None and mappo_eval is not None:
            found.append(
                Claim(
                    f"{scenario}: with TAR², IPPO does as well as MAPPO (evaluated win rate, "
                    "seed mean, within 0.05)",
                    bool(ours_eval.mean() >= mappo_eval.mean() - 0.05),
                    f"evaluated win rate: IPPO+TAR² {_spread(ours_eval)}, MAPPO+TAR² "
                    f"{_spread(mappo_eval)}",
                )
            )
    if not found:  # E.g. a smoke run with one method: say whether anything was measured.
        r = records[0]
        w = r["win_rate"]["mean"]
        found.append(
            Claim(
                f"{r['scenario']} {r['algorithm']} {LABELS[r['method']]}: the training win "
                "rate does not fall",
                bool(w[-1] >= w[0]),
                f"training win rate {w[0]:.3f} in the first chunk, {w[-1]:.3f} in the last",
            )
        )
    return found


def plot(config, records: list[dict], path: Path) -> None:
    """Per scenario: IPPO's methods' training win rate vs env steps, then IPPO vs MAPPO."""
    rows = []
    for scenario in config.scenarios:
        mine = [r for r in records if r["scenario"] == scenario]
        ippo = [r for r in mine if r["algorithm"] == "ippo"]
        panels = []
        if ippo:
            bands = [
                Band(
                    r["env_steps"],
                    r["win_rate"]["mean"],
                    r["win_rate"]["ci95"],
                    LABELS[r["method"]],
                )  # fmt: skip
                for r in ippo
            ]
            panels.append(Panel(bands, f"{scenario} (sparse), IPPO", "environment steps",
                                "training win rate", ylim=(-0.02, 1.02), legend=True))  # fmt: skip
        pair = [r for r in mine if r["method"] in ("tar2", "sparse")]
        if len({r["algorithm"] for r in pair}) > 1:
            bands = [
                Band(
                    r["env_steps"],
                    r["win_rate"]["mean"],
                    r["win_rate"]["ci95"],
                    f"{r['algorithm'].upper()} {LABELS[r['method']]}",
                )  # fmt: skip
                for r in pair
            ]
            panels.append(Panel(bands, f"{scenario}: IPPO vs MAPPO", "environment steps",
                                "training win rate", ylim=(-0.02, 1.02), legend=True))  # fmt: skip
        if panels:
            rows.append(panels)
    if rows:
        plot_bands(rows, path, title="TAR² on sparse SMAX: seed mean, 95% band",
                   panel_size=(5.5, 4), band_alpha=0.2, legend_fontsize=7, dpi=90)  # fmt: skip


def write_summary(config, records: list[dict], workdir: Path) -> None:
    lines = [
        f"Sparse SMAX (team reward released at the end), horizon {config.horizon}, "
        f"{'with' if config.elapsed_time else 'without'} the elapsed-time feature, "
        f"{config.num_seeds} vmapped seeds. Final policies evaluated by `jaxml.rl.evaluate` "
        f"({config.eval_episodes} fresh episodes per seed, argmax actions): mean ± std over "
        "seeds. Training figures: the last chunk's rollouts (first episode of each env).",
        "",
        "| scenario | algorithm | method | env steps | evaluated win rate | evaluated return | "
        "training win rate (last chunk) | job seconds (all slots, incl. compile) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def cell(metric):
        if metric is None:
            return "—"
        return _spread(np.asarray(metric["final_per_seed"]))

    for r in records:
        lines.append(
            f"| {r['scenario']} | {r['algorithm'].upper()} | {LABELS[r['method']]} | "
            f"{r['env_steps'][-1]:,} | {cell(r['eval_won'])} | {cell(r['eval_return'])} | "
            f"{cell(r['win_rate'])} | {r['job_seconds']:.0f} |"
        )
    lines += ["", f"![win rates]({FIGURE})", ""]
    (workdir / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)
