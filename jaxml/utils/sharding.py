"""Data parallelism over a 1-D ``jax.sharding.Mesh``.

The training state is replicated; the batch axis is sharded over the ``"data"`` mesh axis, and XLA
inserts the gradient all-reduce. With ``--distributed`` the mesh spans every device of every host.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxml.utils.config import ConfigError

DATA_AXIS = "data"


def make_data_mesh(enabled: bool) -> Mesh | None:
    """A mesh over all devices with one axis, ``"data"``; None when ``enabled`` is False.

    With ``--distributed`` that is every device of every process, in process order, so the
    batch of a 2-process job is split exactly as on one process with as many devices.
    """
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
    """Places every leaf of ``tree`` on all devices of ``mesh`` (a no-op without a mesh).

    Across processes each one must pass the same ``tree``; each keeps its own copy.
    """
    if mesh is None:
        return tree
    sharding = NamedSharding(mesh, PartitionSpec())
    if sharding.is_fully_addressable:
        return jax.device_put(tree, sharding)
    # A mesh over several processes: device_put refuses arrays committed to a local device, and
    # costs a cross-process equality check per leaf otherwise. Every process holds the same tree
    # (same seed, same code), so each one places its own copy on its own devices.
    return jax.tree.map(lambda x: _replicate_host_value(np.asarray(x), sharding), tree)


def _replicate_host_value(value: np.ndarray, sharding: NamedSharding) -> jax.Array:
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])


def shard_batch(batch: Any, mesh: Mesh | None) -> Any:
    """Inside jit: constrains the leading (batch) axis of every leaf to be split over ``"data"``.

    Across processes each one then computes only its devices' part of the batch.
    """
    if mesh is None:
        return batch
    sharding = NamedSharding(mesh, PartitionSpec(DATA_AXIS))
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), batch)
