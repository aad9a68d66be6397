"""Actor-critic networks for multi-agent (and recurrent) policy-gradient trainers.

``AgentActorCritic`` maps each agent's actor input ``[..., A, Da]`` and critic input
``[..., A, Dc]`` to per-agent logits for one or more categorical heads and a per-agent value
``[..., A]``. One set of parameters serves every agent (parameter sharing); the trainer makes
agents' policies differ by appending a one-hot agent id to the inputs
(``jaxml.rl.mappo.agent_inputs``). The actor and critic are separate MLPs, optionally followed by
a recurrent cell each (``cell="gru"``: ``nn.GRUCell``; ``"lstm"``: ``nn.OptimizedLSTMCell``),
as in MAPPO's recurrent policies (Yu et al., arXiv 2103.01955) and the Foraging Games agents
(an LSTM of 128 units with separate action and message heads; Piriyajitakonkij et al.,
arXiv 2505.12872).

Factorised heads: an action that is a tuple of categorical parts (the Foraging Games' move and
message tokens) gets one linear head per part; head ``h`` with extra shape ``S_h`` gives logits
``[..., A, *S_h, n_h]``. The policy samples parts independently, so its log-probability is the
sum over heads and over the extra axes: ``factorised_policy``, a ``distrax.Joint`` of one
``distrax.Independent(distrax.Categorical)`` per head.

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
from typing import Any

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxml.models.actor_critic import Torso, check_torso, orthogonal_dense

CELLS = ("none", "gru", "lstm")
MASKED_LOGIT = -1e9  # exp(MASKED_LOGIT - max) is exactly 0 in float32.


def _cell(kind: str, size: int, name: str) -> nn.RNNCellBase:
    if kind == "gru":
        return nn.GRUCell(size, name=name)
    return nn.OptimizedLSTMCell(size, name=name)


def initial_carry(cell: str, size: int, batch_shape: tuple[int, ...]) -> Any:
    """Zero recurrent state ``{"actor", "critic"}`` for ``batch_shape`` (e.g. ``(B, A)``)."""
    if cell == "none":
        return None
    zeros = jnp.zeros(tuple(batch_shape) + (size,), jnp.float32)
    one = zeros if cell == "gru" else (zeros, zeros)
    return {"actor": one, "critic": one}


class AgentActorCritic(nn.Module):
    """Per-agent categorical heads and values from actor and critic inputs.

    Attributes:
      head_sizes: number of values ``n_h`` of each categorical head.
      head_shapes: extra shape ``S_h`` of each head (``()`` for one choice per agent,
        ``(L,)`` for ``L`` message tokens).
      hidden: hidden widths of the actor's and the critic's MLPs.
      activation: a name in ``ACTIVATIONS``.
      cell: ``"none"``, ``"gru"`` or ``"lstm"`` (a cell after each MLP).
      rnn_size: the cell's width ``H``.

    ``__call__(carry, actor_in [..., A, Da], critic_in [..., A, Dc])
    -> (carry, logits (tuple of [..., A, *S_h, n_h]), value [..., A])``.
    """

    head_sizes: tuple[int, ...]
    head_shapes: tuple[tuple[int, ...], ...]
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    cell: str = "none"
    rnn_size: int = 128

    @nn.compact
    def __call__(self, carry: Any, actor_in: jax.Array, critic_in: jax.Array):
        x = Torso(tuple(self.hidden), self.activation, name="actor_torso")(actor_in)
        v = Torso(tuple(self.hidden), self.activation, name="critic_torso")(critic_in)
        if self.cell != "none":
            actor_carry, x = _cell(self.cell, self.rnn_size, "actor_cell")(carry["actor"], x)
            critic_carry, v = _cell(self.cell, self.rnn_size, "critic_cell")(carry["critic"], v)
            carry = {"actor": actor_carry, "critic": critic_carry}
        logits = []
        for i, (n, shape) in enumerate(zip(self.head_sizes, self.head_shapes, strict=True)):
            out = orthogonal_dense(n * math.prod(shape), 0.01, name=f"policy_head_{i}")(x)
            logits.append(jnp.reshape(out, out.shape[:-1] + tuple(shape) + (n,)))
        value = orthogonal_dense(1, 1.0, name="value_head")(v)[..., 0]
        return carry, tuple(logits), value


def make_agent_actor_critic(
    head_sizes: Sequence[int],
    head_shapes: Sequence[Sequence[int]],
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    cell: str = "none",
    rnn_size: int = 128,
) -> AgentActorCritic:
    """An ``AgentActorCritic`` after checking its arguments (``ValueError`` names the bad one)."""
    hidden = check_torso(hidden, activation)
    if cell not in CELLS:
        raise ValueError(f"recurrent: got {cell!r}; accepted: {CELLS}")
    if int(rnn_size) <= 0:
        raise ValueError(f"rnn_size: expected a positive integer, got {rnn_size!r}")
    return AgentActorCritic(
        tuple(int(n) for n in head_sizes),
        tuple(tuple(int(s) for s in shape) for shape in head_shapes),
        hidden,
        activation,
        cell,
        int(rnn_size),
    )


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
