"""Conjugate gradient for the damped Fisher systems of natural-gradient trainers (TRPO).

A thin, tested wrapper of ``jax.scipy.sparse.linalg.cg``: it takes the matrix as a function of a
pytree (a Fisher-vector product), runs in a ``lax.while_loop`` (jit- and vmap-friendly: under
``vmap`` every member iterates until the slowest one has converged) and needs no matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax


def conjugate_gradient(
    matvec: Callable[[Any], Any],
    b: Any,
    iters: int = 10,
    tol: float = 1e-10,
) -> Any:
    """Approximately solves ``A x = b`` for symmetric positive-definite ``A``, starting at 0.

    Args:
      matvec: ``x -> A x`` on pytrees shaped like ``b`` (e.g. a damped Fisher-vector product).
      b: the right-hand side, a pytree of float arrays.
      iters: at most this many iterations (TRPO uses 10: a truncated solve).
      tol: stop once ``‖A x − b‖ ≤ tol · ‖b‖``.

    Returns:
      ``x``, shaped like ``b``.
    """
    if isinstance(iters, bool) or not isinstance(iters, int) or iters <= 0:
        raise ValueError(f"iters: expected a positive integer, got {iters!r}")
    if not tol >= 0:
        raise ValueError(f"tol: expected >= 0, got {tol!r}")
    x, _ = jax.scipy.sparse.linalg.cg(matvec, b, tol=tol, maxiter=iters)
    return x
