"""Warm step time of one compiled IPPO update per parameter mode (PS, PS+id, NPS, LoRASA), on
SMAX or MABrax, the modes timed in interleaved rounds in one process so that a shared machine's
load falls on all of them.

"Low-Rank Agent-Specific Adaptation (LoRASA) for Multi-Agent Policy Learning" (Zhang, Kapoor,
Sun, arXiv 2502.05573) claims that LoRASA's compute stays close to PS's. One update is
``trainer.step``: a rollout of ``num_envs x num_steps`` plus the minibatch epochs, at the
experiment's settings (SMAX: ``config.run_config``, 64 envs x 64 steps, 4 x 4 minibatches;
MABrax: ``config.mabrax_run_config``, 40 envs x 100 steps, 3 x 4 minibatches, tanh-Gaussian
heads). LoRASA is timed in phase 2 (frozen backbone, from a fresh PS+id backbone: its step does
not depend on the backbone's values). Each mode is compiled and run once before timing; then
every round times ``steps`` updates of each mode in turn, and a mode's figure is its median
over rounds.

  python -m experiments.lorasa.step_time --env=smax --scenario=3m --rounds=5
  python -m experiments.lorasa.step_time --env=mabrax --task=halfcheetah_6x1 --rounds=5

Prints ``mode  params  ms/update  env steps/s`` rows and writes
``results/benchmarks/lorasa_step_time_<env>.json`` (every round's time kept).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
from absl import app, flags

from experiments.lorasa.config import MABRAX_TASKS, RUNS, get_config, mabrax_run_config, run_config
from jaxml import envs
from jaxml.models.agent_actor_critic import count_params
from jaxml.rl import mappo, on_policy

MODES = ("ps", "ps_id", "nps", "lorasa")
ENVS = ("smax", "mabrax")


def mode_config(name: str, env_kind: str, episode_length: int = 100) -> ml_collections.ConfigDict:
    """Mode ``name``'s trainer config at the experiment's settings for ``env_kind``."""
    run = RUNS[name]
    if env_kind == "smax":
        return run_config(run, 10 * 64 * 64)
    if env_kind == "mabrax":
        return mabrax_run_config(run, 10 * 40 * 100, episode_length)
    raise ValueError(f"env: got {env_kind!r}; accepted: {ENVS}")


def build(config: ml_collections.ConfigDict, env, key=None) -> tuple[Any, Callable]:
    """``(state, step)``: mode ``config``'s initial state and its jitted update, compiled and run
    once (warm). A LoRA config is phase 2 on a fresh PS backbone of the same settings."""
    key = jax.random.PRNGKey(0) if key is None else key
    init_params = None
    if config.parameter_sharing == "lora":
        shared = config.copy_and_resolve_references()
        shared.parameter_sharing = "shared"
        init_params = jax.jit(mappo.make_trainer(shared, env).init)(key)
    trainer = mappo.make_trainer(config, env, init_params=init_params)
    state = jax.jit(trainer.init)(key)
    step = jax.jit(trainer.step)
    state, metrics = step(state)  # Compile and warm up.
    jax.block_until_ready((state, metrics))
    return state, step


def time_interleaved(
    built: dict[str, tuple[Any, Callable]],
    rounds: int,
    steps: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds per update of each mode in each round: round k times ``steps`` updates of every
    mode in turn (so load that changes between rounds falls on every mode). ``built`` maps a
    mode to ``(state, step)``; the states advance."""
    if rounds < 1 or steps < 1:
        raise ValueError(f"rounds, steps: got {rounds}, {steps}; accepted: integers >= 1")
    times: dict[str, list[float]] = {name: [] for name in built}
    for _ in range(rounds):
        for name, (state, step) in built.items():
            start = clock()
            for _ in range(steps):
                state, metrics = step(state)
            jax.block_until_ready((state, metrics))
            times[name].append((clock() - start) / steps)
            built[name] = (state, step)
    return times


def rows(built, times, batch_sizes: dict[str, int]) -> list[dict]:
    """One row per mode: parameters (every agent's), the median ms per update over rounds, the
    env steps per second it gives, and every round's ms."""
    out = []
    for name, (state, _) in built.items():
        seconds = float(np.median(times[name]))
        out.append(
            {
                "mode": name,
                "params": count_params(state.params),
                "ms_per_update": 1e3 * seconds,
                "env_steps_per_second": batch_sizes[name] / seconds,
                "ms_per_round": [1e3 * t for t in times[name]],
            }
        )
    return out


def define_flags() -> None:
    """The launcher's flags; defined on launch, not at import (the tests import this module)."""
    flags.DEFINE_enum("env", "smax", ENVS, "Environment family.")
    flags.DEFINE_string("scenario", "3m", "SMAX scenario (--env=smax).")
    flags.DEFINE_enum("task", "halfcheetah_6x1", tuple(MABRAX_TASKS), "MABrax task (--env=mabrax).")
    flags.DEFINE_integer("rounds", 5, "Interleaved timing rounds.")
    flags.DEFINE_integer("steps", 2, "Updates per round and mode.")
    flags.DEFINE_string("out", None, "JSON output (default results/benchmarks/...<env>.json).")


def main(_):
    args = flags.FLAGS
    if args.env == "smax":
        env, where = envs.make("jaxmarl/SMAX", scenario=args.scenario), args.scenario
    else:
        from experiments.lorasa import mabrax  # Imports brax only when needed.

        env, where = mabrax.make_env(get_config("quick"), args.task), args.task
    configs = {name: mode_config(name, args.env) for name in MODES}
    built = {}
    for name, config in configs.items():
        start = time.perf_counter()
        built[name] = build(config, env)
        print(f"{name:8s} compiled and warm in {time.perf_counter() - start:.0f} s", flush=True)
    times = time_interleaved(built, args.rounds, args.steps)
    batch = {n: on_policy.derive_sizes(c).batch_size for n, c in configs.items()}
    table = rows(built, times, batch)
    for row in table:
        print(f"{row['mode']:8s} {row['params']:>8,d} {row['ms_per_update']:9.1f} ms "
              f"{row['env_steps_per_second']:9.0f}/s  rounds "
              f"{', '.join(f'{t:.0f}' for t in row['ms_per_round'])} ms")  # fmt: skip
    out = Path(args.out or f"results/benchmarks/lorasa_step_time_{args.env}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    info = {"env": args.env, "where": where, "rounds": args.rounds, "steps": args.steps,
            "backend": jax.default_backend(), "jax": jax.__version__}  # fmt: skip
    out.write_text(json.dumps({**info, "rows": table}, indent=1))


if __name__ == "__main__":
    define_flags()
    app.run(main)
