"""One trainer contract for every training loop in jaxml, and the one function that runs it.

A :class:`Trainer` is a pure ``init(key[, setting]) -> state`` and a pure, jittable
``step(state) -> (state, metrics)`` run ``num_steps`` times, an optional ``evaluate(state) ->
metrics``, and ``partition(state, mesh)``: how one member's state lays out over a device mesh.
Whatever a loop needs between steps is part of ``state``: an on-policy trainer's environments and
normaliser, an off-policy trainer's replay buffer (a flashbax state is a pytree like any other), a
population's stacked parameters, a supervised trainer's data key. Nothing else is assumed, so PPO,
SAC, a supervised model and a population all run through the same :func:`run_trainer`:

- members (seeds, or a settings × seeds grid, setting-major) are vmapped into one program;
- the steps run in jitted ``lax.scan`` chunks (``jaxml.utils.runner.run``): progress bar,
  ``metrics.jsonl`` + TensorBoard, orbax checkpoints, exact resume, NaN stop with the step;
- with a mesh, each leaf is placed (and, inside the scan, constrained) as ``partition`` says:
  replicated by default, an RL trainer's environment axis split over ``"data"``.

This is PureJaxRL's ``make_train(config) -> train(key)`` cut at the scan body, so the host can
run it in chunks; :func:`make_train` glues it back into one pure ``train(key)``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxml.utils import runner
from jaxml.utils.sharding import DATA_AXIS, make_data_mesh

State = Any
Metrics = Mapping[str, jax.Array]
# partition(state, mesh) -> a pytree of PartitionSpec with the structure of one member's state.
Partition = Callable[[State, Mesh], Any]


def replicated(state: State, mesh: Mesh) -> Any:
    """The default ``partition``: every leaf whole on every device."""
    del mesh
    return jax.tree.map(lambda _: PartitionSpec(), state)


def split_leading_axis(tree: Any, mesh: Mesh, *, name: str) -> Any:
    """``PartitionSpec("data")`` for every leaf of ``tree``: its leading axis split over the mesh.

    Raises:
      ValueError: naming ``name`` when a leading axis does not divide by the device count.
    """
    for leaf in jax.tree.leaves(tree):
        if leaf.shape[0] % mesh.size:
            raise ValueError(
                f"{name}: expected a multiple of the {mesh.size} mesh devices, got {leaf.shape[0]}"
            )
    return jax.tree.map(lambda _: PartitionSpec(DATA_AXIS), tree)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Trainer:
    """A training loop as pure functions (subclasses add what their users read, e.g. ``sizes``).

    Attributes:
      init: ``key [2] -> state``; a swept trainer takes ``(key, setting)``, where ``setting`` is
        one member's slice of the ``settings`` pytree given to ``run_trainer``.
      step: ``state -> (state, metrics)``, pure and jittable; metrics are scalars.
      num_steps: steps of a whole run.
      evaluate: optional ``state -> metrics`` (scalars), run between chunks and at the end.
      partition: ``(state, mesh) -> PartitionSpec`` pytree of one member's state (default: all
        replicated); may raise ValueError naming the config field whose size does not divide.
    """

    init: Callable[..., State]
    step: Callable[[State], tuple[State, Metrics]]
    num_steps: int
    evaluate: Callable[[State], Metrics] | None = None
    partition: Partition = replicated


class TrainerRun(NamedTuple):
    result: runner.RunResult  # Final member-stacked state and every metrics.jsonl row.
    num_steps: int  # Steps run (with num_chunks: the budget rounded down to whole chunks).
    steps_per_chunk: int
    num_members: int  # len(settings) × num_seeds (num_seeds without settings).


def member_grid(seed: int, num_seeds: int, settings: Any = None) -> tuple[jax.Array, Any]:
    """Keys ``[M, 2]`` and settings ``[M, ...]`` of every (setting, seed) member, setting-major.

    Member ``i`` has setting ``i // num_seeds`` and the key of a single run with
    ``seed = seed + i % num_seeds`` (``runner.seed_keys``); without settings, ``M = num_seeds``.
    """
    keys = runner.seed_keys(seed, num_seeds)
    if settings is None:
        return keys, None
    sizes = {np.shape(x)[0] for x in jax.tree.leaves(settings)}
    if len(sizes) != 1:
        raise ValueError(f"settings: expected one leading size for every leaf, got {sizes}")
    (num_settings,) = sizes
    keys = jnp.tile(keys, (num_settings, 1))
    settings = jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x), num_seeds, axis=0), settings)
    return keys, settings


def member_metric(history: list[dict[str, Any]], name: str) -> np.ndarray:
    """``[rows, members]`` values of metric ``name`` in a run's rows (``[rows, 1]`` for one)."""
    rows = [row for row in history if name in row]
    return np.array([np.atleast_1d(row.get(f"{name}_per_seed", row[name])) for row in rows])


def _shardings(trainer: Trainer, state: State, mesh: Mesh) -> Any:
    # The partition describes one member; the leading member axis stays whole on every device.
    member = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), state)
    specs = trainer.partition(member, mesh)
    return jax.tree.map(
        lambda spec: NamedSharding(mesh, PartitionSpec(None, *spec)),
        specs,
        is_leaf=lambda x: isinstance(x, PartitionSpec),
    )


def run_trainer(
    trainer: Trainer,
    workdir: str | os.PathLike,
    *,
    seed: int = 0,
    num_seeds: int = 1,
    settings: Any = None,
    num_chunks: int | None = None,
    chunk_size: int | None = None,
    eval_every_chunks: int = 1,
    mesh: Mesh | None = None,
    resume: bool = False,
    checkpoint_every_chunks: int = 1,
    max_checkpoints_to_keep: int = 2,
    tensorboard: bool = True,
    progress_bar: bool = True,
    description: str = "train",
) -> TrainerRun:
    """Trains every member (``settings`` × seeds ``seed, ..., seed + num_seeds - 1``) at once.

    Give ``num_chunks`` (the budget is rounded down to a multiple of the chunk length, so no
    shorter last chunk compiles again inside a timed run) or ``chunk_size`` (the last chunk may be
    shorter). Metrics rows hold the member mean under each name and, with more than one member,
    every member's value in ``<name>_per_seed`` (``member_metric`` reads them).

    Raises:
      ValueError: a bad chunking argument, settings of unequal lengths, or a state that the
        trainer's ``partition`` cannot split over ``mesh``.
      runner.NonFiniteError: a metric or the state became NaN/inf (the last checkpoint is kept).
    """
    if (num_chunks is None) == (chunk_size is None):
        raise ValueError(
            f"num_chunks, chunk_size: expected exactly one, got {num_chunks}, {chunk_size}"
        )
    if num_chunks is not None:
        if num_chunks < 1:
            raise ValueError(f"num_chunks: expected >= 1, got {num_chunks}")
        chunk = max(1, trainer.num_steps // num_chunks)
        num_steps = (trainer.num_steps // chunk) * chunk
    else:
        if chunk_size < 1:
            raise ValueError(f"chunk_size: expected >= 1, got {chunk_size}")
        chunk, num_steps = min(chunk_size, trainer.num_steps), trainer.num_steps
    keys, member_settings = member_grid(seed, num_seeds, settings)
    args = (keys,) if member_settings is None else (keys, member_settings)
    state = jax.jit(jax.vmap(trainer.init))(*args)
    vmapped_step = jax.vmap(trainer.step)
    if mesh is None:
        step = vmapped_step
    else:
        shardings = _shardings(trainer, state, mesh)
        state = jax.device_put(state, shardings)

        def step(state):
            state, metrics = vmapped_step(state)
            # Keeps the layout in the scan carry from one step to the next.
            return jax.lax.with_sharding_constraint(state, shardings), metrics

    evaluate = jax.vmap(trainer.evaluate) if trainer.evaluate is not None else None
    result = runner.run(
        step,
        state,
        num_steps=num_steps,
        workdir=workdir,
        chunk_size=chunk,
        eval_fn=evaluate,
        eval_every_chunks=eval_every_chunks,
        resume=resume,
        checkpoint_every_chunks=checkpoint_every_chunks,
        max_checkpoints_to_keep=max_checkpoints_to_keep,
        num_seeds=keys.shape[0],
        tensorboard=tensorboard,
        progress_bar=progress_bar,
        description=description,
    )
    return TrainerRun(result, num_steps, chunk, keys.shape[0])


def run_options(config: Any) -> dict[str, Any]:
    """``run_trainer``'s seed, mesh and bookkeeping arguments from ``utils.config.base_config``."""
    return {
        "seed": config.seed,
        "num_seeds": config.num_seeds,
        "mesh": make_data_mesh(config.mesh),
        **runner.options_from_config(config),
    }


class TrainOutput(NamedTuple):
    state: State  # The final state.
    metrics: Metrics  # Every metric, [num_steps].


def scan_steps(trainer: Trainer, state: State, num_steps: int) -> TrainOutput:
    """``num_steps`` steps from ``state`` in one ``lax.scan``."""
    state, metrics = jax.lax.scan(lambda s, _: trainer.step(s), state, None, length=num_steps)
    return TrainOutput(state, metrics)


def make_train(trainer: Trainer) -> Callable[..., TrainOutput]:
    """PureJaxRL's pure ``train(key[, setting]) -> TrainOutput``; jit it, vmap it for seeds."""

    def train(*args) -> TrainOutput:
        return scan_steps(trainer, trainer.init(*args), trainer.num_steps)

    return train
