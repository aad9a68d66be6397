"""End-to-end jitted reinforcement learning: PureJaxRL-style trainers and their shared pieces.

Trainers (``make_train(config, env) -> train(key)``, jit- and vmap-able; ``make_trainer`` gives
the ``init``/``step`` pair for ``jaxml.utils.runner``): ``ppo``, ``a2c``. Shared pieces, one place
each: ``rollout`` (batched auto-reset rollouts, ``Transition``, episode statistics), ``gae``,
``losses``, ``batching`` (minibatch shuffling) and ``on_policy`` (the update loop).
"""

from jaxml.rl import a2c, batching, losses, on_policy, ppo
from jaxml.rl._gae import gae, gae_time_major
from jaxml.rl._rollout import (
    EpisodeStats,
    RolloutState,
    Transition,
    auto_reset,
    init_episode_stats,
    reset,
    rollout,
    rollout_step,
    to_env_action,
    update_episode_stats,
)
from jaxml.rl.losses import a2c_loss, ppo_loss, value_loss
from jaxml.rl.on_policy import Batch, OnPolicyTrainer, Sizes, TrainState
from jaxml.utils.trainer import Trainer, TrainOutput

__all__ = [
    "Batch",
    "EpisodeStats",
    "OnPolicyTrainer",
    "RolloutState",
    "Sizes",
    "TrainOutput",
    "TrainState",
    "Trainer",
    "Transition",
    "a2c",
    "a2c_loss",
    "auto_reset",
    "batching",
    "gae",
    "gae_time_major",
    "init_episode_stats",
    "losses",
    "on_policy",
    "ppo",
    "ppo_loss",
    "reset",
    "rollout",
    "rollout_step",
    "to_env_action",
    "update_episode_stats",
    "value_loss",
]

# Multi-agent PPO (IPPO, MAPPO) and recurrent policies.
from jaxml.rl import mappo  # noqa: E402
from jaxml.rl._rollout import reset_policy_state  # noqa: E402

__all__ += ["mappo", "reset_policy_state"]

# Natural-gradient trainers: TRPO (conjugate gradient + line search) and rank-1 NPG.
from jaxml.rl import npg, trpo  # noqa: E402
from jaxml.rl._cg import conjugate_gradient  # noqa: E402

__all__ += ["conjugate_gradient", "npg", "trpo"]

# The trainer contract every loop shares, and the one function that runs it (seeds vmapped,
# chunks, checkpoints, resume; with a mesh, the environment axis split over the devices).
from jaxml.rl._sharding import rollout_partition  # noqa: E402
from jaxml.utils.trainer import TrainerRun, run_trainer  # noqa: E402

__all__ += ["TrainerRun", "rollout_partition", "run_trainer"]

# Trainers by name.
from jaxml.rl._registry import default_config, is_multi_agent, make_trainer, names  # noqa: E402

__all__ += ["default_config", "is_multi_agent", "make_trainer", "names"]

# Evaluation of a trained policy (deterministic or sampled, the trainer's normaliser applied;
# single- and multi-agent, recurrent included), and the same as a trainer's ``evaluate``.
from jaxml.rl._evaluate import (  # noqa: E402
    EvalResult,
    evaluate,
    evaluation_metrics,
    make_evaluate,
    policy_mode,
)

__all__ += ["EvalResult", "evaluate", "evaluation_metrics", "make_evaluate", "policy_mode"]

# TAR²: temporal-agent reward redistribution of sparse team returns (and its baselines).
from jaxml.rl import tar2  # noqa: E402

__all__ += ["tar2"]

# Off-policy trainers (a flashbax replay buffer in the state): soft actor-critic and double DQN;
# rl.names("off_policy") lists them.
from jaxml.rl import dqn, sac  # noqa: E402
from jaxml.rl._replay import OffPolicyTrainer  # noqa: E402

__all__ += ["OffPolicyTrainer", "dqn", "sac"]

# TAR² reward redistribution and IPPO/MAPPO trained on it (with its baselines and ablations).
from jaxml.rl import _tar2_train as tar2_train  # noqa: E402

__all__ += ["tar2_train"]

# Populations of independent agents trained in pairs, every pair of a round in one step.
from jaxml.rl import population  # noqa: E402

__all__ += ["population"]
