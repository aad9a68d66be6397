"""Separate actor and critic updates (TRPO, NPG-rank1): a policy step, then an Adam critic.

The optimizer is ``optax.partition`` (``multi_transform``) over the labels ``"actor"`` and
``"critic"`` of an unshared ``ActorCritic`` (``actor_critic_labels``), so both groups' states live
in one ``optax.PartitionState``. The groups step at different times (one policy step, then
``update_epochs`` x ``num_minibatches`` critic steps), which ``separate_part`` allows.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxml.models.actor_critic import ActorCritic
from jaxml.rl import losses
from jaxml.rl._collect import Batch, forward
from jaxml.rl._on_policy_config import Metrics, Sizes
from jaxml.rl._sgd import sgd_update
from jaxml.utils.partition import partition_labels, partition_part, under

# separate_optimizer's state is an optax.PartitionState: inner_states["actor"] and
# inner_states["critic"], each an optax.MaskedState over the whole parameter tree (the other
# group's leaves are MaskedNodes).
ACTOR_CRITIC_RULES = {"actor": under("params", "actor"), "critic": under("params", "critic")}


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


def actor_critic_labels(params: Any) -> Any:
    """``"actor"`` / ``"critic"`` for each leaf of an unshared ``ActorCritic``'s parameters.

    Raises:
      ValueError: a leaf outside ``params["params"]["actor" | "critic"]``.
    """
    return partition_labels(params, ACTOR_CRITIC_RULES)


def separate_optimizer(
    actor: optax.GradientTransformation, critic: optax.GradientTransformation
) -> optax.GradientTransformationExtraArgs:
    """``optax.partition({"actor": actor, "critic": critic}, actor_critic_labels)``.

    Extra args shaped like the parameters (NPG's ``fisher_vector``) are masked to each group;
    others (Sophia's ``obj_fn``) reach both transforms as they are.
    """
    return optax.partition(
        {"actor": actor, "critic": critic}, actor_critic_labels, mask_compatible_extra_args=True
    )


def separate_part(
    actor: optax.GradientTransformation, critic: optax.GradientTransformation, label: str
) -> optax.GradientTransformationExtraArgs:
    """Group ``label`` (``"actor"`` or ``"critic"``) of ``separate_optimizer(actor, critic)``
    stepped alone on its state (``partition_part``): the other group is frozen."""
    return partition_part(
        {"actor": actor, "critic": critic}, actor_critic_labels, label,
        mask_compatible_extra_args=True,
    )  # fmt: skip


def critic_update(
    params: Any,
    opt_state: Any,
    batch: Batch,
    key: jax.Array,
    *,
    model: ActorCritic,
    optimizer: optax.GradientTransformation,
    sizes: Sizes,
) -> tuple[Any, Any, Metrics]:
    """``sgd_update`` of the critic on ``½ mean((v − target)²)``; the actor is untouched.

    ``optimizer`` steps the whole tree and must leave the actor where it is: ``separate_part``'s
    critic, or ``separate_optimizer`` with ``optax.set_to_zero()`` for the actor (TRPO).
    Returns ``(params, opt_state, {"value_loss": ...})``.
    """

    def objective(p, minibatch):
        # Only p's critic is read, so the actor's gradient is zero; and the objective also takes
        # the masked tree an optimizer group sees as params (Sophia's obj_fn), whose actor
        # leaves are MaskedNodes.
        full = with_subtree(params, "critic", critic_params(p))
        _, value = forward(model, full, minibatch.transitions.obs, 1)
        loss = losses.value_loss(value, minibatch.targets)
        return loss, {"value_loss": loss}

    params, opt_state, metrics = sgd_update(
        params, opt_state, batch, key, objective=objective, optimizer=optimizer, sizes=sizes
    )
    return params, opt_state, {"value_loss": metrics["value_loss"]}


def policy_kl(model: ActorCritic, params_old: Any, params_new: Any, obs: Any) -> jax.Array:
    """``mean_s KL(π_old(·|s) ‖ π_new(·|s))`` over flat observations ``obs [N, ...]``."""
    old, _ = forward(model, params_old, obs, 1)
    new, _ = forward(model, params_new, obs, 1)
    return jnp.mean(old.kl_divergence(new))
