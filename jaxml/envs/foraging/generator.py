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
    return jax.lax.rem(bits, jnp.asarray(n, jnp.uint32)).astype(jnp.int32)


def _period(values: np.ndarray, max_period: int = 8) -> tuple[int, int] | None:
    """``(p, step)`` with ``values[j] == values[j % p] + (j // p) * step`` for every ``j``, the
    smallest ``p <= max_period`` dividing ``len(values)``; ``None`` if there is none."""
    n = len(values)
    for p in range(1, min(max_period, n) + 1):
        if n % p:
            continue
        rows = values.reshape(n // p, p)
        steps = np.diff(rows, axis=0)
        if n == p or np.all(steps == steps[0, 0]):
            return p, int(steps[0, 0]) if n > p else 0
    return None


def _lookup(values: np.ndarray, index: jax.Array) -> jax.Array:
    """``values[index]`` for ``index`` in ``0..n-1`` (int32, any shape).

    A lookup in a constant table is a gather, a scalar loop on CPU (a tenth of ScoreG's own
    share of an auto-reset step, benchmarks/language_speed.py). The splits' tables are periodic
    progressions ({5, 10, ..., 250}: period 1, step 5; the even non-multiples of 10: period 4,
    step 10; TemporalG's times: period 1, step 1), so the lookup is a few compares and one
    multiply-add; other tables fall back to the gather.
    """
    values = np.asarray(values)
    found = _period(values)
    if found is None:
        return jnp.asarray(values)[index]
    p, step = found
    index = jnp.asarray(index, jnp.int32)
    phase, cycle = jax.lax.rem(index, np.int32(p)), jax.lax.div(index, np.int32(p))
    base = jnp.full(index.shape, values[0], values.dtype)
    for j in range(1, p):
        base = jnp.where(phase == j, values[j], base)
    return base + cycle.astype(values.dtype) * values.dtype.type(step)


def _distinct_pair(first: jax.Array, second: jax.Array, values: np.ndarray) -> jax.Array:
    """``values[first]`` and a different entry: ``first`` uniform in ``0..n-1``, ``second`` in
    ``0..n-2`` (the index among the other ``n − 1``), so the pair is uniform without
    replacement: [2]."""
    second = second + (second >= first)  # Skip the first pick: uniform over the other n - 1.
    return _lookup(values, jnp.stack([first, second]))


def _two_distinct(bits: jax.Array, values: np.ndarray) -> jax.Array:
    """Two distinct entries of ``values``, uniform without replacement, from 2 uint32s: [2]."""
    n = len(values)
    return _distinct_pair(_below(bits[0], n), _below(bits[1], n - 1), values)


_GOLDEN = np.uint32(0x9E3779B9)  # 2**32 / golden ratio: keeps a zero word from mixing to 0.


def _mix(x: jax.Array) -> jax.Array:
    """MurmurHash3's 32-bit finaliser (Appleby): a bijection of uint32 that mixes every bit."""
    x = x ^ (x >> 16)
    x = x * np.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * np.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def _draws(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """[2] uint32 draws from ``key``'s first two words, and the key the start state keeps.

    Reset runs at every step under auto-reset (jumanji's wrapper computes it for every env and
    selects), and a threefry hash there is a loop of its own on CPU, about a fifth of a ScoreG
    step (benchmarks/language_speed.py). So reset does not hash: a two-round Feistel network of
    ``_mix`` maps the key's words ``(w0, w1)`` to the draws. It is a bijection of uint32 pairs,
    so the draws are exactly uniform whenever the key is: the keys reset gets from
    ``jax.random.split`` (the wrapper's auto-reset, ``VmapWrapper``, rollouts) are threefry
    outputs. A hand-made key such as ``PRNGKey(seed)`` still gives every seed its own start.
    The state keeps ``key``; auto-reset hashes it (``jax.random.split``) for the next episode.
    """
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    words = jnp.ravel(jax.random.key_data(key) if typed else key).astype(jnp.uint32)
    w0, w1 = words[0], words[1]
    w0 = w0 ^ _mix(w1 + _GOLDEN)  # Feistel rounds: (w0, w1) -> (w0 ^ F(w1), w1 ^ F(...)).
    w1 = w1 ^ _mix(w0 + _GOLDEN)
    return jnp.stack([_mix(w0), _mix(w1)]), key


def _digits(value: jax.Array, radices: tuple[int, ...]) -> list[jax.Array]:
    """Mixed-radix digits of ``value`` (least significant first): uniform in ``0..r-1`` each and
    independent when ``value`` is uniform in ``0..prod(radices)-1``."""
    value = value.astype(jnp.uint32)  # Unsigned: plain remainders (jnp's % floors signs).
    digits = []
    for radix in radices:
        digits.append(jax.lax.rem(value, np.uint32(radix)).astype(jnp.int32))
        value = jax.lax.div(value, np.uint32(radix))
    return digits


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
        # Two 32-bit draws for the whole episode (reset runs at every step under auto-reset):
        # one for the ordered pair of distinct scores, one split into the layout's digits.
        # Modulo bias: below n (n - 1) / 2**32 and 72 G**2 / 2**32.
        bits, key_state = _draws(key)
        g, last, n = self.grid_size, self.grid_size - 1, len(self.score_values)
        first, second = _digits(_below(bits[0], n * (n - 1)), (n, n - 1))
        scores = _distinct_pair(first, second, self.score_values)
        # Which item is on top (2), the two columns (G each), each agent's spot (6 = lcm(2, 3):
        # uniform over the 2 or 3 free spots beside its item after a modulo by their count).
        coin, col_0, col_1, spot_0, spot_1 = _digits(_below(bits[1], 72 * g * g), (2, g, g, 6, 6))
        top_row = jnp.where(coin == 1, 0, last)
        rows = jnp.stack([top_row, last - top_row])
        cols = jnp.stack([col_0, col_1])
        item_pos = jnp.stack([rows, cols], axis=-1)  # [I, 2]
        # Spots beside an item, in order: left (if col > 0), right (if col < G - 1), one row
        # inward (always); the agent takes the (spot mod count)-th of those that exist.
        left, right = cols > 0, cols < last
        count = 1 + left.astype(jnp.int32) + right.astype(jnp.int32)
        nth = jax.lax.rem(jnp.stack([spot_0, spot_1]), count)
        d_col = jnp.where(left & (nth == 0), -1, jnp.where(right & (nth == left), 1, 0))
        d_row = jnp.where(d_col == 0, jnp.where(rows == 0, 1, -1), 0)
        agent_pos = item_pos + jnp.stack([d_row, d_col], axis=-1)
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
