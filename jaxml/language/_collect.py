"""Trained agents to language records: play episodes, keep what the speaker saw and said.

"From Grunts to Lexicons" (Piriyajitakonkij et al. 2025, arXiv 2505.12872;
../shared/papers/foraging.md): the meaning of an episode is what the speaker saw of its item
(ScoreG: ``[score, row, column]`` of the item whose score it sees; TemporalG:
``[appearance time, row, column]`` of the item placed in its view), the message is the token
sequence it emitted over the episode (``extras["message_sent"]``, ``L`` tokens per step, so what
the channel carried: zeros under the ``ZeroMessages`` ablation), padded with the pad token ``V``
to the most common length + 2 (``pad_messages``). ScoreG's default speaker is the agent that sees
the *target* (the higher-scoring item), as in the authors' analysis.

Episodes start from resets on keys split off ``key``: two calls with the same ``key`` and
``num_episodes`` replay the same start states with whatever agents they are given, which is how
language similarity compares speakers on the same episodes.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jumanji.wrappers import AutoResetWrapper

from jaxml.language._records import LanguageRecords, pad_messages
from jaxml.models.agent_actor_critic import factorised_policy, initial_carry
from jaxml.utils import checks

SPEAKERS = ("target", 0, 1)


def _speaker_item(extras: dict[str, jax.Array], speaker: Any) -> tuple[jax.Array, jax.Array]:
    """``(speaker agent [], its item [])`` at reset."""
    assigned = extras["assigned_item"]  # [A, I] bool
    if speaker == "target":
        item = extras["target_item"]
        agent = jnp.argmax(assigned[:, item])
    else:
        agent = jnp.asarray(speaker, jnp.int32)
        item = jnp.argmax(assigned[agent])
    return agent.astype(jnp.int32), item.astype(jnp.int32)


def play_episode(
    policy: Any,
    params: Any,
    env: Any,
    key: jax.Array,
    *,
    deterministic: bool = True,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """One episode of a team, step by step; jittable. The one loop behind ``play_episodes`` and
    ``language.render.play_episode``.

    The reset takes ``jax.random.split(key)[0]``; the actions (when sampled) the other half. After
    the end the episode is frozen: the state, timestep and policy state stop changing.

    Returns:
      ``start`` (the reset state), ``first`` (the reset TimeStep), ``states`` (the state
      after each step, stacked over ``T``), ``actions`` ``[T, A]`` (the move head),
      ``tokens`` ``[T, A, L]`` (what the channel carried, ``extras["message_sent"]``),
      ``live`` ``[T]`` bool (the step was taken before the end), ``return`` [] (the team
      return: the sum over live steps of the mean reward), ``length`` [] (live steps) and
      ``success`` [] (of the step that ended the episode).
    """
    if isinstance(env, AutoResetWrapper):
        env = env._env
    steps = int(env.horizon if max_steps is None else max_steps)
    net = policy.model
    reset_key, act_key = jax.random.split(key)
    state, timestep = env.reset(reset_key)

    def step(carry, step_key):
        state, timestep, policy_state, ret, length, done, success = carry
        policy_state_new, logits, _ = policy.apply(params, timestep.observation, policy_state, 0)
        if deterministic:
            actions = tuple(jnp.argmax(lg, axis=-1).astype(jnp.int32) for lg in logits)
        else:
            actions = factorised_policy(logits, 1).sample(seed=step_key)
        next_state, next_timestep = env.step(state, policy.env_action(actions))
        live = jnp.logical_not(done)
        ret = ret + jnp.where(live, jnp.mean(next_timestep.reward), 0.0)
        length = length + live.astype(jnp.int32)
        ends = live & next_timestep.last()
        success = jnp.where(ends, next_timestep.extras["success"], success)
        done = done | next_timestep.last()
        state, timestep, policy_state = jax.tree.map(
            lambda new, old: jnp.where(live, new, old),
            (next_state, next_timestep, policy_state_new),
            (state, timestep, policy_state),
        )
        out = (state, actions[0], next_timestep.extras["message_sent"], live)
        return (state, timestep, policy_state, ret, length, done, success), out

    carry = (
        state,
        timestep,
        initial_carry(net.cell, net.rnn_size, (policy.layout.num_agents,)),
        jnp.zeros((), jnp.float32),
        jnp.zeros((), jnp.int32),
        jnp.zeros((), bool),
        jnp.zeros((), bool),
    )
    carry, (states, actions, tokens, live) = jax.lax.scan(
        step, carry, jax.random.split(act_key, steps)
    )
    _, _, _, ret, length, _, success = carry
    return {
        "start": state,
        "first": timestep,
        "states": states,
        "actions": actions,
        "tokens": tokens,
        "live": live,
        "return": ret,
        "length": length,
        "success": success,
    }


def play_episodes(
    policy: Any,
    params: Any,
    env: Any,
    key: jax.Array,
    num_episodes: int,
    *,
    speaker: Any = "target",
    deterministic: bool = True,
    max_steps: int | None = None,
) -> dict[str, jax.Array]:
    """Jittable core of ``collect_language``: per episode, the speaker's meaning ``[E, 3]``, its
    tokens ``[E, T·L]`` (zeros after the end), the length in steps ``[E]``, the team return
    ``[E]`` (mean over agents), ``success`` ``[E]`` and the speaker's index ``[E]``. Episode
    ``e`` is ``play_episode`` on ``jax.random.split(key, E)[e]``."""
    if isinstance(env, AutoResetWrapper):
        env = env._env
    extras = jax.eval_shape(env.reset, key)[1].extras
    attribute = "item_scores" if "item_scores" in extras else "item_appear_time"
    if speaker == "target" and "target_item" not in extras:
        raise ValueError("speaker: expected 0 or 1 (no target item outside ScoreG), got 'target'")

    def episode(k):
        played = play_episode(
            policy, params, env, k, deterministic=deterministic, max_steps=max_steps
        )
        first = played["first"].extras
        agent, item = _speaker_item(first, speaker)
        row_col = first["item_positions"][item]
        meaning = jnp.concatenate([first[attribute][item][None], row_col]).astype(jnp.int32)
        sent = jnp.where(played["live"][:, None], played["tokens"][:, agent], 0)  # [T, L]
        return {
            "meanings": meaning,
            "tokens": jnp.reshape(sent, (-1,)),  # [T * L], step-major.
            "lengths": played["length"],
            "returns": played["return"],
            "success": played["success"],
            "speaker": agent,
        }

    return jax.vmap(episode)(jax.random.split(key, num_episodes))


def collect_language(
    params: Any,
    env: Any,
    key: jax.Array,
    num_episodes: int,
    *,
    policy: Any,
    speaker: Any = "target",
    deterministic: bool = True,
    length: int | None = None,
) -> LanguageRecords:
    """``LanguageRecords`` of ``num_episodes`` episodes of a two-agent team on a Foraging Game.

    Args:
      params: the team's parameters (``[2, ...]`` agent-stacked: e.g.
        ``population.pair_params(state.params, i, j)``).
      env: ``ForagingScoreG`` / ``ForagingTemporalG`` (an auto-reset wrapper is removed).
      key: the episodes' resets (and sampled actions) are split off it.
      num_episodes: E.
      policy: the trainer's ``mappo.Policy`` (``trainer.policy`` / ``trainer.model``).
      speaker: ``"target"`` (ScoreG: the agent that sees the higher-scoring item) or agent 0/1.
      deterministic: each head's argmax (the evaluator's default) or a sample.
      length: the padded message length (default: the mode episode length + 2, in tokens).

    Returns:
      ``LanguageRecords`` with meanings ``[E, 3]``, messages ``[E, length]`` (pad token V),
      lengths ``[E]`` (tokens said) and outcomes ``[E]`` (the team return; > 0 is a success).
    """
    checks.positive_int(num_episodes, "num_episodes")
    checks.expect(speaker in SPEAKERS, "speaker", f"one of {SPEAKERS}", speaker)
    out = jax.jit(
        lambda p, k: play_episodes(
            policy, p, env, k, num_episodes, speaker=speaker, deterministic=deterministic
        )
    )(params, key)
    return episode_records(out, env, length=length)


def episode_records(out: dict[str, Any], env: Any, *, length: int | None = None) -> LanguageRecords:
    """``LanguageRecords`` from ``play_episodes``' output (of one team) on ``env``."""
    per_step = int(env.message_length)
    lengths = out["lengths"] * per_step
    messages = pad_messages(out["tokens"], lengths, int(env.vocab_size), length=length)
    return LanguageRecords(
        meanings=out["meanings"],
        messages=messages,
        lengths=lengths.astype(jnp.int32),
        outcomes=out["returns"].astype(jnp.float32),
    )


def save_records(records: LanguageRecords, path: str | os.PathLike) -> None:
    """Writes ``records`` as a ``.npz`` (one array per field) beside a run's outputs."""
    np.savez(path, **{name: np.asarray(value) for name, value in records._asdict().items()})


def load_records(path: str | os.PathLike) -> LanguageRecords:
    """Reads records written by ``save_records``."""
    with np.load(path) as data:
        return LanguageRecords(
            **{name: jnp.asarray(data[name]) for name in LanguageRecords._fields}
        )
