"""Multi-agent PPO: training throughput beside env-only stepping.

Throughput (SMAX ``3m`` through the jaxmarl adapter): MAPPO's environment steps per second
including learning (``--num_envs`` x ``--num_steps`` per update, ``--updates`` updates in one
jitted scan) next to stepping the same auto-reset environment with uniformly random *available*
actions (the action mask applied) through the same ``jaxml.rl.rollout`` in the same process; the
ratio training / env-only (closer to 1 is better). Compilation and a warm-up run are excluded;
the median of ``--repeats`` timed runs is reported. One multi-agent step counts once.

The learning runs (win and success rates over seeds) are ``experiments/marl``.

  python -m benchmarks.marl_throughput
  python -m benchmarks.marl_throughput --num_envs=2048 --num_steps=64   # on an accelerator
"""

from __future__ import annotations

import functools
import json
import platform
from pathlib import Path

import jax
import jax.numpy as jnp
from absl import app, flags

from benchmarks._timing import timed
from experiments.marl.config import smax_config
from jaxml import envs
from jaxml.rl import mappo
from jaxml.rl._rollout import auto_reset, reset, rollout
from jaxml.utils.trainer import scan_steps

_NUM_ENVS = flags.DEFINE_integer("num_envs", 128, "Parallel environments (throughput).")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 128, "Steps per environment per update.")
_UPDATES = flags.DEFINE_integer("updates", 4, "Updates per timed run (throughput).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repetitions (the median is reported).")
_OUT = flags.DEFINE_string("out", "results/benchmarks/marl_throughput.json", "JSON output path.")


def throughput(num_envs: int, num_steps: int, updates: int, repeats: int) -> dict:
    """MAPPO training vs random masked stepping on SMAX 3m, env steps per second."""
    env = envs.make("jaxmarl/SMAX", scenario="3m")
    steps = num_envs * num_steps * updates
    config = smax_config("mappo", steps)
    config.update(num_envs=num_envs, num_steps=num_steps)
    trainer = mappo.make_trainer(config, env)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    train = jax.jit(lambda s: scan_steps(trainer, s, updates).state)
    train_s = timed(train, state, repeats)

    wrapped = auto_reset(env)

    def random_policy(params, obs, key):
        logits = jnp.where(obs.action_mask, 0.0, -jnp.inf)
        action = jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)
        zeros = jnp.zeros(action.shape, jnp.float32)
        return action, zeros, zeros

    def run_env(carry):
        rollout_state, key = carry
        for _ in range(updates):
            key, sub = jax.random.split(key)
            rollout_state, _ = rollout(wrapped, random_policy, None, rollout_state, sub, num_steps)
        return rollout_state, key

    env_state = reset(wrapped, jax.random.PRNGKey(1), num_envs)
    env_s = timed(jax.jit(run_env), (env_state, jax.random.PRNGKey(2)), repeats)
    row = {
        "name": "MAPPO SMAX 3m",
        "num_envs": num_envs,
        "num_steps": num_steps,
        "updates": updates,
        "train_steps_per_second": steps / train_s,
        "env_only_steps_per_second": steps / env_s,
        "ratio": env_s / train_s,
    }
    print(
        f"{row['name']:<16} train {row['train_steps_per_second']:>10.0f} steps/s  "
        f"env-only {row['env_only_steps_per_second']:>10.0f} steps/s  ratio {row['ratio']:.3f}"
    )
    return row


def main(argv):
    del argv
    results = {
        "device": jax.devices()[0].device_kind,
        "platform": platform.platform(),
        "throughput": [],
    }
    if _UPDATES.value > 0:
        results["throughput"].append(
            throughput(_NUM_ENVS.value, _NUM_STEPS.value, _UPDATES.value, _REPEATS.value)
        )
    out = Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    functools.partial(app.run, main)()
