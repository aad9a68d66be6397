"""Cultural transmission: does a newcomer learn faster from a trained population than from scratch?

"From Grunts to Lexicons" (Piriyajitakonkij et al. 2025, arXiv 2505.12872; the protocol is inferred,
see ../shared/papers/foraging.md): train a fresh agent with a trained population and a fresh
population from scratch, and compare their learning curves by the number of environment steps
each needs to reach a success threshold.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.language import _validate
from jaxml.utils import checks


def steps_to_threshold(curves: Any, steps: Any, threshold: float, *, window: int = 1) -> jax.Array:
    """First step at which a (smoothed) learning curve reaches ``threshold``; jittable.

    Args:
      curves: ``[C, T]`` success (or return) of ``C`` runs at ``T`` evaluation points.
      steps: ``[T]`` environment steps of the evaluation points (increasing).
      threshold: the success level to reach (``curve >= threshold``).
      window: the curve is the trailing mean of the last ``window`` points (fewer at the start),
        so one lucky evaluation does not count as learned; 1 = no smoothing.

    Returns:
      ``[C]`` float32 steps; ``inf`` for a run that never reaches the threshold.
    """
    curves = _validate.float_array(curves, "curves", "C, T")
    steps = _validate.float_array(steps, "steps", "T")
    checks.expect(
        steps.shape[0] == curves.shape[1] and steps.shape[0] >= 1,
        "steps",
        f"one step per evaluation point, shape [{curves.shape[1]}]",
        f"shape {tuple(steps.shape)}",
    )
    window = checks.positive_int(window, "window")
    checks.expect(
        isinstance(threshold, int | float | np.number | jax.Array)
        and not isinstance(threshold, bool),
        "threshold",
        "a number",
        threshold,
    )
    # Sum of shifted copies rather than a difference of cumulative sums: no cancellation error
    # on long curves, so a curve sitting at the threshold is read as reaching it.
    num_points = curves.shape[1]
    padded = jnp.pad(curves, ((0, 0), (window - 1, 0)))
    total = sum(padded[:, k : k + num_points] for k in range(window))
    smoothed = total / jnp.minimum(jnp.arange(1, num_points + 1), window)[None, :]
    reached = smoothed >= threshold
    first = jnp.argmax(reached, axis=1)
    return jnp.where(jnp.any(reached, axis=1), steps[first], jnp.inf)
