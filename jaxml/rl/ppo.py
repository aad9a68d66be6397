"""Proximal policy optimisation, end to end in JAX (PureJaxRL style).

Schulman, Wolski, Dhariwal, Radford, Klimov. "Proximal Policy Optimization Algorithms",
arXiv 1707.06347; advantages by GAE (arXiv 1506.02438).

Each update rolls out ``B = num_envs`` auto-resetting environments for ``T = num_steps`` steps,
computes GAE advantages, then runs ``update_epochs`` epochs of ``num_minibatches`` Adam steps on
the clipped surrogate with a (clipped) value loss and an entropy bonus; advantages are normalised
per minibatch. The defaults are PureJaxRL's CartPole config::

    import jax
    from jaxml import envs
    from jaxml.rl import ppo

    train = ppo.make_train(ppo.default_config(), envs.make("gymnax/CartPole-v1"))
    out = jax.jit(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 4))  # 4 seeds
    out.metrics["episode_return"]  # [4, num_updates]

``make_trainer`` gives the ``init``/``step`` pair for ``jaxml.utils.runner.run``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
from jumanji.env import Environment

from jaxml.models.actor_critic import ActorCritic
from jaxml.rl import batching, on_policy
from jaxml.rl._collect import transition_gae
from jaxml.rl.losses import normalize, ppo_loss
from jaxml.rl.on_policy import Batch, Metrics, OnPolicyTrainer, TrainOutput

PRESETS = ("purejaxrl", "continuous")


def default_config(preset: str = "purejaxrl") -> ml_collections.ConfigDict:
    """PPO's config: ``"purejaxrl"`` (the default) or ``"continuous"``.

    ``"purejaxrl"``: PureJaxRL's PPO config for CartPole-v1 (4 envs x 128 steps, 5e5 steps,
    4 x 4 minibatches). The fields of ``on_policy.base_config`` plus the loss's ``clip_eps``
    (ratio clip), ``clip_value`` (clip the value loss with the same ε), ``ent_coef``,
    ``vf_coef``, ``normalize_advantages`` (per minibatch) and ``gae_segment_length`` (0: GAE
    once per rollout before the epochs, PureJaxRL's; ``k``: minibatches of ``k``-step segments
    whose advantages each minibatch recomputes with the current critic, brax's PPO, see
    ``segment_advantages``).

    ``"continuous"``: the same fields at brax's PPO trainer's (``brax.training.agents.ppo``,
    brax 0.14) choices for continuous control, which the issue-15 ablations on brax
    ``inverted_pendulum`` found to matter: a silu (swish) policy MLP of 4 x 32 and a value MLP of
    5 x 256, LeCun-uniform kernels everywhere (no small policy-head gain), a tanh-squashed
    Gaussian whose std is ``softplus(raw) + 1e-3`` from the policy head (state-dependent), an
    unclipped value loss (PureJaxRL's clip with ε = 0.2 on unnormalised returns stalls the
    critic), a constant learning rate, no gradient clipping, ratio clip 0.3, truncations
    bootstrapped from the critic (``bootstrap_truncated``, as every preset: brax's default
    ``bootstrap_on_timeout=False`` masks the truncated step out of its GAE, so the steps before it
    bootstrap from the critic's value, one reward short of this), observation normalisation on
    (its statistics updated every step; brax's once-per-batch timing is
    ``normalizer_update="rollout"``: +55 ± 27 (SE) sampled return on brax hopper over 9 paired
    seeds, but halfcheetah fell from about 1.04x brax's return to 0.91x with it, docs/rl.md).
    Sizes and lr/γ/λ/entropy stay PureJaxRL's; set them per task (brax's inverted_pendulum
    run: 256 envs x 128 steps, 8 minibatches, lr 3e-4, γ 0.97, entropy 1e-2).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset: got {preset!r}; accepted: {', '.join(PRESETS)}")
    config = on_policy.base_config()
    config.clip_eps = 0.2
    config.clip_value = True
    config.ent_coef = 0.01
    config.vf_coef = 0.5
    config.normalize_advantages = True
    # 0: GAE once per rollout, before the epochs (PureJaxRL). k > 0: minibatches of k-step
    # segments whose GAE each minibatch recomputes with the current critic (brax's PPO).
    config.gae_segment_length = 0
    if preset == "continuous":
        config.update(
            on_policy.CONTINUOUS_NETWORK,
            clip_value=False,
            anneal_lr=False,
            max_grad_norm=None,
            clip_eps=0.3,
        )
    return config


def segment_advantages(
    params: Any,
    segments: Batch,
    *,
    model: ActorCritic,
    config: ml_collections.ConfigDict,
) -> tuple[Any, jax.Array, Batch]:
    """Advantages of ``k``-step segments ``[n, k]`` recomputed with the current critic.

    brax's PPO (``brax.training.agents.ppo.losses``) values each minibatch's unrolls with the
    parameters being trained and bootstraps each unroll from its last next observation, so the
    advantages and value targets follow the critic through the epochs instead of staying those
    of the rollout's critic. The values in them are constants (``stop_gradient``); only the
    value being fitted carries a gradient.

    Returns ``(policy, value, batch)``: the policy and ``value`` ``[k·n]`` with gradients, and
    the segments flattened to ``[k·n]`` with the recomputed ``advantages`` and ``targets``.
    """
    t = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), segments.transitions)  # [k, n, ...]
    length, num = t.reward.shape[:2]
    # One pass over the flattened steps: the policy stays a flat [k·n] distribution.
    policy, value = on_policy.forward(model, params, batching.merge_leading_axes(t.obs), 1)
    critic = lambda obs, ndim: jax.lax.stop_gradient(on_policy.forward(model, params, obs, ndim)[1])
    last_value = critic(jax.tree.map(lambda x: x[-1], t.next_obs), 1)
    if config.bootstrap_truncated:
        final_value = critic(t.next_obs, 2)
    else:
        final_value = jnp.zeros_like(t.reward)
    values = jnp.reshape(jax.lax.stop_gradient(value), (length, num))
    advantages, targets = transition_gae(
        t, values, last_value, final_value, gamma=config.gamma, gae_lambda=config.gae_lambda,
        advantage=config.get("advantage", "gae"),
    )  # fmt: skip
    flat = batching.merge_leading_axes(Batch(t._replace(next_obs=None), advantages, targets))
    return policy, value, flat


def objective(
    params: Any,
    minibatch: Batch,
    *,
    model: ActorCritic,
    config: ml_collections.ConfigDict,
) -> tuple[jax.Array, Metrics]:
    """PPO's loss (``losses.ppo_loss`` on the network's outputs) on a flat minibatch ``[N]``, or
    with ``config.gae_segment_length = k`` on segments ``[n, k]`` (``segment_advantages``)."""
    if config.get("gae_segment_length", 0):
        policy, value, minibatch = segment_advantages(params, minibatch, model=model, config=config)
        advantages = minibatch.advantages
        if config.normalize_advantages:
            advantages = normalize(advantages)
    else:
        policy, value, advantages = on_policy.minibatch_outputs(
            model, params, minibatch, config.normalize_advantages
        )
    t = minibatch.transitions
    return ppo_loss(
        policy.log_prob(t.action),
        t.log_prob,
        advantages,
        value,
        t.value,
        minibatch.targets,
        policy.entropy(),
        clip_eps=config.clip_eps,
        vf_coef=config.vf_coef,
        ent_coef=config.ent_coef,
        value_clip_eps=config.clip_eps if config.clip_value else None,
    )


def _check(config: ml_collections.ConfigDict) -> None:
    on_policy.require_fields(config, ("clip_eps", "vf_coef", "ent_coef"), "ppo")
    if not config.clip_eps > 0:
        raise ValueError(f"config.clip_eps: expected > 0, got {config.clip_eps!r}")
    for field in ("vf_coef", "ent_coef"):
        if not config[field] >= 0:
            raise ValueError(f"config.{field}: expected >= 0, got {config[field]!r}")
    length = config.get("gae_segment_length", 0)
    if length:
        if not isinstance(length, int) or length < 0 or config.num_steps % length:
            raise ValueError(
                "config.gae_segment_length: expected 0 or a positive divisor of num_steps = "
                f"{config.num_steps}, got {length!r}"
            )
        segments = config.num_steps // length * config.num_envs
        if segments % config.num_minibatches:
            raise ValueError(
                f"config.num_minibatches: {config.num_minibatches} does not divide the "
                f"{segments} segments of gae_segment_length = {length}"
            )


def make_trainer(config: ml_collections.ConfigDict, env: Environment) -> OnPolicyTrainer:
    """PPO's ``init(key)`` and ``step(state) -> (state, metrics)`` for ``env``.

    Raises:
      ValueError: naming the config field that is out of range.
    """
    _check(config)

    def ppo_objective(params, minibatch, *, model):
        return objective(params, minibatch, model=model, config=config)

    return on_policy.make_sgd_trainer(
        config, env, ppo_objective, segment_length=config.get("gae_segment_length", 0)
    )


def make_train(config: ml_collections.ConfigDict, env: Environment):
    """PureJaxRL's pure ``train(key) -> TrainOutput`` (final state, metrics ``[num_updates]``)."""
    return on_policy.make_train(make_trainer(config, env))


__all__ = ["PRESETS", "TrainOutput", "default_config", "make_train", "make_trainer", "objective"]
