"""PPO and A2C losses (values and gradients) against numpy on fixed arrays."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.rl import a2c_loss, losses, ppo_loss, value_loss
from jaxml.rl.losses import normalize

EPS, VF, ENT = 0.2, 0.5, 0.01

# Ratios exp(lp - old): 0.5 (clipped below), 1.1 (inside), 1.5 (clipped above), 0.9, 1.3, 0.7,
# with advantages of both signs so that min() picks the clipped term for some and not others.
OLD_LOG_PROB = np.log(np.array([0.4, 0.5, 0.2, 0.6, 0.3, 0.5], np.float32))
LOG_PROB = OLD_LOG_PROB + np.log(np.array([0.5, 1.1, 1.5, 0.9, 1.3, 0.7], np.float32))
ADVANTAGE = np.array([1.0, -2.0, 0.5, 1.5, -1.0, -0.3], np.float32)
OLD_VALUE = np.array([0.0, 1.0, 2.0, -1.0, 0.5, 0.0], np.float32)
VALUE = np.array([0.5, 0.9, 2.1, -1.5, 0.9, 0.0], np.float32)
TARGET = np.array([1.0, 0.0, 2.0, -2.0, 0.2, 0.1], np.float32)
ENTROPY = np.array([0.6, 0.7, 0.5, 0.69, 0.3, 0.2], np.float32)


def numpy_ppo(log_prob, value, value_clip):
    ratio = np.exp(log_prob - OLD_LOG_PROB)
    surrogate = np.minimum(ratio * ADVANTAGE, np.clip(ratio, 1 - EPS, 1 + EPS) * ADVANTAGE)
    policy = -surrogate.mean()
    v_loss = (value - TARGET) ** 2
    if value_clip:
        clipped = OLD_VALUE + np.clip(value - OLD_VALUE, -EPS, EPS)
        v_loss = np.maximum(v_loss, (clipped - TARGET) ** 2)
    v_loss = 0.5 * v_loss.mean()
    return policy + VF * v_loss - ENT * ENTROPY.mean(), policy, v_loss


def call_ppo(log_prob, value, value_clip):
    return ppo_loss(
        log_prob, jnp.asarray(OLD_LOG_PROB), jnp.asarray(ADVANTAGE), value,
        jnp.asarray(OLD_VALUE), jnp.asarray(TARGET), jnp.asarray(ENTROPY),
        clip_eps=EPS, vf_coef=VF, ent_coef=ENT, value_clip_eps=EPS if value_clip else None,
    )  # fmt: skip


@pytest.mark.parametrize("value_clip", [False, True])
def test_ppo_loss_matches_numpy(value_clip):
    loss, metrics = call_ppo(jnp.asarray(LOG_PROB), jnp.asarray(VALUE), value_clip)
    want, policy, v_loss = numpy_ppo(LOG_PROB, VALUE, value_clip)
    np.testing.assert_allclose(loss, want, rtol=1e-5)
    np.testing.assert_allclose(metrics["policy_loss"], policy, rtol=1e-5)
    np.testing.assert_allclose(metrics["value_loss"], v_loss, rtol=1e-5)
    np.testing.assert_allclose(metrics["entropy"], ENTROPY.mean(), rtol=1e-6)
    ratio = np.exp(LOG_PROB - OLD_LOG_PROB)
    np.testing.assert_allclose(metrics["clip_fraction"], np.mean(np.abs(ratio - 1) > EPS))
    np.testing.assert_allclose(
        metrics["approx_kl"], np.mean(ratio - 1 - np.log(ratio)), rtol=1e-4, atol=1e-7
    )


def test_value_clipping_changes_the_loss():
    # Sample 3 moves the value from -1 to -1.5 toward target -2: clipping keeps it at -1.2.
    clipped = call_ppo(jnp.asarray(LOG_PROB), jnp.asarray(VALUE), True)[1]["value_loss"]
    plain = call_ppo(jnp.asarray(LOG_PROB), jnp.asarray(VALUE), False)[1]["value_loss"]
    assert float(clipped) > float(plain)


def test_ppo_gradients_match_numpy():
    grad_lp, grad_v = jax.grad(lambda lp, v: call_ppo(lp, v, True)[0], argnums=(0, 1))(
        jnp.asarray(LOG_PROB), jnp.asarray(VALUE)
    )
    n = len(LOG_PROB)
    ratio = np.exp(LOG_PROB - OLD_LOG_PROB)
    # d/dlp of -min(rA, clip(r)A)/n: -rA/n where the unclipped term is the min, else 0.
    unclipped_is_min = ratio * ADVANTAGE <= np.clip(ratio, 1 - EPS, 1 + EPS) * ADVANTAGE
    np.testing.assert_allclose(grad_lp, np.where(unclipped_is_min, -ratio * ADVANTAGE / n, 0))
    assert not unclipped_is_min.all() and unclipped_is_min.any()
    clipped = OLD_VALUE + np.clip(VALUE - OLD_VALUE, -EPS, EPS)
    plain_wins = (VALUE - TARGET) ** 2 >= (clipped - TARGET) ** 2
    moves = np.abs(VALUE - OLD_VALUE) < EPS  # The clipped term depends on v only inside ±ε.
    want_v = np.where(plain_wins, VALUE - TARGET, np.where(moves, clipped - TARGET, 0.0))
    np.testing.assert_allclose(grad_v, VF * want_v / n, rtol=1e-5, atol=1e-7)


def test_a2c_loss_and_gradients_match_numpy():
    def loss_fn(lp, v, adv):
        return a2c_loss(
            lp, adv, v, jnp.asarray(TARGET), jnp.asarray(ENTROPY), vf_coef=VF, ent_coef=ENT
        )

    (loss, metrics), grads = jax.value_and_grad(loss_fn, argnums=(0, 1, 2), has_aux=True)(
        jnp.asarray(LOG_PROB), jnp.asarray(VALUE), jnp.asarray(ADVANTAGE)
    )
    n = len(LOG_PROB)
    policy = -np.mean(LOG_PROB * ADVANTAGE)
    v_loss = 0.5 * np.mean((VALUE - TARGET) ** 2)
    np.testing.assert_allclose(loss, policy + VF * v_loss - ENT * ENTROPY.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["policy_loss"], policy, rtol=1e-5)
    np.testing.assert_allclose(metrics["value_loss"], v_loss, rtol=1e-5)
    np.testing.assert_allclose(grads[0], -ADVANTAGE / n, rtol=1e-6)
    np.testing.assert_allclose(grads[1], VF * (VALUE - TARGET) / n, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(grads[2], 0.0)  # Advantages are constants.


def test_value_loss_needs_old_values_to_clip():
    with pytest.raises(ValueError, match="old_value"):
        value_loss(jnp.zeros(3), jnp.zeros(3), clip_eps=0.2)


def test_normalize():
    x = normalize(jnp.asarray(ADVANTAGE))
    np.testing.assert_allclose(x, (ADVANTAGE - ADVANTAGE.mean()) / ADVANTAGE.std(), rtol=1e-5)


def test_ppo_loss_with_a_mask_equals_the_loss_of_the_kept_samples():
    keys = jax.random.split(jax.random.PRNGKey(5), 7)
    lp, olp, adv, v, ov, tgt, ent = (jax.random.normal(k, (10,)) for k in keys)
    keep = jnp.arange(10) % 3 != 0
    kwargs = dict(clip_eps=0.2, vf_coef=0.5, ent_coef=0.01, value_clip_eps=0.2)
    masked, m_metrics = losses.ppo_loss(lp, olp, adv, v, ov, tgt, ent, weight=keep, **kwargs)
    kept = [x[keep] for x in (lp, olp, adv, v, ov, tgt, ent)]
    plain, p_metrics = losses.ppo_loss(*kept, **kwargs)
    np.testing.assert_allclose(masked, plain, rtol=1e-5)
    for name in p_metrics:
        np.testing.assert_allclose(m_metrics[name], p_metrics[name], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        losses.normalize(adv, weight=keep)[keep], losses.normalize(adv[keep]), rtol=1e-5
    )
