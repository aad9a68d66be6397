"""The episode GIF: its tokens are play_episodes', one frame per step, tokens change frames."""

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxml import envs
from jaxml.language import _collect as language_collect
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


def test_states_are_the_reset_then_each_step_stepped_by_hand():
    """play_episode's states against env.reset / env.step driven from Python with the same
    (all-UP) team; return and length against the same loop."""
    env = envs.make("ForagingScoreG-v0", horizon=4)
    policy, key = _speaker(env), jax.random.PRNGKey(5)
    ep = play_episode(policy, jnp.array(0), env, key)
    played = language_collect.play_episode(policy, jnp.array(0), env, key)
    state, timestep = env.reset(jax.random.split(key)[0])
    expected, ret, done = [state], 0.0, False
    for _ in range(env.horizon):
        _, logits, _ = policy.apply(jnp.array(0), timestep.observation, None, 0)
        actions = tuple(jnp.argmax(lg, axis=-1).astype(jnp.int32) for lg in logits)
        if not done:
            state, timestep = env.step(state, policy.env_action(actions))
            ret += float(np.mean(timestep.reward))
            done = bool(timestep.last())
        expected.append(state)
    for t, want in enumerate(expected):
        got = jax.tree.map(lambda x, t=t: x[t], ep["states"])
        for name in ("agent_pos", "item_pos", "item_collected", "inbox", "step_count"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    assert int(played["length"]) == int(np.sum(ep["live"])) == int(expected[-1].step_count)
    np.testing.assert_allclose(float(played["return"]), ret, rtol=1e-6)
