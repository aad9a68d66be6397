"""Slow, loop-by-loop reference of the Foraging Games' rules, and hand-built states.

Written from the rules in shared/papers/foraging.md and the conventions in the env docstring,
with Python loops over agents and items, to test the vectorized environment against.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.envs.foraging import ForagingScoreG, State

MOVES = {0: (-1, 0), 1: (1, 0), 2: (0, -1), 3: (0, 1), 4: (0, 0)}


def make_state(
    env,
    agent_pos,
    item_pos,
    *,
    scores=(50, 100),
    appear=(0, 0),
    collected=(False, False),
    step_count=0,
    sent=None,
    inbox=None,
) -> State:
    """A hand-built unbatched state for ``env`` (agent i assigned item i)."""
    length = env.message_length
    zeros = np.zeros((2, length), np.int32)
    return State(
        agent_pos=jnp.asarray(agent_pos, jnp.int32),
        item_pos=jnp.asarray(item_pos, jnp.int32),
        item_score=jnp.asarray(scores if isinstance(env, ForagingScoreG) else (0, 0), jnp.int32),
        item_appear=jnp.asarray(
            appear if not isinstance(env, ForagingScoreG) else (0, 0), jnp.int32
        ),
        item_collected=jnp.asarray(collected, bool),
        assigned=jnp.eye(2, dtype=bool),
        sent=jnp.asarray(zeros if sent is None else sent, jnp.int32),
        inbox=jnp.asarray(zeros if inbox is None else inbox, jnp.int32),
        step_count=jnp.asarray(step_count, jnp.int32),
        key=jax.random.PRNGKey(0),
    )


def chebyshev(p, q) -> int:
    return max(abs(int(p[0]) - int(q[0])), abs(int(p[1]) - int(q[1])))


def reference_step(env, state: State, action, message):
    """(agent positions, collected, inbox, reward [2], done, success) after one step."""
    g, horizon = env.grid_size, env.horizon
    score_game = isinstance(env, ForagingScoreG)
    pos = [tuple(int(x) for x in p) for p in np.asarray(state.agent_pos)]
    items = [tuple(int(x) for x in p) for p in np.asarray(state.item_pos)]
    collected = [bool(c) for c in np.asarray(state.item_collected)]
    appear = [int(a) for a in np.asarray(state.item_appear)]
    scores = [int(s) for s in np.asarray(state.item_score)]
    t = int(state.step_count) + 1
    acting = t > env.freeze_steps

    targets = []
    for a in range(2):
        dr, dc = MOVES[int(action[a])] if acting else (0, 0)
        targets.append((pos[a][0] + dr, pos[a][1] + dc))
    new_pos = []
    for a in range(2):
        other = 1 - a
        target = targets[a]
        ok = 0 <= target[0] < g and 0 <= target[1] < g
        for i in range(2):
            if not collected[i] and items[i] == target:
                ok = False
        if target == pos[other] or target == targets[other]:
            ok = False
        new_pos.append(target if ok else pos[a])

    strength = [0, 0]
    lifters = [[], []]
    for a in range(2):
        if not (acting and int(action[a]) == 4):
            continue
        for i in range(2):  # The first reachable visible item takes this agent's strength.
            visible = appear[i] <= t - 1 and not collected[i]
            if visible and chebyshev(new_pos[a], items[i]) <= 1:
                strength[i] += 3
                lifters[i].append(a)
                break
    lifted = [s >= 6 for s in strength]

    reward = [0.0, 0.0]
    bonus = 1.0 + (horizon - t) / horizon
    if score_game:
        if any(lifted):
            best = max(scores)
            won = any(lifted[i] and scores[i] == best for i in range(2))
            reward = [bonus if won else -1.0] * 2
            done, success = True, won
        else:
            done, success = t >= horizon, False
            reward = [-1.0 if done else 0.0] * 2
    else:
        pending = [appear[i] for i in range(2) if not collected[i]]
        wrong = False
        for i in range(2):
            if lifted[i]:
                if appear[i] == min(pending):
                    for a in lifters[i]:
                        reward[a] += 0.05
                else:
                    wrong = True
        after = [collected[i] or lifted[i] for i in range(2)]
        if wrong:
            reward, done, success = [-1.0, -1.0], True, False
        elif all(after):
            reward = [r + bonus for r in reward]
            done, success = True, True
        else:
            done, success = t >= horizon, False
            if done:
                reward = [r - 1.0 for r in reward]
    for i in range(2):
        collected[i] = collected[i] or lifted[i]

    message = np.asarray(message)
    in_range = env.comm_range is None or chebyshev(new_pos[0], new_pos[1]) <= env.comm_range
    inbox = np.zeros_like(message)
    if in_range:
        inbox[0], inbox[1] = message[1], message[0]
    return np.array(new_pos), np.array(collected), inbox, np.array(reward), done, success
