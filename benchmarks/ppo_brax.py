"""jaxml's PPO next to brax's own PPO trainer at one budget and rollout shape (issue 15).

Both sides run the same task settings (``TASKS``: brax's published per-environment PPO values for
γ, entropy, reward scaling and epochs; lr 3e-4; observation normalisation) at one CPU-sized
rollout shape: 256 envs x 128 steps per update, 8 minibatches (brax: batch 256 x 8 minibatches
x unroll 16), for ``--total_timesteps`` env steps (default: the task's budget). What differs by
construction: brax computes GAE over its 16-step unrolls with the current critic inside the
loss, jaxml over each 128-step rollout before the epochs.

Each run prints one JSON line: the final policy's return over ``--eval_episodes`` episodes of up
to 1,000 steps, deterministic (mean action) and stochastic (brax's own evaluator samples unless
``deterministic_eval``), the trained observation normaliser applied, and training env steps/s
excluding compilation (brax: its ``training/sps`` of the last epoch, one seed at a time; jaxml:
the compiled ``train`` of all seeds vmapped, timed on its own). ``--side=both`` then prints
``name ours peer ratio`` rows and writes ``results/benchmarks/ppo_brax.json``.

``--preset`` picks jaxml's config (``ppo.default_config(preset)``) and ``--set`` overrides
fields (``--set=clip_value=True --set=actor_hidden="(64,64)"``), for ablations. brax 0.14 calls
``jax.device_put_replicated`` (gone in jax 0.10); a stacking drop-in is installed first
(``benchmarks._brax``).

  python -m benchmarks.ppo_brax --side=both --env=inverted_pendulum --seeds=3
  python -m benchmarks.ppo_brax --side=jaxml --env=hopper --total_timesteps=1000000
"""

from __future__ import annotations

import ast
import functools
import time
from typing import NamedTuple

import jax
from absl import app, flags

from benchmarks._brax import brax_returns, install_device_put_replicated, side_by_side


class Task(NamedTuple):
    backend: str  # brax physics pipeline.
    total_timesteps: int  # Default budget (CPU-sized; brax's own runs are 2e6-5e7).
    gamma: float
    ent_coef: float
    reward_scale: float  # brax's reward_scaling.
    update_epochs: int  # brax's num_updates_per_batch.


TASKS = {
    "inverted_pendulum": Task("generalized", 327_680, 0.97, 1e-2, 1.0, 4),
    "hopper": Task("positional", 1_048_576, 0.97, 1e-2, 10.0, 4),
    "halfcheetah": Task("positional", 1_048_576, 0.95, 1e-3, 1.0, 8),
}
NUM_ENVS, NUM_STEPS, NUM_MINIBATCHES, UNROLL = 256, 128, 8, 16
LEARNING_RATE = 3e-4

_SIDE = flags.DEFINE_enum("side", "both", ["jaxml", "brax", "both"], "Which trainer(s).")
_ENV = flags.DEFINE_enum("env", "inverted_pendulum", list(TASKS), "brax environment.")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds (jaxml: vmapped; brax: one run each).")
_SEED_OFFSET = flags.DEFINE_integer(
    "seed_offset", 0, "Run seeds seed_offset .. seed_offset + seeds - 1 (more seeds, disjoint)."
)
_TOTAL = flags.DEFINE_integer("total_timesteps", None, "Env steps per run (default: the task's).")
_PRESET = flags.DEFINE_string("preset", "continuous", "ppo.default_config preset (jaxml).")
_SET = flags.DEFINE_multi_string("set", [], "jaxml config override field=python_literal (repeat).")
_EPISODES = flags.DEFINE_integer("eval_episodes", 32, "Evaluation episodes per seed.")
_OUT = flags.DEFINE_string("out", "results/benchmarks/ppo_brax.json", "JSON output (--side=both).")


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _total() -> int:
    return _TOTAL.value or TASKS[_ENV.value].total_timesteps


def _seed_keys(root: int) -> jax.Array:
    """Keys of seeds ``seed_offset ..`` of ``root``: seed ``i`` gets the same key at any offset."""
    first = _SEED_OFFSET.value
    return jax.random.split(jax.random.PRNGKey(root), first + _SEEDS.value)[first:]


def run_jaxml() -> dict:
    from jaxml import envs
    from jaxml.rl import evaluate, ppo
    from jaxml.utils.trainer import make_train

    task = TASKS[_ENV.value]
    config = ppo.default_config(_PRESET.value)
    config.update(
        num_envs=NUM_ENVS, num_steps=NUM_STEPS, num_minibatches=NUM_MINIBATCHES,
        update_epochs=task.update_epochs, learning_rate=LEARNING_RATE, gamma=task.gamma,
        gae_lambda=0.95, ent_coef=task.ent_coef, reward_scale=task.reward_scale,
        total_timesteps=_total(), normalize_observations=True,
    )  # fmt: skip
    for item in _SET.value:
        field, value = item.split("=", 1)
        config[field] = _literal(value)
    name = f"brax/{_ENV.value}"
    if name not in envs.names():
        envs.register(name, "jaxml.envs.adapters.brax:BraxAdapter", env_name=_ENV.value)
    env = envs.make(name, backend=task.backend)
    trainer = ppo.make_trainer(config, env)
    train = jax.jit(jax.vmap(make_train(trainer)))  # The same trainer the evaluation reads.
    keys = _seed_keys(0)
    compiled = train.lower(keys).compile()
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(keys))
    seconds = time.perf_counter() - start
    eval_keys = _seed_keys(123)
    row = {"side": "jaxml", "env": _ENV.value, "preset": _PRESET.value, "set": _SET.value,
           "seed_offset": _SEED_OFFSET.value}  # fmt: skip
    for mode in (True, False):
        run = functools.partial(
            evaluate, trainer.model, env=env, num_episodes=_EPISODES.value, max_steps=1000,
            deterministic=mode,
        )  # fmt: skip
        returns = jax.jit(jax.vmap(run))(out.state.params, eval_keys, out.state.rollout.normalizer)
        key = "deterministic" if mode else "stochastic"
        row[key] = [round(float(r), 1) for r in returns.returns.mean(-1)]
    row["steps_per_s"] = round(
        _SEEDS.value * trainer.num_steps * trainer.sizes.batch_size / seconds
    )
    return row


def run_brax(seed: int) -> dict:
    install_device_put_replicated()
    from brax import envs
    from brax.training.agents.ppo import train as brax_ppo

    task = TASKS[_ENV.value]
    env = envs.get_environment(_ENV.value, backend=task.backend)
    last = {}
    make_policy, params, _ = brax_ppo.train(
        environment=env, num_timesteps=_total(), episode_length=1000, num_envs=NUM_ENVS,
        batch_size=NUM_ENVS, num_minibatches=NUM_MINIBATCHES, unroll_length=UNROLL,
        num_updates_per_batch=task.update_epochs, learning_rate=LEARNING_RATE,
        discounting=task.gamma, gae_lambda=0.95, entropy_cost=task.ent_coef,
        reward_scaling=task.reward_scale, normalize_observations=True, seed=seed,
        num_evals=3, num_eval_envs=16,  # Its last training epoch is warm (its sps).
        progress_fn=lambda step, metrics: last.update(metrics),
    )  # fmt: skip
    row = {"side": "brax", "env": _ENV.value, "seed": seed}
    row.update(brax_returns(env, make_policy, params, _EPISODES.value))
    row["steps_per_s"] = round(float(last["training/sps"]))
    return row


def main(argv) -> None:
    del argv
    side_by_side(
        _SIDE.value, _SEEDS.value, _ENV.value, run_jaxml, run_brax, _OUT.value,
        {"total_timesteps": _total(), "seed_offset": _SEED_OFFSET.value}, _SEED_OFFSET.value,
    )  # fmt: skip


if __name__ == "__main__":
    app.run(main)
