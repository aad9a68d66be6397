"""Start states of both games follow the authors' spawn rules, over many keys."""

import functools

import jax
import numpy as np
import pytest

from jaxml.envs.foraging import ForagingScoreG, ForagingTemporalG
from jaxml.envs.foraging.env import SCORE_SPLITS, appearance_times
from jaxml.envs.foraging.generator import _lookup, _period
from tests.helpers import fast_jit

KEYS = jax.random.split(jax.random.PRNGKey(0), 2048)


@functools.cache
def starts(cls, **config):
    env = cls(**config)
    state = fast_jit(jax.vmap(lambda k: env.generator(k)))(KEYS)
    return env, jax.tree.map(np.asarray, state)


@pytest.mark.parametrize("split", ["train", "test"])
def test_scoreg_spawn_rules(split):
    env, s = starts(ForagingScoreG, score_split=split)
    last = env.grid_size - 1
    rows = s.item_pos[:, :, 0]
    assert np.all(np.sort(rows, axis=1) == [0, last]), "one item in row 0, one in the last row"
    assert np.all(np.abs(s.item_pos[:, 0] - s.item_pos[:, 1]).sum(-1) >= 3)
    # Agent i is Manhattan 1 from item i, on its side, and never on the other side.
    gap = np.abs(s.agent_pos - s.item_pos).sum(-1)
    np.testing.assert_array_equal(gap, 1)
    own_side = np.abs(s.agent_pos[..., 0] - rows) <= 1
    assert np.all(own_side)
    assert np.all(np.any(s.agent_pos[:, 0] != s.agent_pos[:, 1], axis=-1))
    # Scores: distinct, from the split, every value drawn, both items on top sometimes.
    assert np.all(s.item_score[:, 0] != s.item_score[:, 1])
    allowed = set(SCORE_SPLITS[split])
    assert set(np.unique(s.item_score)) == allowed
    assert 0.4 < np.mean(rows[:, 0] == 0) < 0.6
    assert not allowed & set(SCORE_SPLITS["train" if split == "test" else "test"])
    np.testing.assert_array_equal(
        s.assigned, np.broadcast_to(np.eye(2, dtype=bool), s.assigned.shape)
    )
    # The three cells beside a top item away from the corners are all used.
    top_middle = (rows[:, 0] == 0) & (s.item_pos[:, 0, 1] > 0) & (s.item_pos[:, 0, 1] < last)
    offsets = {tuple(o.tolist()) for o in s.agent_pos[top_middle, 0] - s.item_pos[top_middle, 0]}
    assert offsets == {(0, -1), (0, 1), (1, 0)}


def test_score_splits_match_the_paper():
    assert SCORE_SPLITS["train"] == tuple(range(5, 251, 5)) and len(SCORE_SPLITS["train"]) == 50
    test = SCORE_SPLITS["test"]
    assert all(s % 2 == 0 and s % 10 != 0 for s in test) and len(test) == 100
    assert min(test) == 2 and max(test) == 248


@pytest.mark.parametrize(
    "split, times", [("train", range(0, 6)), ("test", range(1, 5)), ("ood", range(6, 10))]
)
def test_temporalg_spawn_rules(split, times):
    env, s = starts(ForagingTemporalG, appearance_split=split)
    last = env.grid_size - 1
    assert appearance_times(split, env.freeze_steps) == tuple(times)
    assert np.all(np.sort(s.agent_pos[:, :, 0], axis=1) == [0, last]), "opposite edge rows"
    cols = s.agent_pos[:, :, 1]
    assert set(np.unique(cols)) == set(range(1, last))
    # Item i lies in agent i's 3x3 view, on the grid, on a free cell.
    radius = env.view_size // 2
    assert np.all(np.abs(s.item_pos - s.agent_pos).max(-1) <= radius)
    assert np.all((s.item_pos >= 0) & (s.item_pos <= last))
    cells = np.concatenate([s.agent_pos, s.item_pos], axis=1)  # [B, 4, 2]
    flat = cells[..., 0] * env.grid_size + cells[..., 1]
    assert all(len(set(row)) == 4 for row in flat)
    # Appearance times: distinct, from the split, all used.
    assert np.all(s.item_appear[:, 0] != s.item_appear[:, 1])
    assert set(np.unique(s.item_appear)) == set(times)
    assert 0.4 < np.mean(s.item_appear[:, 0] < s.item_appear[:, 1]) < 0.6


def chi_square_p(counts: np.ndarray) -> float:
    """p-value of uniform ``counts`` (a chi-square test)."""
    from scipy import stats

    return float(stats.chisquare(counts).pvalue)


def test_scoreg_draws_are_uniform_and_independent():
    """Reset mixes the key's words (no hash of its own): over split keys, every draw is uniform
    and the parts of a start are independent, as with the threefry draws it replaced."""
    env, s = starts(ForagingScoreG)
    g = env.grid_size
    values = np.asarray(env.generator.score_values)
    first = np.searchsorted(values, s.item_score[:, 0])
    assert chi_square_p(np.bincount(first, minlength=len(values))) > 1e-3
    top = s.item_pos[:, 0, 0] == 0
    cols = s.item_pos[:, :, 1]
    assert chi_square_p(np.bincount(cols[:, 0] * g + cols[:, 1], minlength=g * g)) > 1e-3
    # Spots beside a middle-column item: left, right and inward equally often.
    middle = (cols[:, 0] > 0) & (cols[:, 0] < g - 1)
    d = s.agent_pos[middle, 0] - s.item_pos[middle, 0]
    spot = np.where(d[:, 1] == -1, 0, np.where(d[:, 1] == 1, 1, 2))
    assert chi_square_p(np.bincount(spot, minlength=3)) > 1e-3
    # Independence: which item is on top says nothing about which score is higher.
    table = np.histogram2d(top, s.item_score[:, 0] > s.item_score[:, 1], bins=2)[0]
    from scipy import stats

    assert stats.chi2_contingency(table).pvalue > 1e-3


def test_scoreg_hand_made_and_typed_keys_give_distinct_starts():
    env = ForagingScoreG()
    raw = fast_jit(jax.vmap(lambda s: env.generator(jax.random.PRNGKey(s))))(np.arange(256))
    pairs = {tuple(p) for p in np.asarray(raw.item_score).tolist()}
    assert len(pairs) > 200  # Seeds 0..255 (keys [0, s]) are not one start.
    state = fast_jit(env.generator)(jax.random.key(3))
    assert jax.dtypes.issubdtype(state.key.dtype, jax.dtypes.prng_key)
    assert set(np.asarray(state.item_pos[:, 0]).tolist()) == {0, env.grid_size - 1}


@pytest.mark.parametrize(
    "values, period",
    [
        (SCORE_SPLITS["train"], (1, 5)),
        (SCORE_SPLITS["test"], (4, 10)),
        (appearance_times("train", 6), (1, 1)),
        (appearance_times("ood", 6), (1, 1)),
        ((3, 1, 4, 1, 5, 9, 2, 6, 5), None),  # No period: the gather fallback.
        ((7, 7, 9, 9, 11, 11), (2, 2)),
    ],
)
def test_lookup_equals_indexing_the_table(values, period):
    values = np.array(values, np.int32)
    assert _period(values) == period
    index = np.arange(len(values), dtype=np.int32)[::-1]
    got = jax.jit(lambda i: _lookup(values, i))(index)
    assert got.dtype == values.dtype
    np.testing.assert_array_equal(np.asarray(got), values[index])
