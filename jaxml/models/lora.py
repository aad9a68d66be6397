"""Per-agent low-rank adapters (LoRA) on shared flax Dense layers, GRU and LSTM cells (LoRASA).

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

The recurrent cells adapt each of their maps the same way: ``LoRAGRUCell`` the six of
``nn.GRUCell`` (``ir iz in hr hz hn``), ``LoRALSTMCell`` the eight of ``nn.OptimizedLSTMCell``
(``ii if ig io`` on the input, ``hi hf hg ho`` on the hidden state), each under the flax cell's
own names, so a shared cell's parameters load into them and ``merge`` gives the flax cell's
per-agent parameters.

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
import numpy as np

from jaxml.models._init import orthogonal
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


def _adapter_params(
    module: nn.Module, n: int, in_features: int, out_features: int, rank: int, bias: bool
) -> dict[str, jax.Array]:
    """Agent ``n``-stacked adapter leaves of one ``in → out`` map, created in ``module``'s scope
    (after its ``kernel`` and ``bias``, so the backbone's draws are those of the plain layer)."""
    out = {}
    if is_full_rank(rank, in_features, out_features):
        out["lora_w"] = module.param(
            "lora_w", nn.initializers.zeros, (n, in_features, out_features)
        )
    else:
        out["lora_a"] = module.param("lora_a", nn.initializers.zeros, (n, rank, in_features))
        out["lora_b"] = module.param("lora_b", lora_b_init, (n, out_features, rank))
    if bias:
        out["lora_bias"] = module.param("lora_bias", nn.initializers.zeros, (n, out_features))
    return out


def _adapter_update(x: jax.Array, adapter: dict[str, jax.Array], alpha: float) -> jax.Array:
    """``ΔW_i x_i`` for every agent row ``i`` of ``x [*b, N, in]`` (no agent bias)."""
    if "lora_w" in adapter:
        return jnp.einsum("...ni,nio->...no", x, adapter["lora_w"])
    if "lora_a" not in adapter:  # rank 0: no adapter.
        return jnp.zeros((), x.dtype)
    a, b = adapter["lora_a"], adapter["lora_b"]
    low = jnp.einsum("...ni,nri->...nr", x, a)
    return (alpha / a.shape[1]) * jnp.einsum("...nr,nor->...no", low, b)


def _agent_bias(y: jax.Array, adapter: dict[str, jax.Array]) -> jax.Array:
    if "lora_bias" not in adapter:
        return y
    bias_i = adapter["lora_bias"]
    return y + jnp.reshape(bias_i, (1,) * (y.ndim - 2) + bias_i.shape)


def _check_agent_axis(x: jax.Array) -> None:
    if x.ndim < 2:
        raise ValueError(f"x: expected [*b, N, in] with an agent axis, got shape {x.shape}")


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
        _check_agent_axis(x)
        # The agent bias only where there is a b0 to adapt.
        adapter = _adapter_params(self, x.shape[-2], in_features, self.features, self.rank,
                                  self.agent_bias and self.use_bias)  # fmt: skip
        return _agent_bias(y + _adapter_update(x, adapter, self.alpha), adapter)


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
            kernel_init=orthogonal(),
            **adapter,
        )
        r = nn.sigmoid(dense_i(name="ir")(inputs) + dense_h(name="hr")(h))
        z = nn.sigmoid(dense_i(name="iz")(inputs) + dense_h(name="hz")(h))
        n = nn.tanh(dense_i(name="in")(inputs) + r * dense_h(name="hn", use_bias=True)(h))
        new_h = (1.0 - z) * n + z * h
        return new_h, new_h


class _LoRAMapParams(nn.Module):
    """One map's parameters: flax's ``DenseParams`` (``kernel [in, out]``, ``bias [out]``, the
    same names, inits and draw order) plus its adapters, returned as a dict for the caller's
    fused product (``LoRALSTMCell``)."""

    features: int
    use_bias: bool
    kernel_init: Any
    rank: int
    agent_bias: bool

    @nn.compact
    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        in_features = x.shape[-1]
        out = {"kernel": self.param("kernel", self.kernel_init, (in_features, self.features))}
        if self.use_bias:
            out["bias"] = self.param("bias", nn.initializers.zeros, (self.features,))
        if self.rank == 0:  # The plain map.
            return out
        adapter = _adapter_params(self, x.shape[-2], in_features, self.features, self.rank,
                                  self.agent_bias and self.use_bias)  # fmt: skip
        return {**out, **adapter}


def _fused(x: jax.Array, maps: dict[str, dict[str, jax.Array]], use_bias: bool):
    """The backbone's maps as ``nn.OptimizedLSTMCell`` computes them: one product with the
    concatenated kernels, then split (so zero adapters leave its output bitwise)."""
    kernels = [m["kernel"] for m in maps.values()]
    y = jnp.dot(x, jnp.concatenate(kernels, axis=-1))
    if use_bias:
        bias = jnp.concatenate([m["bias"] for m in maps.values()], axis=-1)
        y += jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))
    split = np.cumsum([k.shape[-1] for k in kernels[:-1]])
    return dict(zip(maps, jnp.split(y, split, axis=-1), strict=True))


class LoRALSTMCell(nn.Module):
    """``nn.OptimizedLSTMCell`` (same maps ``ii if ig io`` on the input and ``hi hf hg ho``
    with bias on the hidden state, the same names, inits and fused product; its parameters are
    ``nn.LSTMCell``'s) with one adapter per agent on each of the eight maps.

    ``__call__((c, h) each [*b, N, H], x [*b, N, D]) -> ((c', h'), h')``; ``rank = 0`` is the
    plain cell.
    """

    features: int
    rank: int = 8
    alpha: float = 8.0
    agent_bias: bool = False

    @nn.compact
    def __call__(self, carry: tuple[jax.Array, jax.Array], inputs: jax.Array):
        c, h = carry
        if self.rank:
            _check_agent_axis(inputs)
        hidden = h.shape[-1]
        adapter = {"rank": self.rank, "agent_bias": self.agent_bias}
        input_map = functools.partial(
            _LoRAMapParams, hidden, False, nn.initializers.lecun_normal(), **adapter
        )
        hidden_map = functools.partial(_LoRAMapParams, hidden, True, orthogonal(), **adapter)
        maps_i = {gate: input_map(name=f"i{gate}")(inputs) for gate in "ifgo"}
        maps_h = {gate: hidden_map(name=f"h{gate}")(h) for gate in "ifgo"}
        dense_i, dense_h = _fused(inputs, maps_i, False), _fused(h, maps_h, True)
        pre = {}
        for gate in "ifgo":
            from_h = dense_h[gate] + _adapter_update(h, maps_h[gate], self.alpha)
            from_h = _agent_bias(from_h, maps_h[gate])
            from_i = dense_i[gate] + _adapter_update(inputs, maps_i[gate], self.alpha)
            pre[gate] = from_h + from_i  # The cell's order: hidden map + input map.
        i, f, o = nn.sigmoid(pre["i"]), nn.sigmoid(pre["f"]), nn.sigmoid(pre["o"])
        g = nn.tanh(pre["g"])
        new_c = f * c + i * g
        new_h = o * nn.tanh(new_c)
        return (new_c, new_h), new_h


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


def without_adapters(params: Any) -> Any:
    """``params`` with every adapter leaf zeroed: ΔW_i = 0 and b_i = 0, so the network computes
    its shared backbone alone (what LoRASA's adapters add is the difference from this)."""
    return jax.tree_util.tree_map_with_path(
        lambda path, x: jnp.zeros_like(x) if is_adapter(path_names(path)) else x, params
    )


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
    "LoRALSTMCell",
    "adapted_layers",
    "adapter_size",
    "check_config",
    "is_adapter",
    "is_full_rank",
    "merge",
    "merge_layer",
    "num_adapter_params",
    "without_adapters",
]
