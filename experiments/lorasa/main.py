"""PS, PS+id, NPS and LoRASA on SMAX: evaluated win rate and return, parameters and step time.

"Low-Rank Agent-Specific Adaptation (LoRASA) for Multi-Agent Policy Learning" (Zhang, Kapoor,
Sun, arXiv 2502.05573). Each run (``--config.run_names``; its trainer config
``--config.runs.<run>.<field>``) trains ``num_seeds`` vmapped seeds of IPPO through the runner
(chunks, checkpoints, resume). A LoRASA run is ``mappo.make_two_phase_trainer``: its ``init``
trains the PS phase (``lora.phase1_timesteps``, by default the run's switch share of
``total_timesteps``), its steps train the adapters on the frozen backbone; its curve starts at
the switch. The final figures are the final policy's, evaluated on ``eval_episodes`` fresh
episodes per seed with each agent's most likely action (``jaxml.rl.evaluate``). Parameters are
counted from the initial state (actor, critic, adapters); step time is the warm env steps per
second of all seeds together (``experiments.rl_common``).

  python -m experiments.lorasa.main --preset=quick --workdir=results/quick/lorasa
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import ml_collections
import numpy as np

from experiments.lorasa.config import RUNS, get_config
from experiments.rl_common import plot_rate_curves, train_curves
from jaxml import envs
from jaxml.models import lora
from jaxml.models.agent_actor_critic import CRITIC_PREFIXES, count_params
from jaxml.rl import mappo
from jaxml.utils.claims import Claim, write_claims
from jaxml.utils.config import ConfigError, check_base, check_choices, check_positive

NAME = "lorasa"
FIGURE = "win_rates.png"


def trainer_config(config: ml_collections.ConfigDict, name: str) -> ml_collections.ConfigDict:
    """Run ``name``'s trainer config, LoRASA's switch point filled in."""
    out = config.runs[name].copy_and_resolve_references()
    if out.parameter_sharing == "lora" and not out.lora.phase1_timesteps:
        out.lora.phase1_timesteps = int(RUNS[name].switch * out.total_timesteps)
    return out


def with_backbone_evaluation(trainer):
    """A LoRASA trainer whose ``evaluate`` also evaluates its shared backbone alone, adapters
    zeroed (``lora.without_adapters``), on the same episodes' keys: ``backbone_eval_*``. The
    difference is what the adapters changed in the evaluated (greedy) policy."""
    if trainer.evaluate is None:
        return trainer
    evaluate = trainer.evaluate

    def both(state):
        backbone = evaluate(state._replace(params=lora.without_adapters(state.params)))
        return {**evaluate(state), **{f"backbone_{k}": v for k, v in backbone.items()}}

    return dataclasses.replace(trainer, evaluate=both)


def build_trainer(run_config: ml_collections.ConfigDict, env, field: str):
    """The trainer of ``run_config`` on ``env``: LoRASA's two-phase trainer (with the backbone's
    own evaluation) or ``mappo``'s; a config the trainer refuses is a ``ConfigError`` naming the
    flag ``field``."""
    try:
        if run_config.parameter_sharing == "lora":
            return with_backbone_evaluation(mappo.make_two_phase_trainer(run_config, env))
        return mappo.make_trainer(run_config, env)
    except ValueError as error:
        raise ConfigError(f"{field}: {error}") from error


def make_trainer(config: ml_collections.ConfigDict, name: str):
    run_config = trainer_config(config, name)
    env = envs.make("jaxmarl/SMAX", scenario=config.scenario)
    return build_trainer(run_config, env, f"--config.runs.{name}"), run_config


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_positive(config, ("total_timesteps", "num_chunks", "eval_episodes"))
    check_choices(config, "run_names", RUNS)
    for name in config.run_names:
        make_trainer(config, name)  # Sizes, the env's specs, the LoRA fields.


def parameter_counts(trainer) -> dict[str, int]:
    """Actor, critic and adapter parameters of the trainer's network (every agent's)."""
    params = jax.eval_shape(trainer.init, jax.random.PRNGKey(0)).params
    inner = params["params"]
    critic = sum(count_params(v) for k, v in inner.items() if k.startswith(CRITIC_PREFIXES))
    total = count_params(params)
    return {
        "total": total,
        "actor": total - critic,
        "critic": critic,
        "adapters": lora.num_adapter_params(params),
    }


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    validate(config)
    workdir = Path(workdir)
    records = []
    for name in config.run_names:
        trainer, run_config = make_trainer(config, name)
        curves = train_curves(
            trainer,
            config,
            workdir / "runs" / name,
            resume,
            description=name,
            metrics=("win_rate", "episode_return", "eval_return", "eval_won", "backbone_eval_won"),
        )
        # A LoRASA run's steps are phase 2's: its curve starts after the PS phase's updates.
        offset = 0
        if run_config.parameter_sharing == "lora":
            batch = trainer.sizes.batch_size
            offset = (run_config.lora.phase1_timesteps // batch) * batch
        curves["env_steps"] = [s + offset for s in curves["env_steps"]]
        records.append({"run": name, "params": parameter_counts(trainer), **curves})
        (workdir / "results.json").write_text(json.dumps(records, indent=1))
    plot(records, workdir / FIGURE)
    write_summary(config, records, workdir)
    write_claims(workdir, claims(records))
    if config.mabrax.tasks:  # The full preset's MABrax jobs (none in quick: 40–125 s to compile).
        from experiments.lorasa import mabrax  # Imported here: mabrax imports this module.

        mabrax.train_mabrax(config, workdir / "mabrax", resume)
    return {"records": records}


def claims(records: list[dict]) -> list[Claim]:
    by_run = {r["run"]: r for r in records}
    found = []
    if "ps_id" in by_run and "nps" in by_run:
        for name in (n for n in by_run if n.startswith("lorasa")):
            ps, nps, ours = (by_run[n]["params"]["total"] for n in ("ps_id", "nps", name))
            found.append(
                Claim(
                    f"{RUNS[name].label}'s parameters stay closer to PS+id's than to NPS's",
                    ours - ps < nps - ours,
                    f"parameters: PS+id {ps:,}, {RUNS[name].label} {ours:,}, NPS {nps:,}",
                )
            )
    if "lorasa" in by_run and "ps_id" in by_run and "eval_won" in by_run["lorasa"]:
        ours = np.mean(by_run["lorasa"]["eval_won"]["final_per_seed"])
        ps = np.mean(by_run["ps_id"]["eval_won"]["final_per_seed"])
        found.append(
            Claim(
                "LoRASA matches or beats PS+id in evaluated win rate (seed mean)",
                bool(ours >= ps),
                f"evaluated win rate: LoRASA {ours:.3f}, PS+id {ps:.3f}",
            )
        )
    if not found:  # A single run: at least say whether it learned.
        r = records[0]
        first, last = np.asarray(r["win_rate"]["mean"])[[0, -1]]
        evidence = f"win rate {first:.3f} in the first chunk, {last:.3f} in the last"
        statement = f"{RUNS[r['run']].label}'s training win rate rises"
        found.append(Claim(statement, last > first, evidence))
    return found


def plot(records: list[dict], path: Path) -> None:
    """Training win rate against environment steps and against wall-clock."""
    labels = {name: run.label for name, run in RUNS.items()}
    plot_rate_curves(
        records,
        path,
        labels=labels,
        ylabel="win rate",
        title="PS / NPS / LoRASA (IPPO): seed mean, 95% band",
    )


def write_summary(config, records: list[dict], workdir: Path) -> None:
    lines = [
        f"SMAX {config.scenario}, IPPO, {config.total_timesteps:,} env steps per run "
        f"(LoRASA: PS then adapters). The final policy evaluated (`jaxml.rl.evaluate`, "
        f"{config.eval_episodes} fresh episodes per seed, argmax actions): mean ± std over "
        f"{config.num_seeds} vmapped seeds; parameters of the initial state (every agent's); "
        "env steps/s warm, all seeds together (LoRASA: the adapter phase).",
        "",
        "| run | params (actor / critic) | adapters | evaluated win rate | evaluated return | "
        "backbone alone (adapters zeroed): win rate | training win rate (last chunk) | "
        "env steps/s | job seconds (incl. compile) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def cell(metric):
        if metric is None:
            return "—"
        values = np.asarray(metric["final_per_seed"])
        return f"{values.mean():.3f} ± {values.std():.3f}"

    for r in records:
        p, speed = r["params"], r["env_steps_per_second"]
        lines.append(
            f"| {RUNS[r['run']].label} | {p['total']:,} ({p['actor']:,} / {p['critic']:,}) | "
            f"{p['adapters']:,} | {cell(r.get('eval_won'))} | {cell(r.get('eval_return'))} | "
            f"{cell(r.get('backbone_eval_won'))} | {cell(r['win_rate'])} | "
            f"{'—' if speed is None else f'{speed:,.0f}'} | {r['job_seconds']:.0f} |"
        )
    lines += ["", f"![win rates]({FIGURE})", ""]
    (workdir / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)
