"""Start states of the Foraging Games (arXiv 2505.12872), following the authors' code.

Both generators are two-agent, two-item: agent ``i`` is given item ``i`` (``State.assigned`` is
the identity), and which side of the grid each pair starts on is random, so agent slots carry
no information by themselves.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.envs.foraging.types import State


def _below(bits: jax.Array, n) -> jax.Array:
    """Integers uniform in ``0..n-1`` from uint32 ``bits`` (modulo bias < n / 2**32)."""
    return (bits % jnp.asarray(n, jnp.uint32)).astype(jnp.int32)


def _two_distinct(bits: jax.Array, values: np.ndarray) -> jax.Array:
    """Two distinct entries of ``values``, uniform without replacement, from 2 uint32s: [2]."""
    n = len(values)
    first, second = _below(bits[0], n), _below(bits[1], n - 1)
    second = second + (second >= first)  # Skip the first pick: uniform over the other n - 1.
    return jnp.asarray(values)[jnp.stack([first, second])]


def _nth_true(mask: jax.Array, bits: jax.Array) -> jax.Array:
    """Index of a uniformly chosen True entry along the last axis of ``mask`` (one needed)."""
    count = jnp.sum(mask, axis=-1)
    nth = _below(bits, jnp.maximum(count, 1))
    hit = mask & (jnp.cumsum(mask, axis=-1) == (nth + 1)[..., None])
    return jnp.argmax(hit, axis=-1)


def _empty_state(agent_pos, item_pos, item_score, item_appear, message_length, key) -> State:
    num_agents, num_items = agent_pos.shape[0], item_pos.shape[0]
    tokens = jnp.zeros((num_agents, message_length), jnp.int32)
    return State(
        agent_pos=agent_pos.astype(jnp.int32),
        item_pos=item_pos.astype(jnp.int32),
        item_score=item_score.astype(jnp.int32),
        item_appear=item_appear.astype(jnp.int32),
        item_collected=jnp.zeros((num_items,), bool),
        assigned=jnp.eye(num_agents, num_items, dtype=bool),
        sent=tokens,
        inbox=tokens,
        step_count=jnp.array(0, jnp.int32),
        key=key,
    )


class ScoreGGenerator:
    """ScoreG start states: one item in row 0 and one in the last row, each with its seer beside it.

    The two scores are distinct draws from ``score_values``; the items' columns are uniform and
    which item is on top is a coin flip. Agent ``i`` spawns on a uniformly chosen free cell at
    Manhattan distance 1 from item ``i`` on that item's side (same row or the next one inward).
    On a grid of 4 or more rows the items are at least 3 apart, as the authors require.
    """

    def __init__(self, grid_size: int, message_length: int, score_values: np.ndarray):
        self.grid_size = grid_size
        self.message_length = message_length
        self.score_values = np.asarray(score_values, np.int32)

    def __call__(self, key: jax.Array) -> State:
        # One hash for every draw of the episode: reset runs at every step under auto-reset.
        key_bits, key_state = jax.random.split(key)
        bits = jax.random.bits(key_bits, (7,), jnp.uint32)
        last = self.grid_size - 1
        scores = _two_distinct(bits[0:2], self.score_values)
        top_row = jnp.where(bits[2] & 1, 0, last)
        rows = jnp.stack([top_row, last - top_row])
        cols = _below(bits[3:5], self.grid_size)
        item_pos = jnp.stack([rows, cols], axis=-1)  # [I, 2]
        inward = jnp.where(rows == 0, 1, -1)
        zero = jnp.zeros_like(inward)
        # Candidate cells beside each item: [I, 3, 2] = left, right, one row inward.
        offsets = jnp.stack(
            [
                jnp.stack([zero, zero - 1], -1),
                jnp.stack([zero, zero + 1], -1),
                jnp.stack([inward, zero], -1),
            ],
            axis=1,
        )
        candidates = item_pos[:, None, :] + offsets
        valid = jnp.all((candidates >= 0) & (candidates <= last), axis=-1)  # [I, 3]
        pick = _nth_true(valid, bits[5:7])  # [I]
        agent_pos = jnp.take_along_axis(candidates, pick[:, None, None], axis=1)[:, 0]
        return _empty_state(
            agent_pos, item_pos, scores, jnp.zeros((2,), jnp.int32), self.message_length, key_state
        )


class TemporalGGenerator:
    """TemporalG start states: agents on opposite edge rows, an item hidden in each one's view.

    Agent 0 starts in row 0 or the last row (a coin flip) and agent 1 in the other, each in a
    uniform column among ``1..grid_size-2``. Item ``i`` is placed on a uniformly chosen free cell
    of agent ``i``'s ``view_size`` window and appears at a distinct draw from
    ``appearance_times``.
    """

    def __init__(
        self, grid_size: int, view_size: int, message_length: int, appearance_times: np.ndarray
    ):
        self.grid_size = grid_size
        self.view_size = view_size
        self.message_length = message_length
        self.appearance_times = np.asarray(appearance_times, np.int32)
        radius = view_size // 2
        window = [
            (dr, dc) for dr in range(-radius, radius + 1) for dc in range(-radius, radius + 1)
        ]
        self._offsets = np.array([o for o in window if o != (0, 0)], np.int32)  # [K, 2]

    def __call__(self, key: jax.Array) -> State:
        # One hash for every draw of the episode: reset runs at every step under auto-reset.
        key_bits, key_state = jax.random.split(key)
        bits = jax.random.bits(key_bits, (7,), jnp.uint32)
        last = self.grid_size - 1
        top_row = jnp.where(bits[0] & 1, 0, last)
        rows = jnp.stack([top_row, last - top_row])
        cols = 1 + _below(bits[1:3], self.grid_size - 2)
        agent_pos = jnp.stack([rows, cols], axis=-1)  # [A, 2]
        appear = _two_distinct(bits[3:5], self.appearance_times)
        taken = agent_pos  # [n, 2] cells no item may take
        items = []
        for i in range(2):  # Two items, unrolled; the second avoids the first.
            candidates = agent_pos[i][None, :] + self._offsets  # [K, 2]
            inside = jnp.all((candidates >= 0) & (candidates <= last), axis=-1)
            clash = jnp.any(jnp.all(candidates[:, None, :] == taken[None, :, :], -1), -1)
            pick = _nth_true(inside & ~clash, bits[5 + i])
            items.append(candidates[pick])
            taken = jnp.concatenate([taken, candidates[pick][None, :]], axis=0)
        item_pos = jnp.stack(items)
        return _empty_state(
            agent_pos, item_pos, jnp.zeros((2,), jnp.int32), appear, self.message_length, key_state
        )
