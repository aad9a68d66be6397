"""Actor-critic heads, shapes, parameter layout and PureJaxRL's orthogonal initialisation."""

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jumanji import specs

from jaxml.models import ActorCritic, flatten_observation, make_actor_critic
from jaxml.models.actor_critic import RawTanhGaussian, TanhGaussian, action_head

OBS = jax.random.normal(jax.random.PRNGKey(0), (5, 7))


def test_discrete_head():
    model = make_actor_critic(specs.DiscreteArray(3, jnp.int32))
    params = model.init(jax.random.PRNGKey(1), OBS)
    policy, value = model.apply(params, OBS)
    assert isinstance(policy, distrax.Categorical)
    assert policy.logits.shape == (5, 3) and value.shape == (5,)
    # Head gain 0.01: the initial policy is almost uniform.
    np.testing.assert_allclose(policy.probs, 1 / 3, atol=0.01)
    assert set(params["params"]) == {"actor", "critic"}
    assert set(params["params"]["actor"]) == {"torso", "policy_head"}


def test_gaussian_head_for_float_actions():
    spec = specs.BoundedArray((2, 3), jnp.float32, -1.0, 1.0, name="action")
    assert action_head(spec) == ("continuous", 6)
    model = make_actor_critic(spec, log_std_init=-0.5)
    params = model.init(jax.random.PRNGKey(1), OBS)
    policy, value = model.apply(params, OBS)
    assert isinstance(policy, distrax.MultivariateNormalDiag)
    assert policy.event_shape == (6,) and policy.batch_shape == (5,) and value.shape == (5,)
    np.testing.assert_allclose(policy.stddev(), np.exp(-0.5), rtol=1e-6)
    action = policy.sample(seed=jax.random.PRNGKey(2))
    # The log-density is the diagonal Gaussian's, computed by hand.
    mean, std = policy.mean(), np.exp(-0.5)
    by_hand = np.sum(
        -0.5 * ((action - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi), -1
    )
    np.testing.assert_allclose(policy.log_prob(action), by_hand, rtol=1e-5)


def test_orthogonal_init_gains():
    model = ActorCritic("discrete", 2, hidden=(7,))  # Square first kernel: 7 x 7.
    params = model.init(jax.random.PRNGKey(0), OBS)["params"]
    kernel = params["actor"]["torso"]["Dense_0"]["kernel"]
    np.testing.assert_allclose(kernel.T @ kernel, 2.0 * np.eye(7), atol=1e-5)  # gain sqrt(2)
    value_kernel = params["critic"]["value_head"]["kernel"]  # 7 x 1, gain 1: a unit column.
    np.testing.assert_allclose(np.linalg.norm(value_kernel), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(params["actor"]["torso"]["Dense_0"]["bias"], 0.0)


def test_shared_torso_and_separate_networks():
    shared = ActorCritic("discrete", 2, hidden=(8, 8), shared_torso=True)
    params = shared.init(jax.random.PRNGKey(0), OBS)["params"]
    assert set(params) == {"torso", "actor", "critic"}
    assert set(params["actor"]) == {"policy_head"} and set(params["critic"]) == {"value_head"}
    separate = ActorCritic("discrete", 2, hidden=(8, 8))
    params = separate.init(jax.random.PRNGKey(0), OBS)
    # With separate networks the value does not depend on the actor's parameters.
    grads = jax.grad(lambda p: separate.apply(p, OBS)[1].sum())(params)["params"]
    assert all(np.all(g == 0) for g in jax.tree.leaves(grads["actor"]))
    assert any(np.any(g != 0) for g in jax.tree.leaves(grads["critic"]))


def test_unsupported_specs_and_options_raise():
    with pytest.raises(ValueError, match="action_spec"):
        make_actor_critic(specs.MultiDiscreteArray(jnp.array([2, 2]), jnp.int32))
    with pytest.raises(ValueError, match="activation"):
        make_actor_critic(specs.DiscreteArray(2), activation="softsign")


def test_flatten_observation():
    obs = {"a": jnp.ones((3, 4, 2)), "b": jnp.zeros((3, 5), jnp.int32)}
    flat = flatten_observation(obs, 1)
    assert flat.shape == (3, 13) and flat.dtype == jnp.float32
    assert flatten_observation(jnp.ones((2, 3, 4)), 2).shape == (2, 3, 4)
    assert flatten_observation(jnp.ones((6,)), 0).shape == (6,)


# --- The tanh-squashed Gaussian head. ---

LOW, HIGH = np.array([-2.0, 0.0, -1.0]), np.array([2.0, 1.0, 3.0])
BOX = specs.BoundedArray((3,), jnp.float32, LOW, HIGH)


def _reference_log_prob(loc, scale, low, high, action):
    """Change of variables by hand in float64: u = atanh(unit(a)), log N(u) − log|da/du|."""
    loc, scale, low, high, a = (np.asarray(x, np.float64) for x in (loc, scale, low, high, action))
    unit = 2 * (a - low) / (high - low) - 1
    u = np.arctanh(unit)
    log_normal = -0.5 * ((u - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)
    log_jac = np.log((high - low) / 2 * (1 - np.tanh(u) ** 2))
    return np.sum(log_normal - log_jac, axis=-1)


def test_tanh_head_samples_inside_the_bounds_with_the_change_of_variables_density():
    model = make_actor_critic(BOX, squash="tanh", log_std_init=0.5)
    params = model.init(jax.random.PRNGKey(1), OBS)
    policy, value = model.apply(params, OBS)
    assert isinstance(policy, TanhGaussian) and value.shape == (5,)
    actions = np.asarray(policy.sample(seed=jax.random.PRNGKey(2)))
    assert actions.shape == (5, 3)
    assert np.all(actions > LOW) and np.all(actions < HIGH)
    base = policy.distribution
    expected = _reference_log_prob(base.loc, base.scale_diag, LOW, HIGH, actions)
    np.testing.assert_allclose(policy.log_prob(actions), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(policy.pre_squash_entropy(), base.entropy(), rtol=1e-6)


@pytest.mark.parametrize("scale", [0.05, 0.5, 1.0])
def test_tanh_entropy_is_the_squashed_entropy_by_monte_carlo(scale):
    """``entropy()`` against −E[log p(a)] over 400k samples (standard error ~2e-3 nats); up to
    σ = 1, where float32's tanh does not saturate (a saturated sample's log-density is clipped)."""
    low, high = jnp.array([-1.0, 0.0]), jnp.array([1.0, 5.0])
    p = TanhGaussian(jnp.array([0.3, -1.5]), jnp.array([scale, 0.7 * scale]), low, high)
    n = 400_000
    wide = TanhGaussian(
        *(jnp.broadcast_to(x, (n, 2)) for x in (p.distribution.loc, p.distribution.scale_diag)),
        jnp.broadcast_to(low, (n, 2)),
        jnp.broadcast_to(high, (n, 2)),
    )  # n independent copies: one sample each.
    actions = wide.sample(seed=jax.random.PRNGKey(0))
    monte_carlo = -float(jnp.mean(wide.log_prob(actions)))
    np.testing.assert_allclose(float(p.entropy()), monte_carlo, atol=1e-2)
    # Squashing into [-1, 1] x [0, 5] with a wide Gaussian loses entropy against the Gaussian's.
    assert abs(float(p.entropy()) - float(p.pre_squash_entropy())) > 0.05
    # Batched: the entropy of each row.
    batched = TanhGaussian(
        jnp.stack([p.distribution.loc] * 3), jnp.stack([p.distribution.scale_diag] * 3), low, high
    )
    np.testing.assert_allclose(batched.entropy(), np.full(3, float(p.entropy())), rtol=1e-6)


def test_tanh_kl_equals_the_closed_form_gaussian_kl():
    low, high = jnp.array([-1.0, 0.0]), jnp.array([1.0, 5.0])
    p = TanhGaussian(jnp.array([0.3, -1.0]), jnp.array([0.5, 2.0]), low, high)
    q = TanhGaussian(jnp.array([-0.2, 0.5]), jnp.array([1.5, 0.7]), low, high)
    mp, sp, mq, sq = (
        np.array([0.3, -1.0]),
        np.array([0.5, 2.0]),
        np.array([-0.2, 0.5]),
        np.array([1.5, 0.7]),
    )
    expected = np.sum(np.log(sq / sp) + (sp**2 + (mp - mq) ** 2) / (2 * sq**2) - 0.5)
    np.testing.assert_allclose(p.kl_divergence(q), expected, rtol=1e-5)


def test_tanh_log_prob_stays_finite_for_saturated_samples():
    # loc 20: tanh rounds to exactly 1 in float32; the edge clip keeps the density finite.
    p = TanhGaussian(jnp.array([20.0, -20.0]), jnp.array([0.1, 0.1]), -jnp.ones(2), jnp.ones(2))
    a = p.sample(seed=jax.random.PRNGKey(0))
    assert np.all(np.abs(a) <= 1.0)
    assert np.isfinite(p.log_prob(a))


def test_tanh_head_refuses_unbounded_specs_and_unknown_squashes():
    with pytest.raises(ValueError, match="squash: 'tanh' needs a BoundedArray"):
        make_actor_critic(specs.Array((2,), jnp.float32), squash="tanh")
    unbounded = specs.BoundedArray((2,), jnp.float32, -np.inf, 1.0)
    with pytest.raises(ValueError, match="finite bounds"):
        make_actor_critic(unbounded, squash="tanh")
    with pytest.raises(ValueError, match="squash: got 'sigmoid'; accepted: clip, tanh"):
        make_actor_critic(BOX, squash="sigmoid")


def test_brax_style_options_separate_widths_softplus_std_and_lecun_init():
    spec = specs.BoundedArray((2,), jnp.float32, -1.0, 1.0)
    model = make_actor_critic(
        spec, activation="silu", squash="tanh", actor_hidden=(32,) * 4,
        critic_hidden=(256,) * 5, kernel_init="lecun_uniform", std="softplus", min_std=1e-3,
    )  # fmt: skip
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((4,)))
    actor, critic = params["params"]["actor"], params["params"]["critic"]
    assert [actor["torso"][f"Dense_{i}"]["kernel"].shape[1] for i in range(4)] == [32] * 4
    assert [critic["torso"][f"Dense_{i}"]["kernel"].shape[1] for i in range(5)] == [256] * 5
    assert actor["policy_head"]["kernel"].shape == (32, 4)  # loc and raw scale per action.
    assert "log_std" not in actor
    obs = jax.random.normal(jax.random.PRNGKey(1), (3, 4))
    policy, value = model.apply(params, obs)
    assert isinstance(policy, TanhGaussian) and value.shape == (3,)
    # std = softplus(raw) + min_std, state-dependent.
    out = obs
    act = jax.nn.swish
    for i in range(4):
        layer = actor["torso"][f"Dense_{i}"]
        out = act(out @ layer["kernel"] + layer["bias"][None])
    raw = out @ actor["policy_head"]["kernel"] + actor["policy_head"]["bias"][None]
    np.testing.assert_allclose(
        policy.distribution.stddev(), jax.nn.softplus(raw[:, 2:]) + 1e-3, rtol=1e-5
    )
    np.testing.assert_allclose(policy.distribution.mean(), raw[:, :2], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="kernel_init"):
        make_actor_critic(spec, kernel_init="he")
    with pytest.raises(ValueError, match="std"):
        make_actor_critic(spec, std="exp")


def test_default_network_is_unchanged_by_the_new_options():
    spec = specs.DiscreteArray(2)
    a = make_actor_critic(spec)
    b = make_actor_critic(spec, actor_hidden=None, critic_hidden=None, kernel_init="orthogonal")
    pa = a.init(jax.random.PRNGKey(0), jnp.zeros((4,)))
    pb = b.init(jax.random.PRNGKey(0), jnp.zeros((4,)))
    jax.tree.map(np.testing.assert_array_equal, pa, pb)


def test_tanh_entropy_of_wide_gaussians_matches_a_float64_monte_carlo():
    """H = H(N) + Σ_d E[log(1 − tanh²u_d)] + Σ_d log((high − low) / 2), the expectation by 4e6
    float64 samples of u (standard error ~2e-3 nats), at σ = 3 and 2.1."""
    low, high = np.array([-1.0, 0.0]), np.array([1.0, 5.0])
    loc, scale = np.array([0.3, -1.5]), np.array([3.0, 2.1])
    u = np.random.default_rng(0).normal(loc, scale, (4_000_000, 2))
    log_derivative = 2 * (np.log(2) - u - np.logaddexp(0, -2 * u))
    gaussian = np.sum(0.5 * np.log(2 * np.pi * np.e * scale**2))
    expected = gaussian + log_derivative.mean(0).sum() + np.log((high - low) / 2).sum()
    p = TanhGaussian(jnp.asarray(loc), jnp.asarray(scale), jnp.asarray(low), jnp.asarray(high))
    np.testing.assert_allclose(float(p.entropy()), expected, atol=1e-2)


def _squashed_log_density64(loc, scale, low, high, u):
    """float64 log-density of ``y = low + (high − low)(tanh u + 1)/2`` at a pre-squash ``u``."""
    loc, scale, low, high, u = (np.asarray(x, np.float64) for x in (loc, scale, low, high, u))
    gauss = -0.5 * ((u - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)
    log_dy_du = 2 * (np.log(2) - u - np.logaddexp(0, -2 * u)) + np.log((high - low) / 2)
    return np.sum(gauss - log_dy_du, axis=-1)


def test_raw_tanh_log_prob_is_exact_where_tanh_saturates():
    """At u = 12.015 tanh(u) is 1 in float32: the squashed action cannot give u back (atanh of
    the edge is 7.25), so its log-probability is off by ~1e5 nats; the raw one is exact."""
    low, high = jnp.array([-1.0, 0.0]), jnp.array([1.0, 5.0])
    loc, scale = jnp.array([12.0, -3.0]), jnp.array([0.01, 0.5])
    squashed = TanhGaussian(loc, scale, low, high)
    raw = squashed.raw()
    assert isinstance(raw, RawTanhGaussian)
    u = loc + scale * jnp.array([1.5, -0.7])
    expected = _squashed_log_density64(loc, scale, low, high, u)
    np.testing.assert_allclose(float(raw.log_prob(u)), expected, rtol=1e-5)
    assert abs(float(squashed.log_prob(raw.squash(u))) - expected) > 1e4
    # Batched, unsaturated: both are the same density.
    loc2 = jnp.array([[0.3, -1.0], [-0.5, 2.0]])
    u2 = loc2 + 0.4
    lows, highs = jnp.broadcast_to(low, (2, 2)), jnp.broadcast_to(high, (2, 2))
    p = TanhGaussian(loc2, jnp.full((2, 2), 0.7), lows, highs)
    np.testing.assert_allclose(p.raw().log_prob(u2), p.log_prob(p.raw().squash(u2)), atol=2e-4)
    np.testing.assert_allclose(
        p.raw().log_prob(u2), _squashed_log_density64(loc2, 0.7, lows, highs, u2), rtol=1e-5
    )


def test_raw_tanh_samples_entropy_kl_and_mode_are_the_squashed_policys():
    low, high = jnp.array([-1.0, 0.0]), jnp.array([1.0, 5.0])
    p = TanhGaussian(jnp.array([0.3, -1.0]), jnp.array([0.5, 2.0]), low, high)
    q = TanhGaussian(jnp.array([-0.2, 0.5]), jnp.array([1.5, 0.7]), low, high)
    key = jax.random.PRNGKey(3)
    u = p.raw().sample(seed=key)
    np.testing.assert_array_equal(u, p.distribution.sample(seed=key))
    np.testing.assert_allclose(p.raw().squash(u), p.sample(seed=key), rtol=1e-6)
    np.testing.assert_allclose(p.raw().entropy(), p.entropy(), rtol=1e-6)
    np.testing.assert_allclose(p.raw().pre_squash_entropy(), p.pre_squash_entropy(), rtol=1e-6)
    np.testing.assert_allclose(p.raw().kl_divergence(q.raw()), p.kl_divergence(q), rtol=1e-6)
    np.testing.assert_array_equal(p.raw().mode(), p.distribution.loc)
    back = p.raw().squashed()
    assert isinstance(back, TanhGaussian)
    np.testing.assert_allclose(back.log_prob(p.sample(seed=key)), p.log_prob(p.sample(seed=key)))
    with pytest.raises(ValueError, match="other_dist: expected a RawTanhGaussian"):
        p.raw().kl_divergence(q)
