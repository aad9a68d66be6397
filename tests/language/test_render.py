"""The episode GIF: its tokens are play_episodes', one frame per step, tokens change frames."""

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxml import envs
from jaxml.language._collect import play_episodes
from jaxml.language.render import draw_frame, play_episode, write_episode_gif
from tests.language.test_collect import _speaker


def test_tokens_match_play_episodes_and_gif_has_one_frame_per_step(tmp_path):
    env = envs.make("ForagingScoreG-v0")
    policy, key = _speaker(env), jax.random.PRNGKey(3)
    ref = play_episodes(policy, jnp.array(0), env, key, 2)
    for e, k in enumerate(jax.random.split(key, 2)):
        ep = play_episode(policy, jnp.array(0), env, k)
        n = int(np.sum(ep["live"]))
        assert n == int(ref["lengths"][e])
        speaker = int(ref["speaker"][e])
        got = np.asarray(ep["tokens"][:n, speaker]).reshape(-1)
        np.testing.assert_array_equal(got, np.asarray(ref["tokens"][e])[: got.size])
    path = write_episode_gif(policy, jnp.array(0), env, k, tmp_path / "episode.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == n


def test_a_frame_differs_when_a_token_differs():
    env = envs.make("ForagingScoreG-v0")
    state, _ = env.reset(jax.random.PRNGKey(0))
    a = draw_frame(env, state, np.array([[1], [2]]))
    b = draw_frame(env, state, np.array([[1], [3]]))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, draw_frame(env, state, np.array([[1], [2]])))
