"""Timing shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax

# One side of a throughput row: ``builder(num_envs, num_steps) -> (init, run)``, where
# ``init(key)`` makes the carry and ``run(carry)`` takes ``num_envs * num_steps`` env steps.
Builder = Callable[[int, int], tuple[Callable[[jax.Array], Any], Callable[[Any], Any]]]


def timed(fn, arg, repeats: int) -> float:
    """Median seconds of ``fn(arg)`` after a warm-up call (which also compiles)."""
    jax.block_until_ready(fn(arg))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(arg))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_times(
    builders: list[Builder], num_envs: int, num_steps: int, repeats: int
) -> list[list[float]]:
    """Seconds of every repetition (``[builder][repeat]``) of each
    ``builder(num_envs, num_steps) -> (init, run)``.

    Every ``run`` is compiled and warmed up first, then the builders are timed in turns (one
    call of each per repetition), so a drift in the machine's load hits all of them alike and
    repetition ``r`` of two builders can be compared as a pair. Each call is fed the previous
    call's carry, so nothing it computes can be dropped as unused.
    """
    runs = []
    for builder in builders:
        init, run = builder(num_envs, num_steps)
        carry = jax.block_until_ready(init(jax.random.PRNGKey(0)))
        carry = jax.block_until_ready(run(carry))  # Compile and warm up.
        runs.append([run, carry])
    times = [[] for _ in builders]
    for _ in range(repeats):
        for i, entry in enumerate(runs):
            run, carry = entry
            start = time.perf_counter()
            entry[1] = jax.block_until_ready(run(carry))
            times[i].append(time.perf_counter() - start)
    return times


def interleaved_steps_per_second(
    builders: list[Builder], num_envs: int, num_steps: int, repeats: int
) -> list[float]:
    """Median env steps per second of each builder, timed as ``interleaved_times`` does."""
    times = interleaved_times(builders, num_envs, num_steps, repeats)
    return [num_envs * num_steps / statistics.median(ts) for ts in times]
