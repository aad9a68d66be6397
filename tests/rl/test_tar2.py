"""TAR²'s normalisation against a numpy loop, and its properties (hypothesis)."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxml.rl import tar2

EPS = tar2.DEFAULT_EPS

redistribute = jax.jit(tar2.redistribute)
uniform = jax.jit(tar2.uniform_redistribute)


def reference(scores: np.ndarray, ret: float, valid: np.ndarray, eps: float = EPS) -> np.ndarray:
    """The normalisation as a float64 loop over steps and agents."""
    scores = np.asarray(scores, np.float64)
    steps, agents = scores.shape
    step_valid = [t for t in range(steps) if valid[t].any()]
    out = np.zeros((steps, agents))
    if not step_valid:
        return out
    temporal = {t: sum(scores[t, i] for i in range(agents) if valid[t, i]) for t in step_valid}
    low = min(temporal.values())
    total = sum(s - low for s in temporal.values())
    scale = max(abs(s) for s in temporal.values())
    for t in step_valid:
        w = 1.0 / len(step_valid) if total <= eps * scale else (temporal[t] - low) / total
        alive = [i for i in range(agents) if valid[t, i]]
        low_a = min(scores[t, i] for i in alive)
        total_a = sum(scores[t, i] - low_a for i in alive)
        scale_a = max(abs(scores[t, i]) for i in alive)
        for i in alive:
            if total_a <= eps * scale_a:
                u = 1.0 / len(alive)
            else:
                u = (scores[t, i] - low_a) / total_a
            out[t, i] = w * u * ret
    return out


@st.composite
def episodes(draw, dyadic: bool = False, full_agents: bool = False):
    """(scores [T, A], R, valid [T, A]) with at least one valid entry.

    ``dyadic`` scores are multiples of 1/8 in [-8, 8], exact in float32 (so shifts add no
    rounding); ``full_agents`` masks whole steps only (padding, no deaths).
    """
    steps = draw(st.integers(1, 8))
    agents = draw(st.integers(1, 5))
    if dyadic:
        ints = draw(hnp.arrays(np.int32, (steps, agents), elements=st.integers(-64, 64)))
        scores = ints.astype(np.float32) / 8
    else:
        scores = draw(
            hnp.arrays(
                np.float32,
                (steps, agents),
                elements=st.floats(-100, 100, width=32, allow_subnormal=False),
            )
        )
    if draw(st.booleans()):  # All-equal scores: the fallback everywhere.
        scores = np.full_like(scores, scores.flat[0])
    if full_agents:
        length = draw(st.integers(1, steps))
        valid = np.zeros((steps, agents), bool)
        valid[:length] = True
    else:
        valid = draw(hnp.arrays(bool, (steps, agents)))
        if not valid.any():
            valid[draw(st.integers(0, steps - 1)), draw(st.integers(0, agents - 1))] = True
    ret = draw(st.floats(-50, 50, width=32, allow_subnormal=False))
    return scores, np.float32(ret), valid


@settings(max_examples=200, deadline=None)
@given(episodes())
def test_sum_equals_return_and_invalid_get_zero(episode):
    scores, ret, valid = episode
    r = np.asarray(redistribute(scores, ret, valid))
    assert r.dtype == np.float32 and r.shape == scores.shape
    np.testing.assert_allclose(r.sum(dtype=np.float64), ret, rtol=1e-5, atol=1e-5 * (1 + abs(ret)))
    assert np.all(r[~valid] == 0)
    assert np.all(np.isfinite(r))


@settings(max_examples=200, deadline=None)
@given(episodes())
def test_matches_numpy_reference(episode):
    scores, ret, valid = episode
    r = np.asarray(redistribute(scores, ret, valid))
    expected = reference(scores, ret, valid)
    np.testing.assert_allclose(r, expected, rtol=1e-4, atol=1e-4 * abs(ret) + 1e-30)


@settings(max_examples=150, deadline=None)
@given(episodes(dyadic=True, full_agents=True), st.integers(-64, 64))
def test_invariant_to_a_constant_shift(episode, shift):
    scores, ret, valid = episode
    r = redistribute(scores, ret, valid)
    r_shift = redistribute(scores + np.float32(shift / 8), ret, valid)
    np.testing.assert_allclose(r_shift, r, rtol=1e-6, atol=1e-6 * abs(ret) + 1e-30)


@settings(max_examples=100, deadline=None)
@given(episodes(dyadic=True))
def test_agent_weights_invariant_to_a_shift_with_deaths(episode):
    """With deaths S_t moves by c · #alive_t, but within each step u is shift invariant: the
    rewards' split among a step's agents does not change."""
    scores, ret, valid = episode
    r = np.asarray(redistribute(scores, np.float32(1.0), valid), np.float64)
    r_shift = np.asarray(redistribute(scores + np.float32(1.5), np.float32(1.0), valid))
    for t in range(scores.shape[0]):
        if r[t].sum() > 1e-6 and r_shift[t].sum() > 1e-6:
            np.testing.assert_allclose(r_shift[t] / r_shift[t].sum(), r[t] / r[t].sum(), atol=1e-5)


def test_special_cases():
    # All-equal scores: uniform over valid entries (the documented fallback).
    equal = np.full((3, 3), 2.5, np.float32)
    valid = np.array([[1, 1, 0], [1, 0, 1], [0, 0, 0]], bool)
    r = np.asarray(redistribute(equal, np.float32(6.0), valid))
    np.testing.assert_allclose(r, [[1.5, 1.5, 0], [1.5, 0, 1.5], [0, 0, 0]], rtol=1e-6)
    # ... but with unequal alive counts S_t = 2.5 · #alive_t differs: w = (0, 1).
    valid = np.array([[1, 1, 0], [1, 1, 1], [0, 0, 0]], bool)
    r = np.asarray(redistribute(equal, np.float32(6.0), valid))
    np.testing.assert_allclose(r, [[0, 0, 0], [2, 2, 2], [0, 0, 0]], rtol=1e-6)
    # A single valid step: w = 1; a single alive agent: u = 1.
    scores = np.array([[1.0, 3.0], [5.0, -2.0]], np.float32)
    r = np.asarray(redistribute(scores, np.float32(-4.0), np.array([[1, 1], [0, 0]], bool)))
    np.testing.assert_allclose(r, [[0.0, -4.0], [0, 0]])
    r = np.asarray(redistribute(scores, np.float32(-4.0), np.array([[1, 0], [0, 1]], bool)))
    # S = (1, -2): w = (1, 0); one agent per step: u = 1.
    np.testing.assert_allclose(r, [[-4.0, 0], [0, 0]])
    # A hand-computed case: S = (4, 3, 9) -> w = (1, 0, 6) / 7; u per step by the shift.
    scores = np.array([[1.0, 3.0], [2.0, 1.0], [4.0, 5.0]], np.float32)
    r = np.asarray(redistribute(scores, np.float32(7.0), np.ones((3, 2), bool)))
    np.testing.assert_allclose(r, [[0, 1], [0, 0], [0, 6]], rtol=1e-6, atol=1e-6)
    # No valid entry: no reward.
    r = np.asarray(redistribute(scores, np.float32(7.0), np.zeros((3, 2), bool)))
    assert np.all(r == 0)


def test_batches_with_vmap():
    key = jax.random.key(0)
    scores = jax.random.normal(key, (16, 7, 3))
    valid = jax.random.bernoulli(jax.random.key(1), 0.7, (16, 7, 3))
    rets = jnp.linspace(-3.0, 3.0, 16)
    batched = jax.jit(jax.vmap(tar2.redistribute))(scores, rets, valid)
    for b in range(16):
        np.testing.assert_allclose(
            batched[b], redistribute(scores[b], rets[b], valid[b]), rtol=1e-6, atol=1e-7
        )


@settings(max_examples=100, deadline=None)
@given(episodes())
def test_uniform_baseline(episode):
    _, ret, valid = episode
    r = np.asarray(uniform(ret, valid))
    steps = int(valid.any(1).sum())
    expected = np.where(valid, np.float64(ret) / steps, 0.0)
    np.testing.assert_allclose(r, expected, rtol=1e-6, atol=1e-7)
    # Each agent's total is R times the share of valid steps it was alive.
    np.testing.assert_allclose(r.sum(0), ret * valid.sum(0) / steps, rtol=1e-5, atol=1e-5)
