"""Timing shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time

import jax


def timed(fn, arg, repeats: int) -> float:
    """Median seconds of ``fn(arg)`` after a warm-up call (which also compiles)."""
    jax.block_until_ready(fn(arg))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(arg))
        times.append(time.perf_counter() - start)
    return statistics.median(times)
