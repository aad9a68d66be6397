"""Input checks shared by the language metrics, in the one error format of ``jaxml.utils.checks``.

Shapes and dtypes are checked always (they are static under ``jit``); value checks (token range,
non-negative codes) only when the array is concrete, so the jittable metrics stay jittable.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.utils import checks


def _describe(x: Any) -> str:
    return f"shape {tuple(np.shape(x))}, dtype {getattr(x, 'dtype', type(x).__name__)}"


def is_concrete(x: Any) -> bool:
    """True unless ``x`` is a tracer (inside ``jit``/``vmap``), where its values are unknown."""
    return not isinstance(x, jax.core.Tracer)


def int_array(x: Any, argument: str, axes: str, *, min_size: tuple[int, ...] = ()) -> jax.Array:
    """``x`` as a JAX integer array whose rank is the number of names in ``axes`` (``"N, L"``).

    ``min_size[i]`` is the smallest accepted length of axis ``i``.
    """
    names = [a.strip() for a in axes.split(",")]
    if not isinstance(x, jax.Array | np.ndarray):
        x = np.asarray(x)
    ok = (
        np.ndim(x) == len(names)
        and (jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.bool_))
        and all(np.shape(x)[i] >= n for i, n in enumerate(min_size))
    )
    sizes = ", ".join(f"{n} >= {m}" for n, m in zip(names, min_size, strict=False))
    expected = f"an integer array of shape [{', '.join(names)}]"
    expected += f" with {sizes}" if sizes else ""
    checks.expect(bool(ok), argument, expected, _describe(x))
    return jnp.asarray(x).astype(jnp.int32)


def float_array(x: Any, argument: str, axes: str) -> jax.Array:
    """``x`` as a JAX float array whose rank is the number of names in ``axes``."""
    names = [a.strip() for a in axes.split(",")]
    if not isinstance(x, jax.Array | np.ndarray):
        x = np.asarray(x)
    ok = np.ndim(x) == len(names) and (
        jnp.issubdtype(x.dtype, jnp.number) or jnp.issubdtype(x.dtype, jnp.bool_)
    )
    checks.expect(
        bool(ok), argument, f"a numeric array of shape [{', '.join(names)}]", _describe(x)
    )
    return jnp.asarray(x, dtype=jnp.float32)


def same_leading(a: jax.Array, b: jax.Array, argument: str, other: str, axis: str = "N") -> None:
    """Raises unless ``a`` and ``b`` have the same length on axis 0 (named ``axis``)."""
    checks.expect(
        a.shape[0] == b.shape[0],
        argument,
        f"the same {axis} ({a.shape[0]}) as {other}",
        f"shape {tuple(b.shape)}",
    )


def tokens_below(messages: jax.Array, vocab_size: Any, argument: str = "messages") -> int:
    """``vocab_size`` as an int after checking it is > 0 and every token lies in [0, vocab_size)."""
    vocab_size = checks.positive_int(vocab_size, "vocab_size")
    if is_concrete(messages) and messages.size:
        low, high = int(jnp.min(messages)), int(jnp.max(messages))
        checks.expect(
            low >= 0 and high < vocab_size,
            argument,
            f"tokens in [0, vocab_size) = [0, {vocab_size})",
            f"tokens in [{low}, {high}]",
        )
    return vocab_size
