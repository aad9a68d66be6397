"""Kronecker blocks of 2-D convolutions (Grosse & Martens 2016): patches, factors, directions."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import optim
from jaxml.optim._curvature import conv_patches
from jaxml.optim._kronecker import layer_factors

KERNEL, STRIDE, C_IN, C_OUT, CLASSES = (3, 2), 2, 2, 4, 3


class SmallCNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.Conv(C_OUT, KERNEL, strides=STRIDE, padding="SAME", name="conv")(x)
        h = jnp.tanh(h).reshape(x.shape[0], -1)
        return nn.Dense(CLASSES, name="head")(h)


def problem():
    x = jax.random.normal(jax.random.PRNGKey(0), (6, 5, 7, C_IN))
    y = jax.random.randint(jax.random.PRNGKey(1), (6,), 0, CLASSES)
    model = SmallCNN()
    return model, model.init(jax.random.PRNGKey(2), x), x, y


def patches_by_hand(x: np.ndarray, kernel, stride) -> np.ndarray:
    """SAME-padded patches ``[N, H', W', kh·kw·c]`` by explicit loops, kernel order (kh, kw, c)."""
    n, h, w, c = x.shape
    out_hw, pads = [], []
    for size, k in zip((h, w), kernel, strict=True):
        out = -(-size // stride)
        total = max((out - 1) * stride + k - size, 0)
        out_hw.append(out)
        pads.append((total // 2, total - total // 2))
    padded = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    result = np.zeros((n, *out_hw, kernel[0] * kernel[1] * c))
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            window = padded[
                :, i * stride : i * stride + kernel[0], j * stride : j * stride + kernel[1]
            ]
            result[:, i, j] = window.reshape(n, -1)
    return result


def test_patches_match_loops_and_reproduce_the_conv():
    model, params, x, _ = problem()
    conv = nn.Conv(C_OUT, KERNEL, strides=STRIDE, padding="SAME")
    patches = conv_patches(conv, x)
    np.testing.assert_allclose(patches, patches_by_hand(np.asarray(x), KERNEL, STRIDE), atol=1e-6)
    p = params["params"]["conv"]
    out = conv.apply({"params": p}, x)
    by_patches = patches @ p["kernel"].reshape(-1, C_OUT) + p["bias"][None, None, None]
    np.testing.assert_allclose(by_patches, out, rtol=1e-5, atol=1e-5)


def test_conv_factors_equal_hand_computed_expectations():
    model, params, x, y = problem()
    key = jax.random.PRNGKey(7)
    ci = optim.loss_grads_and_stats(model, params, x, y, key)
    stats = ci.layer_stats["params"]["conv"]
    patches = patches_by_hand(np.asarray(x), KERNEL, STRIDE).reshape(-1, 3 * 2 * C_IN)
    a = np.concatenate([patches, np.ones((len(patches), 1))], axis=1)

    # e = ∂ℓ/∂(conv output) at labels sampled from the model, per example and position.
    def head_from_conv_out(s, p):
        h = jnp.tanh(s).reshape(x.shape[0], -1)
        return h @ p["head"]["kernel"] + p["head"]["bias"][None]

    conv_out = nn.Conv(C_OUT, KERNEL, strides=STRIDE, padding="SAME").apply(
        {"params": params["params"]["conv"]}, x
    )
    logits = head_from_conv_out(conv_out, params["params"])
    sampled = jax.random.categorical(key, logits)
    e = jax.grad(
        lambda s: optax.softmax_cross_entropy_with_integer_labels(
            head_from_conv_out(s, params["params"]), sampled
        ).sum()
    )(conv_out).reshape(-1, C_OUT)
    factor_a, factor_g = layer_factors(stats, has_bias=True)
    np.testing.assert_allclose(factor_a, a.T @ a / len(a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(factor_g, e.T @ e / len(e), rtol=1e-4, atol=1e-7)


def test_conv_direction_is_the_dense_solve_with_the_damped_kronecker_fisher():
    model, params, x, y = problem()
    ci = optim.loss_grads_and_stats(model, params, x, y, jax.random.PRNGKey(4))
    damping = 0.05
    tx = optim.scale_by_kfac(damping=damping, newton_schulz_iters=60, newton_schulz_tol=None)
    direction = tx.update(ci.grads, tx.init(params), params, layer_stats=ci.layer_stats)[0]
    a, g = (np.float64(f) for f in layer_factors(ci.layer_stats["params"]["conv"], True))
    pi = np.sqrt((np.trace(a) / a.shape[0]) / (np.trace(g) / g.shape[0]))
    eye_a, eye_g = np.eye(a.shape[0]), np.eye(g.shape[0])
    fisher = np.kron(a + pi * np.sqrt(damping) * eye_a, g + np.sqrt(damping) / pi * eye_g)
    grads = ci.grads["params"]["conv"]
    stacked = np.concatenate([grads["kernel"].reshape(-1, C_OUT), grads["bias"][None]], 0)
    expected = np.linalg.solve(fisher, stacked.reshape(-1)).reshape(-1, C_OUT)
    got = direction["params"]["conv"]
    assert got["kernel"].shape == grads["kernel"].shape
    np.testing.assert_allclose(
        got["kernel"].reshape(-1, C_OUT), expected[:-1], rtol=1e-3, atol=1e-4
    )
    np.testing.assert_allclose(got["bias"], expected[-1], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["kfac", "ring", "reng", "rkalman"])
def test_kronecker_optimizers_train_a_cnn(name):
    model, params, x, y = problem()
    hyper = {"learning_rate": 0.1 if name != "rkalman" else 0.5}
    tx = optim.make(name, **hyper)
    opt_state = tx.init(params)
    step = jax.jit(lambda p, s, k: optim.train_step(name, tx, model, p, s, x, y, k))
    losses = []
    for i in range(30):
        params, opt_state, metrics = step(params, opt_state, jax.random.PRNGKey(i))
        losses.append(float(metrics["loss"]))
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0], losses


def test_grouped_or_circular_convs_are_refused():
    x = jnp.ones((1, 4, 4, 2))
    for conv in (nn.Conv(2, (3, 3), feature_group_count=2), nn.Conv(2, (3, 3), padding="CIRCULAR")):
        with pytest.raises(ValueError, match="model: conv"):
            conv_patches(conv, x)
