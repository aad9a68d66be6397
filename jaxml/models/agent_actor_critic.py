"""Actor-critic networks for multi-agent (and recurrent) policy-gradient trainers.

``AgentActorCritic`` maps each agent's actor input ``[..., A, Da]`` and critic input
``[..., A, Dc]`` to per-agent logits for one or more categorical heads and a per-agent value
``[..., A]``. By default one set of parameters serves every agent (parameter sharing); the
trainer makes agents' policies differ by appending a one-hot agent id to the inputs
(``jaxml.rl.mappo.agent_inputs``). ``actor_sharing="independent"`` gives each agent its own actor
(parameters ``[A, ...]`` under ``"actor"``, ``jaxml.models.stacked.agent_vmap``) and ``"lora"``
the shared actor plus per-agent low-rank adapters (``jaxml.models.lora``; LoRASA, Zhang, Kapoor,
Sun, arXiv 2502.05573); ``critic_sharing`` does the same for the critic. The shared network's
parameter names and initial draws do not depend on these options.

The actor and critic are separate MLPs, optionally followed by a recurrent cell each
(``cell="gru"``: ``nn.GRUCell``; ``"lstm"``: ``nn.OptimizedLSTMCell``), as in MAPPO's recurrent
policies (Yu et al., arXiv 2103.01955) and the Foraging Games agents
(an LSTM of 128 units with separate action and message heads; Piriyajitakonkij et al.,
arXiv 2505.12872).

Factorised heads: an action that is a tuple of categorical parts (the Foraging Games' move and
message tokens) gets one linear head per part; head ``h`` with extra shape ``S_h`` gives logits
``[..., A, *S_h, n_h]``. The policy samples parts independently, so its log-probability is the
sum over heads and over the extra axes: ``factorised_policy``, a ``distrax.Joint`` of one
``distrax.Independent(distrax.Categorical)`` per head.

Continuous heads (MABrax's ``[A, d]`` boxes): one linear head ``policy_head_0`` of width ``2d``
(``continuous_head_size``) per agent, read by ``continuous_policy`` as the location and raw
scale of ``jaxml.models.actor_critic.TanhGaussian`` squashed into the action bounds, with the
state-dependent ``softplus(raw) + min_std`` standard deviation of single-agent PPO's
``"continuous"`` preset (brax's ``NormalTanhDistribution``). It is the same ``Dense`` layer as a
categorical head, so every parameter mode (PS, PS+id, NPS, LoRA with placement ``"head"``)
treats it alike; log-probabilities sum over the ``d`` action dimensions, per agent.

Recurrent state: ``carry`` is ``{"actor": c, "critic": c}`` with ``c`` ``[..., A, H]`` (GRU) or
``(cell, hidden)`` each ``[..., A, H]`` (LSTM); ``initial_carry`` gives zeros, the state an
episode starts from (rollouts return to it where an episode ended). Feed-forward
networks use ``carry = None`` and return it unchanged. Initialisation follows
``jaxml.models.actor_critic``: orthogonal, gain √2 for hidden layers, 0.01 for policy heads,
1 for the value head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxml.models._init import orthogonal
from jaxml.models.actor_critic import (
    ACTIVATIONS,
    TanhGaussian,
    Torso,
    check_torso,
    orthogonal_dense,
    softplus_loc_scale,
)
from jaxml.models.lora import (
    LoRAConfig,
    LoRADense,
    LoRAGRUCell,
    LoRALSTMCell,
    adapted_layers,
    check_config,
)
from jaxml.models.lora import merge as lora_merge
from jaxml.models.stacked import agent_vmap, broadcast, from_agent_major, to_agent_major
from jaxml.utils import checks

CELLS = ("none", "gru", "lstm")
MASKED_LOGIT = -1e9  # exp(MASKED_LOGIT - max) is exactly 0 in float32.


def _cell(kind: str, size: int, name: str) -> nn.RNNCellBase:
    if kind == "gru":
        return nn.GRUCell(size, recurrent_kernel_init=orthogonal(), name=name)
    return nn.OptimizedLSTMCell(size, recurrent_kernel_init=orthogonal(), name=name)


def initial_carry(cell: str, size: int, batch_shape: tuple[int, ...]) -> Any:
    """Zero recurrent state ``{"actor", "critic"}`` for ``batch_shape`` (e.g. ``(B, A)``)."""
    if cell == "none":
        return None
    zeros = jnp.zeros(tuple(batch_shape) + (size,), jnp.float32)
    one = zeros if cell == "gru" else (zeros, zeros)
    return {"actor": one, "critic": one}


SHARING = ("shared", "independent", "lora")  # The actor's parameter modes.
CRITIC_SHARING = ("shared", "independent")
# Top-level parameter names of each network (shared and adapted modes; "independent" nests the
# same names under "actor" / "critic", each leaf with a leading agent axis [A, ...]).
ACTOR_PREFIXES = ("actor_torso", "actor_cell", "policy_head_")
CRITIC_PREFIXES = ("critic_torso", "critic_cell", "value_head")


def actor_layers(num_hidden: int, cell: str) -> tuple[str, ...]:
    """The actor's layers from input to output, as ``jaxml.models.lora`` placements count them:
    ``Dense_0 ... Dense_{L-1}`` (the torso), ``"cell"`` (every map of the recurrent cell) and
    ``"head"`` (every policy head)."""
    names = tuple(f"Dense_{i}" for i in range(num_hidden))
    return names + (("cell",) if cell != "none" else ()) + ("head",)


class _ActorSpec(NamedTuple):
    head_sizes: tuple[int, ...]
    head_shapes: tuple[tuple[int, ...], ...]
    hidden: tuple[int, ...]
    activation: str
    cell: str
    rnn_size: int
    lora: LoRAConfig | None  # None: no adapters (shared or independent actor).
    adapted: frozenset[str]  # Names from actor_layers that carry adapters.

    def rank(self, layer: str) -> int:
        return self.lora.rank if self.lora is not None and layer in self.adapted else 0


class _LoRATorso(nn.Module):
    """``Torso`` (same names ``Dense_i`` and init) whose layers with ``ranks[i] > 0`` are
    ``LoRADense``."""

    hidden: tuple[int, ...]
    activation: str
    ranks: tuple[int, ...]
    alpha: float
    agent_bias: bool

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for i, (width, rank) in enumerate(zip(self.hidden, self.ranks, strict=True)):
            layer = LoRADense(
                width, rank, self.alpha, self.agent_bias,
                kernel_init=orthogonal(math.sqrt(2.0)),
                bias_init=nn.initializers.zeros, name=f"Dense_{i}",
            )  # fmt: skip
            x = act(layer(x))
        return x


def _actor_forward(spec: _ActorSpec, carry: Any, x: jax.Array):
    """The actor inside the calling module's scope: ``(carry, logits per head)``."""
    lora = spec.lora
    if lora is None:
        x = Torso(spec.hidden, spec.activation, name="actor_torso")(x)
    else:
        ranks = tuple(spec.rank(f"Dense_{i}") for i in range(len(spec.hidden)))
        x = _LoRATorso(spec.hidden, spec.activation, ranks, lora.alpha, lora.bias,
                       name="actor_torso")(x)  # fmt: skip
    if spec.cell != "none":
        if spec.rank("cell"):
            lora_cell = LoRAGRUCell if spec.cell == "gru" else LoRALSTMCell
            cell = lora_cell(spec.rnn_size, lora.rank, lora.alpha, lora.bias, name="actor_cell")
        else:
            cell = _cell(spec.cell, spec.rnn_size, "actor_cell")
        carry, x = cell(carry, x)
    logits = []
    for i, (n, shape) in enumerate(zip(spec.head_sizes, spec.head_shapes, strict=True)):
        width = n * math.prod(shape)
        if spec.rank("head"):
            head = LoRADense(
                width, lora.rank, lora.alpha, lora.bias,
                kernel_init=orthogonal(0.01),
                bias_init=nn.initializers.zeros, name=f"policy_head_{i}",
            )  # fmt: skip
        else:
            head = orthogonal_dense(width, 0.01, name=f"policy_head_{i}")
        out = head(x)
        logits.append(jnp.reshape(out, out.shape[:-1] + tuple(shape) + (n,)))
    return carry, tuple(logits)


def _critic_forward(spec: _ActorSpec, carry: Any, v: jax.Array):
    """The critic inside the calling module's scope: ``(carry, value)``."""
    v = Torso(spec.hidden, spec.activation, name="critic_torso")(v)
    if spec.cell != "none":
        carry, v = _cell(spec.cell, spec.rnn_size, "critic_cell")(carry, v)
    return carry, orthogonal_dense(1, 1.0, name="value_head")(v)[..., 0]


class _Actor(nn.Module):
    """One agent's actor (for ``stacked.agent_vmap``)."""

    spec: _ActorSpec

    @nn.compact
    def __call__(self, carry, x):
        return _actor_forward(self.spec, carry, x)


class _Critic(nn.Module):
    """One agent's critic (for ``stacked.agent_vmap``)."""

    spec: _ActorSpec

    @nn.compact
    def __call__(self, carry, v):
        return _critic_forward(self.spec, carry, v)


class AgentActorCritic(nn.Module):
    """Per-agent categorical (or continuous) heads and values from actor and critic inputs.

    Attributes:
      head_sizes: number of values ``n_h`` of each categorical head (a continuous head: its
        width ``continuous_head_size(d)``, read by ``continuous_policy``).
      head_shapes: extra shape ``S_h`` of each head (``()`` for one choice per agent,
        ``(L,)`` for ``L`` message tokens).
      hidden: hidden widths of the actor's and the critic's MLPs.
      activation: a name in ``ACTIVATIONS``.
      cell: ``"none"``, ``"gru"`` or ``"lstm"`` (a cell after each MLP).
      rnn_size: the cell's width ``H``.
      actor_sharing: ``"shared"`` (one actor for every agent, PS), ``"independent"`` (one actor
        per agent, NPS: ``stacked.agent_vmap``, parameters under ``"actor"`` with a leading
        agent axis) or ``"lora"`` (the shared actor plus per-agent adapters, LoRASA: Zhang,
        Kapoor, Sun, arXiv 2502.05573; ``jaxml.models.lora``).
      critic_sharing: ``"shared"`` or ``"independent"`` (under ``"critic"``, stacked).
      identical_init: independent networks start from one draw shared by every agent.
      lora: the adapters' rank, scale, placement and bias (``actor_sharing="lora"`` only).

    ``__call__(carry, actor_in [..., A, Da], critic_in [..., A, Dc])
    -> (carry, logits (tuple of [..., A, *S_h, n_h]), value [..., A])``.
    """

    head_sizes: tuple[int, ...]
    head_shapes: tuple[tuple[int, ...], ...]
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    cell: str = "none"
    rnn_size: int = 128
    actor_sharing: str = "shared"
    critic_sharing: str = "shared"
    identical_init: bool = False
    lora: LoRAConfig = LoRAConfig()

    def spec(self) -> _ActorSpec:
        adapted = frozenset()
        if self.actor_sharing == "lora":
            adapted = adapted_layers(self.lora, actor_layers(len(self.hidden), self.cell))
        return _ActorSpec(
            tuple(self.head_sizes), tuple(self.head_shapes), tuple(self.hidden),
            self.activation, self.cell, self.rnn_size,
            self.lora if self.actor_sharing == "lora" else None, adapted,
        )  # fmt: skip

    @nn.compact
    def __call__(self, carry: Any, actor_in: jax.Array, critic_in: jax.Array):
        spec = self.spec()
        batch_axes = actor_in.ndim - 2  # The agent axis's position.
        actor_carry = None if carry is None else carry["actor"]
        critic_carry = None if carry is None else carry["critic"]
        if self.actor_sharing == "independent":
            actor = agent_vmap(_Actor, identical_init=self.identical_init)(spec, name="actor")
            actor_carry, logits = actor(
                to_agent_major(actor_carry, -2), to_agent_major(actor_in, -2)
            )
            actor_carry = from_agent_major(actor_carry, -2)
            logits = tuple(jnp.moveaxis(lg, 0, batch_axes) for lg in logits)
        else:
            actor_carry, logits = _actor_forward(spec, actor_carry, actor_in)
        if self.critic_sharing == "independent":
            critic = agent_vmap(_Critic, identical_init=self.identical_init)(spec, name="critic")
            critic_carry, value = critic(
                to_agent_major(critic_carry, -2), to_agent_major(critic_in, -2)
            )
            critic_carry = from_agent_major(critic_carry, -2)
            value = jnp.moveaxis(value, 0, batch_axes)
        else:
            critic_carry, value = _critic_forward(spec, critic_carry, critic_in)
        if carry is not None:
            carry = {"actor": actor_carry, "critic": critic_carry}
        return carry, logits, value


def make_agent_actor_critic(
    head_sizes: Sequence[int],
    head_shapes: Sequence[Sequence[int]],
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    cell: str = "none",
    rnn_size: int = 128,
    *,
    actor_sharing: str = "shared",
    critic_sharing: str = "shared",
    identical_init: bool = False,
    lora: LoRAConfig | None = None,
) -> AgentActorCritic:
    """An ``AgentActorCritic`` after checking its arguments (``ValueError`` names the bad one:
    ``parameter_sharing`` for ``actor_sharing``, ``lora.<field>`` for the adapters)."""
    hidden = check_torso(hidden, activation)
    if cell not in CELLS:
        raise ValueError(f"recurrent: got {cell!r}; accepted: {CELLS}")
    if int(rnn_size) <= 0:
        raise ValueError(f"rnn_size: expected a positive integer, got {rnn_size!r}")
    checks.choice(actor_sharing, "parameter_sharing", SHARING)
    checks.choice(critic_sharing, "critic_sharing", CRITIC_SHARING)
    checks.expect(identical_init in (True, False), "identical_init", "a bool", identical_init)
    lora = LoRAConfig() if lora is None else lora
    if actor_sharing == "lora":
        layers = actor_layers(len(hidden), cell)
        lora = check_config(lora, len(layers))
    return AgentActorCritic(
        tuple(int(n) for n in head_sizes),
        tuple(tuple(int(s) for s in shape) for shape in head_shapes),
        hidden,
        activation,
        cell,
        int(rnn_size),
        actor_sharing,
        critic_sharing,
        bool(identical_init),
        lora,
    )


def _split(params: Any) -> tuple[dict, dict, dict]:
    """``params["params"]`` as (actor subtrees, critic subtrees, anything else)."""
    inner = dict(params["params"])
    actor = {k: v for k, v in inner.items() if k.startswith(ACTOR_PREFIXES)}
    critic = {k: v for k, v in inner.items() if k.startswith(CRITIC_PREFIXES)}
    rest = {k: v for k, v in inner.items() if k not in actor and k not in critic}
    return actor, critic, rest


def independent_from_shared(
    params: Any, num_agents: int, *, actor: bool = True, critic: bool = False
) -> Any:
    """Shared-network parameters as the ``"independent"`` network's: every agent starts from
    the shared weights (``stacked.broadcast`` under ``"actor"`` / ``"critic"``), so the
    independent network computes exactly what the shared one does."""
    actor_tree, critic_tree, rest = _split(params)
    inner = dict(rest)
    inner.update({"actor": broadcast(actor_tree, num_agents)} if actor else actor_tree)
    inner.update({"critic": broadcast(critic_tree, num_agents)} if critic else critic_tree)
    return {**params, "params": inner}


def merge_lora(model: AgentActorCritic, params: Any, num_agents: int) -> tuple[Any, Any]:
    """``(independent model, its parameters)`` with a LoRA actor's adapters merged into
    per-agent weights ``W0 + (α/r) B_i A_i`` (``lora.merge``): the weights the authors cache for
    evaluation. The independent network computes what the adapted one does."""
    if model.actor_sharing != "lora":
        raise ValueError(f"model.actor_sharing: expected 'lora', got {model.actor_sharing!r}")
    actor_tree, critic_tree, rest = _split(params)
    inner = {**rest, **critic_tree, "actor": lora_merge(actor_tree, model.lora.alpha, num_agents)}
    return model.clone(actor_sharing="independent"), {**params, "params": inner}


def count_params(params: Any) -> int:
    """Number of scalars in a parameter tree."""
    return int(sum(x.size for x in jax.tree.leaves(params)))


def mask_logits(logits: jax.Array, mask: jax.Array | None) -> jax.Array:
    """Logits with unavailable actions (``mask`` False) set to ``MASKED_LOGIT`` (probability 0)."""
    if mask is None:
        return logits
    return jnp.where(mask, logits, jnp.full_like(logits, MASKED_LOGIT))


def factorised_policy(logits: Sequence[jax.Array], agent_ndim: int) -> distrax.Joint:
    """The product of independent categoricals with batch shape ``logits[h].shape[:agent_ndim]``.

    Head ``h`` is a ``distrax.Categorical`` over its last axis with its extra axes ``S_h`` made
    event axes (``distrax.Independent``); ``distrax.Joint`` sums the heads' log-probs and
    entropies. ``sample`` gives a tuple of int32 arrays ``logits[h].shape[:-1]``: one
    ``jax.random.categorical`` per head on ``jax.random.split(key, H)``, of the normalised logits
    (the same draws as of the raw ones up to a rounding tie). Log-probs are the log-softmax
    entries exactly; entropies match ``−Σ p log p`` to rounding (distrax normalises twice).
    """
    return distrax.Joint(
        tuple(
            distrax.Independent(
                distrax.Categorical(logits=lg, dtype=jnp.int32),
                reinterpreted_batch_ndims=lg.ndim - 1 - agent_ndim,
            )
            for lg in logits
        )
    )


def continuous_head_size(action_dim: int) -> int:
    """Width of a continuous head: a location and a raw scale per action dimension."""
    return 2 * int(action_dim)


def continuous_policy(
    outputs: jax.Array, low: jax.Array, high: jax.Array, min_std: float = 1e-3
) -> TanhGaussian:
    """Per-agent tanh-squashed diagonal Gaussians from a continuous head's outputs.

    Args:
      outputs: ``[..., A, 2d]``, the head's location ``[..., A, :d]`` and raw scale
        ``[..., A, d:]`` (std ``softplus(raw) + min_std``, as ``actor_critic.Actor`` with
        ``std="softplus"``).
      low, high: finite bounds broadcastable to ``[..., A, d]`` (``[A, d]`` from the spec).
      min_std: the smallest standard deviation (keeps log-probabilities finite).

    Returns:
      ``TanhGaussian`` with batch shape ``[..., A]`` and event shape ``[d]``: ``log_prob`` and
      ``entropy`` are per agent (summed over ``d``; the entropy is the squashed one).
    """
    checks.expect(outputs.shape[-1] % 2 == 0, "outputs", "an even last axis (2d)", outputs.shape)
    loc, scale = softplus_loc_scale(outputs, min_std)
    low = jnp.broadcast_to(jnp.asarray(low, loc.dtype), loc.shape)
    high = jnp.broadcast_to(jnp.asarray(high, loc.dtype), loc.shape)
    return TanhGaussian(loc, scale, low, high)
