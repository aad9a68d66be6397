"""collect_language (arXiv 2505.12872): records against the environment's own resets, with a
hand-built speaker whose first token names its item's score quarter; the zeroed channel leaves a
probe at chance while the hand-built language is decoded."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml import envs, language
from jaxml.language._collect import collect_language, load_records, save_records
from jaxml.models.foraging_agent import ZeroMessages
from jaxml.rl import mappo

VOCAB = 4


class _Net(NamedTuple):
    cell: str = "none"
    rnn_size: int = 1


class ScoreSpeaker(NamedTuple):
    """A fixed team: each agent says ``seen score // 63`` (0..3) and always moves UP.

    ``apply(params, obs, carry, batch_ndim)`` as ``mappo.Policy``; ``params`` scales nothing (a
    second team with ``params = 1`` says ``3 - token``, a different language)."""

    layout: Any
    model: _Net = _Net()

    def apply(self, params, obs, carry, batch_ndim):
        del batch_ndim
        seen = jnp.round(jnp.max(obs.view[..., -1], axis=(-2, -1)) * 255.0)  # [A]
        token = jnp.clip(seen // 63, 0, VOCAB - 1).astype(jnp.int32)
        token = jnp.where(params == 1, VOCAB - 1 - token, token)
        message = jax.nn.one_hot(token, VOCAB)[..., None, :] * 10.0  # [A, 1, V]
        action = jax.nn.one_hot(jnp.zeros_like(token), 5) * 10.0  # UP
        return carry, (action, message), jnp.zeros(token.shape)

    def env_action(self, actions):
        return mappo.Policy.env_action(self, actions)


def _speaker(env):
    return ScoreSpeaker(mappo.action_layout(env.action_spec))


def test_records_match_the_environments_resets_and_the_speakers_tokens():
    env = envs.make("ForagingScoreG-v0")
    key = jax.random.PRNGKey(0)
    records = collect_language(jnp.array(0), env, key, 64, policy=_speaker(env))
    horizon = env.horizon
    # Reference: the same resets, read one by one.
    for e, k in enumerate(jax.random.split(key, 64)[:8]):
        _, timestep = env.reset(jax.random.split(k)[0])
        x = timestep.extras
        target = int(x["target_item"])
        assert int(np.argmax(x["assigned_item"][:, target])) in (0, 1)
        score = int(x["item_scores"][target])
        row, col = (int(v) for v in x["item_positions"][target])
        np.testing.assert_array_equal(records.meanings[e], [score, row, col])
        # The speaker starts beside its item, so its first token names the score quarter.
        assert int(records.messages[e, 0]) == min(score // 63, VOCAB - 1)
    # Nobody picks up: every episode times out (-1), tokens fill the horizon, then padding.
    np.testing.assert_array_equal(records.lengths, horizon)
    np.testing.assert_allclose(records.outcomes, -1.0)
    assert records.messages.shape == (64, horizon + 2)
    np.testing.assert_array_equal(records.messages[:, horizon:], VOCAB)


def test_same_key_replays_the_same_episodes_with_another_speaker(tmp_path):
    env = envs.make("ForagingScoreG-v0")
    key = jax.random.PRNGKey(1)
    a = collect_language(jnp.array(0), env, key, 32, policy=_speaker(env))
    b = collect_language(jnp.array(1), env, key, 32, policy=_speaker(env))
    np.testing.assert_array_equal(a.meanings, b.meanings)
    first_a, first_b = a.messages[:, 0], b.messages[:, 0]
    np.testing.assert_array_equal(first_b, VOCAB - 1 - first_a)
    assert float(language.language_similarity(a.messages[:, :1], a.messages[:, :1])) == 1.0
    save_records(a, tmp_path / "records.npz")
    loaded = load_records(tmp_path / "records.npz")
    for x, y in zip(a, loaded, strict=True):
        np.testing.assert_array_equal(x, y)


def test_zeroed_messages_leave_a_probe_at_chance():
    env = envs.make("ForagingScoreG-v0")
    key = jax.random.PRNGKey(2)
    spoken = collect_language(jnp.array(0), env, key, 400, policy=_speaker(env))
    silent = collect_language(jnp.array(0), ZeroMessages(env), key, 400, policy=_speaker(env))
    tokens = silent.messages[:, : env.horizon]
    np.testing.assert_array_equal(tokens, 0)
    bins = jnp.minimum(spoken.meanings[:, 0] // 63, VOCAB - 1)  # What the hand code says.
    heard = language.displacement_probe(spoken.messages, bins, VOCAB + 1, seed=0)
    none = language.displacement_probe(silent.messages, bins, VOCAB + 1, seed=0)
    assert heard.accuracy > 0.9
    assert none.accuracy == pytest.approx(none.chance, abs=0.08)


def test_speaker_choice_and_errors():
    env = envs.make("ForagingTemporalG-v0")
    with pytest.raises(ValueError, match="speaker"):
        collect_language(jnp.array(0), env, jax.random.PRNGKey(0), 4, policy=_speaker(env))
    with pytest.raises(ValueError, match="speaker"):
        collect_language(jnp.array(0), env, jax.random.PRNGKey(0), 4, policy=_speaker(env),
                         speaker=2)  # fmt: skip
    records = collect_language(jnp.array(0), env, jax.random.PRNGKey(0), 8, policy=_speaker(env),
                               speaker=0)  # fmt: skip
    assert records.meanings.shape == (8, 3)
    assert (records.meanings[:, 0] >= 0).all() and (records.meanings[:, 0] < 6).all()
