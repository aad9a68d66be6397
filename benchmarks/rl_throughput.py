"""Training throughput of jaxml's RL trainers, and its ratio to stepping the environment alone.

``--modes=train``: one jitted ``train(key)`` per run at the given config, compiled first
(``.lower().compile()``), then timed; one JSON line per run with the environment steps per second
(``num_updates * num_envs * num_steps / seconds``) and the final return (the last update's
``episode_return``: the mean over environments of each one's last completed episode). The
issue's anchor: PureJaxRL's PPO at its CartPole config (4 envs x 128 steps, 5e5 steps) trains at
120-180 k steps/s on a 2-core CPU and reaches return 500.

``--modes=ratio``: PPO training with ``--ratio_num_envs`` (2048) parallel environments next to
stepping the same auto-reset environments with uniformly random actions for the same number of
steps, in one process, after compilation; prints training / env-only (1 = learning is free).
A third figure steps gymnax's own environment (with gymnax's auto-reset) to show the adapter's
cost.

``--algo`` is any of ppo, a2c, trpo, npg (each at its ``default_config()`` but for the sizes).

Timings on a shared machine vary with its load; each row records the 1-minute load average.

  python -m benchmarks.rl_throughput --algo=ppo --env=CartPole-v1 --num_envs=4 \\
      --num_steps=128 --total_timesteps=500000
  python -m benchmarks.rl_throughput --modes=ratio --env=CartPole-v1
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import numpy as np
from absl import app, flags
from jumanji.wrappers import AutoResetWrapper

from benchmarks._timing import timed
from jaxml import envs
from jaxml.rl import a2c, npg, on_policy, ppo, trpo

ALGOS = {"ppo": ppo, "a2c": a2c, "trpo": trpo, "npg": npg}

_MODES = flags.DEFINE_list("modes", ["train"], "Any of: train, ratio.")
_ALGO = flags.DEFINE_enum("algo", "ppo", list(ALGOS), "Trainer (train mode).")
_ENV = flags.DEFINE_string("env", "CartPole-v1", "gymnax id, or any jaxml.envs registry name.")
_NUM_ENVS = flags.DEFINE_integer("num_envs", 4, "Parallel environments (train mode).")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 128, "Steps per environment per update.")
_TOTAL = flags.DEFINE_integer("total_timesteps", 500_000, "Environment steps per run.")
_RUNS = flags.DEFINE_integer("runs", 3, "Timed runs (seeds 0, 1, ...) in train mode.")
_RATIO_ENVS = flags.DEFINE_integer("ratio_num_envs", 2048, "Parallel environments, ratio mode.")
_RATIO_STEPS = flags.DEFINE_integer("ratio_num_steps", 128, "Steps per env per update, ratio mode.")
_RATIO_UPDATES = flags.DEFINE_integer("ratio_updates", 4, "PPO updates timed in ratio mode.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repetitions in ratio mode (median).")
_OUT = flags.DEFINE_string("out", "results/benchmarks/rl_throughput.json", "JSON output path.")


def env_name(name: str) -> str:
    return name if name in envs.names() else f"gymnax/{name}"


def load() -> float:
    return round(os.getloadavg()[0], 2)


def config_for(algo: str, num_envs: int, num_steps: int, total: int):
    config = ALGOS[algo].default_config()
    config.update(num_envs=num_envs, num_steps=num_steps, total_timesteps=total)
    return config


def train_rows(algo: str, name: str, num_envs: int, num_steps: int, total: int, runs: int):
    """Compiles ``train`` once, then times ``runs`` runs with seeds 0, 1, ...; yields rows."""
    config = config_for(algo, num_envs, num_steps, total)
    trainer = ALGOS[algo].make_trainer(config, envs.make(name))
    start = time.perf_counter()
    compiled = jax.jit(on_policy.make_train(trainer)).lower(jax.random.PRNGKey(0)).compile()
    compile_s = time.perf_counter() - start
    env_steps = trainer.num_steps * trainer.sizes.batch_size
    for seed in range(runs):
        load_before = load()
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(jax.random.PRNGKey(seed)))
        seconds = time.perf_counter() - start
        returns = np.asarray(out.metrics["episode_return"])
        yield {
            "mode": "train",
            "algo": algo,
            "env": name,
            "seed": seed,
            "num_envs": num_envs,
            "num_steps": num_steps,
            "total_timesteps": env_steps,
            "steps_per_second": env_steps / seconds,
            "seconds": seconds,
            "compile_seconds": compile_s,
            "final_return": float(returns[-1]),
            "final_return_last10": float(returns[-10:].mean()),
            "load_average": load_before,
        }


def env_only(name: str, num_envs: int, num_steps: int, num_rollouts: int):
    """Random actions in ``num_envs`` auto-reset copies of the env; ``run(key)`` steps them all."""
    env = AutoResetWrapper(envs.make(name), next_obs_in_extras=True)
    sample = jax.vmap(envs.sample_action, in_axes=(None, 0))

    def body(state, key):
        action = sample(env.action_spec, jax.random.split(key, num_envs))
        state, timestep = jax.vmap(env.step)(state, action)
        return state, timestep.reward.sum()

    def run(key):
        state, _ = jax.vmap(env.reset)(jax.random.split(key, num_envs))
        keys = jax.random.split(key, num_steps * num_rollouts)
        return jax.lax.scan(body, state, keys)[1].sum()

    return jax.jit(run)


def gymnax_only(env_id: str, num_envs: int, num_steps: int, num_rollouts: int):
    """The same random stepping on gymnax's own environment (its own auto-reset)."""
    import gymnax

    env, params = gymnax.make(env_id)

    def body(state, key):
        key_act, key_step = jax.random.split(key)
        keys = jax.random.split(key_act, num_envs)
        action = jax.vmap(env.action_space(params).sample)(keys)
        step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
        _, state, reward, *_ = step(jax.random.split(key_step, num_envs), state, action, params)
        return state, reward.sum()

    def run(key):
        _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs), params)
        keys = jax.random.split(key, num_steps * num_rollouts)
        return jax.lax.scan(body, state, keys)[1].sum()

    return jax.jit(run)


def ratio_row(name: str, num_envs: int, num_steps: int, updates: int, repeats: int) -> dict:
    total = num_envs * num_steps * updates
    config = config_for("ppo", num_envs, num_steps, total)
    key = jax.random.PRNGKey(0)
    train = jax.jit(ppo.make_train(config, envs.make(name))).lower(key).compile()
    env_run = env_only(name, num_envs, num_steps, updates).lower(key).compile()
    load_before = load()
    train_s = timed(train, key, repeats)
    env_s = timed(env_run, key, repeats)
    row = {
        "mode": "ratio",
        "algo": "ppo",
        "env": name,
        "num_envs": num_envs,
        "num_steps": num_steps,
        "total_timesteps": total,
        "train_steps_per_second": total / train_s,
        "env_only_steps_per_second": total / env_s,
        "ratio": env_s / train_s,
        "load_average": load_before,
    }
    if name.startswith("gymnax/"):
        gymnax_run = gymnax_only(name.split("/", 1)[1], num_envs, num_steps, updates)
        row["gymnax_env_only_steps_per_second"] = total / timed(gymnax_run, key, repeats)
    return row


def main(argv):
    del argv
    unknown = sorted(set(_MODES.value) - {"train", "ratio"})
    if unknown:
        raise app.UsageError(f"--modes: unknown {unknown}; accepted: train, ratio")
    name = env_name(_ENV.value)
    if name not in envs.names():
        raise app.UsageError(f"--env: unknown {_ENV.value!r}; accepted: {', '.join(envs.names())}")
    device = f"{jax.devices()[0].device_kind} ({jax.default_backend()}), {platform.machine()}"
    print(f"device: {device}, {os.cpu_count()} CPUs visible")
    rows = []
    if "train" in _MODES.value:
        for row in train_rows(
            _ALGO.value, name, _NUM_ENVS.value, _NUM_STEPS.value, _TOTAL.value, _RUNS.value
        ):
            print(json.dumps(row))
            rows.append(row)
        rates = [r["steps_per_second"] for r in rows]
        print(f"{_ALGO.value} {name}: median {statistics.median(rates):,.0f} steps/s "
              f"(min {min(rates):,.0f}, max {max(rates):,.0f}) over {len(rates)} runs")  # fmt: skip
    if "ratio" in _MODES.value:
        row = ratio_row(name, _RATIO_ENVS.value, _RATIO_STEPS.value, _RATIO_UPDATES.value,
                        _REPEATS.value)  # fmt: skip
        print(json.dumps(row))
        print(f"{'':24s} {'train':>12s} {'env only':>12s} {'ratio':>6s}")
        print(f"ppo {name:20s} {row['train_steps_per_second']:12,.0f} "
              f"{row['env_only_steps_per_second']:12,.0f} {row['ratio']:6.3f}")  # fmt: skip
        rows.append(row)
    out = Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)

    # Keep rows of other configurations from earlier invocations; replace this one's.
    def same(a, b):
        keys = ("mode", "algo", "env", "num_envs", "num_steps", "total_timesteps", "seed")
        return all(a.get(k) == b.get(k) for k in keys)

    previous = json.loads(out.read_text())["rows"] if out.exists() else []
    kept = [r for r in previous if not any(same(r, new) for new in rows)]
    out.write_text(json.dumps({"device": device, "rows": kept + rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    app.run(main)
