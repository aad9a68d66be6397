"""Per-agent low-rank adapters (LoRA) on shared flax Dense layers and GRU cells (LoRASA).

"Low-Rank Agent-Specific Adaptation (LoRASA) for Multi-Agent Policy Learning" (Zhang, Kapoor,
Sun, arXiv 2502.05573), after LoRA (Hu et al., arXiv 2106.09685). Agent ``i``'s layer is

    y_i = (W0 + ΔW_i) x_i + b0 (+ b_i),    ΔW_i = (α / r) · B_i A_i,

with the shared backbone ``W0`` (flax layout ``kernel [in, out]``, ``bias [out]``, the same names
and initialisation as ``nn.Dense``, so a shared-parameter checkpoint loads into it) and per agent
``A_i`` (``lora_a [N, r, in]``, initialised to 0) and ``B_i`` (``lora_b [N, out, r]``,
Kaiming-uniform, PyTorch's ``kaiming_uniform_(a=√5)``: U(±1/√r)); the authors swap LoRA's usual
roles of A and B, and ΔW starts at exactly 0 either way. When ``r ≥ min(in, out)`` a low-rank
factorisation cannot save anything and the adapter is a full matrix ``lora_w [N, in, out]``
(zero init, no α/r factor). ``lora_bias [N, out]`` (zero init) is the optional agent bias
``b_i`` (off in the authors' shipped configs), on layers that have a bias ``b0``. An adapted
layer costs ``r (in + out)`` parameters per agent (``in · out`` when full rank), plus ``out``
with the agent bias.

Inputs carry the agent axis second to last, ``x [*b, N, in]``, so row ``i`` meets adapter ``i``
(``einsum`` over the agent axis, no per-agent weights materialised). ``merge`` folds the
adapters into per-agent kernels ``W0 + ΔW_i`` (and biases), the cached weights the authors
evaluate with: the result is an agent-stacked network (``jaxml.models.stacked``).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxml.utils import checks
from jaxml.utils.partition import path_names

PLACEMENTS = ("all", "last_k", "head")
ADAPTER_PREFIX = "lora_"  # Adapter leaves are named lora_a, lora_b, lora_w, lora_bias.

# B's init: PyTorch's kaiming_uniform_(a=√5) on B_i [out, r] (fan_in r): U(±1/√r).
lora_b_init = nn.initializers.variance_scaling(
    1.0 / 3.0, "fan_in", "uniform", in_axis=-1, out_axis=-2, batch_axis=(0,)
)


class LoRAConfig(NamedTuple):
    """Adapter settings (static, hashable: a module attribute)."""

    rank: int = 8  # r (the authors' scripts: 8).
    alpha: float = 8.0  # α; the update is scaled by α / r (the scripts: α = r, scale 1).
    placement: str = "all"  # Which actor layers: one of PLACEMENTS.
    last_k: int = 1  # placement="last_k": the last k of the actor's layers.
    bias: bool = False  # A per-agent bias b_i.


def check_config(config: LoRAConfig, num_layers: int, prefix: str = "lora") -> LoRAConfig:
    """``config`` with its fields checked against an actor of ``num_layers`` layers.

    Raises:
      ValueError: naming ``<prefix>.rank``, ``.alpha``, ``.placement``, ``.last_k`` or ``.bias``.
    """
    rank = checks.positive_int(config.rank, f"{prefix}.rank")
    checks.positive(config.alpha, f"{prefix}.alpha")
    checks.choice(config.placement, f"{prefix}.placement", PLACEMENTS)
    last_k = checks.positive_int(config.last_k, f"{prefix}.last_k")
    checks.expect(
        config.placement != "last_k" or last_k <= num_layers,
        f"{prefix}.last_k",
        f"at most the actor's {num_layers} layers",
        last_k,
    )
    checks.expect(config.bias in (True, False), f"{prefix}.bias", "a bool", config.bias)
    return LoRAConfig(rank, float(config.alpha), config.placement, last_k, bool(config.bias))


def adapted_layers(config: LoRAConfig, layers: tuple[str, ...]) -> frozenset[str]:
    """The names among ``layers`` (the actor's, input to output) that ``config`` adapts."""
    if config.placement == "all":
        return frozenset(layers)
    if config.placement == "head":
        return frozenset(layers[-1:])
    return frozenset(layers[-config.last_k :])


def is_full_rank(rank: int, in_features: int, out_features: int) -> bool:
    """Whether an adapter of rank ``rank`` is stored as a full ``ΔW`` (``r ≥ min(in, out)``)."""
    return rank >= min(in_features, out_features)


def adapter_size(rank: int, in_features: int, out_features: int, bias: bool = False) -> int:
    """Adapter parameters per agent of one ``in → out`` layer: ``r (in + out)`` or ``in · out``."""
    if is_full_rank(rank, in_features, out_features):
        size = in_features * out_features
    else:
        size = rank * (in_features + out_features)
    return size + (out_features if bias else 0)


def _dense(x: jax.Array, kernel: jax.Array) -> jax.Array:
    # nn.Dense's own contraction, so an adapter-free layer is bitwise nn.Dense.
    return jax.lax.dot_general(x, kernel, (((x.ndim - 1,), (0,)), ((), ())))


class LoRADense(nn.Module):
    """``nn.Dense`` (same parameter names and init) plus one adapter per agent.

    ``__call__(x [*b, N, in]) -> [*b, N, features]``; ``rank = 0`` is the plain layer.
    """

    features: int
    rank: int = 8
    alpha: float = 8.0
    agent_bias: bool = False
    use_bias: bool = True
    kernel_init: Any = nn.initializers.lecun_normal()
    bias_init: Any = nn.initializers.zeros

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        in_features = x.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (in_features, self.features))
        y = _dense(x, kernel)
        if self.use_bias:
            bias = self.param("bias", self.bias_init, (self.features,))
            y = y + jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))
        if self.rank == 0:
            return y
        if x.ndim < 2:
            raise ValueError(f"x: expected [*b, N, in] with an agent axis, got shape {x.shape}")
        n = x.shape[-2]
        if is_full_rank(self.rank, in_features, self.features):
            w = self.param("lora_w", nn.initializers.zeros, (n, in_features, self.features))
            y = y + jnp.einsum("...ni,nio->...no", x, w)
        else:
            a = self.param("lora_a", nn.initializers.zeros, (n, self.rank, in_features))
            b = self.param("lora_b", lora_b_init, (n, self.features, self.rank))
            low = jnp.einsum("...ni,nri->...nr", x, a)
            y = y + (self.alpha / self.rank) * jnp.einsum("...nr,nor->...no", low, b)
        if self.agent_bias and self.use_bias:  # Only where there is a b0 to adapt.
            bias_i = self.param("lora_bias", nn.initializers.zeros, (n, self.features))
            y = y + jnp.reshape(bias_i, (1,) * (y.ndim - 2) + bias_i.shape)
        return y


class LoRAGRUCell(nn.Module):
    """``nn.GRUCell`` (same maps ``ir iz in hr hz hn``, names and inits) with every input and
    hidden map a ``LoRADense``: the recurrent cell's adapters of the authors' GRU actor.

    ``__call__(h [*b, N, H], x [*b, N, D]) -> (h', h')``.
    """

    features: int
    rank: int = 8
    alpha: float = 8.0
    agent_bias: bool = False

    @nn.compact
    def __call__(self, carry: jax.Array, inputs: jax.Array):
        h = carry
        adapter = {"rank": self.rank, "alpha": self.alpha, "agent_bias": self.agent_bias}
        dense_i = functools.partial(LoRADense, self.features, use_bias=True, **adapter)
        dense_h = functools.partial(
            LoRADense,
            self.features,
            use_bias=False,
            kernel_init=nn.initializers.orthogonal(),
            **adapter,
        )
        r = nn.sigmoid(dense_i(name="ir")(inputs) + dense_h(name="hr")(h))
        z = nn.sigmoid(dense_i(name="iz")(inputs) + dense_h(name="hz")(h))
        n = nn.tanh(dense_i(name="in")(inputs) + r * dense_h(name="hn", use_bias=True)(h))
        new_h = (1.0 - z) * n + z * h
        return new_h, new_h


def is_adapter(path: tuple[str, ...]) -> bool:
    """Whether a parameter path (``jaxml.utils.partition.path_names``) is an adapter leaf."""
    return bool(path) and path[-1].startswith(ADAPTER_PREFIX)


def _is_layer(tree: Any) -> bool:
    return isinstance(tree, dict) and "kernel" in tree


def merge_layer(layer: dict, alpha: float, num_agents: int) -> dict:
    """One layer's parameters ``{kernel, bias?, lora_*?}`` as per-agent ``{kernel [N, in, out],
    bias [N, out]?}``: ``W0 + ΔW_i`` and ``b0 + b_i`` (a layer without adapters is broadcast)."""
    kernel = layer["kernel"]
    per_agent = jnp.broadcast_to(kernel, (num_agents,) + kernel.shape)
    if "lora_w" in layer:
        per_agent = per_agent + layer["lora_w"]
    elif "lora_a" in layer:
        rank = layer["lora_a"].shape[1]
        delta = jnp.einsum("nor,nri->nio", layer["lora_b"], layer["lora_a"])
        per_agent = per_agent + (alpha / rank) * delta
    out = {"kernel": per_agent}
    if "bias" in layer:
        bias = jnp.broadcast_to(layer["bias"], (num_agents,) + layer["bias"].shape)
        if "lora_bias" in layer:
            bias = bias + layer["lora_bias"]
        out["bias"] = bias
    return out


def merge(tree: Any, alpha: float, num_agents: int) -> Any:
    """Every layer of ``tree`` (a nested dict of layers) as per-agent merged weights
    (``merge_layer``), stacked on a leading agent axis ``[N, ...]``."""
    if _is_layer(tree):
        return merge_layer(tree, alpha, num_agents)
    if isinstance(tree, dict):
        return {name: merge(sub, alpha, num_agents) for name, sub in tree.items()}
    return jnp.broadcast_to(tree, (num_agents,) + jnp.shape(tree))


def num_adapter_params(params: Any) -> int:
    """Adapter parameters in a tree (every agent's)."""
    sizes = jax.tree_util.tree_map_with_path(
        lambda path, x: x.size if is_adapter(path_names(path)) else 0, params
    )
    return int(sum(jax.tree.leaves(sizes)))


__all__ = [
    "PLACEMENTS",
    "LoRAConfig",
    "LoRADense",
    "LoRAGRUCell",
    "adapted_layers",
    "adapter_size",
    "check_config",
    "is_adapter",
    "is_full_rank",
    "merge",
    "merge_layer",
    "num_adapter_params",
]
