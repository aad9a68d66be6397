"""Warm step time of one IPPO update (rollout + 4 x 4 minibatch epochs) per parameter mode, on
SMAX, the modes timed in interleaved rounds so that a shared machine's load falls on all of them.

  python -m experiments.lorasa.step_time --scenario=3m --rounds=3

Prints ``mode  params  ms/update  env steps/s`` rows (the median over rounds) and writes
``results/benchmarks/lorasa_step_time.json``. LoRASA is timed in phase 2 (frozen backbone).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

from experiments.lorasa.config import RUNS, run_config
from jaxml import envs
from jaxml.models.agent_actor_critic import count_params
from jaxml.rl import mappo

_SCENARIO = flags.DEFINE_string("scenario", "3m", "SMAX scenario.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Interleaved timing rounds.")
_STEPS = flags.DEFINE_integer("steps", 2, "Updates per round and mode.")
_OUT = flags.DEFINE_string("out", "results/benchmarks/lorasa_step_time.json", "JSON output.")
MODES = ("ps", "ps_id", "nps", "lorasa")


def build(name: str, env):
    config = run_config(RUNS[name], 10 * 64 * 64)
    init_params = None
    if config.parameter_sharing == "lora":  # Phase 2 from a (fresh) PS backbone.
        shared = run_config(RUNS["ps_id"], 10 * 64 * 64)
        init_params = jax.jit(mappo.make_trainer(shared, env).init)(jax.random.PRNGKey(0)).params
    trainer = mappo.make_trainer(config, env, init_params=init_params)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    step = jax.jit(trainer.step)
    state, _ = step(state)  # Compile and warm up.
    jax.block_until_ready(state)
    return trainer, state, step


def main(_):
    env = envs.make("jaxmarl/SMAX", scenario=_SCENARIO.value)
    built = {name: build(name, env) for name in MODES}
    times = {name: [] for name in MODES}
    for _ in range(_ROUNDS.value):
        for name, (trainer, state, step) in built.items():
            start = time.perf_counter()
            for _ in range(_STEPS.value):
                state, metrics = step(state)
            jax.block_until_ready(metrics)
            times[name].append((time.perf_counter() - start) / _STEPS.value)
            built[name] = (trainer, state, step)
    rows = []
    for name, (trainer, state, _) in built.items():
        seconds = float(np.median(times[name]))
        rows.append({"mode": name, "params": count_params(state.params),
                     "ms_per_update": 1e3 * seconds,
                     "env_steps_per_second": trainer.sizes.batch_size / seconds})  # fmt: skip
        print(f"{name:8s} {rows[-1]['params']:>8,d} {1e3 * seconds:9.1f} ms "
              f"{rows[-1]['env_steps_per_second']:9.0f}/s")  # fmt: skip
    out = Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"scenario": _SCENARIO.value, "rows": rows}, indent=1))


if __name__ == "__main__":
    app.run(main)
