"""Running a trainer through ``jaxml.utils.runner``: seeds vmapped, env batch optionally sharded.

Every trainer of ``jaxml.rl`` (PPO, A2C, TRPO, NPG-rank1, IPPO/MAPPO) is an ``init(key)`` /
``step(state)`` pair over a ``TrainState`` whose ``rollout`` leaves lead with the environment
axis ``[B, ...]``. ``run_trainer`` vmaps both over ``num_seeds`` keys and hands them to the
chunked runner (progress, ``metrics.jsonl``, checkpoints, exact resume, NaN stop). With a mesh the
environment axis is split over the ``"data"`` devices and the parameters are replicated: each
device steps its share of the environments, and XLA all-reduces the gradients.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxml.rl.on_policy import Trainer, TrainState
from jaxml.utils import runner
from jaxml.utils.sharding import DATA_AXIS


class TrainerRun(NamedTuple):
    result: runner.RunResult  # Final (seed-stacked) state and every metrics.jsonl row.
    num_updates: int  # Updates run: the budget rounded down to whole chunks.
    updates_per_chunk: int


def _env_sharding(mesh: Mesh) -> NamedSharding:
    # Leaves are [seeds, B, ...] once vmapped: keep the seed axis whole, split the env axis.
    return NamedSharding(mesh, PartitionSpec(None, DATA_AXIS))


def shard_env_axis(state: TrainState, mesh: Mesh | None, *, inside_jit: bool) -> TrainState:
    """``state`` (seed-stacked) with its rollout split over ``mesh`` along the env axis.

    Outside jit the leaves are placed (``device_put``); inside jit they are constrained, so the
    scan carry keeps the layout from one update to the next.
    """
    if mesh is None:
        return state
    env_sharding, replicated = _env_sharding(mesh), NamedSharding(mesh, PartitionSpec())
    if inside_jit:
        place = jax.lax.with_sharding_constraint
    else:
        state = jax.device_put(state, replicated)
        place = jax.device_put
    # The normalizer's moments are shared by all environments: replicated; its per-environment
    # discounted returns split like the rest of the rollout.
    normalizer = state.rollout.normalizer
    rollout = jax.tree.map(
        lambda x: place(x, env_sharding), state.rollout._replace(normalizer=None)
    )
    if normalizer is not None:
        returns = normalizer.discounted_return
        normalizer = jax.tree.map(
            lambda x: place(x, replicated), normalizer._replace(discounted_return=None)
        )
        if returns is not None:
            normalizer = normalizer._replace(discounted_return=place(returns, env_sharding))
    return state._replace(rollout=rollout._replace(normalizer=normalizer))


def check_env_divisible(num_envs: int, mesh: Mesh | None) -> None:
    if mesh is not None and num_envs % mesh.size:
        raise ValueError(
            f"num_envs: {num_envs} environments do not split evenly over the {mesh.size} mesh "
            "devices; use a multiple of the device count"
        )


def run_trainer(
    trainer: Trainer,
    workdir: str | os.PathLike,
    *,
    num_chunks: int,
    seed: int = 0,
    num_seeds: int = 1,
    mesh: Mesh | None = None,
    resume: bool = False,
    checkpoint_every_chunks: int = 1,
    max_checkpoints_to_keep: int = 2,
    tensorboard: bool = False,
    progress_bar: bool = True,
    description: str = "train",
) -> TrainerRun:
    """Trains seeds ``seed, ..., seed + num_seeds - 1`` at once in ``num_chunks`` equal chunks.

    The budget ``trainer.sizes.num_updates`` is rounded down to a multiple of the chunk length:
    a shorter last chunk would compile again inside the timed part of the run. Seed ``s`` uses
    the key of a single run with ``seed=s`` (``runner.seed_keys``).

    Raises:
      ValueError: ``num_chunks`` < 1, or ``num_envs`` not divisible by the mesh's devices.
      runner.NonFiniteError: a metric or the state became NaN/inf (the last checkpoint is kept).
    """
    if num_chunks < 1:
        raise ValueError(f"num_chunks: expected >= 1, got {num_chunks}")
    check_env_divisible(trainer.sizes.num_envs, mesh)
    chunk = max(1, trainer.sizes.num_updates // num_chunks)
    num_updates = (trainer.sizes.num_updates // chunk) * chunk
    keys = runner.seed_keys(seed, num_seeds)
    init = shard_env_axis(jax.jit(jax.vmap(trainer.init))(keys), mesh, inside_jit=False)
    vmapped_step = jax.vmap(trainer.step)

    def step(state):
        state, metrics = vmapped_step(state)
        return shard_env_axis(state, mesh, inside_jit=True), metrics

    result = runner.run(
        step,
        init,
        num_steps=num_updates,
        workdir=workdir,
        chunk_size=chunk,
        resume=resume,
        checkpoint_every_chunks=checkpoint_every_chunks,
        max_checkpoints_to_keep=max_checkpoints_to_keep,
        num_seeds=num_seeds,
        tensorboard=tensorboard,
        progress_bar=progress_bar,
        description=description,
    )
    return TrainerRun(result, num_updates, chunk)
