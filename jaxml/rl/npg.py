"""Natural policy gradient with a rank-1 inverse Fisher (NPG-rank1), end to end in JAX.

Huo, Dash, Stoican, Kaski, Sun. "Rank-1 Approximation of Inverse Fisher for Natural Policy
Gradients in Deep Reinforcement Learning", arXiv 2601.18626. Natural policy gradient: Kakade,
"A Natural Policy Gradient", NeurIPS 2001. Advantages by GAE (arXiv 1506.02438).

Each update, on the whole rollout of ``N = num_envs · num_steps`` samples, the actor takes one
step with ``jaxml.optim.rank1_natural_gradient``: the Fisher is approximated by the damped rank-1
matrix ``F̂ = λ I + v vᵀ`` and, by Sherman–Morrison,

    θ ← θ − α F̂⁻¹ ∇L,   F̂⁻¹ ∇L = (∇L − v (vᵀ∇L) / (λ + vᵀv)) / λ,

where ``L(θ) = −mean(log π_θ(a|s) · Â) − ent_coef · mean entropy`` is minus the policy-gradient
objective J (optax minimises, so ``−∇L = ĝ_J`` is the policy gradient) and ``v`` is, by
``config.fisher_vector``:

- ``"single_sample"`` (default, the paper's one-sample empirical Fisher): the score
  ``∇ log π_θ(a_i|s_i)`` of one pair ``i`` drawn uniformly from the batch;
- ``"batch_mean_score"``: the mean score ``mean_i ∇ log π_θ(a_i|s_i)`` over the batch.

With ``kl_radius = δ`` the step is rescaled to ``α · sqrt(2δ / ∇Lᵀ F̂⁻¹ ∇L) · F̂⁻¹ ∇L`` (the
quadratic KL under F̂ is ``α² δ``; use ``actor_learning_rate = 1``). With ``max_step_kl = ε``
the step is also backtracked (``trpo.backtracking_line_search`` without its loss test: halved
up to ``line_search_steps − 1`` times, or not taken) until the measured mean KL(π_old ‖ π_new)
on the batch is ≤ ε. That is not the paper's algorithm: on brax hopper with brax's network
(a state-dependent std) single rank-1 steps measured KL 37 and 1.3e6 and collapsed the std
to its floor (experiments/npg/README.md); the rank-1 F̂ cannot see it, the measured KL does.
The paper leaves the sample, the step size rule and the critic's optimiser open (notes in
shared/papers/rank1_npg.md); the critic here takes ``update_epochs`` x ``num_minibatches`` Adam
steps on the value loss. Both are groups of one ``optax.partition``
(``on_policy.separate_optimizer``), each stepped alone (``_separate.separate_part``)::

    train = npg.make_train(npg.default_config(), envs.make("gymnax/CartPole-v1"))
    out = jax.jit(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 4))
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax
from jumanji.env import Environment

from jaxml.models.actor_critic import ActorCritic
from jaxml.optim import rank1_natural_gradient
from jaxml.rl import losses, on_policy, trpo
from jaxml.rl.on_policy import (
    Batch,
    Metrics,
    OnPolicyTrainer,
    Sizes,
    TrainOutput,
)

FISHER_VECTORS = ("single_sample", "batch_mean_score")


def default_config() -> ml_collections.ConfigDict:
    """NPG-rank1 on CartPole-v1: 8 envs x 64 steps, λ = 0.1, α = 0.01, Adam critic.

    Fields of ``on_policy.base_config`` (the critic's optimizer reads ``learning_rate``,
    ``optimizer``, ``anneal_lr``, ``max_grad_norm``, ``update_epochs``, ``num_minibatches``) plus
    ``actor_learning_rate`` (α, linearly annealed to 0 with ``anneal_lr``), ``damping`` (λ),
    ``kl_radius`` (δ or None), ``fisher_vector`` (one of ``FISHER_VECTORS``), ``ent_coef``,
    ``normalize_advantages`` (over the whole batch) and ``max_step_kl`` (ε or None) with
    ``line_search_steps``, ``line_search_decay`` (the guard's backtracking).
    """
    config = on_policy.base_config()
    config.update(
        num_envs=8, num_steps=64, update_epochs=4, num_minibatches=4, learning_rate=1e-3,
        anneal_lr=False, gae_lambda=0.95,
    )  # fmt: skip
    config.actor_learning_rate = 0.01
    config.damping = 0.1
    config.kl_radius = ml_collections.FieldReference(None, field_type=float)
    config.fisher_vector = "single_sample"
    config.ent_coef = 0.0
    config.normalize_advantages = True
    # A guard on the measured KL of each step (None: the paper's step, unguarded).
    config.max_step_kl = ml_collections.FieldReference(None, field_type=float)
    config.line_search_steps = 10
    config.line_search_decay = 0.5
    return config


def check_config(config: ml_collections.ConfigDict) -> Sizes:
    """Checks NPG-rank1's fields and the shared ones; returns the sizes.

    Raises:
      ValueError: naming the config field that is missing or out of range.
    """
    on_policy.require_fields(
        config, ("actor_learning_rate", "damping", "kl_radius", "fisher_vector", "ent_coef"), "npg"
    )
    for field in ("actor_learning_rate", "damping"):
        if not config[field] > 0:
            raise ValueError(f"config.{field}: expected > 0, got {config[field]!r}")
    for field in ("kl_radius", "max_step_kl"):
        value = config.get(field)
        if value is not None and not value > 0:
            raise ValueError(f"config.{field}: expected > 0 or None, got {value!r}")
    if config.get("max_step_kl") is not None:
        on_policy.positive_int_field(config, "line_search_steps")
        if not 0 < config.line_search_decay < 1:
            raise ValueError(
                "config.line_search_decay: expected a value in (0, 1), "
                f"got {config.line_search_decay!r}"
            )
    if config.fisher_vector not in FISHER_VECTORS:
        raise ValueError(
            f"config.fisher_vector: got {config.fisher_vector!r}; accepted: {FISHER_VECTORS}"
        )
    if not config.ent_coef >= 0:
        raise ValueError(f"config.ent_coef: expected >= 0, got {config.ent_coef!r}")
    on_policy.check_separate_networks(config)
    return on_policy.derive_sizes(config)


def make_actor_optimizer(
    config: ml_collections.ConfigDict, sizes: Sizes
) -> optax.GradientTransformationExtraArgs:
    """``rank1_natural_gradient`` with α linearly annealed over the updates when ``anneal_lr``."""
    learning_rate = config.actor_learning_rate
    if config.anneal_lr:

        def learning_rate(count):
            return config.actor_learning_rate * (1.0 - count / sizes.num_updates)

    return rank1_natural_gradient(learning_rate, damping=config.damping, kl_radius=config.kl_radius)


def policy_loss(
    params: Any,
    flat: Batch,
    advantages: jax.Array,
    *,
    model: ActorCritic,
    ent_coef: float,
) -> tuple[jax.Array, Metrics]:
    """``L = −mean(log π(a|s) · Â) − ent_coef · mean entropy`` (``−J``); its gradient in the
    critic's parameters is zero."""
    t = flat.transitions
    policy, _ = on_policy.forward(model, params, t.obs, 1)
    pg_loss = -jnp.mean(policy.log_prob(t.action) * jax.lax.stop_gradient(advantages))
    entropy = jnp.mean(policy.entropy())
    return pg_loss - ent_coef * entropy, {"policy_loss": pg_loss, "entropy": entropy}


def log_prob_fn(params: Any, obs: Any, action: jax.Array, *, model: ActorCritic):
    """``log π(a|s)`` of one unbatched pair."""
    batched = jax.tree.map(lambda x: x[None], (obs, action))
    policy, _ = on_policy.forward(model, params, batched[0], 1)
    return policy.log_prob(batched[1])[0]


def fisher_vector(
    params: Any, flat: Batch, key: jax.Array, *, model: ActorCritic, kind: str
) -> tuple[Any, jax.Array]:
    """``(v, index)``: the score of one uniformly drawn pair ``index`` (``"single_sample"``), or
    the mean score over the batch (``"batch_mean_score"``, index −1). ``v`` is shaped like
    ``params``, zero in the critic (``separate_optimizer`` masks it to the actor)."""
    t = flat.transitions
    score = jax.grad(functools.partial(log_prob_fn, model=model))
    if kind == "single_sample":
        n = flat.advantages.shape[0]
        index = jax.random.randint(key, (), 0, n)
        pick = lambda x: x[index]  # noqa: E731
        return score(params, jax.tree.map(pick, t.obs), pick(t.action)), index

    def mean_log_prob(params):
        policy, _ = on_policy.forward(model, params, t.obs, 1)
        return jnp.mean(policy.log_prob(t.action))

    return jax.grad(mean_log_prob)(params), jnp.asarray(-1, jnp.int32)


def actor_step(
    params: Any,
    opt_state: optax.PartitionState,
    flat: Batch,
    key: jax.Array,
    *,
    model: ActorCritic,
    optimizer: optax.GradientTransformationExtraArgs,
    config: ml_collections.ConfigDict,
) -> tuple[Any, optax.PartitionState, Metrics]:
    """One rank-1 natural-gradient step of the actor on a flat batch ``[N]``.

    ``optimizer`` is ``make_optimizers``' actor part (the critic stays where it is). Returns
    ``(params, opt_state, metrics)``; ``metrics["fisher_index"]`` is the sampled pair.
    """
    advantages = flat.advantages
    if config.normalize_advantages:
        advantages = losses.normalize(advantages)
    loss_fn = functools.partial(
        policy_loss, flat=flat, advantages=advantages, model=model, ent_coef=config.ent_coef
    )
    (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    v, index = fisher_vector(params, flat, key, model=model, kind=config.fisher_vector)
    updates, opt_state = optimizer.update(grads, opt_state, params, fisher_vector=v)
    step_norm, extra = optax.tree.norm(updates), {}
    if config.get("max_step_kl") is None:
        new_params = optax.apply_updates(params, updates)
    else:
        obs = flat.transitions.obs

        def kl_fn(actor):
            new = on_policy.with_subtree(params, "actor", actor)
            return on_policy.policy_kl(model, params, new, obs)

        # The critic's part of ``updates`` is zero (the partition masks it): the actor's is all.
        search = trpo.backtracking_line_search(
            None, kl_fn, on_policy.actor_params(params), on_policy.actor_params(updates),
            max_kl=config.max_step_kl, steps=config.line_search_steps,
            decay=config.line_search_decay,
        )  # fmt: skip
        new_params = on_policy.with_subtree(params, "actor", search.params)
        step_norm = search.fraction * step_norm
        extra = {"step_fraction": search.fraction}
    kl = on_policy.policy_kl(model, params, new_params, flat.transitions.obs)
    metrics = {
        **metrics,
        "kl": kl,
        "grad_norm": optax.tree.norm(grads),
        "step_norm": step_norm,
        "fisher_index": index.astype(jnp.float32),
        **extra,
    }
    return new_params, opt_state, metrics


def update(
    params: Any,
    opt_state: optax.PartitionState,
    batch: Batch,
    key: jax.Array,
    *,
    model: ActorCritic,
    actor_part: optax.GradientTransformationExtraArgs,
    critic_part: optax.GradientTransformationExtraArgs,
    config: ml_collections.ConfigDict,
    sizes: Sizes,
) -> tuple[Any, optax.PartitionState, Metrics]:
    """One NPG-rank1 update (``on_policy.UpdateFn``): the actor step, then the Adam critic.

    ``actor_part`` and ``critic_part`` are ``make_optimizers``' groups, each stepping its own
    inner state of ``opt_state``.
    """
    key_actor, key_critic = jax.random.split(key)
    params, opt_state, metrics = actor_step(
        params, opt_state, on_policy.flat_batch(batch), key_actor,
        model=model, optimizer=actor_part, config=config,
    )  # fmt: skip
    params, opt_state, critic_metrics = on_policy.critic_update(
        params, opt_state, batch, key_critic, model=model, optimizer=critic_part, sizes=sizes
    )
    return params, opt_state, {**metrics, **critic_metrics}


def make_optimizers(
    config: ml_collections.ConfigDict, sizes: Sizes
) -> tuple[optax.GradientTransformationExtraArgs, ...]:
    """``(optimizer, actor_part, critic_part)``: ``on_policy.separate_optimizer`` of
    ``make_actor_optimizer`` and ``on_policy.make_optimizer`` (whose ``init`` gives the state),
    and its two groups, each stepped alone (``_separate.separate_part``)."""
    actor, critic = make_actor_optimizer(config, sizes), on_policy.make_optimizer(config, sizes)
    return (
        on_policy.separate_optimizer(actor, critic),
        on_policy.separate_part(actor, critic, "actor"),
        on_policy.separate_part(actor, critic, "critic"),
    )


def make_trainer(config: ml_collections.ConfigDict, env: Environment) -> OnPolicyTrainer:
    """NPG-rank1's ``init(key)`` and ``step(state) -> (state, metrics)`` for ``env``.

    Raises:
      ValueError: naming the config field that is missing or out of range.
    """
    sizes = check_config(config)
    model = on_policy.make_model(config, env)
    optimizer, actor_part, critic_part = make_optimizers(config, sizes)
    update_fn = functools.partial(
        update, model=model, actor_part=actor_part, critic_part=critic_part,
        config=config, sizes=sizes,
    )  # fmt: skip
    return on_policy.build_trainer(
        config, env, model=model, optimizer=optimizer, update_fn=update_fn, sizes=sizes
    )


def make_train(config: ml_collections.ConfigDict, env: Environment):
    """The pure ``train(key) -> TrainOutput`` (final state, metrics ``[num_updates]``)."""
    return on_policy.make_train(make_trainer(config, env))


__all__ = [
    "FISHER_VECTORS",
    "TrainOutput",
    "actor_step",
    "check_config",
    "default_config",
    "fisher_vector",
    "make_actor_optimizer",
    "make_optimizers",
    "make_train",
    "make_trainer",
    "policy_loss",
    "update",
]
