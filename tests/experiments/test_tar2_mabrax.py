"""TAR²'s continuous-action task: MABrax with the team return released at the episode's end.

References: the dense MABrax env on the same keys and actions, summed by a numpy loop over each
complete episode (the sparse reward is 0 before an episode's last step and the episode's dense
sum at it); the launcher's MABrax trainer (continuous heads, a continuous return model, the
rollout of one whole episode, MAMuJoCo's PPO fields).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from jumanji.types import StepType
from jumanji.wrappers import AutoResetWrapper, VmapWrapper

from experiments.tar2 import mabrax
from experiments.tar2 import main as tar2_main
from experiments.tar2.config import get_config
from jaxml import envs
from jaxml.envs.wrappers import SparseReward
from tests.helpers import assert_episode_sums

EPISODE, STEPS, BATCH = 7, 16, 3  # Two whole episodes and part of a third per env.


@pytest.mark.slow  # Two MABrax envs in one program: about 45 CPU s of compilation.
def test_sparse_mabrax_releases_the_dense_episode_sum():
    # The spring pipeline compiles about twice as fast on CPU; the wrapper does not depend on it.
    dense = mabrax.make_mabrax("halfcheetah_6x1", EPISODE, "spring")
    sparse = SparseReward(dense)
    keys = jax.random.split(jax.random.key(0), BATCH)
    action_keys = jax.random.split(jax.random.key(1), STEPS * BATCH).reshape(STEPS, BATCH)
    actions = jax.vmap(jax.vmap(lambda k: envs.sample_action(dense.action_spec, k)))(action_keys)
    assert actions.shape == (STEPS, BATCH, dense.num_agents, 1)

    @jax.jit
    def run(keys, actions):  # One program for both envs: one MABrax compile.
        out = []
        for env in (dense, sparse):
            wrapped = VmapWrapper(AutoResetWrapper(env))
            state, _ = wrapped.reset(keys)
            out.append(jax.lax.scan(lambda s, a, w=wrapped: w.step(s, a), state, actions)[1])
        return out

    with jax.numpy_rank_promotion("allow"):  # jumanji's auto-reset broadcasts ranks.
        d, s = run(keys, actions)
    dense_r, sparse_r = np.asarray(d.reward), np.asarray(s.reward)  # [T, B, A]
    assert np.abs(dense_r).max() > 1e-3  # Non-trivial rewards: the comparison is not vacuous.
    # MABrax gives every agent the team reward.
    np.testing.assert_allclose(dense_r, np.broadcast_to(dense_r[..., :1], dense_r.shape))
    last = np.asarray(d.step_type) == int(StepType.LAST)
    np.testing.assert_array_equal(np.flatnonzero(last[:, 0]), [EPISODE - 1, 2 * EPISODE - 1])
    np.testing.assert_array_equal(np.asarray(s.step_type), np.asarray(d.step_type))
    assert np.all(sparse_r[~last] == 0)
    np.testing.assert_array_equal(np.asarray(s.extras["dense_reward"]), dense_r)
    np.testing.assert_array_equal(
        np.asarray(s.observation.agents_view), np.asarray(d.observation.agents_view)
    )
    assert_episode_sums(sparse_r, dense_r, last, atol=1e-5)  # Σ sparse == Σ dense per episode.


def test_the_launcher_builds_the_mabrax_trainer():
    config = get_config("quick")
    assert not set(mabrax.TASKS) & set(config.scenarios)  # Quick runs SMAX only.
    assert "halfcheetah_6x1" in get_config("full").scenarios
    config.mabrax.episode_length = 12
    trainer, run_config = tar2_main.make_trainer(config, "ippo", "halfcheetah_6x1")
    assert run_config.num_steps == trainer.sizes.num_steps == 12
    assert run_config.learning_rate == config.mabrax.ppo.learning_rate
    assert run_config.activation == "tanh" and run_config.ent_coef == 0.0
    assert trainer.model.continuous and trainer.model.layout.low.shape == (6, 1)
    assert tar2_main.task("halfcheetah_6x1") == tar2_main.MABRAX
    assert tar2_main.PRIMARY[tar2_main.MABRAX][0] == "eval_return"
