"""The training loop core: a jitted step function run in ``lax.scan`` chunks, a host loop between.

``step_fn(carry) -> (carry, metrics)`` is pure; the carry holds everything that changes (params,
optimizer state, RNG key, env state), so the state of a run is exactly its carry and its step count.
Between chunks the host shows progress, appends metrics, runs evaluation, checks for NaN/inf and
checkpoints. Resuming restores the last checkpoint and drops metric rows written after it, so a run
killed at any point and restarted ends with the same parameters and metrics as an uninterrupted one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from tqdm.auto import tqdm

from jaxml._distributed import is_primary
from jaxml.utils.checkpoint import Checkpointer
from jaxml.utils.metrics import MetricsWriter

Carry = Any
Metrics = Mapping[str, jax.Array]
StepFn = Callable[[Carry], tuple[Carry, Metrics]]
EvalFn = Callable[[Carry], Metrics]


class NonFiniteError(FloatingPointError):
    """A metric or the training state became NaN/inf; the last good checkpoint is kept."""

    def __init__(self, step: int, what: str, last_good_step: int | None, directory: Path):
        self.step = step
        self.last_good_step = last_good_step
        kept = (
            f"last good checkpoint: step {last_good_step} in {directory}"
            if last_good_step is not None
            else "no checkpoint was written before it"
        )
        super().__init__(f"non-finite {what} at step {step}; {kept}")


class RunResult(NamedTuple):
    carry: Carry  # The final training state.
    history: list[dict[str, Any]]  # Every row of metrics.jsonl, resumed runs included.
    # Steps per second of this process's chunks after the first (which holds the compile); None
    # when fewer than two chunks ran.
    warm_steps_per_second: float | None = None


def all_finite(tree: Any) -> jax.Array:
    """True when every float leaf of ``tree`` is free of NaN and inf (a [] bool array)."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.asarray([jnp.all(jnp.isfinite(x)) for x in leaves] or [True]))


def to_host(tree: Any) -> Any:
    """``jax.device_get`` that also takes arrays laid out over several processes' devices.

    A replicated array is read from this process's copy; one split over devices of other processes
    is gathered first (``process_allgather``, a collective: every process must call it alike).
    """

    def gather(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
            return multihost_utils.process_allgather(x, tiled=True)
        return x

    return jax.device_get(jax.tree.map(gather, tree))


def _make_chunk_fn(step_fn: StepFn, length: int) -> Callable:
    """Jits ``length`` scanned steps; returns chunk-mean metrics and per-step finiteness flags."""

    def chunk(carry):
        carry, metrics = jax.lax.scan(lambda c, _: step_fn(c), carry, None, length=length)
        # [length] per metric: is every entry of that step (seed axis included) finite?
        finite = {
            name: jnp.all(jnp.isfinite(m.reshape(length, -1)), axis=1)
            for name, m in metrics.items()
        }
        means = {name: jnp.mean(m, axis=0) for name, m in metrics.items()}
        return carry, means, finite, all_finite(carry)

    # Donating the carry halves peak memory on accelerators; the CPU backend cannot use donations.
    donate = () if jax.default_backend() == "cpu" else (0,)
    return jax.jit(chunk, donate_argnums=donate)


def _to_row(metrics: Mapping[str, Any], num_seeds: int | None) -> dict[str, Any]:
    """Host values for metrics.jsonl: the seed mean under the name, seeds in ``<name>_per_seed``."""
    row = {}
    for name, value in metrics.items():
        value = np.asarray(value, dtype=np.float64)
        if num_seeds is None:
            if value.shape != ():
                raise ValueError(f"metric {name!r} has shape {value.shape}; expected a scalar")
            row[name] = float(value)
        else:
            if value.shape != (num_seeds,):
                raise ValueError(
                    f"metric {name!r} has shape {value.shape}; expected ({num_seeds},)"
                )
            row[name] = float(value.mean())
            if num_seeds > 1:
                row[f"{name}_per_seed"] = [float(v) for v in value]
    return row


def run(
    step_fn: StepFn,
    init_carry: Carry,
    *,
    num_steps: int,
    workdir: str | os.PathLike,
    chunk_size: int = 100,
    eval_fn: EvalFn | None = None,
    eval_every_chunks: int = 1,
    resume: bool = False,
    checkpoint_every_chunks: int = 1,
    max_checkpoints_to_keep: int = 2,
    num_seeds: int | None = None,
    tensorboard: bool = True,
    progress_bar: bool = True,
    description: str = "train",
) -> RunResult:
    """Runs ``num_steps`` applications of ``step_fn`` from ``init_carry`` (or from a checkpoint).

    Args:
      step_fn: pure ``carry -> (carry, metrics)``; metrics are scalars, or ``[num_seeds]`` arrays
        when ``num_seeds`` is set (the carry then holds a leading seed axis, see ``vmap_seeds``).
      init_carry: the initial training state; also the structure checkpoints are restored into.
      num_steps: total steps of the run, counting those before a resume.
      workdir: receives ``metrics.jsonl``, ``tensorboard/`` and ``checkpoints/``.
      chunk_size: steps per jitted ``lax.scan`` call; metrics are averaged over a chunk.
      eval_fn: pure ``carry -> metrics`` run every ``eval_every_chunks`` chunks and at the end; its
        metrics join that chunk's row.
      resume: restore the latest checkpoint in ``workdir``; without it a run starts afresh and
        deletes what an earlier run left there.
      checkpoint_every_chunks: save every this many chunks, and always at the last step.
      num_seeds: size of the leading seed axis of metrics (None: metrics are scalars).

    Returns:
      The final carry and every metric row of the run.

    Raises:
      NonFiniteError: a metric or the carry became NaN/inf; the run stops without saving it.
    """
    if num_steps <= 0 or chunk_size <= 0:
        raise ValueError(f"num_steps={num_steps} and chunk_size={chunk_size} must be > 0")
    workdir = Path(workdir)
    checkpointer = Checkpointer(workdir, max_to_keep=max_checkpoints_to_keep)
    carry, step = init_carry, 0
    latest = checkpointer.latest_step() if resume else None
    if latest is not None:
        carry, step = checkpointer.restore(latest, init_carry), latest
        tqdm.write(f"resumed from step {step} in {checkpointer.directory}")
    elif not resume:
        checkpointer.delete_all()
    writer = MetricsWriter(workdir, resume_step=latest, tensorboard=tensorboard)
    last_good = latest

    chunk_fns: dict[int, Callable] = {}
    jit_eval = jax.jit(eval_fn) if eval_fn is not None else None
    bar = tqdm(
        total=num_steps,
        initial=step,
        unit="step",
        desc=description,
        # One bar per job: the other processes of a --distributed job run the same steps.
        disable=not progress_bar or not is_primary(),
    )
    chunk_index = step // chunk_size
    warm_steps, warm_seconds, chunks_run = 0, 0.0, 0
    try:
        while step < num_steps:
            length = min(chunk_size, num_steps - step)
            if length not in chunk_fns:
                chunk_fns[length] = _make_chunk_fn(step_fn, length)
            start = time.perf_counter()
            carry, means, finite, carry_finite = chunk_fns[length](carry)
            chunk_index += 1
            end_step = step + length
            is_last = end_step == num_steps
            if jit_eval is not None and (is_last or chunk_index % eval_every_chunks == 0):
                eval_metrics = jit_eval(carry)
                means = {**means, **eval_metrics}
                eval_ok = {k: bool(to_host(all_finite(v))) for k, v in eval_metrics.items()}
            else:
                eval_ok = {}
            finite = to_host(finite)
            for offset in range(length):
                bad = [name for name, ok in finite.items() if not ok[offset]]
                if bad:
                    raise NonFiniteError(
                        step + offset + 1, f"metric {bad[0]!r}", last_good, checkpointer.directory
                    )
            if not bool(to_host(carry_finite)):
                raise NonFiniteError(end_step, "training state", last_good, checkpointer.directory)
            bad_eval = [name for name, ok in eval_ok.items() if not ok]
            if bad_eval:
                raise NonFiniteError(
                    end_step, f"eval metric {bad_eval[0]!r}", last_good, checkpointer.directory
                )
            row = _to_row(to_host(means), num_seeds)
            seconds = time.perf_counter() - start
            chunks_run += 1
            if chunks_run > 1:
                warm_steps, warm_seconds = warm_steps + length, warm_seconds + seconds
            writer.write(end_step, row, extra_scalars={"perf/steps_per_sec": length / seconds})
            step = end_step
            if is_last or chunk_index % checkpoint_every_chunks == 0:
                checkpointer.save(step, carry)
                last_good = step
            bar.update(length)
            bar.set_postfix(
                {k: f"{v:.4g}" for k, v in list(row.items())[:2] if isinstance(v, float)}
            )
    finally:
        bar.close()
        writer.close()
        checkpointer.close()
    rate = warm_steps / warm_seconds if warm_steps else None
    return RunResult(carry, writer.rows, rate)


def options_from_config(config: Any) -> dict[str, Any]:
    """``run``'s bookkeeping keyword arguments from the fields of ``utils.config.base_config``."""
    return {
        "checkpoint_every_chunks": config.checkpoint_every_chunks,
        "max_checkpoints_to_keep": config.max_checkpoints_to_keep,
        "tensorboard": config.tensorboard,
        "progress_bar": config.progress_bar,
    }


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
    """``[num_seeds, 2]`` keys for seeds ``seed, ..., seed + num_seeds - 1``.

    Seed ``s`` of a multi-seed run uses the same key as a single run with ``--seed=s``, so the two
    can be compared directly.
    """
    return jnp.stack([jax.random.PRNGKey(seed + i) for i in range(num_seeds)])


def vmap_seeds(init_fn: Callable, step_fn: StepFn, eval_fn: EvalFn | None = None):
    """Vectorizes ``init_fn(key)``, ``step_fn`` and ``eval_fn`` over a leading seed axis."""
    return (
        jax.vmap(init_fn),
        jax.vmap(step_fn),
        jax.vmap(eval_fn) if eval_fn is not None else None,
    )
