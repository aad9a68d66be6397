"""Margins and margin losses (arXiv 1706.08498, 2602.20921) against numpy loop references."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.theory import margin_statistics, margins, ramp_loss, ramp_loss_lipschitz


def _problem(seed=0, n=20, k=5):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, k)).astype(np.float32)
    labels = rng.integers(0, k, n).astype(np.int32)
    return logits, labels


def _loop_margins(logits, labels):
    n, k = logits.shape
    out = []
    for i in range(n):
        out.append(logits[i, labels[i]] - max(logits[i, j] for j in range(k) if j != labels[i]))
    return np.array(out)


@pytest.mark.parametrize("num_classes", [2, 3, 10])
def test_margins_match_a_loop(num_classes):
    logits, labels = _problem(num_classes, k=num_classes)
    got = margins(jnp.asarray(logits), jnp.asarray(labels))
    np.testing.assert_allclose(got, _loop_margins(logits, labels), rtol=1e-6, atol=1e-7)


def test_tied_maximum_gives_zero_margin():
    # The true logit ties another class: the margin must be 0, not the gap to the third.
    logits = jnp.asarray([[2.0, 2.0, -1.0]])
    assert float(margins(logits, jnp.asarray([0]))[0]) == 0.0


def test_ramp_loss_against_closed_form_and_order():
    logits, labels = _problem(1)
    m = _loop_margins(logits, labels)
    for gamma in (0.25, 1.0):
        ramp = np.asarray(ramp_loss(jnp.asarray(m), gamma))
        want = np.array([min(1.0, max(0.0, 1.0 - v / gamma)) for v in m])
        np.testing.assert_allclose(ramp, want, rtol=1e-6, atol=1e-7)
        # 0-1 loss <= ramp <= margin loss, pointwise.
        assert np.all((m <= 0) <= ramp) and np.all(ramp <= (m <= gamma))


def test_ramp_loss_lipschitz_in_the_logits():
    # |ℓ(f) − ℓ(g)| <= (√2/γ) ‖f − g‖₂ on random pairs of logits.
    rng = np.random.default_rng(2)
    gamma = 0.5
    f = rng.standard_normal((500, 4)).astype(np.float32)
    g = f + 0.3 * rng.standard_normal((500, 4)).astype(np.float32)
    y = jnp.asarray(rng.integers(0, 4, 500).astype(np.int32))
    lf = ramp_loss(margins(jnp.asarray(f), y), gamma)
    lg = ramp_loss(margins(jnp.asarray(g), y), gamma)
    bound = ramp_loss_lipschitz(gamma) * np.linalg.norm(f - g, axis=1)
    assert np.all(np.abs(np.asarray(lf - lg)) <= bound + 1e-6)
    assert ramp_loss_lipschitz(gamma) == pytest.approx(math.sqrt(2) / gamma)


def test_margin_statistics_match_masked_loops():
    logits, labels = _problem(3, n=30)
    size, gamma = 17, 0.7
    mask = (np.arange(30) < size).astype(np.float32)
    got = margin_statistics(jnp.asarray(logits), jnp.asarray(labels), gamma, jnp.asarray(mask))
    m = _loop_margins(logits, labels)[:size]
    pred = logits[:size].argmax(-1)
    want = {
        "error": np.mean(pred != labels[:size]),
        "ramp": np.mean(np.clip(1 - m / gamma, 0, 1)),
        "margin_loss": np.mean(m <= gamma),
    }
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-6, err_msg=name)
    unmasked = margin_statistics(jnp.asarray(logits[:size]), jnp.asarray(labels[:size]), gamma)
    for name in want:
        np.testing.assert_allclose(unmasked[name], got[name], rtol=1e-6, err_msg=name)


def test_margins_check_ranks():
    with pytest.raises(AssertionError):
        margins(jnp.zeros((4,)), jnp.zeros((4,), jnp.int32))
    with pytest.raises(AssertionError):
        margins(jnp.zeros((4, 3)), jnp.zeros((5,), jnp.int32))
