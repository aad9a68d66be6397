"""Separate actor and critic updates (TRPO, NPG-rank1): a policy step, then an Adam critic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxml.models.actor_critic import ActorCritic
from jaxml.rl import losses
from jaxml.rl._collect import Batch, forward
from jaxml.rl._on_policy_config import Metrics, Sizes
from jaxml.rl._sgd import sgd_update


class ActorCriticOptState(NamedTuple):
    """Optimizer states of a trainer that updates the actor and the critic separately."""

    actor: Any  # The actor's optimizer state (an empty tuple when the actor step has none).
    critic: Any  # The critic's optimizer state (``make_optimizer``'s, on the critic subtree).


def check_separate_networks(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError unless the actor and the critic have their own parameters."""
    if config.shared_torso:
        raise ValueError(
            "config.shared_torso: must be False for trainers that update the actor and the critic "
            "with different rules (TRPO, NPG-rank1)"
        )


def actor_params(params: Any) -> Any:
    """The actor subtree ``params["params"]["actor"]`` of an unshared ``ActorCritic``."""
    return params["params"]["actor"]


def critic_params(params: Any) -> Any:
    """The critic subtree ``params["params"]["critic"]`` of an unshared ``ActorCritic``."""
    return params["params"]["critic"]


def with_subtree(params: Any, name: str, subtree: Any) -> Any:
    """``params`` with ``params["params"][name]`` replaced by ``subtree`` (a new dict)."""
    inner = dict(params["params"])
    inner[name] = subtree
    return {**params, "params": inner}


def separate_optimizer(
    actor_init: Callable[[Any], Any], critic: optax.GradientTransformation
) -> optax.GradientTransformation:
    """A transform whose ``init`` gives ``ActorCriticOptState`` for an unshared ``ActorCritic``.

    Only ``init`` is used (by ``init_state``); the trainer's ``update_fn`` steps each part itself.
    """

    def init(params):
        return ActorCriticOptState(
            actor_init(actor_params(params)), critic.init(critic_params(params))
        )

    def update(updates, state, params=None):
        raise NotImplementedError("the trainer's update_fn updates the actor and critic itself")

    return optax.GradientTransformation(init, update)


def critic_update(
    params: Any,
    critic_state: Any,
    batch: Batch,
    key: jax.Array,
    *,
    model: ActorCritic,
    optimizer: optax.GradientTransformation,
    sizes: Sizes,
) -> tuple[Any, Any, Metrics]:
    """``sgd_update`` of the critic alone on ``½ mean((v − target)²)``; the actor is untouched.

    Returns ``(params, critic_state, {"value_loss": ...})`` with the new critic inside ``params``.
    """

    def objective(critic, minibatch):
        full = with_subtree(params, "critic", critic)
        _, value = forward(model, full, minibatch.transitions.obs, 1)
        loss = losses.value_loss(value, minibatch.targets)
        return loss, {"value_loss": loss}

    critic, critic_state, metrics = sgd_update(
        critic_params(params), critic_state, batch, key,
        objective=objective, optimizer=optimizer, sizes=sizes,
    )  # fmt: skip
    metrics = {"value_loss": metrics["value_loss"]}
    return with_subtree(params, "critic", critic), critic_state, metrics


def policy_kl(model: ActorCritic, params_old: Any, params_new: Any, obs: Any) -> jax.Array:
    """``mean_s KL(π_old(·|s) ‖ π_new(·|s))`` over flat observations ``obs [N, ...]``."""
    old, _ = forward(model, params_old, obs, 1)
    new, _ = forward(model, params_new, obs, 1)
    return jnp.mean(old.kl_divergence(new))
