"""jaxml's SAC next to brax's own SAC trainer at one budget and config (issues 15 and 19).

Both sides run one task config (``TASKS``) for ``--total_timesteps`` env steps per seed:
``num_envs`` environments stepped together, ``grad_updates_per_step`` gradient steps of
``batch_size`` after each of those steps, ``min_replay_size`` prefill steps first (counted in the
budget; brax: its prefill, jaxml: ``learning_starts`` with ``warmup_actions="policy"``, both
acting with the initial policy), the replay buffer as large as the budget (brax's default
``max_replay_size``), Adam at ``learning_rate`` for actor and critics and 3e-4 for log α (brax's
fixed value), α starting at 1 with target entropy −|A|/2 (brax's), τ = 0.005, ``discounting``,
``reward_scaling``, observation normalisation (running mean/std, also on the critics' inputs),
two-layer ReLU networks of ``hidden`` units with lecun-uniform kernels, a tanh-Gaussian policy
with std ``softplus + 1e-3``. The hopper entry is brax's published SAC setting (its training
notebook, which the pip package does not ship: quoted from memory, check before citing);
brax publishes no SAC setting for inverted_pendulum, whose entry takes the same
structure (128 envs, batch 512, 64 updates per step, lr 6e-4, normalised observations, 8,192
prefill steps) with γ = 0.99, no reward scaling and 64-64 networks so that two seeds per side fit
in minutes on a 2-core CPU. What differs by construction: brax drops the critic loss of
transitions that end in a time-limit truncation, jaxml bootstraps them from the episode's final
observation; jaxml clips standardised observations to ±10 (brax does not clip); brax updates α
before the critics, jaxml after the actor (each from the pre-update policy's log-probabilities).

Each run prints one JSON line: the final policy's return over ``--eval_episodes`` episodes of up
to 1,000 steps, deterministic (the squashed mean action) and stochastic (a sample), with the
trained observation normaliser (brax: its ``acting.Evaluator``; jaxml: ``jaxml.rl.evaluate``),
and training env steps/s excluding compilation. brax: ``training/sps`` of its last (warm) epoch,
which excludes its prefill, one seed at a time. jaxml: the compiled ``train`` of all seeds
vmapped in one program, timed on its own (prefill included). ``steps_per_s`` is the throughput
of the whole ``--seeds`` run on each side (jaxml: seeds × steps / seconds; brax: the seeds run
one after another, so the mean of their rates), i.e. the same number of seeds on both sides.
``--side=both`` then prints ``name ours peer ratio`` rows and writes
``results/benchmarks/sac_brax.json``. brax 0.14 calls ``jax.device_put_replicated`` (gone in jax
0.10); a stacking drop-in is installed first (``benchmarks._brax``).

  python -m benchmarks.sac_brax --side=both --env=inverted_pendulum --seeds=2
  python -m benchmarks.sac_brax --side=jaxml --env=hopper --total_timesteps=6553600
"""

from __future__ import annotations

import functools
import time
from typing import NamedTuple

import jax
import numpy as np
from absl import app, flags

from benchmarks._brax import brax_returns, install_device_put_replicated, side_by_side


class Task(NamedTuple):
    backend: str  # brax physics pipeline.
    total_timesteps: int  # Default budget (CPU-sized; brax's hopper run is 6,553,600).
    num_envs: int
    batch_size: int
    grad_updates_per_step: int
    learning_rate: float
    discounting: float
    reward_scaling: float
    min_replay_size: int
    hidden: tuple[int, ...]


TASKS = {
    "inverted_pendulum": Task(
        "generalized", 65_536, 128, 512, 64, 6e-4, 0.99, 1.0, 8192, (64, 64)
    ),  # fmt: skip
    # brax's published SAC hopper setting (256-256 networks: make_sac_networks' default).
    "hopper": Task("positional", 6_553_600, 128, 512, 64, 6e-4, 0.997, 30.0, 8192, (256, 256)),
}
ALPHA_LEARNING_RATE = 3e-4  # brax's SAC fixes it.
TAU = 0.005

_SIDE = flags.DEFINE_enum("side", "both", ["jaxml", "brax", "both"], "Which trainer(s).")
_ENV = flags.DEFINE_enum("env", "inverted_pendulum", list(TASKS), "brax environment.")
_SEEDS = flags.DEFINE_integer("seeds", 2, "Seeds (jaxml: vmapped; brax: one run each).")
_TOTAL = flags.DEFINE_integer("total_timesteps", None, "Env steps per run (default: the task's).")
_HIDDEN = flags.DEFINE_multi_integer("hidden", None, "Hidden widths (repeat; default: task's).")
_EPISODES = flags.DEFINE_integer("eval_episodes", 32, "Evaluation episodes per seed.")
_OUT = flags.DEFINE_string("out", "results/benchmarks/sac_brax.json", "JSON output (--side=both).")


def _task() -> Task:
    task = TASKS[_ENV.value]
    return task._replace(
        total_timesteps=_TOTAL.value or task.total_timesteps,
        hidden=tuple(_HIDDEN.value) if _HIDDEN.value else task.hidden,
    )


def jaxml_config(task: Task, action_size: int):
    """jaxml's ``sac`` config replicating brax SAC's run of ``task``."""
    from jaxml.rl import sac

    config = sac.default_config()
    config.update(
        num_envs=task.num_envs, total_timesteps=task.total_timesteps,
        buffer_size=task.total_timesteps, batch_size=task.batch_size,
        learning_starts=task.min_replay_size, updates_per_step=task.grad_updates_per_step,
        actor_learning_rate=task.learning_rate, critic_learning_rate=task.learning_rate,
        alpha_learning_rate=ALPHA_LEARNING_RATE, gamma=task.discounting, tau=TAU,
        init_alpha=1.0, target_entropy=-0.5 * action_size, actor_hidden=task.hidden,
        critic_hidden=task.hidden, activation="relu", min_std=1e-3,
        normalize_observations=True, reward_scale=task.reward_scaling,
        critic_kernel_init="lecun_uniform", warmup_actions="policy", eval_episodes=0,
    )  # fmt: skip
    return config


def run_jaxml() -> dict:
    from jaxml import envs
    from jaxml.rl import evaluate, sac
    from jaxml.utils.trainer import make_train

    task = _task()
    name = f"brax/{_ENV.value}"
    if name not in envs.names():
        envs.register(name, "jaxml.envs.adapters.brax:BraxAdapter", env_name=_ENV.value)
    env = envs.make(name, backend=task.backend)
    config = jaxml_config(task, int(np.prod(env.action_spec.shape)))
    trainer = sac.make_trainer(config, env)
    train = jax.jit(jax.vmap(make_train(trainer)))
    keys = jax.random.split(jax.random.PRNGKey(0), _SEEDS.value)
    start = time.perf_counter()
    compiled = train.lower(keys).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(keys))
    seconds = time.perf_counter() - start
    eval_keys = jax.random.split(jax.random.PRNGKey(123), _SEEDS.value)
    row = {"side": "jaxml", "env": _ENV.value, "hidden": list(task.hidden)}
    for mode in (True, False):
        run = functools.partial(
            evaluate, trainer.model, env=env, num_episodes=_EPISODES.value, max_steps=1000,
            deterministic=mode,
        )  # fmt: skip
        result = jax.jit(jax.vmap(run))(out.state.actor_params, eval_keys, out.state.normalizer)
        key = "deterministic" if mode else "stochastic"
        row[key] = [round(float(r), 1) for r in result.returns.mean(-1)]
    steps = trainer.num_steps * task.num_envs
    row.update(
        steps_per_s=round(_SEEDS.value * steps / seconds),
        train_s=round(seconds, 1),
        compile_s=round(compile_s, 1),
    )
    return row


def run_brax(seed: int) -> dict:
    install_device_put_replicated()
    from brax import envs
    from brax.training.agents.sac import networks as sac_networks
    from brax.training.agents.sac import train as brax_sac

    task = _task()
    env = envs.get_environment(_ENV.value, backend=task.backend)
    last = {}
    start = time.perf_counter()
    make_policy, params, _ = brax_sac.train(
        environment=env, num_timesteps=task.total_timesteps, episode_length=1000,
        num_envs=task.num_envs, batch_size=task.batch_size,
        grad_updates_per_step=task.grad_updates_per_step, learning_rate=task.learning_rate,
        discounting=task.discounting, reward_scaling=task.reward_scaling, tau=TAU,
        normalize_observations=True, min_replay_size=task.min_replay_size, seed=seed,
        network_factory=functools.partial(
            sac_networks.make_sac_networks, hidden_layer_sizes=task.hidden
        ),
        num_evals=3, num_eval_envs=16,  # Its last training epoch is warm (its sps).
        progress_fn=lambda step, metrics: last.update(metrics),
    )  # fmt: skip
    wall = time.perf_counter() - start
    row = {"side": "brax", "env": _ENV.value, "seed": seed, "hidden": list(task.hidden)}
    row.update(brax_returns(env, make_policy, params, _EPISODES.value))
    row.update(steps_per_s=round(float(last["training/sps"])), wall_s=round(wall, 1))
    return row


def main(argv) -> None:
    del argv
    side_by_side(
        _SIDE.value, _SEEDS.value, _ENV.value, run_jaxml, run_brax, _OUT.value,
        {"task": _task()._asdict()},
    )  # fmt: skip


if __name__ == "__main__":
    app.run(main)
