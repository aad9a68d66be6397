"""Soft actor-critic, end to end in JAX, on the trainer contract.

Haarnoja, Zhou, Abbeel, Levine, "Soft Actor-Critic: Off-Policy Maximum Entropy Deep
Reinforcement Learning with a Stochastic Actor", arXiv 1801.01290, and Haarnoja et al., "Soft
Actor-Critic Algorithms and Applications", arXiv 1812.05905 (twin Q-networks, automatic
temperature).

- Actor: a tanh-squashed Gaussian inside the action bounds (``models.actor_critic.TanhGaussian``,
  distrax; std ``softplus(raw) + min_std`` from the policy head, as brax's
  ``NormalTanhDistribution``); its log-probability carries the tanh Jacobian
  (1801.01290, appendix C).
- Critic: twin Q-networks ``Q_1, Q_2(s, a)`` and Polyak-averaged targets (step ``tau``); the soft
  target is ``y = r + γ·d·(min_i Q̄_i(s', a') − α·log π(a'|s'))`` with ``a' ~ π(·|s')``, where
  ``d`` is the env's discount (1 at a time-limit truncation: bootstrapped, not terminal).
- Actor loss ``E[α·log π(a|s) − min_i Q_i(s, a)]``; temperature loss
  ``E[−α·(log π(a|s) + H̄)]`` on ``log α`` with target entropy ``H̄ = −|A|`` (1812.05905, eq. 18).

One trainer step: ``B = num_envs`` auto-resetting environments take one step (uniform random
actions for the first ``learning_starts`` env steps, then the actor's samples), the ``B``
transitions go into a flashbax buffer in the state, and — from ``learning_starts`` on —
``updates_per_step`` gradient steps each update the critic, the actor, α and the targets.

Defaults (``default_config``) are the paper's (1812.05905, table 1: Adam 3·10⁻⁴ for all three,
batch 256, a 10⁶ buffer, 2 × 256 ReLU networks, τ = 0.005, γ = 0.99, one gradient step per env
step, H̄ = −|A|), which brax's SAC (``brax.training.agents.sac``) shares except for its
learning rate 10⁻⁴, discount 0.9 and H̄ = −|A|/2; from brax: the softplus std with minimum
10⁻³, one environment by default, α starting at 1. Warm-up: 5·10³ random-action env steps
(CleanRL's ``learning_starts``; brax prefills ``min_replay_size``, default 0). What brax's SAC
also has is a config option with the paper's behaviour as its default: ``normalize_observations``
(running moments, raw observations in the buffer), ``reward_scale``, ``critic_kernel_init``
("lecun_uniform": brax's) and ``warmup_actions`` ("policy": prefill with the initial actor's
samples); ``updates_per_step`` is brax's ``grad_updates_per_step``. ``benchmarks/sac_brax.py``
runs the two side by side. Usage::

    from jaxml import envs, rl
    config = rl.default_config("sac")
    trainer = rl.make_trainer("sac", config, envs.make("gymnax/Pendulum-v1"))
    run = rl.run_trainer(trainer, "/tmp/sac", num_seeds=3, num_chunks=10)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import chex
import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jumanji import specs
from jumanji.env import Environment

from jaxml.models.actor_critic import ACTIVATIONS, Actor, flatten_observation
from jaxml.rl import _replay, normalization
from jaxml.rl._evaluate import _EVAL_SALT, evaluation_metrics
from jaxml.rl._evaluate import evaluate as evaluate_policy
from jaxml.rl._replay import OffPolicyTrainer
from jaxml.rl._rollout import RolloutState, auto_reset, reset, rollout_step
from jaxml.utils import checks


def default_config() -> ml_collections.ConfigDict:
    """SAC's config (see the module docstring for where each value comes from)."""
    return ml_collections.ConfigDict(
        {
            "num_envs": 1,  # B: environments stepped together; one trainer step = B env steps.
            "total_timesteps": 1_000_000,  # Env steps of the run (all environments).
            "buffer_size": 1_000_000,  # Items the replay buffer keeps (FIFO).
            "batch_size": 256,  # Items per gradient step.
            "learning_starts": 5_000,  # Env steps of uniform random actions, no updates.
            "updates_per_step": 1,  # Gradient steps per trainer step (per B env steps).
            "actor_learning_rate": 3e-4,
            "critic_learning_rate": 3e-4,
            "alpha_learning_rate": 3e-4,
            "gamma": 0.99,
            "tau": 0.005,  # Polyak step of the target Q-networks, every gradient step.
            "autotune": True,  # Learn α towards the target entropy (False: α = init_alpha).
            "init_alpha": 1.0,
            "target_entropy": None,  # None: −|A| (1812.05905); a float overrides it.
            "actor_hidden": (256, 256),
            "critic_hidden": (256, 256),
            "activation": "relu",
            "min_std": 1e-3,
            # Options brax's SAC has (``brax.training.agents.sac.train``); the defaults keep the
            # paper's setting (raw observations and rewards, Flax's Dense init, uniform warm-up).
            "normalize_observations": False,  # Running mean/std of observations (brax's).
            "reward_scale": 1.0,  # Rewards are multiplied by it in the soft target.
            "critic_kernel_init": "lecun_normal",  # Or "lecun_uniform" (brax's Q-network).
            "warmup_actions": "uniform",  # Or "policy": the initial actor's samples (brax).
            "eval_episodes": 8,  # Mean-action episodes per evaluation (0: no evaluate).
            "eval_max_steps": 1000,
        }
    )


class SACActor(nn.Module):
    """``obs [..., obs_dim] -> (TanhGaussian policy [...], zero value [...])``.

    The zero value makes it ``rl.evaluate``'s model (an actor-critic's ``(policy, value)``).
    """

    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"
    min_std: float = 1e-3

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[distrax.Distribution, jax.Array]:
        actor = Actor(
            "tanh_gaussian", len(self.action_low), tuple(self.hidden), self.activation,
            action_low=self.action_low, action_high=self.action_high,
            kernel_init="lecun_uniform", std="softplus", min_std=self.min_std, name="actor",
        )  # fmt: skip
        return actor(obs), jnp.zeros(obs.shape[:-1], obs.dtype)


CRITIC_KERNEL_INITS = {
    "lecun_normal": nn.initializers.lecun_normal,  # Flax's Dense default.
    "lecun_uniform": nn.initializers.lecun_uniform,  # brax's make_q_network.
}
WARMUP_ACTIONS = ("uniform", "policy")


class TwinQ(nn.Module):
    """``(obs [..., obs_dim], action [..., d]) -> Q [2, ...]``: two independent MLPs."""

    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"
    kernel_init: str = "lecun_normal"

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        x0 = jnp.concatenate([obs, action], axis=-1)
        init = CRITIC_KERNEL_INITS[self.kernel_init]()
        qs = []
        for i in range(2):
            x = x0
            for j, width in enumerate(self.hidden):
                dense = nn.Dense(width, kernel_init=init, name=f"q{i}_{j}")
                x = ACTIVATIONS[self.activation](dense(x))
            qs.append(nn.Dense(1, kernel_init=init, name=f"q{i}_out")(x)[..., 0])
        return jnp.stack(qs)


class SACState(NamedTuple):
    actor_params: Any
    critic_params: Any  # Twin Q-networks.
    target_critic_params: Any
    log_alpha: jax.Array  # [] float32: log of the temperature α.
    actor_opt_state: Any
    critic_opt_state: Any
    alpha_opt_state: Any
    rollout: RolloutState  # [B] environments.
    buffer: Any  # flashbax item-buffer state of ``_replay.Item`` ([1, buffer_size, ...]).
    key: jax.Array  # [2]
    step: jax.Array  # [] int32: trainer steps done (env steps = step · B).
    # Running moments of the observations acted from (``normalization.Normalizer`` over
    # [*obs_shape]) with ``normalize_observations``, else None. The buffer keeps raw
    # observations; actor and critics see them standardised by the current moments (brax's
    # SAC), so old items are never stuck with the statistics of the time they were stored.
    normalizer: Any = None


def soft_q_target(
    r_t: jax.Array,
    discount_t: jax.Array,
    q_t: jax.Array,
    log_prob_t: jax.Array,
    alpha: jax.Array,
    gamma: float,
) -> jax.Array:
    """The soft Bellman target ``r_t + γ·discount_t·(min_i q_t[i] − α·log_prob_t)`` ``[N]``.

    Args:
      r_t, discount_t: ``[N]`` rewards and env discounts (1 at a truncation).
      q_t: ``[2, N]`` target Q-values of the next observation and a fresh next action.
      log_prob_t: ``[N]`` log π of that next action.
      alpha: ``[]`` temperature.
    """
    chex.assert_rank([r_t, discount_t, q_t, log_prob_t], [1, 1, 2, 1])
    return r_t + gamma * discount_t * (jnp.min(q_t, axis=0) - alpha * log_prob_t)


def alpha_loss(log_alpha: jax.Array, log_prob: jax.Array, target_entropy: float) -> jax.Array:
    """``E[−α·(log π + H̄)]`` (1812.05905, eq. 18), log π held fixed: α grows while the policy's
    entropy ``−E[log π]`` is below ``H̄`` and shrinks while it is above."""
    return -jnp.exp(log_alpha) * jnp.mean(jax.lax.stop_gradient(log_prob) + target_entropy)


def sample_and_log_prob(dist: distrax.Distribution, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """An action ``[..., d]`` of a tanh-Gaussian policy and its exact log-probability ``[...]``
    (from the pre-squash sample, so no ``atanh`` of a saturated action)."""
    # distrax samples with a leading sample axis that its bijector's bounds broadcast against;
    # jaxml's tests raise on silent rank promotion, which guards only jaxml's own code.
    with jax.numpy_rank_promotion("allow"):
        return dist.sample_and_log_prob(seed=key)


def _bounds(action_spec: specs.Spec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    ok = isinstance(action_spec, specs.BoundedArray) and jnp.issubdtype(
        action_spec.dtype, jnp.floating
    )
    if ok:
        shape = tuple(action_spec.shape)
        low = np.broadcast_to(np.asarray(action_spec.minimum, np.float64), shape).reshape(-1)
        high = np.broadcast_to(np.asarray(action_spec.maximum, np.float64), shape).reshape(-1)
        ok = bool(np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low))
    if not ok:
        raise ValueError(checks.message(
            "env.action_spec", "a float BoundedArray with finite bounds, maximum > minimum",
            action_spec,
        ))  # fmt: skip
    return tuple(low.tolist()), tuple(high.tolist())


def _check(config: ml_collections.ConfigDict) -> dict[str, int]:
    sizes = _replay.check_common(config, default_config(), "jaxml.rl.sac")
    for name in ("actor_learning_rate", "critic_learning_rate", "alpha_learning_rate",
                 "init_alpha"):  # fmt: skip
        checks.positive(config[name], f"config.{name}")
    if config.target_entropy is not None:
        checks.expect(
            isinstance(config.target_entropy, int | float), "config.target_entropy",
            "a number or None", config.target_entropy,
        )  # fmt: skip
    checks.positive_ints(tuple(config.actor_hidden), "config.actor_hidden")
    checks.positive_ints(tuple(config.critic_hidden), "config.critic_hidden")
    checks.choice(config.activation, "config.activation", ACTIVATIONS)
    checks.expect(config.min_std >= 0, "config.min_std", ">= 0", config.min_std)
    checks.expect(
        isinstance(config.normalize_observations, bool), "config.normalize_observations",
        "True or False", config.normalize_observations,
    )  # fmt: skip
    checks.positive(config.reward_scale, "config.reward_scale")
    checks.choice(config.critic_kernel_init, "config.critic_kernel_init", CRITIC_KERNEL_INITS)
    checks.choice(config.warmup_actions, "config.warmup_actions", WARMUP_ACTIONS)
    return sizes


def _observation_normalizer(
    config: ml_collections.ConfigDict, env: Environment
) -> normalization.Normalizer | None:
    """Fresh observation moments of ``env``'s (single float array) observation, or None."""
    if not config.normalize_observations:
        return None
    obs = env.observation_spec.generate_value()
    ok = isinstance(obs, jax.Array | np.ndarray) and jnp.issubdtype(obs.dtype, jnp.floating)
    checks.expect(
        ok, "config.normalize_observations",
        "False for an observation that is not one float array", config.normalize_observations,
    )  # fmt: skip
    return normalization.init(obs[None], (1,), observations=True, rewards=False, gamma=config.gamma)


def standardize_flat(normalizer: normalization.Normalizer | None, obs: jax.Array) -> jax.Array:
    """Flat observations ``[..., obs_dim]`` standardised by ``normalizer``'s moments of the
    unflattened observation (as ``normalization.standardize_obs`` does it); None: unchanged."""
    if normalizer is None:
        return obs
    moments = normalizer.obs
    flat = normalization.RunningMoments(
        jnp.reshape(moments.mean, (-1,)), jnp.reshape(moments.var, (-1,)), moments.count
    )
    return normalization.standardize(flat, obs)


def make_trainer(config: ml_collections.ConfigDict, env: Environment) -> OffPolicyTrainer:
    """The SAC ``Trainer`` for ``env`` (bounded float actions); ``num_steps = total // B``.

    With ``normalize_observations`` the state's ``normalizer`` holds running moments of the
    observations acted from (updated after each env step with its ``B`` observations, as brax's
    SAC does); the policy, the critics' inputs from the buffer and ``evaluate`` standardise with
    the current moments, and ``rl.evaluate(trainer.model, state.actor_params, key,
    state.normalizer, ...)`` plays the trained policy.

    Raises:
      ValueError: naming a missing or bad ``config.<field>``, or an unbounded action spec.
    """
    sizes = _check(config)
    low, high = _bounds(env.action_spec)
    action_dim = len(low)
    num_envs = sizes["num_envs"]
    target_entropy = (
        -float(action_dim) if config.target_entropy is None else float(config.target_entropy)
    )
    initial_normalizer = _observation_normalizer(config, env)
    uniform_warmup = config.warmup_actions == "uniform"
    reward_scale = float(config.reward_scale)
    eval_env = env
    env = auto_reset(env)
    actor = SACActor(low, high, tuple(config.actor_hidden), config.activation, config.min_std)
    critic = TwinQ(tuple(config.critic_hidden), config.activation, config.critic_kernel_init)
    actor_opt = optax.adam(config.actor_learning_rate)
    critic_opt = optax.adam(config.critic_learning_rate)
    alpha_opt = optax.adam(config.alpha_learning_rate)
    buffer = _replay.make_buffer(
        sizes["buffer_size"], sizes["batch_size"], sizes["learning_starts"]
    )
    low_arr, high_arr = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)

    def policy(params, obs, key):
        actor_params, warm_up, normalizer = params
        obs = standardize_flat(normalizer, flatten_observation(obs, 1))
        sample_key, random_key = jax.random.split(key)
        dist, _ = actor.apply(actor_params, obs)
        action, _ = sample_and_log_prob(dist, sample_key)
        if uniform_warmup:
            random = jax.random.uniform(
                random_key,
                action.shape,
                minval=jnp.broadcast_to(low_arr, action.shape),
                maxval=jnp.broadcast_to(high_arr, action.shape),
                dtype=action.dtype,
            )
            action = jnp.where(warm_up, random, action)
        zeros = jnp.zeros(action.shape[:1], jnp.float32)
        return action, zeros, zeros

    def init(key: jax.Array) -> SACState:
        k_actor, k_critic, k_env, k_next = jax.random.split(key, 4)
        obs = jnp.zeros_like(flatten_observation(env.observation_spec.generate_value(), 0))
        action = jnp.zeros((action_dim,), jnp.float32)
        actor_params = actor.init(k_actor, obs[None])
        critic_params = critic.init(k_critic, obs[None], action[None])
        log_alpha = jnp.asarray(math.log(config.init_alpha), jnp.float32)
        item = _replay.Item(obs, action, jnp.float32(0), jnp.float32(0), obs)
        return SACState(
            actor_params, critic_params, critic_params, log_alpha,
            actor_opt.init(actor_params), critic_opt.init(critic_params),
            alpha_opt.init(log_alpha), reset(env, k_env, num_envs), buffer.init(item), k_next,
            jnp.zeros((), jnp.int32), initial_normalizer,
        )  # fmt: skip

    def critic_loss(critic_params, target_critic_params, actor_params, alpha, batch, key):
        dist, _ = actor.apply(actor_params, batch.next_obs)
        next_action, next_log_prob = sample_and_log_prob(dist, key)
        q_t = critic.apply(target_critic_params, batch.next_obs, next_action)
        target = soft_q_target(batch.reward, batch.discount, q_t, next_log_prob, alpha,
                               config.gamma)  # fmt: skip
        q_tm1 = critic.apply(critic_params, batch.obs, batch.action)
        # Both Q-networks regress on the one target (½ squared error each, summed).
        loss = jnp.mean(jnp.sum(0.5 * (q_tm1 - jax.lax.stop_gradient(target)[None]) ** 2, axis=0))
        return loss, jnp.mean(q_tm1)

    def actor_loss(actor_params, critic_params, alpha, obs, key):
        dist, _ = actor.apply(actor_params, obs)
        action, log_prob = sample_and_log_prob(dist, key)
        q = jnp.min(critic.apply(critic_params, obs, action), axis=0)
        return jnp.mean(alpha * log_prob - q), log_prob

    def update(normalizer, carry, key):
        (actor_params, critic_params, target_params, log_alpha, actor_os, critic_os, alpha_os,
         buffer_state) = carry  # fmt: skip
        sample_key, critic_key, actor_key = jax.random.split(key, 3)
        batch = _replay.sample(buffer, buffer_state, sample_key)
        # What the networks see: standardised observations (raw in the buffer), scaled rewards.
        batch = batch._replace(
            obs=standardize_flat(normalizer, batch.obs),
            next_obs=standardize_flat(normalizer, batch.next_obs),
            reward=batch.reward * reward_scale,
        )
        alpha = jnp.exp(log_alpha)
        (c_loss, q_mean), grads = jax.value_and_grad(critic_loss, has_aux=True)(
            critic_params, target_params, actor_params, alpha, batch, critic_key
        )
        step_updates, critic_os = critic_opt.update(grads, critic_os, critic_params)
        critic_params = optax.apply_updates(critic_params, step_updates)
        (a_loss, log_prob), grads = jax.value_and_grad(actor_loss, has_aux=True)(
            actor_params, critic_params, alpha, batch.obs, actor_key
        )
        step_updates, actor_os = actor_opt.update(grads, actor_os, actor_params)
        actor_params = optax.apply_updates(actor_params, step_updates)
        t_loss, grad = jax.value_and_grad(alpha_loss)(log_alpha, log_prob, target_entropy)
        if config.autotune:
            step_updates, alpha_os = alpha_opt.update(grad, alpha_os, log_alpha)
            log_alpha = optax.apply_updates(log_alpha, step_updates)
        target_params = _replay.polyak(critic_params, target_params, config.tau)
        carry = (actor_params, critic_params, target_params, log_alpha, actor_os, critic_os,
                 alpha_os, buffer_state)  # fmt: skip
        metrics = {"critic_loss": c_loss, "actor_loss": a_loss, "alpha_loss": t_loss,
                   "q_mean": q_mean, "entropy": -jnp.mean(log_prob)}  # fmt: skip
        return carry, metrics

    metric_names = ("critic_loss", "actor_loss", "alpha_loss", "q_mean", "entropy")
    zero_metrics = {name: jnp.zeros((), jnp.float32) for name in metric_names}

    def step(state: SACState):
        key, act_key, update_key = jax.random.split(state.key, 3)
        warm_up = state.step * num_envs < sizes["learning_starts"]
        rollout, transition = rollout_step(
            state.rollout, act_key, env=env, policy_fn=policy,
            params=(state.actor_params, warm_up, state.normalizer),
        )  # fmt: skip
        normalizer = state.normalizer
        if normalizer is not None:  # The B raw observations just acted from.
            normalizer = normalizer._replace(
                obs=normalization.update_moments(normalizer.obs, transition.obs)
            )
        # Store what the environment received (inside the bounds) and flat raw observations.
        action = jnp.reshape(transition.action, (num_envs, action_dim))
        transition = transition._replace(
            obs=flatten_observation(transition.obs, 1),
            next_obs=flatten_observation(transition.next_obs, 1),
        )
        buffer_state = buffer.add(state.buffer, _replay.items(transition, action))
        env_steps = (state.step + 1) * num_envs
        learn_now = jnp.logical_and(
            env_steps >= sizes["learning_starts"], buffer.can_sample(buffer_state)
        )
        carry = (state.actor_params, state.critic_params, state.target_critic_params,
                 state.log_alpha, state.actor_opt_state, state.critic_opt_state,
                 state.alpha_opt_state, buffer_state)  # fmt: skip

        def learn(carry):
            keys = jax.random.split(update_key, sizes["updates_per_step"])
            carry, metrics = jax.lax.scan(functools.partial(update, normalizer), carry, keys)
            return carry, jax.tree.map(jnp.mean, metrics)

        carry, metrics = jax.lax.cond(learn_now, learn, lambda c: (c, zero_metrics), carry)
        (actor_params, critic_params, target_params, log_alpha, actor_os, critic_os, alpha_os,
         buffer_state) = carry  # fmt: skip
        metrics = {
            **metrics,
            **_replay.episode_metrics(rollout.episodes),
            "alpha": jnp.exp(log_alpha),
            "env_steps": env_steps,
        }
        new_state = SACState(
            actor_params, critic_params, target_params, log_alpha, actor_os, critic_os,
            alpha_os, rollout, buffer_state, key, state.step + 1, normalizer,
        )  # fmt: skip
        return new_state, metrics

    evaluate = None
    if config.eval_episodes > 0:

        def evaluate(state: SACState) -> dict[str, jax.Array]:
            # The key is folded off the state's (training is not perturbed), as _replay's.
            out = evaluate_policy(
                actor, state.actor_params, jax.random.fold_in(state.key, _EVAL_SALT),
                state.normalizer, env=eval_env, num_episodes=config.eval_episodes,
                max_steps=config.eval_max_steps, deterministic=True,
            )  # fmt: skip
            return evaluation_metrics(out)

    return OffPolicyTrainer(
        init=init,
        step=step,
        num_steps=sizes["total_timesteps"] // num_envs,
        evaluate=evaluate,
        env=env,
        model=actor,
        config=config,
    )
