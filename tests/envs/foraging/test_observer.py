"""Egocentric views against a reference built by padding the whole grid and slicing it."""

import jax
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxml.envs.foraging import ForagingScoreG, ForagingTemporalG
from tests.envs.foraging.reference import make_state
from tests.helpers import fast_jit

ENVS = [
    ForagingScoreG(),
    ForagingScoreG(agent_visible=True, view_size=5),
    ForagingTemporalG(),
    ForagingTemporalG(agent_visible=True, grid_size=6),
]
OBSERVE = [fast_jit(env._observer.__call__) for env in ENVS]


def reference_views(env, state):
    """[A, v, v, C]: draw the full grid, pad it with walls, cut each agent's window."""
    g, r = env.grid_size, env.view_size // 2
    score_game = isinstance(env, ForagingScoreG)
    views = []
    for a in range(2):
        grid = np.zeros((g, g, 2))
        for i in range(2):
            visible = state.item_appear[i] <= state.step_count and not state.item_collected[i]
            if visible:
                row, col = state.item_pos[i]
                grid[row, col, 0] = 85
                if score_game and state.assigned[a, i]:
                    grid[row, col, 1] = state.item_score[i]
        for b in range(2):
            if b == a or env.agent_visible:
                row, col = state.agent_pos[b]
                grid[row, col, 0] = 127
        padded = np.pad(grid, ((r, r), (r, r), (0, 0)))
        padded[:r, :, 0] = padded[-r:, :, 0] = padded[:, :r, 0] = padded[:, -r:, 0] = 255
        row, col = state.agent_pos[a]
        views.append(padded[row : row + 2 * r + 1, col : col + 2 * r + 1])
    channels = 2 if score_game else 1
    return np.stack(views)[..., :channels] / 255.0


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    which=st.integers(0, len(ENVS) - 1),
    cells=st.lists(st.integers(0, 35), min_size=4, max_size=4, unique=True),
    collected=st.tuples(st.booleans(), st.booleans()),
    appear=st.tuples(st.integers(0, 6), st.integers(0, 6)),
    step_count=st.integers(0, 8),
)
def test_views_match_padded_reference(which, cells, collected, appear, step_count):
    env = ENVS[which]
    g = env.grid_size
    cells = [divmod(c % (g * g), g) for c in cells]
    if len(set(cells)) < 4:
        return
    state = make_state(
        env,
        cells[:2],
        cells[2:],
        scores=(35, 240),
        appear=appear,
        collected=collected,
        step_count=step_count,
    )
    obs = OBSERVE[which](state)
    np.testing.assert_allclose(
        obs.view, reference_views(env, jax.tree.map(np.asarray, state)), atol=1e-6
    )
    np.testing.assert_array_equal(obs.position, cells[:2])
    env.observation_spec.validate(obs)
