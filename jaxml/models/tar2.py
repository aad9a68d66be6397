"""TAR²'s return model: a transformer over (step, agent) tokens that scores each one.

"Redistributing Rewards Across Time and Agents for Multi-Agent Reinforcement Learning" (Kapoor
et al., arXiv 2502.04864 v2; "TAR²: Temporal-Agent Reward Redistribution ..." v1; earlier
arXiv 2412.14779), after the authors' ``Time_Agent_Transformer`` (``MAPPO/TARR/TARR.py``).

Tokens: one per (step ``t``, agent ``i``), the sum of an observation embedding
(``Dense(obs_{i,t})``), an action embedding (``Dense(one_hot(a_{i,t}))``; with ``continuous``,
``Dense(a_{i,t})`` of the action vector scaled into ``[-1, 1]``), an agent-id
embedding (``use_agent_id``) and a learned positional embedding of ``t``. ``depth`` blocks
follow, each a causal self-attention over time (per agent) and then a self-attention over the
agents (per step), both pre-LayerNorm residual layers with an MLP. Keys of invalid entries
(dead agents, padded steps) are masked out of both attentions; every token may attend to itself,
so no attention row is empty.

Heads:

- score ``ŝ_{i,t}``: an MLP on the concatenation of the token embedding and every block's
  output (as the authors' reward head); ``jaxml.rl.tar2.redistribute`` normalises the scores.
- inverse dynamics: logits of ``a_{i,t}`` from the observation embeddings at ``t`` and ``t+1``
  and the last block's output at ``t-1`` (zeros at the first step and after an invalid one). It
  never sees ``a_{i,t}``: the authors' notes describe the state embedding plus the previous
  step's outputs; adding the next observation makes it inverse dynamics proper. With
  ``continuous`` the same head outputs the predicted action vector ``â_{i,t}`` (``[..., d]``,
  unsquashed: the target is already in ``[-1, 1]``); ``jaxml.rl.tar2.return_model_loss`` then
  scores it with a unit-variance Gaussian NLL (half the squared error) instead of the CE.

Continuous actions (MABrax's ``BoundedArray [A, d]``) are a jaxml extension: the paper's tasks
(SMACLite, GRF) have discrete actions only.

Causality: temporal attention is causal and agent attention mixes agents of the same step, so
every score ``ŝ_{·,t}`` depends only on the inputs (of all agents) at steps ``<= t``: changing
anything at step ``t+1`` leaves the scores at steps ``<= t`` unchanged. The inverse-dynamics
logits at ``t`` also read the observations at ``t+1``, by design. The authors' v1 also feeds the
agents' mean final-step embedding to the reward head, which would make every score depend on the
whole episode; this model leaves it out so that the scores stay causal.

Permutation equivariance: without the agent-id embedding (``use_agent_id=False``) permuting the
agents of the inputs permutes the outputs the same way.

Why here: the module is a flax model like the others in ``jaxml.models``; the loss, the
normalisation and the training loop are TAR²'s method and live in ``jaxml.rl.tar2``.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp


class TAR2Output(NamedTuple):
    scores: jax.Array  # [B, T, A] float32, unnormalised contribution scores ŝ_{i,t}.
    # [B, T, A, N] float32, inverse-dynamics logits of a_{i,t}; with continuous actions
    # [B, T, A, d], the predicted (scaled) action vector.
    action_logits: jax.Array


class _Residual(nn.Module):
    """Pre-LayerNorm self-attention over the middle axis of ``[N, L, D]``, then an MLP."""

    num_heads: int
    mlp_ratio: int

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        width = x.shape[-1]
        h = nn.LayerNorm()(x)
        x = x + nn.MultiHeadDotProductAttention(
            num_heads=self.num_heads, qkv_features=width, deterministic=True
        )(h, h, mask=mask[:, None])  # [N, 1 (heads), L, L]
        h = nn.gelu(nn.Dense(self.mlp_ratio * width)(nn.LayerNorm()(x)))
        return x + nn.Dense(width)(h)


class TimeAgentBlock(nn.Module):
    """Causal attention over time per agent, then attention over agents per step.

    ``__call__(x [B, T, A, D], valid [B, T, A], agent_mask [B, T, A, A] | None) -> [B, T, A, D]``;
    ``agent_mask[b, t, i, j]`` (optional) further restricts agent ``i``'s query at step ``t`` to
    the keys ``j`` where it is True (each agent always sees itself).
    """

    num_heads: int
    mlp_ratio: int = 4

    @nn.compact
    def __call__(
        self, x: jax.Array, valid: jax.Array, agent_mask: jax.Array | None = None
    ) -> jax.Array:
        batch, steps, agents, width = x.shape
        # Over time: [B·A, T, D]; query t sees valid keys s <= t, and itself.
        xt = jnp.transpose(x, (0, 2, 1, 3)).reshape(batch * agents, steps, width)
        vt = jnp.transpose(valid, (0, 2, 1)).reshape(batch * agents, steps)
        causal = jnp.tril(jnp.ones((steps, steps), bool))
        self_t = jnp.eye(steps, dtype=bool)
        mask = causal[None] & (vt[:, None, :] | self_t[None])
        xt = _Residual(self.num_heads, self.mlp_ratio, name="time")(xt, mask)
        x = jnp.transpose(xt.reshape(batch, agents, steps, width), (0, 2, 1, 3))
        # Over agents: [B·T, A, D]; every query sees the alive agents of its step, and itself.
        xa = x.reshape(batch * steps, agents, width)
        va = valid.reshape(batch * steps, agents)
        self_a = jnp.eye(agents, dtype=bool)
        mask = va[:, None, :]
        if agent_mask is not None:  # [B, T, A (query), A (key)]: STAS's coalitions.
            mask = mask & agent_mask.reshape(batch * steps, agents, agents)
        mask = mask | self_a[None]
        xa = _Residual(self.num_heads, self.mlp_ratio, name="agents")(xa, mask)
        return xa.reshape(batch, steps, agents, width)


class TAR2RewardModel(nn.Module):
    """The TAR² return model (arXiv 2502.04864): scores and inverse-dynamics logits.

    Attributes:
      num_actions: ``N``, the size of each agent's discrete action space; with ``continuous``
        the action vector's dimension ``d``.
      max_steps: the longest episode (the positional embedding's length).
      num_agents: ``A`` (the agent-id embedding's size).
      width: token width ``D`` (authors: 64).
      depth: number of time-agent blocks (authors: 3).
      num_heads: attention heads (authors: 4).
      use_agent_id: add an agent-id embedding (authors' v1: yes). Without it the model is
        permutation equivariant over agents.
      mlp_ratio: hidden width of each block's MLP, in multiples of ``width``.
      head_hidden: hidden width of the score and inverse-dynamics MLPs.
      continuous: actions are float vectors ``[B, T, A, d]`` (scaled into ``[-1, 1]`` by the
        caller) rather than integers: the action token is ``Dense(a_{i,t})`` and the
        inverse-dynamics head predicts ``a_{i,t}`` itself (``d`` outputs). The discrete path,
        its parameters and their names are unchanged.

    ``__call__(observations [B, T, A, O] float, actions [B, T, A] int (continuous: [B, T, A, d]
    float), valid [B, T, A] bool, agent_mask [B, T, A, A] bool | None) -> TAR2Output``;
    ``agent_mask`` (STAS's coalitions, ``STASRewardModel``) restricts every block's agent
    attention, see ``TimeAgentBlock``.
    """

    num_actions: int
    max_steps: int
    num_agents: int
    width: int = 64
    depth: int = 3
    num_heads: int = 4
    use_agent_id: bool = True
    mlp_ratio: int = 4
    head_hidden: int = 64
    continuous: bool = False

    @nn.compact
    def __call__(
        self,
        observations: jax.Array,
        actions: jax.Array,
        valid: jax.Array,
        agent_mask: jax.Array | None = None,
    ) -> TAR2Output:
        chex.assert_rank(observations, 4)
        batch, steps, agents, _ = observations.shape
        chex.assert_shape(valid, (batch, steps, agents))
        if self.continuous:
            if actions.shape != (batch, steps, agents, self.num_actions):
                raise ValueError(
                    f"actions: expected [B, T, A, d={self.num_actions}] floats with "
                    f"continuous=True, got shape {actions.shape}"
                )
        else:
            chex.assert_shape(actions, (batch, steps, agents))
        if steps > self.max_steps or agents != self.num_agents:
            raise ValueError(
                f"observations: expected [B, T<={self.max_steps}, {self.num_agents}, O], "
                f"got {observations.shape}"
            )
        valid = jnp.asarray(valid, bool)
        if agent_mask is not None:
            chex.assert_shape(agent_mask, (batch, steps, agents, agents))
        obs_embedding = nn.Dense(self.width, name="obs_embed")(
            jnp.asarray(observations, jnp.float32)
        )
        if self.continuous:  # The action vector itself: a one-hot has no continuous analogue.
            action_in = jnp.asarray(actions, jnp.float32)
        else:
            action_in = jax.nn.one_hot(actions, self.num_actions)
        x = obs_embedding + nn.Dense(self.width, use_bias=False, name="action_embed")(action_in)
        positions = self.param(
            "positions", nn.initializers.normal(0.02), (self.max_steps, self.width)
        )
        x = x + positions[None, :steps, None, :]
        if self.use_agent_id:
            ids = self.param("agent_ids", nn.initializers.normal(0.02), (agents, self.width))
            x = x + ids[None, None]
        layers = [x]
        for i in range(self.depth):
            block = TimeAgentBlock(self.num_heads, self.mlp_ratio, name=f"block_{i}")
            x = block(x, valid, agent_mask)
            layers.append(x)
        h = jnp.concatenate(layers, axis=-1)
        h = nn.relu(nn.Dense(self.head_hidden, name="score_hidden")(h))
        # Zero-initialised: every score starts at 0, so the first redistribution is uniform
        # (the normalisation's fallback) and the first predicted return is 0.
        scores = nn.Dense(1, kernel_init=nn.initializers.zeros, name="score_out")(h)[..., 0]

        # Inverse dynamics: (e_t, e_{t+1}, x_{t-1}) -> a_t; no input carries a_t.
        zeros = jnp.zeros_like(obs_embedding[:, :1])
        next_embedding = jnp.concatenate([obs_embedding[:, 1:], zeros], axis=1)
        previous = jnp.where(valid[..., None], x, 0.0)
        previous = jnp.concatenate([jnp.zeros_like(previous[:, :1]), previous[:, :-1]], axis=1)
        g = jnp.concatenate([obs_embedding, next_embedding, previous], axis=-1)
        g = nn.relu(nn.Dense(self.head_hidden, name="dynamics_hidden")(g))
        logits = nn.Dense(self.num_actions, name="dynamics_out")(g)
        return TAR2Output(scores=scores, action_logits=logits)


def coalition_masks(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Random coalitions as agent-attention masks: ``[*shape, A, A]`` bool for ``shape = (..., A)``.

    Each agent ``j`` joins a coalition with probability 1/2 (independently per leading index,
    e.g. per sample, episode and step; the TAR² authors' ``ShapelyAttention`` draws
    Bernoulli(0.5) masks too); ``mask[..., i, j]`` is True where ``j`` is in the coalition or
    ``j = i``: agent ``i`` is scored as a member of the coalition it joins.
    """
    agents = shape[-1]
    member = jax.random.bernoulli(key, 0.5, shape)
    eye = jnp.reshape(jnp.eye(agents, dtype=bool), (1,) * (len(shape) - 1) + (agents, agents))
    return member[..., None, :] | eye


class STASRewardModel(nn.Module):
    """STAS's return decomposition: scores averaged over random agent coalitions.

    "STAS: Spatial-Temporal Return Decomposition for Multi-Agent Reinforcement Learning" (Chen,
    Zhang, Yang, Du; arXiv 2304.07520; title and id cited from memory, not checked against the
    paper here), a baseline of TAR² (arXiv 2502.04864). The same tokens and causal-time /
    agent blocks as ``TAR2RewardModel`` (its parameters live under ``body``), but the agent
    attention of every block sees only a random coalition (``coalition_masks``: each other
    agent in with probability 1/2), and the score of ``(i, t)`` is the mean over
    ``num_coalitions`` such coalitions: a Monte-Carlo estimate of agent ``i``'s expected
    contribution to a random coalition, the Shapley value's averaging over coalitions (STAS's
    "Shapley attention"). STAS uses these scores as rewards directly (no normalisation) and
    trains them to sum to the return (``jaxml.rl.tar2.stas_loss``).

    A fresh draw of coalitions needs the ``"coalitions"`` rng:
    ``model.apply(params, obs, actions, valid, rngs={"coalitions": key})``.

    Attributes: those of ``TAR2RewardModel``, plus ``num_coalitions`` (``K``; the TAR² authors'
    ``sample_num`` 5).

    ``__call__(observations [B, T, A, O], actions [B, T, A], valid [B, T, A]) -> TAR2Output``
    (scores ``[B, T, A]``: the coalition mean; logits: the last coalition's).
    """

    num_actions: int
    max_steps: int
    num_agents: int
    width: int = 64
    depth: int = 3
    num_heads: int = 4
    use_agent_id: bool = True
    mlp_ratio: int = 4
    head_hidden: int = 64
    continuous: bool = False
    num_coalitions: int = 5

    @nn.compact
    def __call__(self, observations: jax.Array, actions: jax.Array, valid: jax.Array) -> TAR2Output:
        if self.num_coalitions < 1:
            raise ValueError(f"num_coalitions: expected >= 1, got {self.num_coalitions}")
        body = TAR2RewardModel(
            num_actions=self.num_actions,
            max_steps=self.max_steps,
            num_agents=self.num_agents,
            width=self.width,
            depth=self.depth,
            num_heads=self.num_heads,
            use_agent_id=self.use_agent_id,
            mlp_ratio=self.mlp_ratio,
            head_hidden=self.head_hidden,
            continuous=self.continuous,
            name="body",
        )
        shape = (self.num_coalitions,) + tuple(valid.shape)  # [K, B, T, A]
        masks = coalition_masks(self.make_rng("coalitions"), shape)
        scores, output = 0.0, None
        for k in range(self.num_coalitions):  # One shared body, K coalitions.
            output = body(observations, actions, valid, masks[k])
            scores = scores + output.scores
        return TAR2Output(scores=scores / self.num_coalitions, action_logits=output.action_logits)


__all__ = ["STASRewardModel", "TAR2Output", "TAR2RewardModel", "TimeAgentBlock", "coalition_masks"]
