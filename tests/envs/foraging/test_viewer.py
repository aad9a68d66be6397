"""Rendering: RGB arrays of states, and GIFs of episodes."""

import jax
import numpy as np
import pytest
from PIL import Image

from jaxml import envs
from jaxml.envs.foraging import ForagingScoreG, ForagingTemporalG
from tests.helpers import fast_jit


@pytest.mark.parametrize("cls", [ForagingScoreG, ForagingTemporalG])
def test_render_returns_rgb_that_follows_the_state(cls):
    env = cls()
    state, _ = fast_jit(env.reset)(jax.random.PRNGKey(0))
    frame = env.render(state)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[-1] == 3
    moved = state.replace(agent_pos=state.agent_pos.at[0, 1].set((state.agent_pos[0, 1] + 1) % 5))
    other = env.render(moved)
    assert other.shape == frame.shape and not np.array_equal(other, frame)
    with pytest.raises(ValueError, match="state"):
        env.render(jax.tree.map(lambda x: x[None], state))


def test_animate_writes_a_gif_from_stacked_or_listed_states(tmp_path):
    env = ForagingTemporalG()
    state, _ = fast_jit(env.reset)(jax.random.PRNGKey(1))
    states = [state.replace(step_count=state.step_count + t) for t in range(3)]
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *states)
    for name, given in (("list.gif", states), ("stacked.gif", stacked)):
        path = envs.animate(given, tmp_path / name, env.render, fps=5)
        with Image.open(path) as gif:
            assert gif.n_frames == 3
            assert gif.size == env.render(state).shape[1::-1]
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    frames[1] = 255  # Pillow merges identical consecutive frames (adding their durations).
    with Image.open(envs.animate(frames, tmp_path / "frames.gif")) as gif:
        assert gif.n_frames == 2
    with pytest.raises(ValueError, match="states"):
        envs.animate(states, tmp_path / "bad.gif")  # States without a render function.
