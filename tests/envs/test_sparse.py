"""SparseReward against the dense env on the same keys and actions, under vmap and auto-reset.

The reference is a numpy loop over the dense rollout: the sparse reward is 0 before each
episode's last step and, at that step, the dense reward summed since the episode began.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import StepType, TimeStep
from jumanji.wrappers import AutoResetWrapper, VmapWrapper

from jaxml import envs
from jaxml.envs.wrappers import SparseReward, SparseRewardState
from tests.helpers import assert_episode_sums, fast_jit


@chex.dataclass
class ToyState:
    t: chex.Array  # [] int32
    key: chex.PRNGKey


class DenseToy(Environment):
    """Two agents, a random dense reward each step, termination with probability 0.2 and a
    time limit of 6 (a truncation, discount 1): both kinds of episode end occur."""

    num_agents = 2

    def reset(self, key):
        state = ToyState(t=jnp.zeros((), jnp.int32), key=key)
        ts = TimeStep(
            step_type=StepType.FIRST,
            reward=jnp.zeros((2,), jnp.float32),
            discount=jnp.ones((2,), jnp.float32),
            observation=jnp.zeros((2, 1), jnp.float32),
            extras={"t": state.t},
        )
        return state, ts

    def step(self, state, action):
        key, reward_key, end_key = jax.random.split(state.key, 3)
        t = state.t + 1
        terminated = jax.random.uniform(end_key) < 0.2
        truncated = t >= 6
        reward = jax.random.normal(reward_key, (2,)) + action.astype(jnp.float32)
        last = terminated | truncated
        ts = TimeStep(
            step_type=jnp.where(last, StepType.LAST, StepType.MID),
            reward=reward,
            discount=jnp.broadcast_to(jnp.where(terminated, 0.0, 1.0), (2,)),
            observation=jnp.broadcast_to(t.astype(jnp.float32), (2, 1)),
            extras={"t": t},
        )
        return ToyState(t=t, key=key), ts

    @property
    def observation_spec(self):
        return specs.Array((2, 1), jnp.float32, "observation")

    @property
    def action_spec(self):
        return specs.MultiDiscreteArray(jnp.asarray([2, 2], jnp.int32), jnp.int32, "action")

    @property
    def reward_spec(self):
        return specs.Array((2,), jnp.float32, "reward")

    @property
    def discount_spec(self):
        return specs.BoundedArray((2,), jnp.float32, 0.0, 1.0, "discount")


def rollout(env, keys, actions):
    wrapped = VmapWrapper(AutoResetWrapper(env))

    def body(state, action):
        state, ts = wrapped.step(state, action)
        return state, ts

    @fast_jit
    def run(keys, actions):
        state, first = wrapped.reset(keys)
        return first, jax.lax.scan(body, state, actions)[1]

    return run(keys, actions)


def reference_sparse(dense_reward: np.ndarray, last: np.ndarray) -> np.ndarray:
    """[T, B, ...] numpy loop: hold the running sum, pay it out where ``last``."""
    out = np.zeros_like(dense_reward)
    total = np.zeros_like(dense_reward[0])
    for t in range(dense_reward.shape[0]):
        total = total + dense_reward[t]
        done = last[t].reshape(last[t].shape + (1,) * (total.ndim - 1))
        out[t] = np.where(done, total, 0.0)
        total = np.where(done, 0.0, total)
    return out


def check_sparse(env, steps: int, batch: int, min_episodes: int):
    key_reset, key_act = jax.random.split(jax.random.key(3))
    keys = jax.random.split(key_reset, batch)
    act_keys = jax.random.split(key_act, steps * batch).reshape(steps, batch)
    actions = jax.vmap(jax.vmap(lambda k: envs.sample_action(env.action_spec, k)))(act_keys)
    _, dense = rollout(env, keys, actions)
    first, sparse = rollout(SparseReward(env), keys, actions)
    dense_r, sparse_r = np.asarray(dense.reward), np.asarray(sparse.reward)
    last = np.asarray(dense.step_type) == int(StepType.LAST)
    assert last.sum() >= min_episodes, last.sum()  # Several episodes ended (auto-reset ran).
    # Same transitions: everything but the reward passes through.
    np.testing.assert_array_equal(np.asarray(sparse.step_type), np.asarray(dense.step_type))
    np.testing.assert_array_equal(np.asarray(sparse.discount), np.asarray(dense.discount))
    for a, b in zip(
        jax.tree.leaves(sparse.observation), jax.tree.leaves(dense.observation), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(sparse.extras["dense_reward"]), dense_r)
    assert np.all(np.asarray(first.reward) == 0)
    # Zero before the end; the episode's dense sum at the end (the numpy reference).
    assert np.all(sparse_r[~last] == 0)
    np.testing.assert_allclose(sparse_r, reference_sparse(dense_r, last), rtol=1e-5, atol=1e-5)
    # Per complete episode: Σ sparse (0 before the end, above) == Σ dense.
    assert_episode_sums(sparse_r, dense_r, last, atol=1e-5)
    return dense_r, last


def test_toy_env_with_terminations_and_truncations():
    env = DenseToy()
    dense_r, last = check_sparse(env, steps=40, batch=8, min_episodes=30)
    assert np.any(dense_r[~last] != 0)  # The dense reward is dense: the check is not vacuous.


def test_foraging_scoreg():
    env = envs.make("ForagingScoreG-v0", horizon=5)
    check_sparse(env, steps=24, batch=6, min_episodes=20)


def test_smax_small_map():
    env = envs.make("jaxmarl/SMAX", scenario="3m", max_steps=8)
    dense_r, last = check_sparse(env, steps=24, batch=4, min_episodes=8)
    assert np.any(dense_r[~last] != 0)


def test_state_key_and_spec_passthrough():
    env = DenseToy()
    sparse = SparseReward(env)
    state, ts = sparse.reset(jax.random.key(0))
    assert isinstance(state, SparseRewardState)
    assert state.key is state.env_state.key
    assert sparse.reward_spec == env.reward_spec and sparse.num_agents == 2
    chex.assert_shape(state.accumulated, (2,))
    # A step without a reset after the last one starts a fresh sum.
    state = state.replace(env_state=state.env_state.replace(t=jnp.asarray(5, jnp.int32)))
    state, ts = sparse.step(state, jnp.zeros((2,), jnp.int32))
    assert ts.last() and np.all(np.asarray(state.accumulated) == 0)
