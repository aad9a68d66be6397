"""TAR²'s return model with continuous actions (MABrax's ``BoundedArray [A, d]``).

Checks: shapes and the zero score head; the inverse-dynamics term is half the squared error of
the predicted action on entries valid at ``t`` and ``t+1`` (a hand-computed reference); padding
and dead agents do not move the loss, the valid scores or the rewards; the action vector reaches
the scores (the token is not blind to it); STAS and the AREL loss take continuous actions; the
model overfits a handful of continuous episodes; a mismatched action shape names ``actions``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.models.tar2 import STASRewardModel, TAR2RewardModel
from jaxml.rl import tar2
from tests.helpers import fast_jit

T, A, OBS, D = 6, 3, 5, 2


def inputs(key, batch=2):
    k1, k2, k3 = jax.random.split(key, 3)
    obs = jax.random.normal(k1, (batch, T, A, OBS))
    actions = jax.random.uniform(k2, (batch, T, A, D), minval=-1.0, maxval=1.0)
    valid = jax.random.bernoulli(k3, 0.8, (batch, T, A)).at[:, 0].set(True)
    return obs, actions, valid


def model_and_params(cls=TAR2RewardModel, **kwargs):
    model = cls(num_actions=D, max_steps=T, num_agents=A, width=16, depth=2, num_heads=2,
                head_hidden=16, continuous=True, **kwargs)  # fmt: skip
    obs, actions, valid = inputs(jax.random.key(0))
    rngs = {"params": jax.random.key(1), "coalitions": jax.random.key(2)}
    params = model.init(rngs, obs, actions, valid)
    # Random score-head output weights (they start at 0) so that scores vary with the inputs.
    inner = params["params"]["body"] if cls is STASRewardModel else params["params"]
    out = inner["score_out"]
    out["kernel"] = jax.random.normal(jax.random.key(3), out["kernel"].shape)
    return model, params


def test_shapes_and_errors():
    model = TAR2RewardModel(num_actions=D, max_steps=T, num_agents=A, continuous=True)
    obs, actions, valid = inputs(jax.random.key(0))
    params = fast_jit(model.init)(jax.random.key(1), obs, actions, valid)
    out = fast_jit(model.apply)(params, obs, actions, valid)
    assert out.scores.shape == (2, T, A) and out.action_logits.shape == (2, T, A, D)
    assert np.all(np.asarray(out.scores) == 0)  # Zero-initialised score head.
    # The continuous action embedding is a Dense of the d-vector, not of a one-hot.
    assert params["params"]["action_embed"]["kernel"].shape == (D, 64)
    with pytest.raises(ValueError, match="actions"):
        model.apply(params, obs, actions[..., :1], valid)
    with pytest.raises(ValueError, match="actions"):  # Integer actions to a continuous loss.
        tar2.return_model_loss(out, tar2.Episodes(obs, actions[..., 0].astype(int) + 0.5,
                                                  valid, jnp.zeros(2)))  # fmt: skip


def test_inverse_dynamics_term_is_half_the_squared_error_on_valid_pairs():
    obs, actions, valid = inputs(jax.random.key(4))
    scores = jax.random.normal(jax.random.key(5), valid.shape)
    predicted = jax.random.normal(jax.random.key(6), actions.shape)
    ret = jnp.array([0.5, -1.0])
    out = tar2.TAR2Output(scores, predicted)
    loss, metrics = tar2.return_model_loss(out, tar2.Episodes(obs, actions, valid, ret))
    v = np.asarray(valid)
    pair = v & np.concatenate([v[:, 1:], np.zeros_like(v[:, :1])], axis=1)
    sq = 0.5 * ((np.asarray(predicted) - np.asarray(actions)) ** 2).sum(-1)
    ce = sq[pair].mean()
    mse = np.mean((np.where(v, np.asarray(scores), 0).sum((1, 2)) - np.asarray(ret)) ** 2)
    np.testing.assert_allclose(metrics["inverse_dynamics_ce"], ce, rtol=1e-5)
    np.testing.assert_allclose(metrics["return_mse"], mse, rtol=1e-5)
    np.testing.assert_allclose(loss, mse + tar2.INVERSE_DYNAMICS_COEF * ce, rtol=1e-5)


@pytest.mark.parametrize("cls", [TAR2RewardModel, STASRewardModel])
def test_padding_and_dead_agents_do_not_change_the_loss(cls):
    model, params = model_and_params(cls)
    obs, actions, valid = inputs(jax.random.key(7))
    ret = jnp.array([1.5, -2.0])
    obs2, actions2, _ = inputs(jax.random.key(8))
    obs2 = jnp.where(valid[..., None], obs, obs2 * 10)  # Garbage where invalid.
    actions2 = jnp.where(valid[..., None], actions, actions2 * 10)
    assert np.any(np.asarray(actions2 != actions))
    rngs = {"coalitions": jax.random.key(9)}

    @fast_jit
    def loss(o, a):
        out = model.apply(params, o, a, valid, rngs=rngs)
        episodes = tar2.Episodes(o, a, valid, ret)
        if cls is STASRewardModel:
            return tar2.stas_loss(out, episodes)[0], out.scores
        return tar2.return_model_loss(out, episodes)[0], out.scores

    l1, s1 = loss(obs, actions)
    l2, s2 = loss(obs2, actions2)
    np.testing.assert_allclose(l2, l1, rtol=1e-6)
    np.testing.assert_allclose(np.where(valid, s2, 0), np.where(valid, s1, 0), rtol=1e-5, atol=1e-6)
    # Changing a valid entry's action does move the scores: the token reads the action vector.
    actions3 = actions.at[0, 0, 0].add(0.7)
    _, s3 = loss(obs, actions3)
    assert np.abs(np.asarray(s3 - s1)).max() > 1e-4
    if cls is TAR2RewardModel:
        r1 = tar2.model_rewards(model, params, tar2.Episodes(obs, actions, valid, ret))
        r2 = tar2.model_rewards(model, params, tar2.Episodes(obs2, actions2, valid, ret))
        np.testing.assert_allclose(r2, r1, rtol=1e-5, atol=1e-6)
        assert np.all(np.asarray(r1)[~np.asarray(valid)] == 0)
        np.testing.assert_allclose(np.asarray(r1).sum((1, 2)), ret, rtol=1e-5)
        # AREL's loss is the same attention model's regression: continuous actions pass through.
        out = model.apply(params, obs, actions, valid)
        arel, _ = tar2.arel_loss(out, tar2.Episodes(obs, actions, valid, ret))
        assert np.isfinite(float(arel))


def test_overfits_a_handful_of_continuous_episodes():
    """8 random episodes whose return is a sum of per-(agent, step) action terms; the return
    MSE falls below 0.5 % of Var(R) and the inverse-dynamics error falls too."""
    config = tar2.default_config()
    config.update(width=16, depth=1, num_heads=2, batch_size=8, buffer_size=8,
                  learning_rate=3e-3)  # fmt: skip
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    num, steps, agents = 8, 5, 2
    valid = jax.random.bernoulli(k3, 0.85, (num, steps, agents)).at[:, 0].set(True)
    actions = jax.random.uniform(k2, (num, steps, agents, D), minval=-1.0, maxval=1.0)
    # The next observation reveals the action (so inverse dynamics is learnable) plus noise.
    noise = jax.random.normal(k1, (num, steps, agents, OBS))
    obs = noise.at[:, 1:, :, :D].add(3.0 * actions[:, :-1])
    ret = jnp.sum(jnp.where(valid, actions[..., 0] - actions[..., 1], 0.0), axis=(1, 2))
    episodes = tar2.Episodes(obs, actions, valid, ret)
    model = tar2.make_return_model(config, num_actions=D, max_steps=steps, num_agents=agents,
                                   continuous=True)  # fmt: skip
    trainer = tar2.return_model_trainer(model, episodes, config, num_steps=800)

    @fast_jit
    def run(key):
        state = trainer.init(key)
        return jax.lax.scan(lambda s, _: trainer.step(s), state, None, trainer.num_steps)

    state, metrics = run(jax.random.key(1))
    out = model.apply(state.params, obs, actions, valid)
    fitted = np.asarray(jnp.where(valid, out.scores, 0).sum((1, 2)))
    final, var = float(np.mean((fitted - np.asarray(ret)) ** 2)), float(np.var(np.asarray(ret)))
    ce = np.asarray(metrics["inverse_dynamics_ce"])
    print(f"continuous overfit: return MSE first batch {float(metrics['return_mse'][0]):.3f}, "
          f"after training {final:.5f}; Var(R) {var:.3f}; inverse dynamics ½‖â−a‖² "
          f"{ce[0]:.3f} -> {ce[-1]:.4f}")  # fmt: skip
    assert final < 5e-3 * var
    assert ce[-1] < 0.25 * ce[0]
    rewards = tar2.model_rewards(model, state.params, episodes)
    np.testing.assert_allclose(rewards.sum((1, 2)), ret, rtol=1e-4, atol=1e-4)
