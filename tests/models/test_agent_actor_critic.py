"""The factorised multi-agent policy (a distrax Joint of Independent Categoricals) against a numpy
loop and against the hand-written sampler, log-prob and entropy it replaced."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.models.agent_actor_critic import MASKED_LOGIT, factorised_policy

# Heads with no extra axes (SMAX's move), message tokens [L] (Foraging) and a [2, 3] grid.
HEADS = {"one_head": [((), 6)], "foraging": [((), 5), ((3,), 4)], "grid": [((), 3), ((2, 3), 2)]}


def head_logits(batch, heads, seed=0, masked=True):
    rng = np.random.default_rng(seed)
    logits = []
    for shape, n in heads:
        lg = 3.0 * rng.normal(size=batch + shape + (n,)).astype(np.float32)
        if masked:  # Unavailable actions as mappo masks them; keep one action per row.
            keep = rng.random(lg.shape) < 0.6
            keep[..., 0] = True
            lg = np.where(keep, lg, np.float32(MASKED_LOGIT))
        logits.append(jnp.asarray(lg))
    return tuple(logits)


# The hand-written functions factorised_policy replaced, kept as references.
def old_sample(key, logits):
    keys = jax.random.split(key, len(logits))
    return tuple(
        jax.random.categorical(k, lg, axis=-1).astype(jnp.int32)
        for k, lg in zip(keys, logits, strict=True)
    )


def old_log_prob(logits, actions, agent_ndim):
    total = 0.0
    for lg, a in zip(logits, actions, strict=True):
        log_p = jax.nn.log_softmax(lg, axis=-1)
        chosen = jnp.take_along_axis(log_p, a[..., None].astype(jnp.int32), axis=-1)[..., 0]
        total = total + jnp.sum(jnp.reshape(chosen, chosen.shape[:agent_ndim] + (-1,)), -1)
    return total


def old_entropy(logits, agent_ndim):
    total = 0.0
    for lg in logits:
        log_p = jax.nn.log_softmax(lg, axis=-1)
        ent = -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)
        total = total + jnp.sum(jnp.reshape(ent, ent.shape[:agent_ndim] + (-1,)), -1)
    return total


def numpy_log_prob_and_entropy(logits, actions, agent_ndim):
    """Loops over every batch element, head and extra index, in float64."""
    batch = logits[0].shape[:agent_ndim]
    log_prob, entropy = np.zeros(batch), np.zeros(batch)
    for idx in np.ndindex(*batch):
        for lg, a in zip(logits, actions, strict=True):
            rows = np.asarray(lg, np.float64)[idx].reshape(-1, lg.shape[-1])
            chosen = np.asarray(a)[idx].reshape(-1)
            for row, k in zip(rows, chosen, strict=True):
                log_p = row - row.max() - np.log(np.sum(np.exp(row - row.max())))
                log_prob[idx] += log_p[k]
                entropy[idx] -= np.sum(np.exp(log_p) * log_p)
    return log_prob, entropy


@pytest.mark.parametrize("heads", HEADS.values(), ids=HEADS.keys())
@pytest.mark.parametrize("batch", [(7, 3), (2, 4, 3)], ids=["batch_agents", "time_batch_agents"])
def test_log_prob_and_entropy_equal_the_references(heads, batch):
    agent_ndim = len(batch)
    logits = head_logits(batch, heads)
    pi = factorised_policy(logits, agent_ndim)
    assert pi.batch_shape == batch
    actions = pi.sample(seed=jax.random.PRNGKey(1))
    for a, lg in zip(actions, logits, strict=True):
        assert a.dtype == jnp.int32 and a.shape == lg.shape[:-1]
    log_prob, entropy = pi.log_prob(actions), pi.entropy()
    assert log_prob.shape == entropy.shape == batch
    # Log-probs are the log-softmax entries: equal to the old sum (up to the order of a
    # multi-axis sum); the entropy is distrax's, normalised twice, equal to rounding.
    np.testing.assert_allclose(log_prob, old_log_prob(logits, actions, agent_ndim), rtol=1e-6)
    np.testing.assert_allclose(entropy, old_entropy(logits, agent_ndim), rtol=1e-6, atol=1e-6)
    ref_log_prob, ref_entropy = numpy_log_prob_and_entropy(logits, actions, agent_ndim)
    np.testing.assert_allclose(log_prob, ref_log_prob, rtol=1e-5, atol=1e-6)  # float32 vs 64.
    np.testing.assert_allclose(entropy, ref_entropy, rtol=1e-5, atol=1e-5)


def test_one_head_log_prob_is_bit_identical():
    # SMAX's case: one head, no extra axes; nothing is summed, so nothing may move.
    logits = head_logits((64, 3), HEADS["one_head"])
    actions = old_sample(jax.random.PRNGKey(0), logits)
    np.testing.assert_array_equal(
        factorised_policy(logits, 2).log_prob(actions), old_log_prob(logits, actions, 2)
    )


@pytest.mark.parametrize("heads", HEADS.values(), ids=HEADS.keys())
def test_samples_are_the_old_random_stream_and_never_masked(heads):
    logits = head_logits((64, 3), heads, seed=2)
    keys = jax.random.split(jax.random.PRNGKey(3), 32)
    new = jax.jit(jax.vmap(lambda k: factorised_policy(logits, 2).sample(seed=k)))(keys)
    old = jax.jit(jax.vmap(lambda k: old_sample(k, logits)))(keys)
    for a_new, a_old, lg in zip(new, old, logits, strict=True):
        np.testing.assert_array_equal(a_new, a_old)  # One categorical per head, same key split.
        chosen = np.take_along_axis(np.asarray(lg)[None], np.asarray(a_new)[..., None], -1)
        assert np.all(chosen > MASKED_LOGIT)
