"""Trust region policy optimisation (TRPO), end to end in JAX.

Schulman, Levine, Moritz, Jordan, Abbeel. "Trust Region Policy Optimization", arXiv 1502.05477
(the practical algorithm of its section 6 and appendix C); advantages by GAE (arXiv 1506.02438).

Each update, on the whole rollout of ``N = num_envs · num_steps`` samples:

1. ``g = ∇ L(θ)`` of the surrogate loss ``L(θ) = −mean(π_θ(a|s) / π_old(a|s) · Â)``;
2. ``s ≈ −(F + c I)⁻¹ g`` by ``cg_iters`` conjugate-gradient iterations, where ``F v`` is the
   Fisher-vector product: the Hessian of the mean KL(π_old ‖ π_θ) at θ_old times ``v``
   (forward-over-reverse: ``jvp`` of ``grad``), damped by ``c = cg_damping``;
3. the maximal step ``β s`` with ``½ β² sᵀ(F + cI)s = max_kl``;
4. a backtracking line search over ``β s · decay^i`` (i = 0 … line_search_steps − 1) that takes
   the first step whose mean KL on the batch is ``≤ max_kl`` and whose surrogate loss improves
   on ``L(θ_old)``, or no step at all.

The critic is fitted separately with ``update_epochs`` x ``num_minibatches`` Adam steps on the
value loss (``on_policy.critic_update``). The optimizer is ``optax.partition`` over the actor and
the critic (``on_policy.separate_optimizer``): the critic's Adam and, for the actor, whose step is
the line search above rather than a gradient transform, ``optax.set_to_zero()``. The actor and
the critic must not share a torso::

    train = trpo.make_train(trpo.default_config(), envs.make("gymnax/CartPole-v1"))
    out = jax.jit(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 4))
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax
from jumanji.env import Environment

from jaxml.models.actor_critic import ActorCritic
from jaxml.rl import losses, on_policy
from jaxml.rl._cg import conjugate_gradient
from jaxml.rl.on_policy import (
    Batch,
    Metrics,
    OnPolicyTrainer,
    Sizes,
    TrainOutput,
)


def default_config() -> ml_collections.ConfigDict:
    """TRPO on CartPole-v1: 8 envs x 128 steps (1024 samples per step), max KL 0.01.

    Fields of ``on_policy.base_config`` (the critic's optimizer reads ``learning_rate``,
    ``optimizer``, ``anneal_lr``, ``max_grad_norm``, ``update_epochs``, ``num_minibatches``) plus
    ``max_kl`` (δ), ``cg_iters``, ``cg_damping``, ``line_search_steps``, ``line_search_decay``
    and ``normalize_advantages`` (over the whole batch).
    """
    config = on_policy.base_config()
    config.update(
        num_envs=8, num_steps=128, update_epochs=5, num_minibatches=4, learning_rate=1e-3,
        anneal_lr=False, gae_lambda=0.95,
    )  # fmt: skip
    config.max_kl = 0.01
    config.cg_iters = 10
    config.cg_damping = 0.1
    config.line_search_steps = 10
    config.line_search_decay = 0.5
    config.normalize_advantages = True
    return config


def check_config(config: ml_collections.ConfigDict) -> Sizes:
    """Checks TRPO's fields and the shared ones; returns the sizes.

    Raises:
      ValueError: naming the config field that is missing or out of range.
    """
    on_policy.require_fields(
        config,
        ("max_kl", "cg_iters", "cg_damping", "line_search_steps", "line_search_decay"),
        "trpo",
    )
    if not config.max_kl > 0:
        raise ValueError(f"config.max_kl: expected > 0, got {config.max_kl!r}")
    if not config.cg_damping >= 0:
        raise ValueError(f"config.cg_damping: expected >= 0, got {config.cg_damping!r}")
    if not 0 < config.line_search_decay < 1:
        raise ValueError(
            "config.line_search_decay: expected a value in (0, 1), "
            f"got {config.line_search_decay!r}"
        )
    on_policy.positive_int_field(config, "cg_iters")
    on_policy.positive_int_field(config, "line_search_steps")
    on_policy.check_separate_networks(config)
    return on_policy.derive_sizes(config)


def surrogate_loss(
    actor: Any, params: Any, flat: Batch, advantages: jax.Array, *, model: ActorCritic
) -> jax.Array:
    """``−mean(exp(log π_θ(a|s) − log π_old(a|s)) · Â)`` with the actor's parameters ``actor``."""
    t = flat.transitions
    policy, _ = on_policy.forward(model, on_policy.with_subtree(params, "actor", actor), t.obs, 1)
    ratio = jnp.exp(policy.log_prob(t.action) - t.log_prob)
    return -jnp.mean(ratio * jax.lax.stop_gradient(advantages))


def fisher_vector_product(
    kl_fn: Callable[[Any], jax.Array], actor: Any, damping: float
) -> Callable[[Any], Any]:
    """``v -> (∇² kl_fn(actor)) v + damping · v``: the damped Fisher-vector product.

    At ``actor = θ_old`` the Hessian of the mean KL(π_old ‖ π_θ) is the Fisher information
    matrix; forward-over-reverse differentiation gives its product with ``v`` without forming it.
    """
    grad_kl = jax.grad(kl_fn)

    def matvec(v):
        hv = jax.jvp(grad_kl, (actor,), (v,))[1]
        return jax.tree.map(lambda h, x: h + damping * x, hv, v)

    return matvec


class LineSearch(NamedTuple):
    params: Any  # The accepted parameters (the old ones when no step was accepted).
    accepted: jax.Array  # [] bool.
    fraction: jax.Array  # [] float32: the accepted multiple of the full step (0 when none).
    kl: jax.Array  # [] float32: the KL of the accepted step (0 when none).
    loss: jax.Array  # [] float32: the loss at the accepted parameters.


def backtracking_line_search(
    loss_fn: Callable[[Any], jax.Array] | None,
    kl_fn: Callable[[Any], jax.Array],
    params: Any,
    full_step: Any,
    *,
    max_kl: float,
    steps: int,
    decay: float,
) -> LineSearch:
    """The first of ``params + decay^i · full_step`` (i = 0, 1, …) with ``kl_fn ≤ max_kl`` and a
    lower ``loss_fn`` than at ``params``; ``params`` itself if none qualifies. ``loss_fn=None``
    checks the KL alone (NPG-rank1's ``max_step_kl``; the reported loss is then 0).

    All ``steps`` candidates are evaluated at once (``vmap``): no data-dependent loop under jit.
    """
    if loss_fn is None:
        loss_fn = lambda p: jnp.zeros((), jnp.float32)  # noqa: E731
        improves = lambda new, old: jnp.ones_like(new, dtype=bool)  # noqa: E731
    else:
        improves = lambda new, old: new < old  # noqa: E731
    loss_old = loss_fn(params)
    fractions = decay ** jnp.arange(steps, dtype=jnp.float32)

    def evaluate(fraction):
        candidate = jax.tree.map(lambda p, s: p + fraction * s, params, full_step)
        return loss_fn(candidate), kl_fn(candidate)

    loss_new, kl_new = jax.vmap(evaluate)(fractions)
    ok = (kl_new <= max_kl) & improves(loss_new, loss_old) & jnp.isfinite(loss_new)
    first = jnp.argmax(ok)
    accepted = ok[first]
    fraction = jnp.where(accepted, fractions[first], 0.0)
    # Not p + 0·s when nothing qualifies: a non-finite full step would make that NaN.
    new_params = jax.tree.map(
        lambda p, s: jnp.where(accepted, p + fraction * s, p), params, full_step
    )
    return LineSearch(
        new_params,
        accepted,
        fraction,
        jnp.where(accepted, kl_new[first], 0.0),
        jnp.where(accepted, loss_new[first], loss_old),
    )


def actor_step(
    params: Any, flat: Batch, *, model: ActorCritic, config: ml_collections.ConfigDict
) -> tuple[Any, Metrics]:
    """TRPO's policy step on a flat batch ``[N]``; returns the new actor subtree and metrics."""
    advantages = flat.advantages
    if config.normalize_advantages:
        advantages = losses.normalize(advantages)
    obs = flat.transitions.obs
    old_policy, _ = on_policy.forward(model, params, obs, 1)
    old_policy = jax.tree.map(jax.lax.stop_gradient, old_policy)

    def kl_fn(actor):
        new, _ = on_policy.forward(model, on_policy.with_subtree(params, "actor", actor), obs, 1)
        return jnp.mean(old_policy.kl_divergence(new))

    loss_fn = functools.partial(
        surrogate_loss, params=params, flat=flat, advantages=advantages, model=model
    )
    actor = on_policy.actor_params(params)
    loss_old, grads = jax.value_and_grad(loss_fn)(actor)
    matvec = fisher_vector_product(kl_fn, actor, config.cg_damping)
    direction = conjugate_gradient(matvec, jax.tree.map(jnp.negative, grads), iters=config.cg_iters)
    # β with ½ β² sᵀ(F + cI)s = δ; the floor keeps a zero gradient from dividing by zero.
    shs = 0.5 * optax.tree.vdot(direction, matvec(direction))
    beta = jnp.sqrt(config.max_kl / jnp.maximum(shs, 1e-20))
    full_step = jax.tree.map(lambda s: beta * s, direction)
    search = backtracking_line_search(
        loss_fn, kl_fn, actor, full_step,
        max_kl=config.max_kl, steps=config.line_search_steps, decay=config.line_search_decay,
    )  # fmt: skip
    entropy = jnp.mean(old_policy.entropy())
    metrics = {
        "policy_loss": loss_old,
        "surrogate_improvement": loss_old - search.loss,
        "kl": search.kl,
        "step_accepted": search.accepted.astype(jnp.float32),
        "step_fraction": search.fraction,
        "grad_norm": optax.tree.norm(grads),
        "entropy": entropy,
    }
    return search.params, metrics


def update(
    params: Any,
    opt_state: optax.PartitionState,
    batch: Batch,
    key: jax.Array,
    *,
    model: ActorCritic,
    optimizer: optax.GradientTransformation,
    config: ml_collections.ConfigDict,
    sizes: Sizes,
) -> tuple[Any, optax.PartitionState, Metrics]:
    """One TRPO update (``on_policy.UpdateFn``): the trust-region policy step, then the critic.

    ``optimizer`` is ``make_optimizer``'s ``separate_optimizer``: its actor group is
    ``optax.set_to_zero()``, so the critic's steps leave the line search's actor in place.
    """
    actor, metrics = actor_step(params, on_policy.flat_batch(batch), model=model, config=config)
    params = on_policy.with_subtree(params, "actor", actor)
    params, opt_state, critic_metrics = on_policy.critic_update(
        params, opt_state, batch, key, model=model, optimizer=optimizer, sizes=sizes
    )
    return params, opt_state, {**metrics, **critic_metrics}


def make_optimizer(
    config: ml_collections.ConfigDict, sizes: Sizes
) -> optax.GradientTransformationExtraArgs:
    """``on_policy.separate_optimizer``: ``optax.set_to_zero()`` for the actor (its step is the
    line search) and ``on_policy.make_optimizer`` for the critic."""
    return on_policy.separate_optimizer(
        optax.set_to_zero(), on_policy.make_optimizer(config, sizes)
    )


def make_trainer(config: ml_collections.ConfigDict, env: Environment) -> OnPolicyTrainer:
    """TRPO's ``init(key)`` and ``step(state) -> (state, metrics)`` for ``env``.

    Raises:
      ValueError: naming the config field that is missing or out of range.
    """
    sizes = check_config(config)
    model = on_policy.make_model(config, env)
    optimizer = make_optimizer(config, sizes)
    update_fn = functools.partial(
        update, model=model, optimizer=optimizer, config=config, sizes=sizes
    )
    return on_policy.build_trainer(
        config, env, model=model, optimizer=optimizer, update_fn=update_fn, sizes=sizes
    )


def make_train(config: ml_collections.ConfigDict, env: Environment):
    """The pure ``train(key) -> TrainOutput`` (final state, metrics ``[num_updates]``)."""
    return on_policy.make_train(make_trainer(config, env))


__all__ = [
    "LineSearch",
    "TrainOutput",
    "actor_step",
    "backtracking_line_search",
    "check_config",
    "default_config",
    "fisher_vector_product",
    "make_optimizer",
    "make_train",
    "make_trainer",
    "surrogate_loss",
    "update",
]
