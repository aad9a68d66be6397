"""TAR²'s normalisation against a numpy loop, and its properties (hypothesis)."""

from __future__ import annotations

import functools

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxml.rl import tar2
from tests.helpers import fast_jit

EPS = tar2.DEFAULT_EPS

redistribute = jax.jit(tar2.redistribute)
uniform = jax.jit(tar2.uniform_redistribute)
temporal_only_fn = jax.jit(functools.partial(tar2.redistribute, agent=False))
agent_only_fn = jax.jit(functools.partial(tar2.redistribute, temporal=False))
uniform_both_fn = jax.jit(functools.partial(tar2.redistribute, temporal=False, agent=False))


def reference(scores: np.ndarray, ret: float, valid: np.ndarray, eps: float = EPS) -> np.ndarray:
    """The normalisation as a float64 loop over steps and agents."""
    scores = np.asarray(scores, np.float64)
    steps, agents = scores.shape
    step_valid = [t for t in range(steps) if valid[t].any()]
    out = np.zeros((steps, agents))
    if not step_valid:
        return out
    temporal = {t: sum(scores[t, i] for i in range(agents) if valid[t, i]) for t in step_valid}
    low = min(temporal.values())
    total = sum(s - low for s in temporal.values())
    scale = max(abs(s) for s in temporal.values())
    for t in step_valid:
        w = 1.0 / len(step_valid) if total <= eps * scale else (temporal[t] - low) / total
        alive = [i for i in range(agents) if valid[t, i]]
        low_a = min(scores[t, i] for i in alive)
        total_a = sum(scores[t, i] - low_a for i in alive)
        scale_a = max(abs(scores[t, i]) for i in alive)
        for i in alive:
            if total_a <= eps * scale_a:
                u = 1.0 / len(alive)
            else:
                u = (scores[t, i] - low_a) / total_a
            out[t, i] = w * u * ret
    return out


@st.composite
def episodes(draw, dyadic: bool = False, full_agents: bool = False):
    """(scores [T, A], R, valid [T, A]) with at least one valid entry.

    ``dyadic`` scores are multiples of 1/8 in [-8, 8], exact in float32 (so shifts add no
    rounding); ``full_agents`` masks whole steps only (padding, no deaths).
    """
    steps = draw(st.integers(1, 8))
    agents = draw(st.integers(1, 5))
    if dyadic:
        ints = draw(hnp.arrays(np.int32, (steps, agents), elements=st.integers(-64, 64)))
        scores = ints.astype(np.float32) / 8
    else:
        scores = draw(
            hnp.arrays(
                np.float32,
                (steps, agents),
                elements=st.floats(-100, 100, width=32, allow_subnormal=False),
            )
        )
    if draw(st.booleans()):  # All-equal scores: the fallback everywhere.
        scores = np.full_like(scores, scores.flat[0])
    if full_agents:
        length = draw(st.integers(1, steps))
        valid = np.zeros((steps, agents), bool)
        valid[:length] = True
    else:
        valid = draw(hnp.arrays(bool, (steps, agents)))
        if not valid.any():
            valid[draw(st.integers(0, steps - 1)), draw(st.integers(0, agents - 1))] = True
    ret = draw(st.floats(-50, 50, width=32, allow_subnormal=False))
    return scores, np.float32(ret), valid


@settings(max_examples=200, deadline=None)
@given(episodes())
def test_sum_equals_return_and_invalid_get_zero(episode):
    scores, ret, valid = episode
    r = np.asarray(redistribute(scores, ret, valid))
    assert r.dtype == np.float32 and r.shape == scores.shape
    np.testing.assert_allclose(r.sum(dtype=np.float64), ret, rtol=1e-5, atol=1e-5 * (1 + abs(ret)))
    assert np.all(r[~valid] == 0)
    assert np.all(np.isfinite(r))


@settings(max_examples=200, deadline=None)
@given(episodes())
def test_matches_numpy_reference(episode):
    scores, ret, valid = episode
    r = np.asarray(redistribute(scores, ret, valid))
    expected = reference(scores, ret, valid)
    np.testing.assert_allclose(r, expected, rtol=1e-4, atol=1e-4 * abs(ret) + 1e-30)


@settings(max_examples=150, deadline=None)
@given(episodes(dyadic=True, full_agents=True), st.integers(-64, 64))
def test_invariant_to_a_constant_shift(episode, shift):
    scores, ret, valid = episode
    r = redistribute(scores, ret, valid)
    r_shift = redistribute(scores + np.float32(shift / 8), ret, valid)
    np.testing.assert_allclose(r_shift, r, rtol=1e-6, atol=1e-6 * abs(ret) + 1e-30)


@settings(max_examples=100, deadline=None)
@given(episodes(dyadic=True))
def test_agent_weights_invariant_to_a_shift_with_deaths(episode):
    """With deaths S_t moves by c · #alive_t, but within each step u is shift invariant: the
    rewards' split among a step's agents does not change."""
    scores, ret, valid = episode
    r = np.asarray(redistribute(scores, np.float32(1.0), valid), np.float64)
    r_shift = np.asarray(redistribute(scores + np.float32(1.5), np.float32(1.0), valid))
    for t in range(scores.shape[0]):
        if r[t].sum() > 1e-6 and r_shift[t].sum() > 1e-6:
            np.testing.assert_allclose(r_shift[t] / r_shift[t].sum(), r[t] / r[t].sum(), atol=1e-5)


@settings(max_examples=50, deadline=None)
@given(episodes())
def test_ablations_sum_to_the_return(episode):
    scores, ret, valid = episode
    steps = valid.any(1)
    temporal_only = np.asarray(temporal_only_fn(scores, ret, valid))
    agent_only = np.asarray(agent_only_fn(scores, ret, valid))
    atol = 1e-5 * (1 + abs(ret))
    for r in (temporal_only, agent_only):
        np.testing.assert_allclose(r.sum(dtype=np.float64), ret, rtol=1e-5, atol=atol)
        assert np.all(r[~valid] == 0)
    # Temporal only: a step's reward is split equally among its alive agents.
    share = temporal_only.sum(1, keepdims=True) / np.maximum(valid.sum(1, keepdims=True), 1)
    np.testing.assert_allclose(temporal_only, np.where(valid, share, 0), rtol=1e-5, atol=atol)
    # Agent only: every valid step carries R / #valid steps.
    np.testing.assert_allclose(agent_only.sum(1)[steps], ret / steps.sum(), rtol=1e-5, atol=atol)
    # Both ablated: the uniform split R / (#valid steps · #alive agents).
    both = np.asarray(uniform_both_fn(scores, ret, valid))
    expected = np.where(valid, ret / steps.sum() / np.maximum(valid.sum(1, keepdims=True), 1), 0)
    np.testing.assert_allclose(both, expected, rtol=1e-5, atol=atol)


def test_special_cases():
    # All-equal scores: uniform over valid entries (the documented fallback).
    equal = np.full((3, 3), 2.5, np.float32)
    valid = np.array([[1, 1, 0], [1, 0, 1], [0, 0, 0]], bool)
    r = np.asarray(redistribute(equal, np.float32(6.0), valid))
    np.testing.assert_allclose(r, [[1.5, 1.5, 0], [1.5, 0, 1.5], [0, 0, 0]], rtol=1e-6)
    # ... but with unequal alive counts S_t = 2.5 · #alive_t differs: w = (0, 1).
    valid = np.array([[1, 1, 0], [1, 1, 1], [0, 0, 0]], bool)
    r = np.asarray(redistribute(equal, np.float32(6.0), valid))
    np.testing.assert_allclose(r, [[0, 0, 0], [2, 2, 2], [0, 0, 0]], rtol=1e-6)
    # A single valid step: w = 1; a single alive agent: u = 1.
    scores = np.array([[1.0, 3.0], [5.0, -2.0]], np.float32)
    r = np.asarray(redistribute(scores, np.float32(-4.0), np.array([[1, 1], [0, 0]], bool)))
    np.testing.assert_allclose(r, [[0.0, -4.0], [0, 0]])
    r = np.asarray(redistribute(scores, np.float32(-4.0), np.array([[1, 0], [0, 1]], bool)))
    # S = (1, -2): w = (1, 0); one agent per step: u = 1.
    np.testing.assert_allclose(r, [[-4.0, 0], [0, 0]])
    # A hand-computed case: S = (4, 3, 9) -> w = (1, 0, 6) / 7; u per step by the shift.
    scores = np.array([[1.0, 3.0], [2.0, 1.0], [4.0, 5.0]], np.float32)
    r = np.asarray(redistribute(scores, np.float32(7.0), np.ones((3, 2), bool)))
    np.testing.assert_allclose(r, [[0, 1], [0, 0], [0, 6]], rtol=1e-6, atol=1e-6)
    # No valid entry: no reward.
    r = np.asarray(redistribute(scores, np.float32(7.0), np.zeros((3, 2), bool)))
    assert np.all(r == 0)


def test_batches_with_vmap():
    key = jax.random.key(0)
    scores = jax.random.normal(key, (16, 7, 3))
    valid = jax.random.bernoulli(jax.random.key(1), 0.7, (16, 7, 3))
    rets = jnp.linspace(-3.0, 3.0, 16)
    batched = jax.jit(jax.vmap(tar2.redistribute))(scores, rets, valid)
    for b in range(16):
        np.testing.assert_allclose(
            batched[b], redistribute(scores[b], rets[b], valid[b]), rtol=1e-6, atol=1e-7
        )


@settings(max_examples=100, deadline=None)
@given(episodes())
def test_uniform_baseline(episode):
    _, ret, valid = episode
    r = np.asarray(uniform(ret, valid))
    steps = int(valid.any(1).sum())
    expected = np.where(valid, np.float64(ret) / steps, 0.0)
    np.testing.assert_allclose(r, expected, rtol=1e-6, atol=1e-7)
    # Each agent's total is R times the share of valid steps it was alive.
    np.testing.assert_allclose(r.sum(0), ret * valid.sum(0) / steps, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------- training the model
def small_config(**overrides):
    config = tar2.default_config()
    config.update(width=16, depth=1, num_heads=2, batch_size=8, learning_rate=3e-3)
    config.update(**overrides)
    return config


def random_episodes(key, num, steps=5, agents=2, obs_size=3, num_actions=3):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return tar2.Episodes(
        observations=jax.random.normal(k1, (num, steps, agents, obs_size)),
        actions=jax.random.randint(k2, (num, steps, agents), 0, num_actions),
        valid=jax.random.bernoulli(k3, 0.85, (num, steps, agents)).at[:, 0].set(True),
        episode_return=jax.random.normal(k4, (num,)) * 3,
    )


def test_return_model_trainer_overfits_a_handful_of_episodes():
    config = small_config()
    episodes = random_episodes(jax.random.key(0), 8)
    model = tar2.make_return_model(config, num_actions=3, max_steps=5, num_agents=2)
    trainer = tar2.return_model_trainer(model, episodes, config, num_steps=1000)

    @fast_jit
    def run(key):
        state = trainer.init(key)
        return jax.lax.scan(lambda s, _: trainer.step(s), state, None, trainer.num_steps)

    state, metrics = run(jax.random.key(1))
    mse = np.asarray(metrics["return_mse"])
    out = model.apply(state.params, *episodes[:3])
    fitted = np.asarray(jnp.where(episodes.valid, out.scores, 0).sum((1, 2)))
    ret = np.asarray(episodes.episode_return)
    final, var = float(np.mean((fitted - ret) ** 2)), float(np.var(ret))
    print(f"overfit: batch return MSE first {mse[0]:.3f}; after training, on the 8 episodes "
          f"{final:.5f}; Var(R) {var:.3f}")  # fmt: skip
    assert final < 5e-3 * var
    # The trained model's rewards sum to each episode's return (the normalisation).
    rewards = tar2.model_rewards(model, state.params, episodes)
    np.testing.assert_allclose(rewards.sum((1, 2)), episodes.episode_return, rtol=1e-5, atol=1e-5)


def test_buffer_update_trains_on_flashbax_episodes():
    config = small_config(buffer_size=32, num_epochs=40)
    model = tar2.make_return_model(config, num_actions=3, max_steps=5, num_agents=2)
    buffer = tar2.make_episode_buffer(config)
    episodes = random_episodes(jax.random.key(2), 24)
    state = buffer.init(jax.tree.map(lambda x: x[0], episodes))
    state = buffer.add(state, episodes)
    with jax.numpy_rank_promotion("allow"):  # flashbax broadcasts ranks implicitly.
        sample = buffer.sample(state, jax.random.key(3)).experience
    assert isinstance(sample, tar2.Episodes) and sample.observations.shape == (8, 5, 2, 3)
    params = model.init(jax.random.key(4), *episodes[:3])
    optimizer = tar2.make_optimizer(config)
    update = fast_jit(tar2.buffer_update(model, config))
    loss_fn = jax.jit(lambda p: tar2.return_model_loss(model.apply(p, *episodes[:3]), episodes)[0])
    before = float(loss_fn(params))
    params, _, metrics = update(params, optimizer.init(params), state, jax.random.key(5))
    after = float(loss_fn(params))
    assert set(metrics) >= {"loss", "return_mse", "inverse_dynamics_ce"}
    assert after < 0.5 * before, (before, after)


def test_updates_due_matches_a_loop():
    config = small_config(warmup_episodes=7, update_every_episodes=3)

    def reference(before, after):
        return sum(1 for n in range(before + 1, after + 1) if n >= 7 and (n - 7) % 3 == 0)

    for before in range(0, 20):
        for after in range(before, 25):
            assert int(tar2.updates_due(before, after, config)) == reference(before, after)
    config.warmup_episodes = 0  # Due at 0, 3, 6, ...: from 0 to 0 nothing new happened.
    assert int(tar2.updates_due(0, 0, config)) == 0 and int(tar2.updates_due(0, 3, config)) == 1


def test_config_errors_name_the_field():
    for field, value in [("width", 0), ("num_heads", 3), ("batch_size", 10_000)]:
        config = tar2.default_config()
        config[field] = value
        with pytest.raises(
            ValueError, match=f"config.{field if field != 'num_heads' else 'width'}"
        ):
            tar2.make_return_model(config, num_actions=3, max_steps=5, num_agents=2)


def test_arel_loss_and_rewards():
    valid = np.array([[[1, 1], [1, 0]]], bool)
    scores = np.array([[[1.0, 2.0], [4.0, 50.0]]], np.float32)
    out = tar2.TAR2Output(jnp.asarray(scores), jnp.zeros((1, 2, 2, 3)))
    episodes = tar2.Episodes(None, np.zeros((1, 2, 2), np.int32), valid, np.array([5.0]))
    # Σ valid = 7, error 2: Huber(δ=1) = 1.5; valid scores (1, 2, 4) have variance 14/9.
    loss, metrics = tar2.arel_loss(out, episodes, variance_coef=0.5)
    np.testing.assert_allclose(metrics["return_huber"], 1.5, rtol=1e-6)
    np.testing.assert_allclose(metrics["score_variance"], 14 / 9, rtol=1e-6)
    np.testing.assert_allclose(loss, 1.5 - 0.5 * 14 / 9, rtol=1e-6)
    np.testing.assert_array_equal(tar2.arel_rewards(scores, valid), [[[1, 2], [4, 0]]])


# --------------------------------------------------------- end to end on sparse SMAX (slow)
def smax_episodes(env, key, num, steps):
    """``num`` random-policy episodes of ``SparseReward(env)``, each from its own reset and
    ``steps`` transitions long (the horizon plus one, so every episode ends inside), as
    ``Episodes`` plus the dense team reward ``[num, steps]`` the wrapper withheld."""
    from jaxml.envs.wrappers import SparseReward

    sparse = SparseReward(env)

    def one(key):
        reset_key, act_key = jax.random.split(key)
        state, first = sparse.reset(reset_key)

        def body(carry, key):
            state, ts, ended = carry
            logits = jnp.where(ts.observation.action_mask, 0.0, -1e9)
            action = jax.random.categorical(key, logits).astype(jnp.int32)
            alive = ~ts.extras["agent_dead"] & ~ended  # Acting at this step.
            state, next_ts = sparse.step(state, action)
            out = (ts.observation.agents_view, action, alive, next_ts.reward[0],
                   next_ts.extras["dense_reward"][0])  # fmt: skip
            return (state, next_ts, ended | next_ts.last()), out

        carry = (state, first, jnp.asarray(False))
        _, (obs, actions, alive, sparse_r, dense_r) = jax.lax.scan(
            body, carry, jax.random.split(act_key, steps)
        )
        # Each agent receives the team reward: agent 0's released sum is the team return R.
        ret = jnp.sum(jnp.where(alive.any(1), sparse_r, 0.0))
        return tar2.Episodes(obs, actions, alive, ret), jnp.where(alive.any(1), dense_r, 0.0)

    with jax.numpy_rank_promotion("allow"):
        return fast_jit(jax.vmap(one))(jax.random.split(key, num))


@pytest.mark.slow
def test_redistribution_tracks_the_dense_reward_on_sparse_smax():
    """On random-policy SMAX 3m episodes (horizon 20) with the reward withheld to the end, a
    return model fitted on the sparse returns spreads R over time like the dense reward: the
    per-step sum Σ_i r_{i,t} correlates with the withheld dense team reward (held-out)."""
    from jaxml import envs

    horizon = 20
    env = envs.make("jaxmarl/SMAX", scenario="3m", max_steps=horizon)
    steps = horizon + 1
    train, _ = smax_episodes(env, jax.random.key(0), 512, steps)
    test, dense = smax_episodes(env, jax.random.key(1), 256, steps)
    np.testing.assert_allclose(dense.sum(1), test.episode_return, rtol=1e-4, atol=1e-4)
    config = tar2.default_config()
    config.update(width=32, depth=2, batch_size=32, learning_rate=1e-3)
    model = tar2.make_return_model(
        config, num_actions=int(env.action_spec.num_values[0]), max_steps=steps, num_agents=3
    )
    trainer = tar2.return_model_trainer(model, train, config, num_steps=1500)

    @fast_jit
    def run(key):
        state = trainer.init(key)
        return jax.lax.scan(lambda s, _: trainer.step(s), state, None, trainer.num_steps)[0]

    params = run(jax.random.key(2)).params
    rewards = np.asarray(tar2.model_rewards(model, params, test))
    step_valid = np.asarray(test.valid).any(-1)
    per_step = rewards.sum(-1)
    uniform = np.asarray(jax.vmap(tar2.uniform_redistribute)(test.episode_return, test.valid))
    corr = np.corrcoef(per_step[step_valid], np.asarray(dense)[step_valid])[0, 1]
    corr_uniform = np.corrcoef(uniform.sum(-1)[step_valid], np.asarray(dense)[step_valid])[0, 1]
    out = model.apply(params, *test[:3])
    fitted = np.asarray(jnp.where(test.valid, out.scores, 0).sum((1, 2)))
    ret = np.asarray(test.episode_return)
    print(f"SMAX 3m: held-out return MSE {np.mean((fitted - ret) ** 2):.4f}, Var(R) "
          f"{np.var(ret):.4f}; corr(Σ_i r_t, dense r_t) TAR² {corr:.3f}, uniform "
          f"{corr_uniform:.3f}")  # fmt: skip
    assert corr > corr_uniform


# ------------------------------------------ policy gradients on an enumerated tiny game
def test_policy_gradient_on_an_enumerated_two_agent_game():
    """Two agents, 3 steps, 2 actions each, tabular softmax policies π_i(a | t); every one of
    the 64 joint trajectories is enumerated, so gradients are exact expectations.

    - With the whole-episode sum Σ_{t,i} r_{i,t} (= R by construction) as every agent's return,
      the policy gradient equals the sparse-reward one exactly.
    - Each agent's own reward-to-go Σ_{t'>=t} r_{i,t'} (independent learners on TAR² rewards,
      with scores that are noisy per-(agent, step) contributions) gives a different gradient;
      its cosine with the true one is measured and must be positive.
    """
    import itertools

    steps, agents, actions = 3, 2, 2
    rng = np.random.default_rng(0)
    contrib = rng.normal(size=(steps, agents, actions))  # c[t, i, a]
    theta = rng.normal(size=(agents, steps, actions)) * 0.5
    probs = np.exp(theta) / np.exp(theta).sum(-1, keepdims=True)  # π_i(a | t)
    trajectories = list(itertools.product(range(actions), repeat=steps * agents))
    joint = np.array(trajectories).reshape(-1, steps, agents)  # [64, T, A]
    picked = contrib[np.arange(steps)[None, :, None], np.arange(agents)[None, None, :], joint]
    ret = picked.sum((1, 2)) + 0.5 * (joint[:, :, 0] == joint[:, :, 1]).sum(1)  # Interaction.
    # The "model": contributions plus fixed noise, per (trajectory, step, agent).
    scores = picked + 0.3 * rng.normal(size=picked.shape)
    valid = np.ones((steps, agents), bool)
    rewards = np.asarray(
        jax.vmap(tar2.redistribute, in_axes=(0, 0, None))(
            scores.astype(np.float32), ret.astype(np.float32), valid
        ),
        np.float64,
    )  # [64, T, A]
    p_traj = np.prod(probs[np.arange(agents)[None, None], np.arange(steps)[None, :, None],
                           joint], axis=(1, 2))  # fmt: skip
    # ∇_θ[i, t, :] log π_i(a | t) = onehot(a) - π_i(· | t).
    score_fn = np.eye(actions)[joint] - np.transpose(probs, (1, 0, 2))[None]  # [64, T, A, n]

    def gradient(weight):  # weight [64, T, A]: the return credited to (t, i)'s log-prob.
        g = np.einsum("k,ktan,kta->atn", p_traj, score_fn, weight)
        return g.ravel()

    true = gradient(np.broadcast_to(ret[:, None, None], joint.shape))
    team_sum = gradient(np.broadcast_to(rewards.sum((1, 2))[:, None, None], joint.shape))
    np.testing.assert_allclose(team_sum, true, rtol=1e-5, atol=1e-6)
    to_go = np.flip(np.cumsum(np.flip(rewards, 1), 1), 1)  # Σ_{t' >= t} r_{i,t'}
    own = gradient(to_go)
    cosine = own @ true / np.linalg.norm(own) / np.linalg.norm(true)
    uniform_r = np.asarray(jax.vmap(tar2.uniform_redistribute, in_axes=(0, None))(ret, valid))
    own_uniform = gradient(np.flip(np.cumsum(np.flip(uniform_r, 1), 1), 1))
    cosine_uniform = own_uniform @ true / np.linalg.norm(own_uniform) / np.linalg.norm(true)
    print(f"enumerated game: cos(independent reward-to-go gradient, true gradient): TAR² "
          f"{cosine:.3f}, uniform {cosine_uniform:.3f}")  # fmt: skip
    assert cosine > 0
