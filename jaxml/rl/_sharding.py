"""How an on-policy trainer's state lays out over a device mesh (its ``Trainer.partition``).

The rollout's leaves lead with the environment axis ``[B, ...]``: each device steps its share of
the environments, so they split over ``"data"``; the parameters, optimizer state and key are
replicated, and XLA all-reduces the gradients. The normaliser's moments are shared by all
environments (replicated); its per-environment discounted returns split like the rest.
"""

from __future__ import annotations

from typing import Any

from jax.sharding import Mesh

from jaxml.utils.trainer import replicated, split_leading_axis


def rollout_partition(state: Any, mesh: Mesh) -> Any:
    """``PartitionSpec``s of one member's ``on_policy.TrainState`` (``Trainer.partition``).

    Raises:
      ValueError: naming ``num_envs`` when the environments do not split evenly over the mesh.
    """
    rollout = state.rollout
    normalizer = rollout.normalizer
    split = split_leading_axis(rollout._replace(normalizer=None), mesh, name="num_envs")
    if normalizer is not None:
        returns = normalizer.discounted_return
        normalizer = replicated(normalizer._replace(discounted_return=None), mesh)
        if returns is not None:
            returns = split_leading_axis(returns, mesh, name="num_envs")
            normalizer = normalizer._replace(discounted_return=returns)
    return replicated(state, mesh)._replace(rollout=split._replace(normalizer=normalizer))
