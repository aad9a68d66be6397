"""Parameter partitions: labels from path predicates, for ``optax.partition``.

One mechanism for every split of a parameter tree into groups with their own update rules: an
unshared actor-critic's ``"actor"`` and ``"critic"`` (TRPO, NPG-rank1), a frozen backbone and
trained adapters (LoRA, Hu et al. arXiv 2106.09685), weights and biases. ``partition_labels``
names each leaf's group from its path; ``optax.partition(transforms, labels)`` (the current name
of ``optax.multi_transform``) applies ``transforms[label]`` to each group, and
``optax.set_to_zero()`` freezes one::

    labels = partition_labels(params, {"adapter": lambda path: "lora" in path}, default="frozen")
    optimizer = optax.partition({"adapter": optax.adam(1e-3), "frozen": optax.set_to_zero()},
                                labels)

``partition_part`` steps one group alone on the same state, for trainers whose groups update at
different times (NPG's one actor step and many critic steps per rollout).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

Path = tuple[
    str, ...
]  # A leaf's keys from the root, e.g. ("params", "actor", "Dense_0", "kernel").
Predicate = Callable[[Path], bool]


def _key_name(entry: Any) -> str:
    if isinstance(entry, jax.tree_util.DictKey):
        return str(entry.key)
    if isinstance(entry, jax.tree_util.GetAttrKey):
        return entry.name
    if isinstance(entry, jax.tree_util.SequenceKey):
        return str(entry.idx)
    if isinstance(entry, jax.tree_util.FlattenedIndexKey):
        return str(entry.key)
    return str(entry)


def path_names(path: tuple[Any, ...]) -> Path:
    """A ``jax.tree_util`` key path as strings: dict keys, attribute names, sequence indices."""
    return tuple(_key_name(entry) for entry in path)


def under(*prefix: str) -> Predicate:
    """The predicate "the path starts with ``prefix``" (e.g. ``under("params", "actor")``)."""
    return lambda path: path[: len(prefix)] == prefix


def partition_labels(
    params: Any, rules: Mapping[str, Predicate], default: str | None = None
) -> Any:
    """A tree shaped like ``params`` of labels: each leaf gets the first label (in ``rules``'
    order) whose predicate holds on its ``path_names``, or ``default``.

    Raises:
      ValueError: naming the first leaf that no rule matches when ``default`` is None.
    """

    def label(path, _):
        names = path_names(path)
        for name, predicate in rules.items():
            if predicate(names):
                return name
        if default is None:
            raise ValueError(
                f"rules: expected a rule matching every leaf, got none for {'/'.join(names)}"
            )
        return default

    return jax.tree_util.tree_map_with_path(label, params)


def partition_part(
    transforms: Mapping[Hashable, optax.GradientTransformation],
    param_labels: Any,
    label: Hashable,
    *,
    mask_compatible_extra_args: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Group ``label`` of ``optax.partition(transforms, param_labels, ...)``, stepped alone.

    ``init`` is the partition's. ``update`` runs ``transforms[label]`` on that group's leaves and
    its own inner state; every other leaf gets a zero update and the other groups' states are
    kept as they are. They are frozen for this step, not stepped with a zero gradient, which
    would still move e.g. Adam's moments and a schedule's count.

    Raises:
      ValueError: ``label`` is not a key of ``transforms``.
    """
    if label not in transforms:
        raise ValueError(f"label: expected one of {list(transforms)}, got {label!r}")
    whole = optax.partition(
        transforms, param_labels, mask_compatible_extra_args=mask_compatible_extra_args
    )

    def update_fn(updates, state, params=None, **extra_args):
        labels = param_labels(updates) if callable(param_labels) else param_labels
        mask = jax.tree.map(lambda group: group == label, labels)
        # The same masked inner transform as optax.partition's, so the state is the same.
        part = optax.masked(
            transforms[label], mask, mask_compatible_extra_args=mask_compatible_extra_args
        )
        new_updates, inner = part.update(updates, state.inner_states[label], params, **extra_args)
        # The mask may be a prefix of the tree: zero whole subtrees of other groups.
        new_updates = jax.tree.map(
            lambda keep, u: u if keep else jax.tree.map(jnp.zeros_like, u), mask, new_updates
        )
        return new_updates, optax.PartitionState({**state.inner_states, label: inner})

    return optax.GradientTransformationExtraArgs(whole.init, update_fn)


__all__ = ["Path", "Predicate", "partition_labels", "partition_part", "path_names", "under"]
