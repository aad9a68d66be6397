"""The Foraging Games' dynamics: rules against a loop reference, rewards, episodes, determinism."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jumanji.wrappers import AutoResetWrapper, VmapWrapper

from jaxml import envs
from jaxml.envs.foraging import PICK_UP, ForagingAction, ForagingScoreG, ForagingTemporalG
from tests.envs.foraging.reference import chebyshev, make_state, reference_step
from tests.helpers import fast_jit

SCOREG = ForagingScoreG()
TEMPORALG = ForagingTemporalG()
# Non-default variants: longer messages, a bigger vocabulary, a visible partner, a finite range.
SCOREG_VARIANT = ForagingScoreG(vocab_size=16, message_length=3, comm_range=2, agent_visible=True)
TEMPORALG_VARIANT = ForagingTemporalG(vocab_size=32, message_length=2, freeze_steps=2)
ENVS = {
    "scoreg": SCOREG,
    "temporalg": TEMPORALG,
    "scoreg_variant": SCOREG_VARIANT,
    "temporalg_variant": TEMPORALG_VARIANT,
}
STEP = {name: fast_jit(env.step) for name, env in ENVS.items()}


def action(act, message=None, length=1):
    message = np.zeros((2, length), np.int32) if message is None else message
    return ForagingAction(jnp.asarray(act, jnp.int32), jnp.asarray(message, jnp.int32))


@st.composite
def states_and_actions(draw, name):
    """A hand-built state (distinct cells, at most one item collected) and a joint action."""
    env = ENVS[name]
    g = env.grid_size
    if draw(st.booleans()):  # Anywhere on the grid.
        cells = draw(st.lists(st.integers(0, g * g - 1), min_size=4, max_size=4, unique=True))
        cells = [divmod(c, g) for c in cells]
    else:  # Crowded into one 3x3 block: collisions, blocking and pick-ups are frequent.
        row, col = draw(st.integers(0, g - 3)), draw(st.integers(0, g - 3))
        cells = draw(st.lists(st.integers(0, 8), min_size=4, max_size=4, unique=True))
        cells = [(row + c // 3, col + c % 3) for c in cells]
    collected = draw(st.sampled_from([(False, False), (True, False), (False, True)]))
    scores = draw(st.lists(st.sampled_from(range(5, 251, 5)), min_size=2, max_size=2, unique=True))
    appear = draw(st.lists(st.integers(0, 9), min_size=2, max_size=2, unique=True))
    step_count = draw(st.integers(0, env.horizon - 1))
    both_pick = draw(st.booleans())  # Half the examples try a joint pick-up.
    act = (PICK_UP, PICK_UP) if both_pick else tuple(draw(st.integers(0, 4)) for _ in range(2))
    tokens = st.integers(0, env.vocab_size - 1)
    message = np.array(
        draw(st.lists(tokens, min_size=2 * env.message_length, max_size=2 * env.message_length))
    ).reshape(2, env.message_length)
    inbox = np.array(
        draw(st.lists(tokens, min_size=2 * env.message_length, max_size=2 * env.message_length))
    ).reshape(2, env.message_length)
    state = make_state(
        env,
        cells[:2],
        cells[2:],
        scores=scores,
        appear=appear,
        collected=collected,
        step_count=step_count,
        inbox=inbox,
    )
    return state, act, message


@pytest.mark.parametrize("name", sorted(ENVS))
def test_step_matches_loop_reference(name):
    """Moves, blocking, the joint pick-up, rewards, the end and messages, on random states."""
    env = ENVS[name]

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(states_and_actions(name))
    def check(example):
        state, act, message = example
        next_state, ts = STEP[name](state, action(act, message, env.message_length))
        pos, collected, inbox, reward, done, success = reference_step(env, state, act, message)
        np.testing.assert_array_equal(next_state.agent_pos, pos)
        np.testing.assert_array_equal(next_state.item_collected, collected)
        np.testing.assert_array_equal(ts.observation.message, inbox)
        np.testing.assert_allclose(ts.reward, reward, atol=1e-6)
        assert bool(ts.last()) == done
        assert bool(ts.extras["success"]) == success
        np.testing.assert_array_equal(ts.discount, np.zeros(2) if done else np.ones(2))
        # Properties that hold whatever the rule details: in bounds, no shared cells.
        assert np.all((pos >= 0) & (pos < env.grid_size))
        assert tuple(pos[0]) != tuple(pos[1])
        for i in range(2):
            if not collected[i]:
                assert all(tuple(p) != tuple(state.item_pos[i]) for p in pos)

    check()


@settings(max_examples=100, deadline=None, derandomize=True)
@given(states_and_actions("scoreg"))
def test_swapping_agent_slots_swaps_the_outcome(example):
    """Moves and pick-ups resolve symmetrically: no agent slot has priority."""
    state, act, message = example
    swap = lambda x: x[::-1]
    swapped = state.replace(
        agent_pos=swap(state.agent_pos),
        assigned=swap(state.assigned),
        sent=swap(state.sent),
        inbox=swap(state.inbox),
    )
    a, ts = STEP["scoreg"](state, action(act, message))
    b, ts_b = STEP["scoreg"](swapped, action(act[::-1], message[::-1]))
    np.testing.assert_array_equal(a.agent_pos, b.agent_pos[::-1])
    np.testing.assert_array_equal(a.item_collected, b.item_collected)
    np.testing.assert_array_equal(ts.reward, ts_b.reward[::-1])


@pytest.mark.parametrize(
    "agents, act, expected",
    [
        ([(2, 1), (2, 3)], [3, 2], [(2, 1), (2, 3)]),  # Both into (2, 2): neither moves.
        ([(1, 2), (3, 2)], [1, 0], [(1, 2), (3, 2)]),  # Same, vertically.
        ([(2, 1), (2, 2)], [3, 2], [(2, 1), (2, 2)]),  # Swapping places: neither moves.
        ([(2, 1), (2, 2)], [3, 3], [(2, 1), (2, 3)]),  # Into a cell being vacated: blocked.
        ([(0, 0), (2, 2)], [0, 2], [(0, 0), (2, 1)]),  # Off the grid: stays.
        ([(1, 2), (3, 2)], [0, 1], [(1, 2), (3, 2)]),  # Into an item: stays.
        ([(2, 1), (2, 3)], [PICK_UP, 2], [(2, 1), (2, 2)]),  # Beside a picking agent: moves.
    ],
)
def test_simultaneous_moves(agents, act, expected):
    state = make_state(SCOREG, agents, [(0, 2), (4, 2)], step_count=0)
    next_state, _ = STEP["scoreg"](state, action(act))
    np.testing.assert_array_equal(next_state.agent_pos, expected)


# Hand-built ScoreG states: item 0 (score 50) at (0, 2), item 1 (score 100) at (4, 2).
SCORE_ITEMS = [(0, 2), (4, 2)]


@pytest.mark.parametrize(
    "agents, step_count, reward, last",
    [
        ([(3, 1), (3, 3)], 2, 1.0 + 7 / 10, True),  # Higher item, t = 3.
        ([(3, 1), (4, 3)], 0, 1.0 + 9 / 10, True),  # Diagonal and side by side both count.
        ([(1, 2), (0, 1)], 4, -1.0, True),  # Lower item.
        ([(3, 2), (2, 2)], 2, 0.0, False),  # Second agent two rows away: no lift.
        ([(3, 1), (3, 3)], 9, 1.0, True),  # Higher item on the last step: no bonus.
        ([(2, 0), (2, 4)], 9, -1.0, True),  # Timeout.
        ([(2, 0), (2, 4)], 8, 0.0, False),
    ],
)
def test_scoreg_rewards_on_hand_built_states(agents, step_count, reward, last):
    state = make_state(SCOREG, agents, SCORE_ITEMS, scores=(50, 100), step_count=step_count)
    _, ts = STEP["scoreg"](state, action([PICK_UP, PICK_UP]))
    np.testing.assert_allclose(ts.reward, [reward, reward], rtol=1e-6)
    assert bool(ts.last()) == last
    np.testing.assert_array_equal(ts.discount, [0.0, 0.0] if last else [1.0, 1.0])
    assert bool(ts.extras["timeout"]) == (last and reward == -1.0 and step_count == 9)


def test_scoreg_pick_up_needs_both_agents():
    state = make_state(SCOREG, [(3, 1), (3, 3)], SCORE_ITEMS, step_count=0)
    for act in ([PICK_UP, 0], [1, PICK_UP], [2, 3]):
        next_state, ts = STEP["scoreg"](state, action(act))
        assert not np.any(next_state.item_collected)
        assert float(ts.reward[0]) == 0.0 and not bool(ts.last())


# Hand-built TemporalG states: item 0 at (1, 1) appears at 3, item 1 at (1, 3) appears at 1.
TEMPORAL_ITEMS = [(1, 1), (1, 3)]


@pytest.mark.parametrize(
    "agents, collected, step_count, reward, last, success",
    [
        ([(0, 2), (2, 2)], (False, False), 10, [-1.0, -1.0], True, False),  # Item 0 first: wrong.
        ([(0, 3), (2, 4)], (False, False), 10, [0.05, 0.05], False, False),  # Item 1 first: right.
        ([(0, 0), (2, 1)], (False, True), 10, [1.05 + 9 / 20] * 2, True, True),  # Then item 0.
        ([(0, 0), (2, 1)], (False, True), 19, [1.05, 1.05], True, True),  # Finished at t = T.
        ([(0, 3), (2, 4)], (False, False), 19, [-0.95, -0.95], True, False),  # + timeout.
        ([(0, 3), (2, 4)], (False, False), 4, [0.0, 0.0], False, False),  # Frozen (t = 5).
        ([(0, 2), (2, 2)], (False, False), 19, [-1.0, -1.0], True, False),  # Wrong, at t = T.
    ],
)
def test_temporalg_rewards_on_hand_built_states(
    agents, collected, step_count, reward, last, success
):
    state = make_state(
        TEMPORALG, agents, TEMPORAL_ITEMS, appear=(3, 1), collected=collected, step_count=step_count
    )
    next_state, ts = STEP["temporalg"](state, action([PICK_UP, PICK_UP]))
    np.testing.assert_allclose(ts.reward, reward, rtol=1e-6)
    assert bool(ts.last()) == last
    assert bool(ts.extras["success"]) == success
    # The horizon alone ended it (not a finish, not a wrong pick-up).
    assert bool(ts.extras["timeout"]) == (step_count == 19 and not success and reward[0] > -1)
    if step_count < TEMPORALG.freeze_steps:
        np.testing.assert_array_equal(next_state.item_collected, collected)


def test_temporalg_items_cannot_be_picked_before_they_appear():
    env = ForagingTemporalG(appearance_split="ood")  # Items may appear after the freeze.
    state = make_state(env, [(0, 3), (2, 4)], TEMPORAL_ITEMS, appear=(8, 7), step_count=6)
    step = fast_jit(env.step)
    next_state, ts = step(state, action([PICK_UP, PICK_UP]))
    assert not np.any(next_state.item_collected)  # Item 1 appears at t = 7, after this step.
    assert not bool(ts.extras["item_visible"][0])
    next_state, ts = step(next_state, action([PICK_UP, PICK_UP]))
    np.testing.assert_array_equal(next_state.item_collected, [False, True])


def test_temporalg_freeze_blocks_moves():
    state, _ = fast_jit(TEMPORALG.reset)(jax.random.PRNGKey(3))
    for t in range(1, TEMPORALG.freeze_steps + 2):
        previous = state.agent_pos
        state, ts = STEP["temporalg"](state, action([1, 0]))  # Agents move toward the centre.
        moved = not np.array_equal(state.agent_pos, previous)
        assert moved == (t > TEMPORALG.freeze_steps), t
        assert bool(ts.extras["frozen"]) == (t < TEMPORALG.freeze_steps)


def rollout(env, key, num_steps):
    """Random-action rollout without reset: stacked (states, timesteps)."""
    key_reset, key_run = jax.random.split(key)
    state, first = env.reset(key_reset)

    def body(state, key):
        state, ts = env.step(state, envs.sample_action(env.action_spec, key))
        return state, (state, ts)

    _, (states, timesteps) = jax.lax.scan(body, state, jax.random.split(key_run, num_steps))
    return first, states, timesteps


EPISODE = {n: functools.partial(rollout, e, num_steps=e.horizon) for n, e in ENVS.items()}
ROLLOUT = {n: fast_jit(f) for n, f in EPISODE.items()}
BATCHED_ROLLOUT = {n: fast_jit(jax.vmap(f)) for n, f in EPISODE.items()}
KEYS = jax.random.split(jax.random.PRNGKey(0), 64)


@functools.cache
def rollouts(name):
    """64 random-action episodes of ``ENVS[name]`` (one compile per game, shared by tests)."""
    return BATCHED_ROLLOUT[name](KEYS)


@pytest.mark.parametrize("name", ["scoreg", "temporalg"])
def test_episodes_end_at_the_horizon_or_on_completion(name):
    env = ENVS[name]
    _, states, ts = rollouts(name)
    last = np.asarray(ts.last())  # [B, T]
    first_end = np.argmax(last, axis=1)
    assert np.all(last.any(axis=1)), "every episode ends by t = T"
    lifted = np.asarray(ts.extras["lifted"]).any(-1)  # [B, T]
    timeout = np.asarray(ts.extras["timeout"])
    for b in range(len(KEYS)):
        end = first_end[b]
        assert not last[b, :end].any()
        if end < env.horizon - 1:
            assert lifted[b, end], "an early end needs a pick-up"
            assert not timeout[b, end]
        else:
            assert timeout[b, end] or lifted[b, end]
        np.testing.assert_array_equal(np.asarray(ts.discount)[b, end], 0.0)
        np.testing.assert_array_equal(np.asarray(ts.discount)[b, :end], 1.0)
    pos = np.asarray(states.agent_pos)
    assert np.all((pos >= 0) & (pos < env.grid_size))


@pytest.mark.parametrize("name", ["scoreg", "temporalg"])
def test_messages_arrive_one_step_later_within_range(name):
    """Random rollouts: each inbox is the partner's tokens of that step, or 0 out of range."""
    env = ENVS[name]
    _, states, ts = rollouts(name)
    sent = np.asarray(ts.extras["message_sent"])  # [B, T, A, L]
    heard = np.asarray(ts.observation.message)  # [B, T, A, L]
    pos = np.asarray(states.agent_pos)  # [B, T, A, 2]
    delivered_any, silent_any = False, False
    for b in range(len(KEYS)):
        for t in range(env.horizon):
            in_range = env.comm_range is None or chebyshev(*pos[b, t]) <= env.comm_range
            expected = sent[b, t, ::-1] if in_range else np.zeros_like(sent[b, t])
            np.testing.assert_array_equal(heard[b, t], expected)
            delivered_any |= in_range and sent[b, t].any()
            silent_any |= not in_range and sent[b, t].any()
    assert delivered_any
    if env.comm_range is not None:
        assert silent_any  # Random walks are often out of range: token 0 was checked too.


@pytest.mark.parametrize("name", ["scoreg", "temporalg"])
def test_same_key_same_trajectory_and_vmap_equals_loop(name):
    batched = rollouts(name)
    chex.assert_trees_all_equal(batched, BATCHED_ROLLOUT[name](KEYS))
    for i in range(3):
        single = ROLLOUT[name](KEYS[i])
        chex.assert_trees_all_equal(jax.tree.map(lambda x, i=i: x[i], batched), single)
    assert not np.array_equal(batched[1].agent_pos[0], batched[1].agent_pos[1])


@pytest.mark.parametrize("name", ["scoreg", "temporalg"])
def test_jit_equals_no_jit(name):
    env = ENVS[name]
    state = make_state(env, [(3, 1), (3, 3)], [(0, 2), (4, 2)], appear=(0, 1), step_count=7)
    jstate = state
    for act in ([PICK_UP, PICK_UP], [0, 3]):  # A lift, then moves.
        tokens = np.full((2, env.message_length), 2)
        state, ts = env.step(state, action(act, tokens, env.message_length))
        jstate, jts = STEP[name](jstate, action(act, tokens, env.message_length))
        chex.assert_trees_all_close((state, ts), (jstate, jts))
    assert np.any(state.item_collected)


@pytest.mark.parametrize("name", ["scoreg", "temporalg"])
def test_step_traces_once(name):
    env = ENVS[name]
    chex.clear_trace_counter()
    step = fast_jit(chex.assert_max_traces(env.step, n=1))
    state, _ = env.reset(jax.random.PRNGKey(0))
    for k in range(env.horizon + 2):  # Past the end too: nothing about the state retraces.
        act = envs.sample_action(env.action_spec, jax.random.PRNGKey(k))
        state, ts = step(state, act)
        env.observation_spec.validate(ts.observation)


def test_jumanji_wrappers_work_unchanged():
    """Auto-reset and vmap from jumanji, unchanged (the conformance test runs them on all envs)."""
    env = SCOREG
    wrapped = VmapWrapper(AutoResetWrapper(env, next_obs_in_extras=True))
    sample = jax.vmap(lambda key: envs.sample_action(env.action_spec, key))

    @fast_jit
    def run(key):
        state, _ = wrapped.reset(jax.random.split(key, 8))

        def body(state, key):
            state, ts = wrapped.step(state, sample(jax.random.split(key, 8)))
            return state, (state.step_count, ts)

        return jax.lax.scan(body, state, jax.random.split(key, env.horizon + 1))[1]

    step_count, ts = run(jax.random.PRNGKey(0))
    last = np.asarray(ts.last())  # [T + 1, 8]
    assert last.sum() >= 8  # Every episode ends by the horizon.
    # A finished episode restarts: fresh state and reset observation; the end's reward stays.
    np.testing.assert_array_equal(np.asarray(step_count)[last], 0)
    np.testing.assert_array_equal(np.asarray(ts.observation.message)[last], 0)
    assert np.any(np.asarray(ts.reward)[last] != 0)
    assert ts.extras["next_obs"].view.shape == ts.observation.view.shape


@pytest.mark.parametrize(
    "cls, kwargs, field",
    [
        (ForagingScoreG, {"num_agents": 3}, "num_agents"),
        (ForagingScoreG, {"num_items": 3}, "num_items"),
        (ForagingScoreG, {"grid_size": 3}, "grid_size"),
        (ForagingScoreG, {"view_size": 4}, "view_size"),
        (ForagingScoreG, {"vocab_size": 1}, "vocab_size"),
        (ForagingScoreG, {"message_length": 0}, "message_length"),
        (ForagingScoreG, {"horizon": 0}, "horizon"),
        (ForagingScoreG, {"comm_range": -1}, "comm_range"),
        (ForagingScoreG, {"score_split": "val"}, "score_split"),
        (ForagingScoreG, {"agent_visible": 1}, "agent_visible"),
        (ForagingTemporalG, {"view_size": 1}, "view_size"),
        (ForagingTemporalG, {"freeze_steps": 20}, "freeze_steps"),
        (ForagingTemporalG, {"freeze_steps": 3, "appearance_split": "test"}, "freeze_steps"),
        (ForagingTemporalG, {"appearance_split": "val"}, "appearance_split"),
        (ForagingTemporalG, {"horizon": 8, "appearance_split": "ood"}, "freeze_steps"),
    ],
)
def test_invalid_config_names_the_argument(cls, kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}: .*accepted"):
        cls(**kwargs)


def test_make_builds_the_configured_game():
    env = envs.make("ForagingScoreG-v0", vocab_size=32, message_length=2, score_split="test")
    assert isinstance(env, ForagingScoreG) and env.config["score_split"] == "test"
    assert env.action_spec.message.shape == (2, 2)
    assert int(env.action_spec.message.maximum.max()) == 31
    assert envs.make("ForagingTemporalG-v0").config == ForagingTemporalG().config
