"""The residual bound (arXiv 2602.20921) and BFT's margin bound (arXiv 1706.08498)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.models.resnet import Block, ResidualWeights
from jaxml.theory import (
    log_complexity_constant,
    log_spectral_complexity,
    measure_norms,
    residual_bound,
    spectral_margin_bound,
)

KEY = jax.random.PRNGKey(0)
SEED = 0


def _weights(key, num_layers, width=6, n_in=3, n_out=4, repeat=False, scale=0.5, horizon=1.0,
             continuous=False):  # fmt: skip
    # numpy draws: building test weights with eager jax.random ops costs seconds of dispatch.
    rng = np.random.default_rng(key)
    stack = 1 if repeat else num_layers

    def mat(shape):
        return jnp.asarray(scale * rng.standard_normal(shape) / np.sqrt(shape[-2]), jnp.float32)

    blocks = Block(
        A=mat((stack, width, width)),
        b=jnp.asarray(0.1 * rng.standard_normal((stack, width)), jnp.float32),
        W=mat((stack, width, width)),
    )
    if repeat:  # The same block at every layer: every max-over-layers norm is independent of L.
        blocks = jax.tree.map(lambda p: jnp.asarray(np.repeat(p, num_layers, axis=0)), blocks)
    return ResidualWeights(
        pre_kernel=mat((n_in, width)),
        pre_bias=0.1 * jnp.ones((width,)),
        blocks=blocks,
        head_kernel=mat((width, n_out)),
        head_bias=0.05 * jnp.ones((n_out,)),
        alpha=jnp.asarray(0.1),
        beta=jnp.asarray(0.2),
        horizon=horizon,
        continuous=continuous,
    )


def _data(seed, num, n_in=3):
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (num, n_in))
    x[0] = 1.0  # The same largest norm (B_in = √3) at every size.
    return jnp.asarray(x, jnp.float32)


def test_complexity_term_scales_as_one_over_sqrt_s():
    weights = _weights(SEED, 8)
    small = _data(1, 100)
    big = _data(2, 400)
    a = residual_bound(weights, small, key=KEY)
    b = residual_bound(weights, big, key=KEY)
    assert a["B_in"] == pytest.approx(b["B_in"])
    np.testing.assert_allclose(a["complexity_term"] / b["complexity_term"], 2.0, rtol=1e-6)
    np.testing.assert_allclose(a["confidence_term"] / b["confidence_term"], 2.0, rtol=1e-9)
    assert a["structure_term"] == 0.0
    assert a["bound"] == pytest.approx(a["complexity_term"] + a["confidence_term"])
    assert a["log10_bound"] == pytest.approx(math.log10(a["bound"]))
    assert any("C_S^l" in note for note in a["notes"]) and any("M:" in n for n in a["notes"])


def test_closed_form_constant_upper_bounds_the_layer_recursion_and_is_tight_for_deep_nets():
    x = _data(3, 50)
    # Different blocks per layer: the closed form (maxima over layers, e^x ≥ (1+x/L)^L) is above.
    w = _weights(SEED, 6, scale=1.0)
    loop = _loop_with_bias(w, x)
    closed = math.exp(log_complexity_constant(measure_norms(w, x, key=KEY)))
    assert loop <= closed * (1 + 1e-4)
    # Same block repeated: the gap is only (1 + x/L)^L vs e^x, which closes as L grows.
    deep = _weights(SEED, 2048, repeat=True, scale=0.3)
    closed = math.exp(log_complexity_constant(measure_norms(deep, x, key=KEY)))
    loop = _loop_with_bias(deep, x)
    assert loop <= closed * (1 + 1e-4) and closed / loop < 1.01, (loop, closed)


def _loop_with_bias(weights, x, lip_psi=1.0):
    f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    s = x.shape[0]
    root = math.sqrt(s)
    b_in = np.linalg.norm(f64(x), axis=1).max()
    g = root * (np.linalg.norm(f64(weights.pre_kernel), 2) * b_in
                + np.linalg.norm(f64(weights.pre_bias)))  # fmt: skip
    num_layers = weights.blocks.A.shape[0]
    tau = weights.horizon / num_layers
    for layer in range(num_layers):
        a, b, w = (f64(p[layer]) for p in weights.blocks)
        s_w = np.linalg.norm(w, 2)
        a_21 = np.sum(np.linalg.norm(a, axis=0))
        g = g + 2 * tau * lip_psi * s_w * (a_21 * g + np.abs(b).sum() * root)
    head = f64(weights.head_kernel)
    b_kappa = np.linalg.norm(head, axis=0).max()
    return g / root + np.abs(f64(weights.head_bias)).max() / b_kappa


def test_residual_bound_is_depth_uniform_while_bft_grows():
    x = _data(4, 200)
    paper, classical = [], []
    for num_layers in (4, 32, 256):
        w = _weights(SEED, num_layers, repeat=True)
        paper.append(residual_bound(w, x, key=KEY)["log10_complexity_term"])
        classical.append(
            spectral_margin_bound(w, x, key=KEY, margin=1.0, train_margin_loss=0.0)[
                "log10_complexity_term"
            ]
        )
    np.testing.assert_allclose(paper, paper[0], rtol=1e-5)
    assert np.all(np.diff(classical) > 0.15), classical  # More than ×1.4 per ×8 depth.


def test_spectral_complexity_against_dense_formula():
    w = _weights(SEED, 5)
    x = _data(5, 30)
    f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    spec = lambda m: np.linalg.norm(f64(m), 2)  # noqa: E731
    n21 = lambda m: sum(np.linalg.norm(f64(m)[:, j]) for j in range(m.shape[1]))  # noqa: E731
    tau = 1.0 / 5
    rho = [1 + tau * spec(w.blocks.A[i]) * spec(w.blocks.W[i]) for i in range(5)]
    prod = spec(w.pre_kernel) * np.prod(rho) * spec(w.head_kernel)
    total = (n21(w.pre_kernel) / spec(w.pre_kernel)) ** (2 / 3) + (
        n21(w.head_kernel) / spec(w.head_kernel)
    ) ** (2 / 3)
    for i in range(5):
        a, ww = w.blocks.A[i], w.blocks.W[i]
        total += (tau * spec(ww) * n21(a) / rho[i]) ** (2 / 3)
        total += (tau * spec(a) * n21(ww) / rho[i]) ** (2 / 3)
    want = math.log(prod * total**1.5)
    got = log_spectral_complexity(measure_norms(w, x, key=KEY))
    np.testing.assert_allclose(got, want, rtol=1e-4)
    out = spectral_margin_bound(w, x, key=KEY, margin=0.5, train_margin_loss=0.1)
    xf = np.linalg.norm(f64(x))
    expected = 72 * xf * math.log(2 * 6) * math.log(30) / (0.5 * 30) * math.exp(want)
    np.testing.assert_allclose(out["complexity_term"], expected, rtol=1e-3)
    assert out["bound"] == pytest.approx(0.1 + out["complexity_term"] + out["confidence_term"])


def test_continuous_weights_and_bad_arguments():
    w = _weights(SEED, 5, continuous=True)
    x = _data(6, 20)
    assert np.isfinite(residual_bound(w, x, key=KEY)["log10_bound"])
    with pytest.raises(ValueError, match="continuous"):
        spectral_margin_bound(w, x, key=KEY, margin=1.0, train_margin_loss=0.0)
    with pytest.raises(ValueError, match="delta"):
        residual_bound(w, x, key=KEY, delta=1.5)
    with pytest.raises(ValueError, match="margin"):
        spectral_margin_bound(_weights(SEED, 2), x, key=KEY, margin=0.0, train_margin_loss=0.0)
