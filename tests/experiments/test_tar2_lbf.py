"""TAR²'s second task: Level-Based Foraging as a team task, sparse, against the dense env.

References: jumanji's own LevelBasedForaging on the same keys and actions (the team reward is
its agents' rewards summed, the observation its fields minus ``step_count``), and a numpy loop
over the dense team rewards (the sparse reward is 0 before an episode's last step and the
episode's dense sum at it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jumanji.types import StepType
from jumanji.wrappers import AutoResetWrapper, VmapWrapper

from experiments.tar2 import lbf
from experiments.tar2 import main as tar2_main
from experiments.tar2.config import get_config
from jaxml import envs
from jaxml.envs.wrappers import SparseReward
from tests.helpers import assert_episode_sums

STEPS, BATCH = 60, 16
LOAD = 5  # LBF's load action.


def rollout(env, keys, actions):
    wrapped = VmapWrapper(AutoResetWrapper(env))

    @jax.jit
    def run(keys, actions):
        state, first = wrapped.reset(keys)
        return first, jax.lax.scan(lambda s, a: wrapped.step(s, a), state, actions)[1]

    with jax.numpy_rank_promotion("allow"):  # jumanji's auto-reset broadcasts ranks.
        return run(keys, actions)


def random_actions(env, key):
    """Uniform actions, except that half of them are LOAD (5): random agents then collect
    items now and then, so the rewards compared are not all zero."""
    keys = jax.random.split(key, STEPS * BATCH).reshape(STEPS, BATCH)

    def sample(k):
        k_action, k_load = jax.random.split(k)
        action = envs.sample_action(env.action_spec, k_action)
        return jnp.where(jax.random.bernoulli(k_load, 0.5, action.shape), LOAD, action)

    return jax.vmap(jax.vmap(sample))(keys)


def test_team_task_sums_lbfs_rewards_and_keeps_its_transitions():
    # A 5x5 grid with one item: random agents load it now and then, so rewards occur.
    team = lbf.make_lbf(grid_size=5, num_agents=2, num_food=1, time_limit=12)
    inner = team._env  # jumanji's env behind jaxml's adapter.
    keys = jax.random.split(jax.random.key(0), BATCH)
    actions = random_actions(team, jax.random.key(1))
    _, ours = rollout(team, keys, actions)
    _, theirs = rollout(inner, keys, actions)
    r_theirs = np.asarray(theirs.reward)  # [T, B, A]
    assert np.any(r_theirs != 0)  # Food was collected: the comparison is not vacuous.
    expected = np.broadcast_to(r_theirs.sum(-1, keepdims=True), r_theirs.shape)
    np.testing.assert_allclose(np.asarray(ours.reward), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(ours.step_type), np.asarray(theirs.step_type))
    np.testing.assert_array_equal(np.asarray(ours.discount), np.asarray(theirs.discount))
    np.testing.assert_array_equal(
        np.asarray(ours.observation.agents_view), np.asarray(theirs.observation.agents_view)
    )
    # success: the episode ended by collecting every item (a termination, discount 0).
    last = np.asarray(theirs.step_type) == int(StepType.LAST)
    terminated = last & (np.asarray(theirs.discount)[..., 0] == 0)
    np.testing.assert_array_equal(np.asarray(ours.extras["success"]) & last, terminated)
    assert terminated.any() and (last & ~terminated).any()  # Both ends occur.


def test_sparse_lbf_releases_the_dense_episode_sum():
    """The wrapper's released return equals the dense env's summed reward, same keys/actions,
    on the experiment's own LBF task (its quick size)."""
    config = get_config("quick")
    dense = lbf.make_lbf(**config.lbf)
    keys = jax.random.split(jax.random.key(2), BATCH)
    actions = random_actions(dense, jax.random.key(3))
    _, d = rollout(dense, keys, actions)
    _, s = rollout(SparseReward(dense), keys, actions)
    dense_r, sparse_r = np.asarray(d.reward), np.asarray(s.reward)
    last = np.asarray(d.step_type) == int(StepType.LAST)
    assert last.sum() >= BATCH  # Every env finished at least one episode (auto-reset ran).
    assert np.all(sparse_r[~last] == 0)
    np.testing.assert_array_equal(np.asarray(s.extras["dense_reward"]), dense_r)
    # The numpy reference: per complete episode, Σ sparse == Σ dense.
    assert_episode_sums(sparse_r, dense_r, last, atol=1e-6)


def test_the_launcher_builds_the_lbf_trainer():
    config = get_config("quick")
    assert "lbf" not in config.scenarios  # Quick runs SMAX only (make run's time).
    assert "lbf" in get_config("full").scenarios
    trainer, run_config = tar2_main.make_trainer(config, "ippo", "lbf")
    assert run_config.num_steps == config.lbf.time_limit
    assert trainer.sizes.num_steps == config.lbf.time_limit
