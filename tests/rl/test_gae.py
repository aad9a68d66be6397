"""GAE against explicit-sum numpy references (not the recursion it implements)."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.rl import gae, gae_time_major

GAMMA, LAMBDA = 0.97, 0.9


def reference_gae(r, discount, done, values, final, gamma, lam):
    """A_t = sum_k (γλ)^(k−t) δ_k up to the end of t's episode or of the rollout."""
    num_steps = len(r)
    adv = np.zeros(num_steps)
    for t in range(num_steps):
        coef = 1.0
        for k in range(t, num_steps):
            next_value = final[k] if done[k] else values[k + 1]
            delta = r[k] + gamma * discount[k] * next_value - values[k]
            adv[t] += coef * delta
            if done[k]:
                break
            coef *= gamma * lam
    return adv


def reference_returns(r, discount, done, values, final, gamma):
    """Discounted return of each step to the end of its episode, bootstrapped where cut."""
    num_steps = len(r)
    returns = np.zeros(num_steps)
    for t in range(num_steps):
        total, coef = 0.0, 1.0
        for k in range(t, num_steps):
            total += coef * r[k]
            coef *= gamma
            if done[k]:
                total += coef * discount[k] * final[k]  # 0 at a termination.
                break
        else:
            total += coef * values[num_steps]  # The rollout ended mid-episode.
        returns[t] = total
    return returns


def trajectory(seed, num_steps=16):
    rng = np.random.default_rng(seed)
    r = rng.normal(size=num_steps).astype(np.float32)
    done = rng.random(num_steps) < 0.25
    # Half of the episode ends are terminations (discount 0), half truncations (discount 1).
    terminated = done & (rng.random(num_steps) < 0.5)
    discount = np.where(terminated, 0.0, 1.0).astype(np.float32)
    values = rng.normal(size=num_steps + 1).astype(np.float32)
    final = rng.normal(size=num_steps).astype(np.float32)
    return r, discount, done, values, final


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lam", [0.0, LAMBDA, 1.0])
def test_gae_matches_explicit_sum(seed, lam):
    r, discount, done, values, final = trajectory(seed)
    if seed == 0:  # The fixed arrays hold both kinds of episode end.
        assert (done & (discount == 0)).any() and (done & (discount == 1)).any()
    got = gae(
        jnp.asarray(r),
        jnp.asarray(discount),
        jnp.asarray(done),
        jnp.asarray(values),
        jnp.asarray(final),
        gamma=GAMMA,
        lambda_=lam,
    )
    want = reference_gae(r, discount, done, values, final, GAMMA, lam)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 3])
def test_lambda_one_is_discounted_return_minus_value(seed):
    r, discount, done, values, final = trajectory(seed)
    got = gae(*map(jnp.asarray, (r, discount, done, values, final)), gamma=GAMMA, lambda_=1.0)
    want = reference_returns(r, discount, done, values, final, GAMMA) - values[:-1]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_termination_and_truncation_by_hand():
    r = jnp.ones(3)
    values = jnp.full(4, 0.5)
    final = jnp.array([100.0, 9.0, 100.0])  # Only read where done.
    done = jnp.array([False, True, False])
    kwargs = dict(gamma=GAMMA, lambda_=LAMBDA)
    truncated = gae(r, jnp.ones(3), done, values, final, **kwargs)
    terminated = gae(r, jnp.array([1.0, 0.0, 1.0]), done, values, final, **kwargs)
    a2 = 1 + GAMMA * 0.5 - 0.5  # The next episode's step, bootstrapped from values[3].
    np.testing.assert_allclose(truncated[2], a2, rtol=1e-6)
    np.testing.assert_allclose(terminated[2], a2, rtol=1e-6)
    np.testing.assert_allclose(truncated[1], 1 + GAMMA * 9.0 - 0.5, rtol=1e-6)
    np.testing.assert_allclose(terminated[1], 1 - 0.5, rtol=1e-6)
    for adv in (truncated, terminated):  # The trace stops at the episode end.
        np.testing.assert_allclose(adv[0], 1 + GAMMA * 0.5 - 0.5 + GAMMA * LAMBDA * adv[1])


def test_final_value_is_read_only_at_episode_ends():
    r, discount, done, values, final = trajectory(0)
    args = [jnp.asarray(x) for x in (r, discount, done, values)]
    other = np.where(done, final, 1e3).astype(np.float32)
    a = gae(*args, jnp.asarray(final), gamma=GAMMA, lambda_=LAMBDA)
    b = gae(*args, jnp.asarray(other), gamma=GAMMA, lambda_=LAMBDA)
    np.testing.assert_array_equal(a, b)


def test_time_major_batch_matches_per_column_and_broadcasts_agents():
    columns = [trajectory(seed, num_steps=10) for seed in range(3)]
    r, discount, done, values, final = (np.stack(x, axis=1) for x in zip(*columns, strict=True))
    adv, targets = gae_time_major(
        *map(jnp.asarray, (r, discount, done, values, final)), gamma=GAMMA, lambda_=LAMBDA
    )
    assert adv.shape == targets.shape == (10, 3)
    for b, col in enumerate(columns):
        np.testing.assert_allclose(
            adv[:, b], reference_gae(*col, GAMMA, LAMBDA), rtol=1e-5, atol=1e-5
        )
    np.testing.assert_allclose(targets, adv + values[:-1], rtol=1e-6)
    # Per-agent rewards [T, B, A] with one done per environment [T, B].
    stack = lambda x, scale=2.0: jnp.stack([x, scale * x], axis=-1)  # noqa: E731
    adv_a, _ = gae_time_major(
        stack(r), stack(discount, 1.0), jnp.asarray(done), stack(values), stack(final),
        gamma=GAMMA, lambda_=LAMBDA,
    )  # fmt: skip
    assert adv_a.shape == (10, 3, 2)
    np.testing.assert_allclose(adv_a[..., 0], adv, rtol=1e-6)
    np.testing.assert_allclose(adv_a[..., 1], 2 * adv, rtol=1e-5, atol=1e-5)


def reference_lambda_return_advantage(r, discount, done, values, final, gamma, lam):
    """A_t = r_t + γ G^λ_{t+1} − v_t inside an episode (G^λ = v + A^GAE, G_T = v_T), and the
    one-step δ_t where t ends an episode (bootstrapped from its final value if truncated)."""
    num_steps = len(r)
    lambda_return = values[:-1] + reference_gae(r, discount, done, values, final, gamma, lam)
    adv = np.zeros(num_steps)
    for t in range(num_steps):
        if done[t]:
            adv[t] = r[t] + gamma * discount[t] * final[t] - values[t]
        else:
            following = lambda_return[t + 1] if t + 1 < num_steps else values[num_steps]
            adv[t] = r[t] + gamma * following - values[t]
    return adv


def brax_compute_gae(termination, rewards, values, bootstrap_value, lam, gamma):
    """A numpy transcription of brax 0.14's ``ppo.losses.compute_gae`` without truncations."""
    values_next = np.append(values[1:], bootstrap_value)
    deltas = rewards + gamma * (1 - termination) * values_next - values
    acc, vs_minus_v = 0.0, np.zeros_like(values)
    for t in reversed(range(len(rewards))):
        acc = deltas[t] + gamma * (1 - termination[t]) * lam * acc
        vs_minus_v[t] = acc
    vs = vs_minus_v + values
    vs_next = np.append(vs[1:], bootstrap_value)
    return vs, rewards + gamma * (1 - termination) * vs_next - values


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lam", [0.0, LAMBDA, 1.0])
def test_lambda_return_advantage_matches_its_definition(seed, lam):
    columns = [trajectory(seed + 10 * b) for b in range(2)]
    r, discount, done, values, final = (np.stack(x, axis=1) for x in zip(*columns, strict=True))
    args = [jnp.asarray(x) for x in (r, discount, done, values, final)]
    got, targets = gae_time_major(*args, gamma=GAMMA, lambda_=lam, advantage="lambda_return")
    _, gae_targets = gae_time_major(*args, gamma=GAMMA, lambda_=lam)
    np.testing.assert_array_equal(targets, gae_targets)  # The value targets do not change.
    for b, col in enumerate(columns):
        want = reference_lambda_return_advantage(*col, GAMMA, lam)
        np.testing.assert_allclose(got[:, b], want, rtol=1e-5, atol=1e-5)
    if lam < 1.0:  # At λ = 1 the two coincide; below, they must differ.
        plain, _ = gae_time_major(*args, gamma=GAMMA, lambda_=lam)
        assert np.abs(np.asarray(got - plain)).max() > 1e-2


def test_lambda_return_advantage_is_brax_ppos_without_truncations():
    rng = np.random.default_rng(7)
    num_steps = 24
    r = rng.normal(size=num_steps).astype(np.float32)
    terminated = rng.random(num_steps) < 0.2
    values = rng.normal(size=num_steps + 1).astype(np.float32)
    vs, want = brax_compute_gae(
        terminated.astype(np.float32), r, values[:-1], values[-1], LAMBDA, GAMMA
    )
    got, targets = gae_time_major(
        *(jnp.asarray(x)[:, None] for x in (r, 1.0 - terminated, terminated, values)),
        jnp.zeros((num_steps, 1)), gamma=GAMMA, lambda_=LAMBDA, advantage="lambda_return",
    )  # fmt: skip
    np.testing.assert_allclose(got[:, 0], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(targets[:, 0], vs, rtol=1e-5, atol=1e-5)


def test_unknown_advantage_is_a_value_error():
    r, discount, done, values, final = (jnp.asarray(x)[:, None] for x in trajectory(0))
    with pytest.raises(ValueError, match="advantage: expected one of gae, lambda_return"):
        gae_time_major(r, discount, done, values, final, gamma=GAMMA, lambda_=LAMBDA, advantage="x")
