"""The adaptive K-FAC pieces (Martens & Grosse 2015, arXiv 1503.05671, §6.3, §6.5, §7) against
dense references on a tiny tanh MLP: the exact Fisher built from full Jacobians, the 2×2 system
solved by numpy, and the true loss change."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from jaxml import optim
from jaxml.models import MLP
from jaxml.optim._kronecker import damped_inverses

N, D_IN, K = 24, 3, 3
MODEL = MLP(K, hidden=(5,), activation=jnp.tanh)
X = jax.random.normal(jax.random.PRNGKey(0), (N, D_IN))
Y_CLASS = jax.random.randint(jax.random.PRNGKey(1), (N,), 0, K)
Y_REAL = jax.random.normal(jax.random.PRNGKey(1), (N, K))
PARAMS = MODEL.init(jax.random.PRNGKey(2), X)
FLAT, UNRAVEL = ravel_pytree(PARAMS)


def targets(likelihood):
    return Y_CLASS if likelihood == "categorical" else Y_REAL


def dense_curvature(params, likelihood, model=MODEL, x=X):
    """(1/N) Σ_n J_nᵀ H_n J_n from the full Jacobian [N, K, P], in float64."""
    flat, unravel = ravel_pytree(params)
    jac = np.asarray(jax.jacobian(lambda f: model.apply(unravel(f), x))(flat), np.float64)
    logits = np.asarray(model.apply(params, x), np.float64)
    c = np.zeros((flat.size, flat.size))
    for n in range(x.shape[0]):
        if likelihood == "categorical":
            p = np.exp(logits[n] - logits[n].max())
            p /= p.sum()
            h = np.diag(p) - np.outer(p, p)
        else:
            h = np.eye(logits.shape[1])
        c += jac[n].T @ h @ jac[n]
    return c / x.shape[0]


def random_tangent(seed):
    return UNRAVEL(jax.random.normal(jax.random.PRNGKey(seed), FLAT.shape))


def flat64(tree):
    return np.asarray(ravel_pytree(tree)[0], np.float64)


def curvature_inputs(params=PARAMS, likelihood="categorical", seed=3):
    return optim.loss_grads_and_stats(
        MODEL, params, X, targets(likelihood), jax.random.PRNGKey(seed), likelihood=likelihood
    )


@pytest.mark.parametrize("likelihood", ["categorical", "gaussian"])
def test_curvature_vector_product_equals_dense_matrix_times_vector(likelihood):
    c = dense_curvature(PARAMS, likelihood)
    v = random_tangent(4)
    product = optim.curvature_vector_product(MODEL, PARAMS, X, likelihood=likelihood)(v)
    np.testing.assert_allclose(flat64(product), c @ flat64(v), rtol=2e-4, atol=1e-6)


@pytest.mark.parametrize("likelihood", ["categorical", "gaussian"])
def test_curvature_gram_equals_dense_quadratic_forms(likelihood):
    c = dense_curvature(PARAMS, likelihood)
    vs = [random_tangent(s) for s in (4, 5, 6)]
    gram = curvature_inputs(likelihood=likelihood).curvature_gram(vs)
    dense = np.stack([flat64(v) for v in vs])
    chex.assert_shape(gram, (3, 3))
    np.testing.assert_allclose(gram, dense @ c @ dense.T, rtol=2e-4, atol=1e-6)


def test_linearized_helper_keeps_the_gradient_and_loss():
    # The helper now linearizes and transposes instead of calling jax.vjp: same numbers.
    ci = curvature_inputs()
    loss, grads = jax.value_and_grad(ci.loss_fn)(PARAMS)
    np.testing.assert_allclose(ci.loss, loss, rtol=1e-6)
    np.testing.assert_allclose(flat64(ci.grads), flat64(grads), rtol=1e-5, atol=1e-7)


def numpy_coefficients(c, g, delta, last, lam):
    v = np.stack([delta, last])
    q = v @ c @ v.T + lam * v @ v.T
    return np.linalg.solve(q, -(v @ g))


def test_quadratic_model_solution_equals_direct_two_by_two_solve():
    c = dense_curvature(PARAMS, "categorical")
    ci = curvature_inputs()
    g = flat64(ci.grads)
    delta, last = random_tangent(7), random_tangent(8)
    lam = 0.05
    vectors = (delta, last)
    gram = ci.curvature_gram(vectors)
    overlap = jnp.array([[optax.tree.vdot(u, v) for v in vectors] for u in vectors])
    grad_dots = jnp.stack([optax.tree.vdot(ci.grads, v) for v in vectors])
    got = optim.quadratic_model_coefficients(gram, overlap, grad_dots, lam)
    want = numpy_coefficients(c, g, flat64(delta), flat64(last), lam)
    np.testing.assert_allclose(got, want, rtol=1e-3)
    # The solution is the minimum of the model along the plane: any other point is higher.
    q = gram + lam * overlap
    best = optim.quadratic_model_change(got, q, grad_dots)
    for shift in ([1e-2, 0.0], [0.0, -1e-2], [3e-3, 3e-3]):
        assert optim.quadratic_model_change(got + jnp.array(shift), q, grad_dots) > best
    # Fixed momentum: α alone solves the first row.
    fixed = optim.quadratic_model_coefficients(gram, overlap, grad_dots, lam, momentum=0.9)
    np.testing.assert_allclose(fixed[0], -(grad_dots[0] + 0.9 * q[0, 1]) / q[0, 0], rtol=1e-5)
    # δ₀ = 0 (the first step): the 1-D solution, μ = 0.
    zero = jax.tree.map(jnp.zeros_like, last)
    vectors0 = (delta, zero)
    gram0 = ci.curvature_gram(vectors0)
    overlap0 = jnp.array([[optax.tree.vdot(u, v) for v in vectors0] for u in vectors0])
    dots0 = jnp.stack([optax.tree.vdot(ci.grads, v) for v in vectors0])
    first = optim.quadratic_model_coefficients(gram0, overlap0, dots0, lam)
    d = flat64(delta)
    np.testing.assert_allclose(first[0], -(g @ d) / (d @ c @ d + lam * d @ d), rtol=1e-3)
    assert float(first[1]) == 0.0


def adaptive_step(tx):
    @jax.jit
    def step(params, state, seed):
        ci = curvature_inputs(params, seed=seed)
        extra = {
            "layer_stats": ci.layer_stats,
            "loss_fn": ci.loss_fn,
            "curvature_gram": ci.curvature_gram,
            "value": ci.loss,
        }
        updates, state = tx.update(ci.grads, state, params, **extra)
        return updates, state

    return step


def test_kfac_adaptive_update_is_the_dense_quadratic_model_step():
    lam = 0.1
    tx = optim.kfac(1.0, damping=lam, adaptive=True)
    state = tx.init(PARAMS)
    step = adaptive_step(tx)
    updates, state = step(PARAMS, state, 0)
    params = optax.apply_updates(PARAMS, updates)
    previous = state  # δ₀ = the first update, λ unchanged (adaptation after step T − 1 = 4).
    updates, state = step(params, state, 1)

    # Δ = −(K-FAC direction) from the same Kronecker state and damping, computed apart.
    ci = curvature_inputs(params, seed=1)
    kfac_direction, _ = optim.scale_by_kfac(damping=previous.damping).update(
        ci.grads, previous.inner_state, params, layer_stats=ci.layer_stats
    )
    delta = -flat64(kfac_direction)
    last = flat64(previous.last_update)
    c = dense_curvature(params, "categorical")
    alpha, mu = numpy_coefficients(c, flat64(ci.grads), delta, last, lam)
    np.testing.assert_allclose([state.learning_rate, state.momentum], [alpha, mu], rtol=2e-3)
    np.testing.assert_allclose(flat64(updates), alpha * delta + mu * last, rtol=2e-3, atol=1e-6)


def test_reduction_ratio_equals_true_loss_change_over_model_change():
    tx = optim.kfac(1.0, damping=0.1, adaptive=True, damping_adaptation_every=1)
    state = tx.init(PARAMS)
    updates, state = adaptive_step(tx)(PARAMS, state, 0)
    ci = curvature_inputs(PARAMS, seed=0)
    d = flat64(updates)
    c = dense_curvature(PARAMS, "categorical")
    model_change = 0.5 * d @ c @ d + flat64(ci.grads) @ d  # Undamped, as in §6.5.
    true_change = ci.loss_fn(optax.apply_updates(PARAMS, updates)) - ci.loss
    np.testing.assert_allclose(state.reduction_ratio, true_change / model_change, rtol=2e-3)
    # λ moved as the rule says for that ρ (ω = 19/20 with T = 1).
    want = optim.levenberg_marquardt_damping(jnp.float32(0.1), state.reduction_ratio, 0.95)
    np.testing.assert_allclose(state.damping, want, rtol=1e-6)


def test_reduction_ratio_is_one_on_a_quadratic_loss():
    # Linear model, Gaussian likelihood: the Gauss–Newton model is the loss itself.
    model = nn.Dense(2)
    params = model.init(jax.random.PRNGKey(0), X)
    tx = optim.kfac(1.0, damping=1e-3, adaptive=True, damping_adaptation_every=1)
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        ci = optim.loss_grads_and_stats(
            model, params, X, Y_REAL[:, :2], jax.random.PRNGKey(0), likelihood="gaussian"
        )
        extra = {"layer_stats": ci.layer_stats, "loss_fn": ci.loss_fn}
        extra |= {"curvature_gram": ci.curvature_gram, "value": ci.loss}
        updates, state = tx.update(ci.grads, state, params, **extra)
        return optax.apply_updates(params, updates), state

    params, state = step(params, state)
    np.testing.assert_allclose(state.reduction_ratio, 1.0, rtol=1e-3)
    # Later steps change the loss by less, and float32 cancellation in L(θ+δ) − L(θ) shows.
    params, state = step(params, state)
    np.testing.assert_allclose(state.reduction_ratio, 1.0, rtol=3e-2)


def test_damping_goes_up_for_poor_ratios_and_down_for_good_ones():
    lam, omega = jnp.float32(1e-2), 0.95**5
    rule = optim.levenberg_marquardt_damping
    np.testing.assert_allclose(rule(lam, jnp.float32(0.1), omega), lam / omega, rtol=1e-6)
    np.testing.assert_allclose(rule(lam, jnp.float32(-3.0), omega), lam / omega, rtol=1e-6)
    np.testing.assert_allclose(rule(lam, jnp.float32(jnp.nan), omega), lam / omega, rtol=1e-6)
    np.testing.assert_allclose(rule(lam, jnp.float32(0.9), omega), lam * omega, rtol=1e-6)
    np.testing.assert_allclose(rule(lam, jnp.float32(0.5), omega), lam, rtol=1e-6)
    assert float(rule(lam, jnp.float32(0.9), omega, min_damping=0.01)) == pytest.approx(0.01)
    # No predicted decrease: ρ = −inf when the loss went up, +inf when down.
    assert float(optim.reduction_ratio(1.0, 0.5, jnp.float32(0.0))) == -np.inf
    assert float(optim.reduction_ratio(0.4, 0.5, jnp.float32(0.0))) == np.inf


def test_an_overshooting_step_raises_the_damping():
    # scale = 8 takes 8 times the model's optimal step: far outside the region where the
    # quadratic model holds, so the loss falls much less than predicted (or rises): ρ < 1/4.
    tx = optim.kfac(8.0, damping=1e-4, adaptive=True, damping_adaptation_every=1)
    state = tx.init(PARAMS)
    _, state = adaptive_step(tx)(PARAMS, state, 0)
    assert float(state.reduction_ratio) < 0.25
    assert float(state.damping) > 1e-4


def test_factored_damping_pi_by_hand():
    # K-FAC's inverses are of (A + π√λ I) and (G + √λ/π I), π² = (tr A / dim A) / (tr G / dim G).
    rng = np.random.default_rng(0)
    a_half, g_half = rng.normal(size=(6, 4)), rng.normal(size=(5, 3))
    a, g = a_half.T @ a_half, 3.0 * g_half.T @ g_half
    lam = 0.02
    pi = np.sqrt((np.trace(a) / 4) / (np.trace(g) / 3))
    a_inv, g_inv = damped_inverses(
        jnp.asarray(a, jnp.float32), jnp.asarray(g, jnp.float32), jnp.float32(lam), None, 60, None
    )
    want_a = np.linalg.inv(a + pi * np.sqrt(lam) * np.eye(4))
    want_g = np.linalg.inv(g + np.sqrt(lam) / pi * np.eye(3))
    np.testing.assert_allclose(a_inv, want_a, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(g_inv, want_g, rtol=1e-3, atol=1e-5)
    # π matters here: the plain √λ split (π = 1) gives another inverse.
    assert not np.allclose(a_inv, np.linalg.inv(a + np.sqrt(lam) * np.eye(4)), rtol=1e-3)


def test_identity_preconditioner_gives_quadratic_model_sgd_with_momentum():
    lam = 0.05
    tx = optim.scale_by_quadratic_model(optax.identity(), initial_damping=lam, adapt_damping=False)
    state = tx.init(PARAMS)
    ci = curvature_inputs()
    updates, state = tx.update(ci.grads, state, PARAMS, curvature_gram=ci.curvature_gram)
    params = optax.apply_updates(PARAMS, updates)
    ci2 = curvature_inputs(params)
    updates2, _ = tx.update(ci2.grads, state, params, curvature_gram=ci2.curvature_gram)
    c = dense_curvature(params, "categorical")
    g2 = flat64(ci2.grads)
    alpha, mu = numpy_coefficients(c, g2, -g2, flat64(updates), lam)
    want = alpha * -g2 + mu * flat64(updates)
    np.testing.assert_allclose(flat64(updates2), want, rtol=2e-3, atol=1e-6)


ADAPTIVE = {
    "kfac": (optim.kfac, {}),
    "ring": (optim.ring, {"rho": 0.05}),
    "reng": (optim.reng, {"rho": 0.05}),
}


@pytest.mark.parametrize("name", sorted(ADAPTIVE))
def test_adaptive_forms_jit_once_descend_and_inject_the_scale(name):
    factory, kwargs = ADAPTIVE[name]
    tx = optax.inject_hyperparams(factory)(learning_rate=1.0, damping=1e-2, adaptive=True, **kwargs)
    state = tx.init(PARAMS)
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state):
        ci = curvature_inputs(params)
        extra = {"layer_stats": ci.layer_stats, "loss_fn": ci.loss_fn}
        extra |= {"curvature_gram": ci.curvature_gram, "value": ci.loss}
        updates, state = tx.update(ci.grads, state, params, **extra)
        return optax.apply_updates(params, updates), state, updates

    _, _, first = step(PARAMS, state)
    doubled = {**state.hyperparams, "learning_rate": 2.0 * state.hyperparams["learning_rate"]}
    doubled_state = state._replace(hyperparams=doubled)
    _, _, doubled = step(PARAMS, doubled_state)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(2 * a, b, rtol=1e-5), first, doubled)
    params = PARAMS
    for _ in range(20):
        params, state, updates = step(params, state)
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, PARAMS)
    loss = curvature_inputs(params).loss
    assert np.isfinite(loss) and loss < 0.7 * curvature_inputs().loss


def test_train_step_by_name_with_the_adaptive_flag():
    tx = optim.make("kfac", learning_rate=1.0, damping=1e-2, adaptive=True)
    state = tx.init(PARAMS)
    params, state, metrics = jax.jit(
        lambda p, s: optim.train_step("kfac", tx, MODEL, p, s, X, Y_CLASS, jax.random.PRNGKey(0))
    )(PARAMS, state)
    assert np.isfinite(metrics["loss"])
    assert float(state.inner_state.learning_rate) > 0.0


def test_missing_curvature_gram_and_schedule_damping_are_errors():
    tx = optim.kfac(1.0, adaptive=True)
    ci = curvature_inputs()
    with pytest.raises(ValueError, match="curvature_gram"):
        tx.update(ci.grads, tx.init(PARAMS), PARAMS, layer_stats=ci.layer_stats)
    with pytest.raises(ValueError, match="damping"):
        optim.kfac(1.0, damping=optax.constant_schedule(1e-2), adaptive=True)


def test_preconditioner_damping_floor_is_used_by_the_preconditioner_only():
    lam, floor = 1e-4, 0.1
    tx = optim.kfac(1.0, damping=lam, adaptive=True, min_preconditioner_damping=floor)
    state = tx.init(PARAMS)
    updates, state = adaptive_step(tx)(PARAMS, state, 0)
    ci = curvature_inputs(PARAMS, seed=0)
    fresh = optim.scale_by_kfac(damping=floor)
    kfac_direction, _ = fresh.update(
        ci.grads, fresh.init(PARAMS), PARAMS, layer_stats=ci.layer_stats
    )
    delta = -flat64(kfac_direction)
    c, g = dense_curvature(PARAMS, "categorical"), flat64(ci.grads)
    alpha = -(g @ delta) / (delta @ c @ delta + lam * delta @ delta)  # The model's λ, not γ.
    np.testing.assert_allclose(flat64(updates), alpha * delta, rtol=2e-3, atol=1e-7)
