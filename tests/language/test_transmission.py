"""Steps to a success threshold against a Python loop."""

import jax
import numpy as np
import pytest

from jaxml import language


def _reference(curve, steps, threshold, window):
    for t in range(len(curve)):
        recent = curve[max(0, t - window + 1) : t + 1]
        if sum(recent) / len(recent) >= threshold:
            return steps[t]
    return float("inf")


@pytest.mark.parametrize("window", [1, 2, 5])
def test_matches_the_loop(window):
    rng = np.random.default_rng(window)
    steps = np.cumsum(rng.integers(1, 1000, 30)).astype(float)
    # Noisy rising curves; the last never gets there.
    curves = np.clip(np.linspace(0, 1, 30)[None, :] * rng.uniform(0.5, 1.5, (4, 1)), 0, 1)
    curves = curves + rng.normal(0, 0.1, curves.shape)
    curves[-1] = 0.1
    got = np.asarray(language.steps_to_threshold(curves, steps, 0.8, window=window))
    expected = [_reference(c.tolist(), steps.tolist(), 0.8, window) for c in curves]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert np.isinf(got[-1])


def test_smoothing_ignores_a_lucky_evaluation():
    curve = np.array([[0.0, 1.0, 0.0, 0.0, 0.9, 0.9, 0.9]])
    steps = np.arange(7) * 100.0
    assert float(language.steps_to_threshold(curve, steps, 0.85)[0]) == 100.0
    assert float(language.steps_to_threshold(curve, steps, 0.85, window=3)[0]) == 600.0


def test_jittable():
    curves = np.array([[0.1, 0.5, 0.95], [0.9, 0.9, 0.9]])
    steps = np.array([10.0, 20.0, 30.0])
    got = jax.jit(lambda c, s: language.steps_to_threshold(c, s, 0.9))(curves, steps)
    np.testing.assert_array_equal(got, [30.0, 10.0])


def test_bad_inputs_raise():
    with pytest.raises(
        ValueError, match=r"steps: expected one step per evaluation point, shape \[3\]"
    ):
        language.steps_to_threshold(np.zeros((2, 3)), np.zeros(4), 0.5)
    with pytest.raises(ValueError, match=r"curves: expected a numeric array of shape \[C, T\]"):
        language.steps_to_threshold(np.zeros(3), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match="window: expected an integer > 0"):
        language.steps_to_threshold(np.zeros((2, 3)), np.zeros(3), 0.5, window=0)


def test_threshold_types():
    curves, steps = np.array([[0.2, 0.9]]), np.array([1.0, 2.0])
    assert float(language.steps_to_threshold(curves, steps, np.float32(0.5))[0]) == 2.0
    with pytest.raises(ValueError, match="threshold: expected a number"):
        language.steps_to_threshold(curves, steps, True)
