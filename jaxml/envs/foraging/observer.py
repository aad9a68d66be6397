"""Egocentric observations of the Foraging Games (arXiv 2505.12872).

The view is computed by comparing each window cell's absolute coordinates with the agents' and
items' cells: [A, v, v, I] booleans, no gather, no padding and no per-agent Python loop.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jumanji import specs

from jaxml.envs.foraging.types import AGENT, EMPTY, ITEM, WALL, Observation, State


def item_visible(state: State) -> jnp.ndarray:
    """[I] bool: items on the grid now (appeared and not yet collected)."""
    return (state.item_appear <= state.step_count) & ~state.item_collected


class ForagingObserver:
    """Builds ``Observation``s: [A, v, v, C] views, [A, 2] positions and [A, L] inboxes.

    Args:
      grid_size: side of the square grid G.
      view_size: side v of the (odd) egocentric window.
      num_agents: A.
      message_length: L, tokens per message.
      vocab_size: V, tokens are 0..V-1.
      score_channel: add ScoreG's score channel (C = 2) to occupancy (C = 1).
      agent_visible: whether the partner appears (as 127) in the view; it blocks either way.
    """

    def __init__(
        self,
        grid_size: int,
        view_size: int,
        num_agents: int,
        message_length: int,
        vocab_size: int,
        score_channel: bool,
        agent_visible: bool,
    ):
        self.grid_size = grid_size
        self.view_size = view_size
        self.num_agents = num_agents
        self.message_length = message_length
        self.vocab_size = vocab_size
        self.score_channel = score_channel
        self.agent_visible = agent_visible
        self.num_channels = 2 if score_channel else 1
        radius = view_size // 2
        span = np.arange(-radius, radius + 1)
        # [v, v, 2] (d_row, d_col) of each window cell; the centre is (0, 0).
        self._offsets = np.stack(np.meshgrid(span, span, indexing="ij"), axis=-1).astype(np.int32)

    def views(self, state: State) -> jnp.ndarray:
        """[A, v, v, C] float32 views in [0, 1]."""
        cells = state.agent_pos[:, None, None, :] + self._offsets[None]  # [A, v, v, 2]
        outside = jnp.any((cells < 0) | (cells >= self.grid_size), axis=-1)  # [A, v, v]
        item_here = jnp.all(cells[..., None, :] == state.item_pos[None, None, None], axis=-1)
        item_here = item_here & item_visible(state)[None, None, None, :]  # [A, v, v, I]
        centre = np.all(self._offsets == 0, axis=-1)[None]  # [1, v, v]
        if self.agent_visible:
            agent_here = jnp.all(cells[..., None, :] == state.agent_pos[None, None, None], -1)
            agent_here = jnp.any(agent_here, axis=-1)  # The agent itself or its partner.
        else:
            agent_here = jnp.broadcast_to(centre, cells.shape[:-1])
        occupancy = jnp.where(
            outside,
            WALL,
            jnp.where(jnp.any(item_here, axis=-1), ITEM, jnp.where(agent_here, AGENT, EMPTY)),
        )
        channels = [occupancy]
        if self.score_channel:
            seen_score = jnp.where(state.assigned, state.item_score[None, :], 0)  # [A, I]
            channels.append(jnp.sum(jnp.where(item_here, seen_score[:, None, None, :], 0), -1))
        return jnp.stack(channels, axis=-1).astype(jnp.float32) / 255.0

    def __call__(self, state: State) -> Observation:
        return Observation(view=self.views(state), position=state.agent_pos, message=state.inbox)

    def observation_spec(self) -> specs.Spec[Observation]:
        """Spec of ``Observation`` with the shapes above."""
        a, v = self.num_agents, self.view_size
        return specs.Spec(
            Observation,
            "ObservationSpec",
            view=specs.BoundedArray((a, v, v, self.num_channels), jnp.float32, 0.0, 1.0, "view"),
            position=specs.BoundedArray((a, 2), jnp.int32, 0, self.grid_size - 1, "position"),
            message=specs.BoundedArray(
                (a, self.message_length), jnp.int32, 0, self.vocab_size - 1, "message"
            ),
        )
