"""Multi-agent PPO: training throughput beside env-only stepping, and short learning runs.

Throughput (SMAX ``3m`` through the jaxmarl adapter): MAPPO's environment steps per second
including learning (``--num_envs`` x ``--num_steps`` per update, ``--updates`` updates in one
jitted scan) next to stepping the same auto-reset environment with uniformly random *available*
actions (the action mask applied) through the same ``jaxml.rl.rollout`` in the same process; the
ratio training / env-only (closer to 1 is better). Compilation and a warm-up run are excluded;
the median of ``--repeats`` timed runs is reported. One multi-agent step counts once.

Learning runs (``--runs``, each ``--learn_steps`` environment steps, one seed unless
``--seeds``): IPPO and MAPPO on SMAX ``3m`` (win rate: the enemy team wiped out) and IPPO with an
LSTM on ``ForagingScoreG-v0`` (success rate, ``extras["success"]``). Each prints the rate
averaged over windows of updates against environment steps.

  python -m benchmarks.marl_throughput
  python -m benchmarks.marl_throughput --runs= --updates=4          # throughput only
  python -m benchmarks.marl_throughput --runs=smax_mappo --learn_steps=2000000
"""

from __future__ import annotations

import functools
import json
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from jaxml import envs
from jaxml.rl import mappo, on_policy
from jaxml.rl._rollout import auto_reset, reset, rollout

_NUM_ENVS = flags.DEFINE_integer("num_envs", 128, "Parallel environments (throughput).")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 128, "Steps per environment per update.")
_UPDATES = flags.DEFINE_integer("updates", 4, "Updates per timed run (throughput).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repetitions (the median is reported).")
_RUNS = flags.DEFINE_list(
    "runs", ["smax_ippo", "smax_mappo", "foraging_ippo_lstm"], "Learning runs (empty: none)."
)
_LEARN_STEPS = flags.DEFINE_integer("learn_steps", 1_000_000, "Env steps per learning run.")
_SEEDS = flags.DEFINE_integer("seeds", 1, "Seeds per learning run (vmapped).")
_OUT = flags.DEFINE_string("out", "results/benchmarks/marl_throughput.json", "JSON output path.")


def smax_config(algorithm: str, num_envs: int, num_steps: int, total: int):
    config = mappo.default_config(algorithm)
    config.update(
        num_envs=num_envs,
        num_steps=num_steps,
        total_timesteps=total,
        update_epochs=4,
        num_minibatches=4,
        learning_rate=5e-4,
        hidden=(64, 64),
        activation="relu",
        ent_coef=0.01,
    )
    return config


def foraging_config(total: int):
    """The Foraging Games authors' PPO settings (128 envs x 32 steps, lr 2.5e-4, LSTM 128),
    with shared parameters and an agent id instead of one network per agent."""
    config = mappo.default_config("ippo")
    config.update(
        num_envs=128,
        num_steps=32,
        total_timesteps=total,
        update_epochs=4,
        num_minibatches=4,
        learning_rate=2.5e-4,
        hidden=(128, 128),
        activation="relu",
        ent_coef=0.01,
        recurrent="lstm",
        rnn_size=128,
        bootstrap_truncated=False,  # Every episode end is a termination.
    )
    return config


RUNS = {
    "smax_ippo": ("jaxmarl/SMAX", {"scenario": "3m"}, lambda n: smax_config("ippo", 64, 64, n)),
    "smax_mappo": ("jaxmarl/SMAX", {"scenario": "3m"}, lambda n: smax_config("mappo", 64, 64, n)),
    "foraging_ippo_lstm": ("ForagingScoreG-v0", {}, foraging_config),
}


def _median_seconds(fn, arg, repeats: int) -> float:
    jax.block_until_ready(fn(arg))  # Compile and warm up.
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(arg))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(num_envs: int, num_steps: int, updates: int, repeats: int) -> dict:
    """MAPPO training vs random masked stepping on SMAX 3m, env steps per second."""
    env = envs.make("jaxmarl/SMAX", scenario="3m")
    steps = num_envs * num_steps * updates
    trainer = mappo.make_trainer(smax_config("mappo", num_envs, num_steps, steps), env)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    train = jax.jit(lambda s: on_policy.scan_updates(trainer, s, updates).state)
    train_s = _median_seconds(train, state, repeats)

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
    env_s = _median_seconds(jax.jit(run_env), (env_state, jax.random.PRNGKey(2)), repeats)
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


def learn(name: str, total: int, seeds: int) -> dict:
    """One learning run: win/success rate against environment steps."""
    env_id, kwargs, make_config = RUNS[name]
    config = make_config(total)
    train = jax.jit(jax.vmap(mappo.make_train(config, envs.make(env_id, **kwargs))))
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    start = time.perf_counter()
    compiled = train.lower(keys).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(keys))
    run_s = time.perf_counter() - start
    rate = np.asarray(out.metrics["win_rate"])  # [seeds, updates]
    ret = np.asarray(out.metrics["episode_return"])
    steps = np.asarray(out.metrics["env_steps"][0])
    windows = np.array_split(np.arange(rate.shape[1]), min(10, rate.shape[1]))
    curve = [
        {
            "env_steps": int(steps[w[-1]]),
            "win_rate": float(rate[:, w].mean()),
            "episode_return": float(ret[:, w].mean()),
        }
        for w in windows
    ]
    row = {
        "name": name,
        "env": env_id,
        "kwargs": kwargs,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()},
        "seeds": seeds,
        "compile_seconds": compile_s,
        "run_seconds": run_s,
        "steps_per_second": seeds * int(steps[-1]) / run_s,
        "final_win_rate": curve[-1]["win_rate"],
        "curve": curve,
    }
    print(f"{name}: {int(steps[-1])} steps x {seeds} seeds in {run_s:.0f} s "
          f"(+{compile_s:.0f} s compile), {row['steps_per_second']:.0f} steps/s")  # fmt: skip
    for point in curve:
        print(
            f"  {point['env_steps']:>10}  win/success {point['win_rate']:.3f}  "
            f"return {point['episode_return']:.3f}"
        )
    return row


def main(argv):
    del argv
    results = {
        "device": jax.devices()[0].device_kind,
        "platform": platform.platform(),
        "throughput": [],
        "learning": [],
    }
    if _UPDATES.value > 0:
        results["throughput"].append(
            throughput(_NUM_ENVS.value, _NUM_STEPS.value, _UPDATES.value, _REPEATS.value)
        )
    for name in _RUNS.value:
        if name not in RUNS:
            raise ValueError(f"--runs: got {name!r}; accepted: {sorted(RUNS)}")
        results["learning"].append(learn(name, _LEARN_STEPS.value, _SEEDS.value))
    out = Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    if not results["throughput"]:
        results["throughput"] = previous.get("throughput", [])
    merged = {r["name"]: r for r in previous.get("learning", [])}
    merged.update({r["name"]: r for r in results["learning"]})
    results["learning"] = list(merged.values())
    out.write_text(json.dumps(results, indent=2, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    functools.partial(app.run, main)()
