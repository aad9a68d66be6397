"""Data parallelism over a 1-D ``jax.sharding.Mesh``.

The training state is replicated; the batch axis is sharded over the ``"data"`` mesh axis, and XLA
inserts the gradient all-reduce. With ``--distributed`` the mesh spans every device of every host.
"""

from __future__ import annotations

from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxml.utils.config import ConfigError

DATA_AXIS = "data"


def make_data_mesh(enabled: bool) -> Mesh | None:
    """A mesh over all devices with one axis, ``"data"``; None when ``enabled`` is False."""
    if not enabled:
        return None
    # Auto axes: XLA propagates the batch sharding and inserts the gradient all-reduce itself.
    return jax.make_mesh(
        (jax.device_count(),), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,)
    )


def check_batch_divisible(batch_size: int, mesh: Mesh | None, flag: str) -> None:
    """Raises ConfigError naming ``flag`` unless the batch splits evenly over the mesh."""
    if mesh is not None and batch_size % mesh.size:
        raise ConfigError(f"{flag}={batch_size}: must be divisible by the {mesh.size} mesh devices")


def replicate(tree: Any, mesh: Mesh | None) -> Any:
    """Places every leaf of ``tree`` on all devices of ``mesh`` (a no-op without a mesh)."""
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(batch: Any, mesh: Mesh | None) -> Any:
    """Inside jit: constrains the leading (batch) axis of every leaf to be split over ``"data"``."""
    if mesh is None:
        return batch
    sharding = NamedSharding(mesh, PartitionSpec(DATA_AXIS))
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), batch)
