"""Adaptive RING's and RENG's 2-D model carries RING's curvature ``C + ρ‖ḡ‖² I`` (arXiv
2601.18420 as inferred in jaxml/optim/_grng.py): the first step against a dense numpy reference,
with and without it (``model_damping``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxml import optim
from jaxml.models import MLP

N, D_IN, K = 24, 3, 3
MODEL = MLP(K, hidden=(5,), activation=jnp.tanh)
X = jax.random.normal(jax.random.PRNGKey(0), (N, D_IN))
Y = jax.random.randint(jax.random.PRNGKey(1), (N,), 0, K)
PARAMS = MODEL.init(jax.random.PRNGKey(2), X)


def flat64(tree):
    return np.asarray(ravel_pytree(tree)[0], np.float64)


def dense_fisher(params):
    """(1/N) Σ_n J_nᵀ (diag p_n − p_n p_nᵀ) J_n from the full Jacobian, float64."""
    flat, unravel = ravel_pytree(params)
    jac = np.asarray(jax.jacobian(lambda f: MODEL.apply(unravel(f), X))(flat), np.float64)
    logits = np.asarray(MODEL.apply(params, X), np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    h = np.stack([np.diag(q) - np.outer(q, q) for q in p])
    return np.einsum("nkp,nkl,nlq->pq", jac, h, jac) / N


BLOCKS = {"ring": (optim.ring, optim.scale_by_ring), "reng": (optim.reng, optim.scale_by_reng)}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_first_adaptive_step_uses_the_ring_damping_in_the_model(name):
    alias, scale_by = BLOCKS[name]
    lam, rho = 1e-3, 2.0  # A large ρ so that ρ‖ḡ‖² dominates λ.
    ci = optim.loss_grads_and_stats(MODEL, PARAMS, X, Y, jax.random.PRNGKey(3))
    extra = {"layer_stats": ci.layer_stats, "loss_fn": ci.loss_fn}
    block = scale_by(rho=rho, damping=lam)
    preconditioned, _ = block.update(ci.grads, block.init(PARAMS), PARAMS, **extra)
    delta, g = -flat64(preconditioned), flat64(ci.grads)
    c = dense_fisher(PARAMS)
    extra |= {"curvature_gram": ci.curvature_gram, "value": ci.loss}
    for model_damping, damping in ((True, lam + rho * g @ g), (False, lam)):
        tx = alias(1.0, rho=rho, damping=lam, adaptive=True, model_damping=model_damping)
        updates, _ = tx.update(ci.grads, tx.init(PARAMS), PARAMS, **extra)
        alpha = -(g @ delta) / (delta @ c @ delta + damping * delta @ delta)
        np.testing.assert_allclose(flat64(updates), alpha * delta, rtol=2e-3, atol=1e-7)
    # The two differ measurably: ρ‖ḡ‖² shortens the step.
    assert lam * 1.05 < rho * g @ g
