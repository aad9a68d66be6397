"""TAR²'s return model: causality, agent equivariance, masking, and a learning check."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.models.tar2 import TAR2Output, TAR2RewardModel
from jaxml.rl import tar2
from tests.helpers import fast_jit

T, A, OBS, N = 6, 3, 5, 4


def inputs(key, batch=2, steps=T):
    k1, k2, k3 = jax.random.split(key, 3)
    obs = jax.random.normal(k1, (batch, steps, A, OBS))
    actions = jax.random.randint(k2, (batch, steps, A), 0, N)
    valid = jax.random.bernoulli(k3, 0.8, (batch, steps, A))
    return obs, actions, valid


def model_and_params(**kwargs):
    model = TAR2RewardModel(num_actions=N, max_steps=T, num_agents=A, **kwargs)
    obs, actions, valid = inputs(jax.random.key(0))
    params = model.init(jax.random.key(1), obs, actions, valid)
    # Random score-head output weights (they start at 0) so that scores vary with the inputs.
    out = params["params"]["score_out"]
    out["kernel"] = jax.random.normal(jax.random.key(2), out["kernel"].shape)
    return model, params


def test_defaults_and_shapes():
    model = TAR2RewardModel(num_actions=N, max_steps=T, num_agents=A)
    assert (model.depth, model.width, model.num_heads) == (3, 64, 4)  # The authors' defaults.
    obs, actions, valid = inputs(jax.random.key(0))
    params = jax.jit(model.init)(jax.random.key(1), obs, actions, valid)
    out = jax.jit(model.apply)(params, obs, actions, valid)
    assert out.scores.shape == (2, T, A) and out.action_logits.shape == (2, T, A, N)
    # Zero-initialised score head: the first redistribution is the uniform fallback.
    assert np.all(np.asarray(out.scores) == 0)
    with pytest.raises(ValueError, match="observations"):
        model.apply(params, jnp.zeros((1, T + 1, A, OBS)), jnp.zeros((1, T + 1, A), int),
                    jnp.ones((1, T + 1, A), bool))  # fmt: skip


@pytest.mark.parametrize("t", [0, 2, T - 2])
def test_scores_are_causal_in_time(t):
    """Changing every input (any agent: observation, action, validity) after step t leaves the
    scores at steps <= t unchanged; the scores after t do change."""
    model, params = model_and_params()
    obs, actions, valid = inputs(jax.random.key(3))
    obs2, actions2, valid2 = inputs(jax.random.key(4))
    later = (jnp.arange(T) > t)[None, :, None]
    obs2 = jnp.where(later[..., None], obs2, obs)
    actions2 = jnp.where(later, actions2, actions)
    valid2 = jnp.where(later, valid2, valid)
    s1 = np.asarray(model.apply(params, obs, actions, valid).scores)
    s2 = np.asarray(model.apply(params, obs2, actions2, valid2).scores)
    np.testing.assert_allclose(s2[:, : t + 1], s1[:, : t + 1], rtol=1e-5, atol=1e-6)
    assert np.abs(s2[:, t + 1 :] - s1[:, t + 1 :]).max() > 1e-3


def test_agents_mix_within_a_step():
    """Agent attention is not causal: agent 0's inputs at step t change agent 1's score at t."""
    model, params = model_and_params()
    obs, actions, valid = inputs(jax.random.key(3))
    valid = jnp.ones_like(valid)
    s1 = model.apply(params, obs, actions, valid).scores
    s2 = model.apply(params, obs.at[:, 2, 0].add(1.0), actions, valid).scores
    assert np.abs(np.asarray(s2 - s1)[:, 2, 1]).max() > 1e-4
    np.testing.assert_allclose(s2[:, :2], s1[:, :2], rtol=1e-5, atol=1e-6)


def test_permutation_equivariance_without_agent_ids():
    model, params = model_and_params(use_agent_id=False)
    obs, actions, valid = inputs(jax.random.key(5))
    perm = np.array([2, 0, 1])
    out = model.apply(params, obs, actions, valid)
    out_p = model.apply(params, obs[:, :, perm], actions[:, :, perm], valid[:, :, perm])
    np.testing.assert_allclose(out_p.scores, out.scores[:, :, perm], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        out_p.action_logits, out.action_logits[:, :, perm], rtol=1e-5, atol=1e-5
    )
    # With agent ids the model tells agents apart (not equivariant).
    model, params = model_and_params(use_agent_id=True)
    params["params"]["agent_ids"] = jax.random.normal(jax.random.key(6), (A, model.width))
    out = model.apply(params, obs, actions, valid)
    out_p = model.apply(params, obs[:, :, perm], actions[:, :, perm], valid[:, :, perm])
    assert np.abs(np.asarray(out_p.scores - out.scores[:, :, perm])).max() > 1e-3


def episodes_from(obs, actions, valid, ret):
    return tar2.Episodes(obs, actions, valid, ret)


def test_padding_and_dead_agents_do_not_change_the_loss():
    model, params = model_and_params()
    obs, actions, valid = inputs(jax.random.key(7))
    ret = jnp.array([1.5, -2.0])
    obs2, actions2, _ = inputs(jax.random.key(8))
    obs2 = jnp.where(valid[..., None], obs, obs2 * 10)  # Garbage where invalid.
    actions2 = jnp.where(valid, actions, actions2)
    assert np.any(np.asarray(obs2 != obs))

    def loss(o, a):
        out = model.apply(params, o, a, valid)
        return tar2.return_model_loss(out, episodes_from(o, a, valid, ret)), out.scores

    (l1, m1), s1 = loss(obs, actions)
    (l2, m2), s2 = loss(obs2, actions2)
    np.testing.assert_allclose(l2, l1, rtol=1e-6)
    np.testing.assert_allclose(np.where(valid, s2, 0), np.where(valid, s1, 0), rtol=1e-5, atol=1e-6)
    # Rewards too: invalid entries get 0 and the valid ones do not move.
    r1 = tar2.model_rewards(model, params, episodes_from(obs, actions, valid, ret))
    r2 = tar2.model_rewards(model, params, episodes_from(obs2, actions2, valid, ret))
    np.testing.assert_allclose(r2, r1, rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(r1)[~np.asarray(valid)] == 0)
    np.testing.assert_allclose(np.asarray(r1).sum((1, 2)), ret, rtol=1e-5)


def test_loss_on_a_hand_built_case():
    # One episode, T = 3, A = 2; agent 1 dies after step 0; step 2 is padding.
    valid = np.array([[[1, 1], [1, 0], [0, 0]]], bool)
    scores = np.array([[[1.0, 2.0], [0.5, 100.0], [7.0, 7.0]]], np.float32)
    logits = np.zeros((1, 3, 2, 3), np.float32)
    logits[0, 0, 0] = [np.log(2.0), 0.0, 0.0]  # p(a=0) = 1/2.
    logits[0, 0, 1] = [5.0, 5.0, 5.0]  # Masked: agent 1 is not valid at step 1.
    actions = np.array([[[0, 2], [1, 1], [0, 0]]], np.int32)
    ret = np.array([4.0], np.float32)
    out = TAR2Output(jnp.asarray(scores), jnp.asarray(logits))
    loss, metrics = tar2.return_model_loss(out, tar2.Episodes(None, actions, valid, ret))
    # Σ valid scores = 1 + 2 + 0.5 = 3.5; MSE = 0.25. CE only at (t=0, agent 0): -log(1/2).
    np.testing.assert_allclose(metrics["return_mse"], 0.25, rtol=1e-6)
    np.testing.assert_allclose(metrics["inverse_dynamics_ce"], np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(loss, 0.25 + 0.05 * np.log(2.0), rtol=1e-6)


def synthetic_episodes(key, num, steps=8, agents=3, obs_size=4, num_actions=3):
    """Episodes whose return is a sum of known contributions: c_{i,t} = 1 when agent i's action
    matches the argmax of the first ``num_actions`` entries of its observation; random lengths
    (padding) and deaths."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    obs = jax.random.normal(k1, (num, steps, agents, obs_size))
    actions = jax.random.randint(k2, (num, steps, agents), 0, num_actions)
    length = jax.random.randint(k3, (num, 1, 1), steps // 2, steps + 1)
    death = jax.random.randint(k4, (num, 1, agents), steps // 2, 2 * steps)
    t = jnp.arange(steps)[None, :, None]
    valid = (t < length) & (t < death)
    contrib = (actions == jnp.argmax(obs[..., :num_actions], -1)) & valid
    contrib = contrib.astype(jnp.float32)
    return tar2.Episodes(obs, actions, valid, contrib.sum((1, 2))), contrib


def fit_and_measure(model, num_steps, batch_size, learning_rate):
    """Fits ``model`` on fresh synthetic batches (Adam, grad-clip 0.5 as the authors), then
    measures on 256 held-out episodes: (return MSE, Var(R), corr(rewards, contributions),
    corr(scores, contributions)), correlations pooled over the valid entries."""
    test, contrib = synthetic_episodes(jax.random.key(1), 256)
    params = model.init(jax.random.key(2), *test[:3])
    opt = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(learning_rate))

    def loss_fn(params, batch):
        out = model.apply(params, batch.observations, batch.actions, batch.valid)
        return tar2.return_model_loss(out, batch)[0]

    @fast_jit
    def fit(params, key):
        def step(carry, key):
            params, opt_state = carry
            batch, _ = synthetic_episodes(key, batch_size)
            grads = jax.grad(loss_fn)(params, batch)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        keys = jax.random.split(key, num_steps)
        return jax.lax.scan(step, (params, opt.init(params)), keys)[0][0]

    params = fit(params, jax.random.key(3))
    out = model.apply(params, test.observations, test.actions, test.valid)
    predicted = np.asarray(jnp.where(test.valid, out.scores, 0).sum((1, 2)))
    ret = np.asarray(test.episode_return)
    rewards = np.asarray(tar2.model_rewards(model, params, test))
    valid, contrib = np.asarray(test.valid), np.asarray(contrib)
    corr = np.corrcoef(rewards[valid], contrib[valid])[0, 1]
    corr_scores = np.corrcoef(np.asarray(out.scores)[valid], contrib[valid])[0, 1]
    mse, var = float(np.mean((predicted - ret) ** 2)), float(np.var(ret))
    print(f"held-out return MSE {mse:.4f}, Var(R) {var:.4f}, corr(rewards, contributions) "
          f"{corr:.3f}, corr(scores, contributions) {corr_scores:.3f}")  # fmt: skip
    return mse, var, corr, corr_scores


def test_learns_a_sum_of_contributions():
    """The fitted return's MSE falls well below Var(R) on held-out episodes, and the
    redistributed rewards correlate with the true per-(agent, step) contributions (a small
    model for speed; the authors' size is the slow test below)."""
    model = TAR2RewardModel(
        num_actions=3, max_steps=8, num_agents=3, width=32, depth=1, head_hidden=32
    )
    mse, var, corr, _ = fit_and_measure(model, num_steps=250, batch_size=32, learning_rate=3e-3)
    assert mse < 0.25 * var
    assert corr > 0.5


@pytest.mark.slow
def test_learns_a_sum_of_contributions_at_the_authors_size():
    model = TAR2RewardModel(num_actions=3, max_steps=8, num_agents=3)  # 3 blocks, 64, 4 heads.
    mse, var, corr, _ = fit_and_measure(model, num_steps=2000, batch_size=64, learning_rate=5e-4)
    assert mse < 0.05 * var
    assert corr > 0.7
