"""Egocentric observations of the Foraging Games (arXiv 2505.12872).

The view is built from a few [A, I] and [A] numbers computed first (each item's offset from each
agent, the grid's edges as offsets), so that each window cell costs a handful of compares and
selects among float32 constants: no gather, no padding, no per-agent Python loop, no per-cell
integer-to-float conversion. The observer runs twice per auto-reset step (for the step and for
the reset): with constant views a ScoreG step ran 2.4x faster, and this form of the view made
the whole step 16% faster than comparing every cell's absolute coordinates with every item's
(single-threaded CPU time; benchmarks/language_speed.py times it). The two channels are merged
by a select on a constant channel mask rather than ``jnp.stack``: XLA's CPU loop emitter turns a
concatenate into a branch per cell, and without it ScoreG's auto-reset step took 0.72-0.79x the
CPU time (docs/language.md, "Speed").
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
        span = np.arange(-radius, radius + 1, dtype=np.int32)
        self._d_row = span[None, :, None]  # [1, v, 1] the window cells' offsets ...
        self._d_col = span[None, None, :]  # [1, 1, v] ... from the agent
        centre = np.zeros((view_size, view_size), bool)
        centre[radius, radius] = True
        self._centre = centre[None]  # [1, v, v]: the agent's own cell
        self._far = np.int32(view_size)  # An offset no window cell has (hides an item).
        self._first_channel = np.array([True, False]).reshape(1, 1, 1, 2)  # [1, 1, 1, C=2]

    def views(self, state: State) -> jnp.ndarray:
        """[A, v, v, C] float32 views in [0, 1]."""
        pos = state.agent_pos  # [A, 2]
        # Per agent and item, computed once: the item's offset, or one no cell has if hidden.
        shown = item_visible(state)[None, :]  # [1, I]
        rel = state.item_pos[None, :, :] - pos[:, None, :]  # [A, I, 2]
        rel_row = jnp.where(shown, rel[..., 0], self._far)  # [A, I]
        rel_col = jnp.where(shown, rel[..., 1], self._far)
        # The grid's edges as offsets from the agent: cell (dr, dc) is outside when dr < -row
        # or dr > G - 1 - row (and the same for columns).
        row, col, last = pos[:, 0, None, None], pos[:, 1, None, None], self.grid_size - 1
        outside = (self._d_row < -row) | (self._d_row > last - row)
        outside = outside | (self._d_col < -col) | (self._d_col > last - col)  # [A, v, v]
        here = [
            (self._d_row == rel_row[:, i, None, None]) & (self._d_col == rel_col[:, i, None, None])
            for i in range(rel_row.shape[1])
        ]  # I x [A, v, v]
        any_item = here[0]
        for item in here[1:]:
            any_item = any_item | item
        if self.agent_visible:  # The agent itself or its partner.
            gap = pos[::-1] - pos  # [A, 2]: two agents, the partner is the other row.
            partner = (self._d_row == gap[:, 0, None, None]) & (
                self._d_col == gap[:, 1, None, None]
            )
            agent_here = self._centre | partner
        else:
            agent_here = self._centre
        occupancy = jnp.where(
            outside,
            np.float32(WALL / 255),
            jnp.where(
                any_item,
                np.float32(ITEM / 255),
                jnp.where(agent_here, np.float32(AGENT / 255), np.float32(EMPTY / 255)),
            ),
        )  # [A, v, v]
        if not self.score_channel:
            return occupancy[..., None]
        seen = jnp.where(state.assigned, state.item_score[None, :], 0)  # [A, I]
        seen = seen.astype(jnp.float32) / 255.0
        score = jnp.zeros(occupancy.shape, jnp.float32)
        for i, item in enumerate(here):  # Items never share a cell.
            score = jnp.where(item, seen[:, i, None, None], score)
        # The channels merged by a select on a constant channel mask, not jnp.stack: XLA emits
        # a concatenate as a branch per cell inside the fused view loop (see the docstring).
        return jnp.where(self._first_channel, occupancy[..., None], score[..., None])

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
