"""On-policy trainers' shared config: fields, derived sizes, the network and the optimizer."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import ml_collections
import optax
from jumanji.env import Environment

from jaxml import optim
from jaxml.models.actor_critic import ActorCritic, make_actor_critic
from jaxml.rl import normalization
from jaxml.rl._evaluate import make_evaluate
from jaxml.rl._gae import ADVANTAGES
from jaxml.rl._rollout import AUTO_RESETS
from jaxml.utils import checks

Metrics = dict[str, jax.Array]
# jaxml.optim's registry. The Kronecker family (K-FAC, RING, RENG, R-Kalman) needs per-layer
# statistics: PPO and A2C compute ACKTR's (``_sgd.actor_critic_curvature``); trainers that do
# not (TRPO's and NPG's critic, MAPPO) accept only LAYERWISE_FREE.
OPTIMIZERS = tuple(optim.OPTIMIZERS)
LAYERWISE_FREE = tuple(n for n, s in optim.OPTIMIZERS.items() if not s.needs_layer_stats)


def needs_layer_stats(config: ml_collections.ConfigDict) -> bool:
    """Whether ``config.optimizer`` needs the ``layer_stats`` extra arg (the K-FAC family)."""
    spec = optim.OPTIMIZERS.get(config.optimizer)
    return spec is not None and spec.needs_layer_stats


def base_config() -> ml_collections.ConfigDict:
    """Fields every on-policy trainer reads, at PureJaxRL's CartPole PPO values."""
    return ml_collections.ConfigDict(
        {
            "num_envs": 4,  # B: parallel environments.
            "num_steps": 128,  # T: steps per environment per update.
            "total_timesteps": 500_000,  # Environment steps of the run (all environments).
            "update_epochs": 4,  # Passes over each rollout.
            "num_minibatches": 4,  # Minibatches per pass; must divide num_envs * num_steps.
            "learning_rate": 2.5e-4,
            "anneal_lr": True,  # Linear decay to 0 over the run, stepped once per update.
            # (first, total): this run's updates are updates first, first + 1, ... of one linear
            # decay over total updates (LoRASA's phase 2 continues phase 1's schedule); None:
            # (0, num_updates), the run's own.
            "anneal_span": None,
            "optimizer": "adam",  # One of OPTIMIZERS (see make_optimizer).
            # Keyword hyper-parameters of a jaxml.optim optimizer (e.g. {"damping": 1e-3}).
            "optimizer_kwargs": {},
            "max_grad_norm": 0.5,  # Global-norm gradient clip.
            "gamma": 0.99,
            "gae_lambda": 0.95,
            # The policy's advantages: "gae", or "lambda_return" (r_t + γ G^λ_{t+1} − v_t, brax's
            # PPO's); the value targets are the λ-returns either way (jaxml.rl._gae).
            "advantage": "gae",
            # Bootstrap a time-limit truncation from the value of the episode's final observation
            # (False: treat it as a termination, as PureJaxRL does).
            "bootstrap_truncated": True,
            # When an episode ends: "fresh" (a new start drawn from the env's reset, jumanji's
            # AutoResetWrapper) or "first_state" (the env's own first start again, the rule of
            # brax's training wrapper; jaxml.envs.wrappers.FirstStateAutoReset).
            "auto_reset": "fresh",
            "hidden": (64, 64),
            "activation": "tanh",
            "shared_torso": False,
            "log_std_init": 0.0,  # Gaussian heads only.
            # Continuous actions: "clip" (Gaussian, clipped to the bounds) or "tanh" (a
            # tanh-squashed Gaussian inside the bounds; needs a bounded action spec).
            "action_squash": "clip",
            # Running standardisation of observations and scaling of rewards by the std of the
            # discounted return (``jaxml.rl.normalization``; SB3's VecNormalize, clip 10).
            "normalize_observations": False,
            "normalize_rewards": False,
            # When the observation moments take in new observations: "step" (every step, SB3's
            # VecNormalize) or "rollout" (frozen through a rollout, merged at its end; brax's).
            "normalizer_update": "step",
            # Rewards times this before GAE (brax's reward_scaling; episode returns stay raw).
            "reward_scale": 1.0,
            # Separate networks' own widths (None: ``hidden``); brax's PPO: 4 x 32 and 5 x 256.
            "actor_hidden": None,
            "critic_hidden": None,
            "kernel_init": "orthogonal",  # Or "lecun_uniform" (brax's).
            # Gaussian std: "log_param" (learned, state-independent) or "softplus" (brax's
            # state-dependent softplus(raw) + min_std from the policy head).
            "policy_std": "log_param",
            "min_std": 1e-3,
            # The trainer's evaluate (``jaxml.rl.evaluate`` between chunks and at the end):
            # episodes per evaluation (0: none), the step cap of an episode, mean/mode action.
            "eval_episodes": 0,
            "eval_max_steps": 1000,
            "eval_deterministic": True,
        }
    )


# brax's PPO network choices for continuous control (``brax.training.agents.ppo``, brax 0.14),
# which the issue-15 ablations on brax inverted_pendulum found to matter most: silu MLPs of 4 x 32
# (policy) and 5 x 256 (value), LeCun-uniform kernels, a tanh-squashed Gaussian whose std is
# softplus(raw) + 1e-3 of the state, and observation normalisation. Every single-agent
# trainer's ``default_config("continuous")`` carries them.
CONTINUOUS_NETWORK = {
    "activation": "silu",
    "actor_hidden": (32, 32, 32, 32),
    "critic_hidden": (256, 256, 256, 256, 256),
    "kernel_init": "lecun_uniform",
    "action_squash": "tanh",
    "policy_std": "softplus",
    "min_std": 1e-3,
    "normalize_observations": True,
}


class Sizes(NamedTuple):
    """Sizes derived from a config (checked by ``derive_sizes``)."""

    num_envs: int  # B.
    num_steps: int  # T.
    num_updates: int  # Rollout + update cycles: total_timesteps // batch_size.
    batch_size: int  # Samples per rollout: num_envs * num_steps.
    minibatch_size: int  # batch_size // num_minibatches.
    num_minibatches: int
    update_epochs: int

    @property
    def grad_steps_per_update(self) -> int:
        return self.update_epochs * self.num_minibatches


def positive_int_field(config: ml_collections.ConfigDict, field: str) -> int:
    """``config.<field>`` as an int > 0 (``checks.positive_int``, naming ``config.<field>``)."""
    return checks.positive_int(config[field], f"config.{field}")


def require_fields(config: ml_collections.ConfigDict, fields: tuple[str, ...], module: str) -> None:
    """Raises ValueError naming the first of ``fields`` the config lacks and where to start from."""
    for field in fields:
        if field not in config:
            raise ValueError(f"config.{field}: missing; start from {module}.default_config()")


def in_range_field(config: ml_collections.ConfigDict, field: str, low: float, high: float) -> None:
    """Raises ValueError naming ``config.<field>`` unless it lies in ``[low, high]``."""
    checks.in_range(config[field], f"config.{field}", low, high)


def derive_sizes(config: ml_collections.ConfigDict) -> Sizes:
    """Checks the shared config fields and derives the run's sizes.

    Raises:
      ValueError: naming the config field that is out of range.
    """
    num_envs = positive_int_field(config, "num_envs")
    num_steps = positive_int_field(config, "num_steps")
    total = positive_int_field(config, "total_timesteps")
    epochs = positive_int_field(config, "update_epochs")
    minibatches = positive_int_field(config, "num_minibatches")
    batch = num_envs * num_steps
    if total < batch:
        raise ValueError(
            f"config.total_timesteps: {total} is less than one rollout "
            f"(num_envs * num_steps = {batch})"
        )
    if batch % minibatches:
        raise ValueError(
            f"config.num_minibatches: {minibatches} does not divide num_envs * num_steps = {batch}"
        )
    in_range_field(config, "gamma", 0.0, 1.0)
    in_range_field(config, "gae_lambda", 0.0, 1.0)
    checks.choice(config.get("advantage", "gae"), "config.advantage", ADVANTAGES)
    checks.choice(config.get("auto_reset", "fresh"), "config.auto_reset", AUTO_RESETS)
    checks.choice(
        config.get("normalizer_update", "step"),
        "config.normalizer_update",
        normalization.OBS_UPDATES,
    )
    if not config.get("reward_scale", 1.0) > 0:
        raise ValueError(f"config.reward_scale: expected > 0, got {config.reward_scale!r}")
    if not config.learning_rate > 0:
        raise ValueError(f"config.learning_rate: expected > 0, got {config.learning_rate!r}")
    if config.max_grad_norm is not None and not config.max_grad_norm > 0:
        raise ValueError(f"config.max_grad_norm: expected > 0 or None, got {config.max_grad_norm}")
    checks.choice(config.optimizer, "config.optimizer", OPTIMIZERS)
    sizes = Sizes(
        num_envs, num_steps, total // batch, batch, batch // minibatches, minibatches, epochs
    )
    anneal_span(config, sizes)
    return sizes


def anneal_span(config: ml_collections.ConfigDict, sizes: Sizes) -> tuple[int, int]:
    """``(first, total)`` of ``config.anneal_span``: the run anneals over updates ``first`` to
    ``first + num_updates`` of a decay over ``total`` (default ``(0, num_updates)``).

    Raises:
      ValueError: naming ``config.anneal_span`` when the run's updates do not fit in it.
    """
    span = config.get("anneal_span")
    if span is None:
        return 0, sizes.num_updates
    ok = (
        isinstance(span, (tuple, list))
        and len(span) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in span)
        and 0 <= span[0]
        and span[0] + sizes.num_updates <= span[1]
    )
    checks.expect(ok, "config.anneal_span",
                  f"None or (first, total) ints with 0 <= first and first + num_updates "
                  f"({sizes.num_updates}) <= total", span)  # fmt: skip
    return int(span[0]), int(span[1])


def make_model(config: ml_collections.ConfigDict, env: Environment) -> ActorCritic:
    """The actor-critic network for ``env``'s action spec, shaped by the config."""
    try:
        return make_actor_critic(
            env.action_spec,
            hidden=config.hidden,
            activation=config.activation,
            shared_torso=config.shared_torso,
            log_std_init=config.log_std_init,
            squash=config.action_squash,
            actor_hidden=config.get("actor_hidden"),
            critic_hidden=config.get("critic_hidden"),
            kernel_init=config.get("kernel_init", "orthogonal"),
            std=config.get("policy_std", "log_param"),
            min_std=config.get("min_std", 1e-3),
        )
    except ValueError as error:
        if str(error).startswith("squash"):
            raise ValueError(f"config.action_{error}") from error
        if str(error).startswith("std"):
            raise ValueError(f"config.policy_{error}") from error
        # Config fields: say so.
        if str(error).startswith(("activation", "hidden", "kernel_init", "min_std")):
            raise ValueError(f"config.{error}") from error
        raise


def make_optimizer(
    config: ml_collections.ConfigDict, sizes: Sizes, *, layer_stats: bool = False
) -> optax.GradientTransformation:
    """Gradient clipping, then ``config.optimizer``, with PureJaxRL's stepped linear annealing.

    The annealed learning rate is ``lr · (1 − k / num_updates)`` during update ``k`` (with
    ``config.anneal_span = (first, total)``: ``lr · (1 − (first + k) / total)``). ``adam``
    (eps 1e-5) and ``rmsprop`` (decay 0.99, eps 1e-5) are PureJaxRL's, and
    ``config.optimizer_kwargs`` overrides their keywords (``{"eps": 1e-8}``: optax's and brax's
    Adam); any other name is
    ``jaxml.optim.make(name, learning_rate=..., **config.optimizer_kwargs)`` (e.g. ``rank1``,
    ``sophia``, ``adamw``, ``sgd``). The result takes extra args (Sophia reads ``obj_fn``, the
    minibatch objective, which ``minibatch_step`` always passes; the others ignore it).
    ``layer_stats``: the trainer computes the K-FAC family's extra args; without it those
    optimizers are refused.

    Raises:
      ValueError: naming ``config.optimizer`` when it needs layer statistics the trainer lacks.
    """
    if not layer_stats:
        checks.choice(config.optimizer, "config.optimizer", LAYERWISE_FREE)
    learning_rate = config.learning_rate
    if config.anneal_lr:
        steps = sizes.grad_steps_per_update
        first, num_updates = anneal_span(config, sizes)

        def learning_rate(count):
            return config.learning_rate * (1.0 - (first + count // steps) / num_updates)

    kwargs = dict(config.get("optimizer_kwargs", {}))
    if config.optimizer == "adam":
        opt = optax.adam(learning_rate, **{"eps": 1e-5, **kwargs})
    elif config.optimizer == "rmsprop":
        opt = optax.rmsprop(learning_rate, **{"decay": 0.99, "eps": 1e-5, **kwargs})
    else:
        opt = optim.make(config.optimizer, learning_rate=learning_rate, **kwargs)
    if config.max_grad_norm is None:
        return optax.with_extra_args_support(opt)
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), opt)


def make_trainer_evaluate(config: ml_collections.ConfigDict, model: Any, env: Environment):
    """The trainer's ``evaluate(state)`` from ``config.eval_*`` (None when ``eval_episodes`` is 0
    or absent): ``jaxml.rl.make_evaluate`` on ``env``, the trainer's own network and normaliser.
    """
    episodes = config.get("eval_episodes", 0)
    if episodes == 0:
        return None
    return make_evaluate(
        model,
        env,
        num_episodes=positive_int_field(config, "eval_episodes"),
        max_steps=positive_int_field(config, "eval_max_steps"),
        deterministic=bool(config.get("eval_deterministic", True)),
    )


def normalization_kwargs(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """``reset``'s normalisation arguments from a config (fields absent: no normalisation)."""
    return {
        "normalize_observations": bool(config.get("normalize_observations", False)),
        "normalize_rewards": bool(config.get("normalize_rewards", False)),
        "obs_update": config.get("normalizer_update", "step"),
        "gamma": config.gamma,
    }
