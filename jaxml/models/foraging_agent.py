"""The Foraging Games agent of "From Grunts to Lexicons" (Piriyajitakonkij et al., 2505.12872).

As the authors' code builds it (``models/pickup_models.py``; ../shared/papers/foraging.md):

- grid encoder: the flattened ``v x v x C`` view through an MLP 256-256-128-16, ReLU after each;
- position encoder: ``Linear(2 -> 4)`` on ``position / grid_size``;
- message encoder: ``Embedding(V, 16)`` of the partner's last tokens, then ``Linear(16)`` + ReLU;
- the three codes concatenated (36) into one LSTM of 128 units (state zeroed at episode end);
- heads on the LSTM output: action ``Linear(5)`` and message ``Linear(V)`` (orthogonal, gain 0.01)
  and value ``Linear(1)`` (gain 1); action and message are sampled from two categoricals.

``ForagingAgentTeam`` is the pair network mappo's ``Policy`` applies: one ``ForagingAgent`` per
agent slot, its parameters stacked on the agent axis (``stacked.agent_vmap``), so a population
``[N, ...]`` of them pairs with ``stacked.take`` (``jaxml.rl.population``). It reads mappo's flat
per-agent input (``mappo.agent_inputs``: the observation's fields by name, ``message [L]``,
``position [2]``, ``view [v*v*C]``, no agent id) and splits it back into the three parts. Its
recurrent state is mappo's ``{"actor": (c, h), "critic": (c, h)}``; the one LSTM the actor and the
critic share lives in ``"actor"`` (``"critic"`` passes through unused).

``agent_config("paper")`` is the authors' network; ``agent_config("cpu")`` a small variant for CPU
runs. ``messages="zero"`` is the no-communication ablation: ``ZeroMessages`` replaces every
emitted token by 0 before the environment delivers it (the listener hears only silence, and the
records hold zeros).
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
from jumanji import wrappers

from jaxml.models._init import orthogonal
from jaxml.models.actor_critic import orthogonal_dense
from jaxml.models.stacked import agent_vmap, from_agent_major, to_agent_major
from jaxml.utils import checks

MESSAGES = ("learned", "zero")
NUM_ACTIONS = 5  # UP, DOWN, LEFT, RIGHT, PICK_UP.


def agent_config(variant: str = "paper") -> ml_collections.ConfigDict:
    """The network's fields: ``"paper"`` (arXiv 2505.12872's agent) or ``"cpu"`` (small).

    ``vocab_size`` V, ``message_length`` L (tokens per step) and ``comm_range`` (Chebyshev
    distance within which messages arrive, None: unlimited) are passed to the environment too.
    """
    checks.choice(variant, "variant", ("paper", "cpu"))
    paper = variant == "paper"
    return ml_collections.ConfigDict(
        {
            "grid_hidden": (256, 256, 128, 16) if paper else (32, 16),
            "position_features": 4,
            "message_features": 16 if paper else 8,
            "rnn_size": 128 if paper else 32,
            "vocab_size": 4,
            "message_length": 1,
            "comm_range": ml_collections.config_dict.placeholder(int),
            "messages": "learned",  # Or "zero": the no-communication ablation.
        }
    )


class ForagingAgent(nn.Module):
    """One agent: ``(carry, x [..., D]) -> (carry, (action [..., 5], message [..., L, V]), value)``.

    ``x`` is ``concat(message tokens [L], position [2], view [v*v*C])`` (mappo's sorted fields).
    """

    grid_size: int
    view_features: int  # v * v * C.
    vocab_size: int
    message_length: int
    grid_hidden: tuple[int, ...] = (256, 256, 128, 16)
    position_features: int = 4
    message_features: int = 16
    rnn_size: int = 128

    @nn.compact
    def __call__(self, carry: Any, x: jax.Array):
        length = self.message_length
        tokens = jnp.clip(jnp.round(x[..., :length]).astype(jnp.int32), 0, self.vocab_size - 1)
        position = x[..., length : length + 2] / self.grid_size
        view = x[..., length + 2 :]
        relu_gain = math.sqrt(2.0)
        for i, width in enumerate(self.grid_hidden):
            view = nn.relu(orthogonal_dense(width, relu_gain, name=f"grid_{i}")(view))
        position = orthogonal_dense(self.position_features, relu_gain, name="position")(position)
        embedded = nn.Embed(self.vocab_size, self.message_features, name="message_embed")(tokens)
        embedded = jnp.reshape(embedded, embedded.shape[:-2] + (-1,))
        heard = nn.relu(
            orthogonal_dense(self.message_features, relu_gain, name="message")(embedded)
        )
        features = jnp.concatenate([view, position, heard], axis=-1)
        carry, out = nn.OptimizedLSTMCell(
            self.rnn_size, recurrent_kernel_init=orthogonal(), name="lstm"
        )(carry, features)
        action = orthogonal_dense(NUM_ACTIONS, 0.01, name="action_head")(out)
        message = orthogonal_dense(length * self.vocab_size, 0.01, name="message_head")(out)
        message = jnp.reshape(message, message.shape[:-1] + (length, self.vocab_size))
        value = orthogonal_dense(1, 1.0, name="value_head")(out)[..., 0]
        return carry, (action, message), value


class ForagingAgentTeam(nn.Module):
    """Two (or ``A``) independent ``ForagingAgent``s in mappo's layout.

    ``__call__(carry, actor_in [..., A, D], critic_in) -> (carry, (action [..., A, 5],
    message [..., A, L, V]), value [..., A])``; parameters ``[A, ...]`` under ``"agent"``.
    """

    grid_size: int
    view_features: int
    vocab_size: int
    message_length: int
    grid_hidden: tuple[int, ...] = (256, 256, 128, 16)
    position_features: int = 4
    message_features: int = 16
    rnn_size: int = 128
    cell: str = "lstm"  # What jaxml.rl.evaluate reads to build the initial state.

    @nn.compact
    def __call__(self, carry: Any, actor_in: jax.Array, critic_in: jax.Array):
        del critic_in  # The critic is the value head on the shared LSTM (IPPO: same input).
        batch_axes = actor_in.ndim - 2
        agent = agent_vmap(ForagingAgent)(
            self.grid_size, self.view_features, self.vocab_size, self.message_length,
            tuple(self.grid_hidden), self.position_features, self.message_features,
            self.rnn_size, name="agent",
        )  # fmt: skip
        lstm, logits, value = agent(
            to_agent_major(carry["actor"], -2), to_agent_major(actor_in, -2)
        )
        logits = tuple(jnp.moveaxis(lg, 0, batch_axes) for lg in logits)
        value = jnp.moveaxis(value, 0, batch_axes)
        return {**carry, "actor": from_agent_major(lstm, -2)}, logits, value


def check_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Raises ValueError naming ``agent.<field>`` that is out of range; returns ``config``."""
    checks.positive_ints(config.grid_hidden, "agent.grid_hidden")
    for field in ("position_features", "message_features", "rnn_size", "message_length"):
        checks.positive_int(config[field], f"agent.{field}")
    vocab = checks.positive_int(config.vocab_size, "agent.vocab_size")
    checks.expect(vocab >= 2, "agent.vocab_size", "an int >= 2", vocab)
    checks.choice(config.messages, "agent.messages", MESSAGES)
    return config


def env_kwargs(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The environment's channel settings from the agent config."""
    return {
        "vocab_size": int(config.vocab_size),
        "message_length": int(config.message_length),
        "comm_range": config.comm_range,
    }


def make_team(config: ml_collections.ConfigDict, env: Any) -> ForagingAgentTeam:
    """The pair network for a Foraging Game ``env`` (its grid, view and channel sizes).

    Raises:
      ValueError: naming ``agent.<field>`` when the config and ``env`` disagree.
    """
    check_config(config)
    for field in ("vocab_size", "message_length"):
        got = getattr(env, field)
        checks.expect(got == config[field], f"agent.{field}", f"the env's {got}", config[field])
    view = env.observation_spec.generate_value().view
    return ForagingAgentTeam(
        grid_size=int(env.grid_size),
        view_features=int(math.prod(view.shape[1:])),
        vocab_size=int(config.vocab_size),
        message_length=int(config.message_length),
        grid_hidden=tuple(int(w) for w in config.grid_hidden),
        position_features=int(config.position_features),
        message_features=int(config.message_features),
        rnn_size=int(config.rnn_size),
    )


class ZeroMessages(wrappers.Wrapper):
    """The no-communication ablation: every token an agent emits is replaced by 0 (silence)
    before the environment delivers it, so the partner's observation carries no information."""

    def step(self, state, action):
        action = action._replace(message=jnp.zeros_like(action.message))
        return self._env.step(state, action)


def with_channel(env: Any, config: ml_collections.ConfigDict) -> Any:
    """``env``, wrapped in ``ZeroMessages`` when ``config.messages == "zero"``."""
    check_config(config)
    return ZeroMessages(env) if config.messages == "zero" else env


__all__ = [
    "MESSAGES",
    "ForagingAgent",
    "ForagingAgentTeam",
    "ZeroMessages",
    "agent_config",
    "check_config",
    "env_kwargs",
    "make_team",
    "with_channel",
]
