"""Agent-stacked parameters: one network per agent (or population member), stacked on axis 0.

jaxml's single mechanism for parameters that differ per agent. A stacked tree is an ordinary
parameter pytree whose leaves carry a leading axis ``[N, ...]`` (agents of a team, or members of
a population); member ``i``'s network is ``take(tree, i)``. Shared, independent and low-rank
adapted policies differ only in which leaves carry that axis (``jaxml.models.lora`` stores its
adapters ``[N, r, in]`` the same way). Two equivalent ways to apply a stacked network:

- inside a flax module, ``agent_vmap(Module)`` lifts a module with ``nn.vmap`` over axis 0 of its
  inputs and of its ``"params"`` (``variable_axes={"params": 0}``): ``init`` creates ``[N, ...]``
  leaves (independent draws, or one draw broadcast with ``identical_init=True``), ``apply`` runs
  member ``i``'s parameters on input row ``i``. ``AgentActorCritic`` uses it for its
  ``"independent"`` actor (NPS) and critic;
- on plain pytrees, ``stacked_init`` / ``stacked_apply`` do the same with ``jax.vmap`` around any
  ``init``/``apply`` function (a whole network per member). A population ``[N, ...]`` plays in
  pairs by gathering each pair into a ``[2, ...]`` agent stack (``take(population, pair)``),
  applying it exactly as a two-agent independent team, and writing the pair's new parameters
  back (``put``); ``tests/models/test_lora.py`` checks that both routes give the same outputs.

Inputs follow jaxml's multi-agent layout (agent axis after the batch axes, ``[*b, A, ...]``);
``to_agent_major`` / ``from_agent_major`` move that axis to the front and back, since ``nn.vmap``
and ``jax.vmap`` map over a fixed leading axis. The per-agent recipe (vmap the parameters' init,
the optimizer, act and update) is the one the Mava maintainers give for independent learners
(instadeepai/Mava #1159); LoRASA (Zhang, Kapoor, Sun, arXiv 2502.05573) compares it (NPS) with
shared parameters and per-agent adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def agent_vmap(module_cls: type[nn.Module], *, identical_init: bool = False) -> type[nn.Module]:
    """``module_cls`` lifted over a leading member axis of its inputs, outputs and parameters.

    Every positional input and every output of the lifted module has the member axis first
    (``None`` inputs, e.g. a feed-forward network's carry, pass through). Its parameters are
    ``[N, ...]``; ``identical_init`` gives every member the same initial draw (so an
    independent team starts as one shared network), otherwise each member draws its own.
    """
    return nn.vmap(
        module_cls,
        in_axes=0,
        out_axes=0,
        variable_axes={"params": 0},
        split_rngs={"params": not identical_init},
    )


def to_agent_major(tree: Any, agent_axis: int) -> Any:
    """Every leaf with its axis ``agent_axis`` (e.g. ``-2`` for ``[*b, A, D]``) moved to 0."""
    return jax.tree.map(lambda x: jnp.moveaxis(x, agent_axis, 0), tree)


def from_agent_major(tree: Any, agent_axis: int) -> Any:
    """Inverse of ``to_agent_major``: axis 0 of every leaf moved to ``agent_axis``."""
    return jax.tree.map(lambda x: jnp.moveaxis(x, 0, agent_axis), tree)


def stacked_init(
    init_fn: Callable[..., Any], key: jax.Array, num: int, *args, identical_init: bool = False
) -> Any:
    """``num`` members' parameters ``[num, ...]`` from ``init_fn(key, *args)``.

    ``args`` are one member's example inputs; ``identical_init`` broadcasts one draw.
    """
    if identical_init:
        return broadcast(init_fn(key, *args), num)
    return jax.vmap(lambda k: init_fn(k, *args))(jax.random.split(key, num))


def stacked_apply(apply_fn: Callable[..., Any], params: Any, *args: Any) -> Any:
    """``apply_fn(params[i], *(a[i] for a in args))`` for every member ``i``, stacked on axis 0."""
    return jax.vmap(apply_fn)(params, *args)


def broadcast(tree: Any, num: int) -> Any:
    """``num`` identical copies of ``tree`` stacked on a new leading axis."""
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (num,) + jnp.shape(x)), tree)


def stack(trees: Sequence[Any]) -> Any:
    """Trees of equal structure stacked leaf by leaf on a new leading axis."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def take(tree: Any, index: Any) -> Any:
    """Members ``index`` of a stacked tree (an int gives one member; an int array ``[k]`` a
    ``[k, ...]`` stack, e.g. a pair of a population)."""
    return jax.tree.map(lambda x: x[index], tree)


def put(tree: Any, index: Any, values: Any) -> Any:
    """``tree`` with members ``index`` replaced by ``values`` (the inverse of ``take``)."""
    return jax.tree.map(lambda x, v: x.at[index].set(v), tree, values)


__all__ = [
    "agent_vmap",
    "broadcast",
    "from_agent_major",
    "put",
    "stack",
    "stacked_apply",
    "stacked_init",
    "take",
    "to_agent_major",
]
