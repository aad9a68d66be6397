"""Multi-agent MuJoCo (JaxMARL's MABrax) with an episodic team return, for TAR² with continuous
actions.

TAR² ("Redistributing Rewards Across Time and Agents for Multi-Agent Reinforcement Learning",
Kapoor et al., arXiv 2502.04864) evaluates on SMACLite and GRF, which have discrete actions and
no JAX port; issue 18 asks for an episodic-return MABrax too. MABrax gives every agent the team's
forward-progress reward at every step; ``jaxml.envs.wrappers.SparseReward`` (outside this module)
withholds it and releases the episode's sum at the last step, which makes it an episodic-return
task (the "delayed MuJoCo" setting of the return-decomposition literature, e.g. RUDDER and IRCR,
here per team).

- **Episodes align with rollouts.** A MABrax episode ends at the time limit
  (``episode_length`` transitions; ``halfcheetah_6x1`` never terminates, ``ant_4x2`` may fall
  earlier), so the rollout is ``episode_length`` steps and every environment's rollout holds one
  whole episode (``tar2_train``'s ``align_episodes``).
- **PPO settings.** The LoRASA experiment's MAMuJoCo ones (``experiments.lorasa.config``'s
  ``mabrax_run_config``: lr 3e-4, entropy 0, 3 epochs of 4 minibatches, tanh 64-64,
  standardised observations), with per-agent tanh-Gaussian heads (``jaxml.rl.mappo``).
- **Return model.** The action token is a ``Dense`` of the squashed action scaled into
  ``[-1, 1]`` and the inverse-dynamics head predicts it (``TAR2RewardModel(continuous=True)``).
"""

from __future__ import annotations

import ml_collections

from experiments.lorasa.config import MABRAX_TASKS
from jaxml import envs

TASKS = tuple(MABRAX_TASKS)  # ant_4x2, halfcheetah_6x1, walker2d_2x3.


def default_config() -> ml_collections.ConfigDict:
    """The task's fields and the PPO fields that replace the SMAX ones on MABrax."""
    config = ml_collections.ConfigDict()
    config.episode_length = 100  # Short episodes: a rollout is one whole episode.
    config.backend = "positional"  # JaxMARL's default physics pipeline.
    config.ppo = ml_collections.ConfigDict(
        {
            "learning_rate": 3e-4,
            "ent_coef": 0.0,
            "update_epochs": 3,
            "num_minibatches": 4,
            "activation": "tanh",
            "normalize_observations": True,
        }
    )
    return config


def make_mabrax(task: str, episode_length: int, backend: str):
    """MABrax ``task`` with the agent axis first (``jaxml.envs``' adapter); the reward is the
    team's, given to every agent."""
    return envs.make(
        "jaxmarl/MABrax",
        env_name=task,
        episode_length=int(episode_length),
        backend=backend,
        homogenisation_method=MABRAX_TASKS[task],
    )


__all__ = ["TASKS", "default_config", "make_mabrax"]
