"""The Foraging Games: ScoreG and TemporalG, two-agent grid worlds with a message channel.

From "From Grunts to Lexicons: Emergent Language from Cooperative Foraging" (Piriyajitakonkij
et al., arXiv 2505.12872), with the rules as the authors' code implements them (see
``shared/papers/foraging.md``). Shapes: ``A`` agents, ``I`` items, ``L`` tokens per message,
``v`` view size, ``C`` view channels.

Conventions shared by both games:

- **Actions** are ``ForagingAction(action=[A] int32 in 0..4, message=[A, L] int32 in 0..V-1)``:
  UP, DOWN, LEFT, RIGHT, PICK_UP plus the tokens sent this step; ``action_spec`` is a nested
  ``jumanji.specs.Spec`` over that NamedTuple. Agent slot ``i`` of every array belongs to one
  policy, so a trainer pairs any two policies by feeding ``observation[..., i, ...]`` to policy
  ``i`` and stacking their outputs; the environment holds no parameters. The two heads stay
  two leaves (trainers give each its own categorical and entropy weight), so jumanji's
  ``check_env_does_not_smoke`` needs a ``select_action``: its random-action helper applied per
  leaf (``tests/envs/test_conformance.py``).
- **Moves** resolve simultaneously and symmetrically: a move fails (the agent stays) if it
  leaves the grid, enters an item's cell, enters the cell another agent stands on, or enters
  the cell another agent moves into. Swapping the agent slots swaps the outcome.
- **Pick-up is joint**: an agent choosing PICK_UP puts its strength (3) on the lowest-index
  visible item within Chebyshev distance 1; an item needing strength 6 is lifted when two
  agents do so on the same step. Attempts do not carry over to the next step. With the
  default layouts no agent is ever next to two items at once, so the tie rule is moot there.
- **Messages**: the tokens agent ``i`` sends on step ``t`` are in its partner's observation
  after step ``t`` when the two agents (at their new cells) are within Chebyshev distance
  ``comm_range`` (``None``: unlimited); otherwise the partner receives token 0, which also
  fills the first observation.
- **Time**: ``t`` counts the steps taken, so the first ``step`` has ``t = 1`` and the time bonus
  is ``(T - t) / T``; the episode is at most ``T = horizon`` steps long.
- **Episode end**: every end -- success, failure and the timeout at ``t = T`` -- is a
  *termination*: ``StepType.LAST`` with discount 0. The horizon is part of the game (the timeout
  carries its own -1 penalty and there is nothing to bootstrap after it), as in the authors'
  training code; ``extras["timeout"]`` flags it for anyone who wants to treat it otherwise.
- **Rewards** are per agent, ``[A]`` float32; a team reward is their sum.
- **Extras** (``timestep.extras``, after reset and every step): ``step_count`` [] int32;
  ``agent_positions`` [A, 2]; ``item_positions`` [I, 2]; ``item_collected`` [I] bool;
  ``item_visible`` [I] bool (on the grid now); ``sees_item`` [A, I] bool (visible and inside
  that agent's window); ``assigned_item`` [A, I] bool (ScoreG: the item whose score the agent
  sees; TemporalG: the item placed in its view); ``lifted`` [I] bool (picked up this step);
  ``message_sent`` [A, L] int32 (tokens emitted this step); ``message_delivered`` [A] bool
  (the partner's tokens reached this agent); ``success`` [] bool; ``timeout`` [] bool;
  ``frozen`` [] bool (the next step's moves and pick-ups will be ignored; always False in
  ScoreG); plus ``item_scores`` [I] and ``target_item`` [] (ScoreG) or ``item_appear_time`` [I]
  and ``item_order`` [I] (0 appears first) (TemporalG).
- **Population size**: these are two-player games, so ``num_agents`` (and ``num_items``) accept
  only 2; population studies draw the two players from a larger population per episode.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import StepType, TimeStep

from jaxml.envs.foraging.generator import ScoreGGenerator, TemporalGGenerator
from jaxml.envs.foraging.observer import ForagingObserver, item_visible
from jaxml.envs.foraging.types import (
    DOWN,
    LEFT,
    NUM_ACTIONS,
    PICK_UP,
    RIGHT,
    UP,
    ForagingAction,
    Observation,
    State,
)
from jaxml.envs.foraging.viewer import ForagingViewer

AGENT_STRENGTH = 3  # Each agent lifts 3 ...
ITEM_STRENGTH = 6  # ... and an item needs 6, so two agents must lift together.
AGENTS_PER_ITEM = ITEM_STRENGTH // AGENT_STRENGTH

SCORE_SPLITS = {
    "train": tuple(range(5, 251, 5)),  # {5, 10, ..., 250}: 50 scores.
    "test": tuple(s for s in range(2, 251, 2) if s % 10),  # Even, not multiples of 10: 100.
}
APPEARANCE_SPLITS = ("train", "test", "ood")


def appearance_times(split: str, freeze_steps: int) -> tuple[int, ...]:
    """Appearance times of a TemporalG split: train {0..F-1}, test {1..F-2}, ood {F..F+3}.

    With the default freeze ``F = 6`` these are the authors' {0..5}, {1..4} and {6..9}.
    """
    return {
        "train": tuple(range(0, freeze_steps)),
        "test": tuple(range(1, freeze_steps - 1)),
        "ood": tuple(range(freeze_steps, freeze_steps + 4)),
    }[split]


def _check(ok: bool, name: str, value: Any, accepted: str) -> None:
    if not ok:
        raise ValueError(f"{name}: got {value!r}; accepted: {accepted}")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _first_true(mask: jax.Array) -> jax.Array:
    """``mask`` [A, I] with only the first True of each row kept: a loop over the I items (a
    cumulative sum lowers to a reduce-window, 5% of a ScoreG step on CPU)."""
    seen = jnp.zeros(mask.shape[:-1], bool)
    first = []
    for i in range(mask.shape[-1]):
        first.append(mask[..., i] & ~seen)
        seen = seen | mask[..., i]
    return jnp.stack(first, axis=-1)


class ForagingGame(Environment[State, specs.Spec, Observation]):
    """Shared mechanics of the Foraging Games (arXiv 2505.12872); subclasses add the rules.

    Subclasses set the generator and implement ``_outcome`` (rewards and the end of an episode)
    and ``_game_extras``. See the module docstring for the conventions.
    """

    def __init__(
        self,
        *,
        grid_size: int,
        num_agents: int,
        num_items: int,
        view_size: int,
        vocab_size: int,
        message_length: int,
        horizon: int,
        freeze_steps: int,
        comm_range: int | None,
        agent_visible: bool,
        score_channel: bool,
        min_view_size: int = 1,
    ):
        _check(
            _is_int(num_agents) and num_agents == 2,
            "num_agents",
            num_agents,
            "2 (the Foraging Games are two-player games; to study a population, pair two of "
            "its policies per episode through the two agent slots)",
        )
        _check(
            _is_int(num_items) and num_items == 2,
            "num_items",
            num_items,
            "2 (one item per agent, as in both games' rules)",
        )
        _check(_is_int(grid_size) and grid_size >= 4, "grid_size", grid_size, "an int >= 4")
        _check(
            _is_int(view_size) and view_size >= min_view_size and view_size % 2 == 1,
            "view_size",
            view_size,
            f"an odd int >= {min_view_size}",
        )
        _check(
            _is_int(vocab_size) and vocab_size >= 2,
            "vocab_size",
            vocab_size,
            "an int >= 2 (the paper uses 4, 16 and 32; token 0 is also silence)",
        )
        _check(
            _is_int(message_length) and message_length >= 1,
            "message_length",
            message_length,
            "an int >= 1",
        )
        _check(_is_int(horizon) and horizon >= 1, "horizon", horizon, "an int >= 1")
        _check(
            _is_int(freeze_steps) and 0 <= freeze_steps < horizon,
            "freeze_steps",
            freeze_steps,
            f"an int in 0..horizon-1 = 0..{horizon - 1}",
        )
        _check(
            comm_range is None or (_is_int(comm_range) and comm_range >= 0),
            "comm_range",
            comm_range,
            "None (unlimited) or an int >= 0 (Chebyshev distance)",
        )
        _check(isinstance(agent_visible, bool), "agent_visible", agent_visible, "True or False")
        self.grid_size = int(grid_size)
        self.num_agents = int(num_agents)
        self.num_items = int(num_items)
        self.view_size = int(view_size)
        self.vocab_size = int(vocab_size)
        self.message_length = int(message_length)
        self.horizon = int(horizon)
        self.freeze_steps = int(freeze_steps)
        self.comm_range = None if comm_range is None else int(comm_range)
        self.agent_visible = agent_visible
        self._observer = ForagingObserver(
            grid_size=self.grid_size,
            view_size=self.view_size,
            num_agents=self.num_agents,
            message_length=self.message_length,
            vocab_size=self.vocab_size,
            score_channel=score_channel,
            agent_visible=agent_visible,
        )
        self._viewer = ForagingViewer(self)
        self._others = ~np.eye(self.num_agents, dtype=bool)  # [A, A]
        super().__init__()

    # ----------------------------------------------------------------------------- the game
    def _generator(self, key: chex.PRNGKey) -> State:
        raise NotImplementedError

    def _outcome(
        self, state: State, lifted: jax.Array, lifter: jax.Array, t: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Rewards and the end of the episode after a step.

        Args:
          state: the state before the step.
          lifted: [I] bool, items picked up this step.
          lifter: [A, I] bool, which agents lifted which item this step.
          t: [] int32, the step count after this step.

        Returns:
          (reward [A] float32, done [] bool, success [] bool, timeout [] bool); ``timeout`` is
          an end caused by the horizon alone.
        """
        raise NotImplementedError

    def _game_extras(self, state: State) -> dict[str, jax.Array]:
        return {}

    # -------------------------------------------------------------------------------- API
    def reset(self, key: chex.PRNGKey) -> tuple[State, TimeStep[Observation]]:
        """Samples a start state; the first TimeStep has zero rewards and discount 1."""
        state = self._generator(key)
        zeros = jnp.zeros((self.num_agents,), jnp.float32)
        false = jnp.array(False)
        extras = self._extras(
            state,
            lifted=jnp.zeros((self.num_items,), bool),
            delivered=jnp.zeros((self.num_agents,), bool),
            success=false,
            timeout=false,
        )
        timestep = TimeStep(
            step_type=StepType.FIRST,
            reward=zeros,
            discount=jnp.ones_like(zeros),
            observation=self._observer(state),
            extras=extras,
        )
        return state, timestep

    def step(self, state: State, action: ForagingAction) -> tuple[State, TimeStep[Observation]]:
        """Applies every agent's action and message.

        Args:
          state: the current state (unbatched; use ``jax.vmap`` or jumanji's VmapWrapper).
          action: ``ForagingAction(action=[A] int32, message=[A, L] int32)``.

        Returns:
          The next state and its TimeStep (rewards [A], discounts [A]).
        """
        act = jnp.asarray(action.action, jnp.int32)
        sent = jnp.asarray(action.message, jnp.int32)
        chex.assert_shape(act, (self.num_agents,))
        chex.assert_shape(sent, (self.num_agents, self.message_length))
        t = state.step_count + 1
        acting = t > self.freeze_steps  # No moves and no pick-ups while frozen.
        agent_pos = self._move(state, act, acting)
        # Joint pick-up: each picking agent targets its first reachable visible item.
        picking = (act == PICK_UP) & acting  # [A]
        gap = agent_pos[:, None, :] - state.item_pos[None, :, :]  # [A, I, 2]
        # Coordinates spelt out: a reduce over an axis of 2 is a loop of its own on CPU.
        near = jnp.maximum(jnp.abs(gap[..., 0]), jnp.abs(gap[..., 1])) <= 1  # [A, I]
        want = picking[:, None] & near & item_visible(state)[None, :]  # [A, I]
        lifter = _first_true(want)
        lifted = jnp.sum(lifter, axis=0) >= AGENTS_PER_ITEM  # [I]
        lifter = lifter & lifted[None, :]
        reward, done, success, timeout = self._outcome(state, lifted, lifter, t)
        # Messages: the partner's tokens of this step, when within range after the moves.
        # Two agents: the partner is the other row (a reverse, where an index array gathers).
        partner_pos = agent_pos[::-1]
        if self.comm_range is None:
            delivered = jnp.ones((self.num_agents,), bool)
        else:
            gap = jnp.max(jnp.abs(agent_pos - partner_pos), axis=-1)
            delivered = gap <= self.comm_range
        inbox = jnp.where(delivered[:, None], sent[::-1], 0)
        next_state = State(
            agent_pos=agent_pos,
            item_pos=state.item_pos,
            item_score=state.item_score,
            item_appear=state.item_appear,
            item_collected=state.item_collected | lifted,
            assigned=state.assigned,
            sent=sent,
            inbox=inbox,
            step_count=t,
            key=state.key,
        )
        extras = self._extras(
            next_state,
            lifted=lifted,
            delivered=delivered,
            success=success,
            timeout=timeout,
        )
        timestep = TimeStep(
            step_type=jnp.where(done, StepType.LAST, StepType.MID),
            reward=reward,
            discount=jnp.where(done, 0.0, jnp.ones((self.num_agents,), jnp.float32)),
            observation=self._observer(next_state),
            extras=extras,
        )
        return next_state, timestep

    def _move(self, state: State, act: jax.Array, acting: jax.Array) -> jax.Array:
        """[A, 2] cells after simultaneous moves (see the module docstring for the rule)."""
        pos = state.agent_pos
        # MOVES[act] as compares: a lookup in the [5, 2] table is a gather, a scalar loop on
        # CPU. Actions outside 0..4 (invalid by the spec) move nowhere.
        d_row = (act == DOWN).astype(jnp.int32) - (act == UP).astype(jnp.int32)
        d_col = (act == RIGHT).astype(jnp.int32) - (act == LEFT).astype(jnp.int32)
        target = pos + jnp.where(acting, jnp.stack([d_row, d_col], axis=-1), 0)  # [A, 2]
        # Coordinates spelt out, as in step.
        inside = (target[:, 0] >= 0) & (target[:, 0] < self.grid_size)
        inside = inside & (target[:, 1] >= 0) & (target[:, 1] < self.grid_size)
        items = state.item_pos[None, :, :]
        on_item = (target[:, None, 0] == items[..., 0]) & (target[:, None, 1] == items[..., 1])
        into_item = jnp.any(on_item & ~state.item_collected[None, :], axis=-1)
        on_agent = jnp.all(target[:, None, :] == pos[None, :, :], axis=-1) & self._others
        same_target = jnp.all(target[:, None, :] == target[None, :, :], axis=-1) & self._others
        blocked = jnp.any(on_agent | same_target, axis=-1)
        return jnp.where((inside & ~into_item & ~blocked)[:, None], target, pos)

    def _extras(self, state, *, lifted, delivered, success, timeout) -> dict[str, jax.Array]:
        visible = item_visible(state)
        radius = self.view_size // 2
        gap = jnp.max(jnp.abs(state.agent_pos[:, None, :] - state.item_pos[None, :, :]), -1)
        extras = {
            "step_count": state.step_count,
            "agent_positions": state.agent_pos,
            "item_positions": state.item_pos,
            "item_collected": state.item_collected,
            "item_visible": visible,
            "sees_item": (gap <= radius) & visible[None, :],
            "assigned_item": state.assigned,
            "lifted": lifted,
            "message_sent": state.sent,
            "message_delivered": delivered,
            "success": success,
            "timeout": timeout,
            "frozen": state.step_count < self.freeze_steps,  # The next step's actions are void.
        }
        extras.update(self._game_extras(state))
        return extras

    # ------------------------------------------------------------------------------ specs
    @cached_property
    def observation_spec(self) -> specs.Spec[Observation]:
        """``Observation(view=[A, v, v, C] float32, position=[A, 2] int32, message=[A, L])``."""
        return self._observer.observation_spec()

    @cached_property
    def action_spec(self) -> specs.Spec[ForagingAction]:
        """``ForagingAction(action=[A] in 0..4, message=[A, L] in 0..V-1)``, both int32."""
        return specs.Spec(
            ForagingAction,
            "ForagingActionSpec",
            action=specs.MultiDiscreteArray(
                np.full((self.num_agents,), NUM_ACTIONS, np.int32), jnp.int32, "action"
            ),
            message=specs.MultiDiscreteArray(
                np.full((self.num_agents, self.message_length), self.vocab_size, np.int32),
                jnp.int32,
                "message",
            ),
        )

    @cached_property
    def reward_spec(self) -> specs.Array:
        """[A] float32, one reward per agent."""
        return specs.Array((self.num_agents,), jnp.float32, "reward")

    @cached_property
    def discount_spec(self) -> specs.BoundedArray:
        """[A] float32 in [0, 1]; 0 on the last step of every episode."""
        return specs.BoundedArray((self.num_agents,), jnp.float32, 0.0, 1.0, "discount")

    # -------------------------------------------------------------------------- rendering
    def render(self, state: State) -> np.ndarray:
        """[H, W, 3] uint8 RGB picture of an unbatched ``state`` (matplotlib, no display)."""
        return self._viewer.render(state)

    def close(self) -> None:
        self._viewer.close()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({fields})"

    @property
    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments, as ``jaxml.envs.make`` accepts them."""
        raise NotImplementedError


class ForagingScoreG(ForagingGame):
    """ScoreG: pick up the higher-scoring of two items, whose scores each agent half-knows.

    "From Grunts to Lexicons: Emergent Language from Cooperative Foraging" (arXiv 2505.12872).
    One item lies in the top row and one in the bottom row; each agent starts beside one of
    them and sees only that item's score (view channel 1). The episode ends when an item is
    lifted or at ``t = horizon``. Both agents get the same reward: ``1 + (T - t) / T`` for the
    higher-scoring item, ``-1`` for the lower one, ``-1`` at the timeout, 0 otherwise.
    Messages are delivered at any distance by default. See ``jaxml.envs.foraging.env`` for the
    conventions (action format, termination, extras).

    Args:
      grid_size: side G of the square grid (>= 4).
      num_agents: must be 2.
      num_items: must be 2.
      view_size: side v of the egocentric window (odd).
      vocab_size: V, tokens 0..V-1 (the paper uses 4, 16, 32).
      message_length: L, tokens sent per agent per step.
      horizon: T, the episode length limit.
      comm_range: Chebyshev distance within which messages arrive; ``None`` is unlimited.
      score_split: ``"train"`` ({5, 10, ..., 250}) or ``"test"`` (even 2..250 that are not
        multiples of 10, unseen in training).
      agent_visible: show the partner in the view (the paper's main runs hide it).
    """

    def __init__(
        self,
        grid_size: int = 5,
        num_agents: int = 2,
        num_items: int = 2,
        view_size: int = 3,
        vocab_size: int = 4,
        message_length: int = 1,
        horizon: int = 10,
        comm_range: int | None = None,
        score_split: str = "train",
        agent_visible: bool = False,
    ):
        _check(score_split in SCORE_SPLITS, "score_split", score_split, "'train' or 'test'")
        self.score_split = score_split
        super().__init__(
            grid_size=grid_size,
            num_agents=num_agents,
            num_items=num_items,
            view_size=view_size,
            vocab_size=vocab_size,
            message_length=message_length,
            horizon=horizon,
            freeze_steps=0,
            comm_range=comm_range,
            agent_visible=agent_visible,
            score_channel=True,
        )
        self.generator = ScoreGGenerator(
            self.grid_size, self.message_length, np.array(SCORE_SPLITS[score_split])
        )

    @property
    def config(self) -> dict[str, Any]:
        keys = ("grid_size", "num_agents", "num_items", "view_size", "vocab_size")
        keys += ("message_length", "horizon", "comm_range", "score_split", "agent_visible")
        return {k: getattr(self, k) for k in keys}

    def _generator(self, key: chex.PRNGKey) -> State:
        return self.generator(key)

    def _outcome(self, state, lifted, lifter, t):
        del lifter  # The reward is shared.
        any_lifted = jnp.any(lifted)
        best = state.item_score == jnp.max(state.item_score)
        won = jnp.any(lifted & best)
        timeout = t >= self.horizon
        bonus = (self.horizon - t).astype(jnp.float32) / self.horizon
        shared = jnp.where(
            any_lifted, jnp.where(won, 1.0 + bonus, -1.0), jnp.where(timeout, -1.0, 0.0)
        )
        reward = jnp.full((self.num_agents,), shared, jnp.float32)
        return reward, any_lifted | timeout, won, timeout & ~any_lifted

    def _game_extras(self, state: State) -> dict[str, jax.Array]:
        return {
            "item_scores": state.item_score,
            "target_item": jnp.argmax(state.item_score).astype(jnp.int32),
        }


class ForagingTemporalG(ForagingGame):
    """TemporalG: pick up two items in the order they appeared, after a frozen start.

    "From Grunts to Lexicons: Emergent Language from Cooperative Foraging" (arXiv 2505.12872).
    Agents start on opposite edge rows and cannot move or pick up during steps
    ``1..freeze_steps``; meanwhile each item appears, at a distinct time, inside one agent's
    view. Messages arrive only within Chebyshev distance ``comm_range``. Rewards per agent: a
    correct (next in appearance order) joint pick-up gives ``+0.05`` to each lifter; collecting
    both adds ``+1 + (T - t) / T`` to both agents and ends the episode; a wrong-order pick-up
    ends it with ``-1`` to both (no +0.05); the timeout at ``t = horizon`` gives ``-1`` to both,
    added to a +0.05 earned on that same step. See ``jaxml.envs.foraging.env`` for the
    conventions.

    Args:
      grid_size: side G of the square grid (>= 4); agents start in columns 1..G-2.
      num_agents: must be 2.
      num_items: must be 2.
      view_size: side v of the egocentric window (odd, >= 3).
      vocab_size: V, tokens 0..V-1 (the paper uses 4, 16, 32).
      message_length: L, tokens sent per agent per step.
      horizon: T, the episode length limit.
      freeze_steps: F, the number of frozen steps at the start.
      comm_range: Chebyshev distance within which messages arrive; ``None`` is unlimited.
      appearance_split: appearance times, ``"train"`` {0..F-1}, ``"test"`` {1..F-2} or
        ``"ood"`` {F..F+3} (the authors' {0..5}, {1..4}, {6..9} at F = 6). An item that
        appears after the freeze appears in its cell wherever its agent has gone.
      agent_visible: show the partner in the view (the paper's main runs hide it).
    """

    def __init__(
        self,
        grid_size: int = 5,
        num_agents: int = 2,
        num_items: int = 2,
        view_size: int = 3,
        vocab_size: int = 4,
        message_length: int = 1,
        horizon: int = 20,
        freeze_steps: int = 6,
        comm_range: int | None = 1,
        appearance_split: str = "train",
        agent_visible: bool = False,
    ):
        _check(
            appearance_split in APPEARANCE_SPLITS,
            "appearance_split",
            appearance_split,
            "'train', 'test' or 'ood'",
        )
        super().__init__(
            grid_size=grid_size,
            num_agents=num_agents,
            num_items=num_items,
            view_size=view_size,
            vocab_size=vocab_size,
            message_length=message_length,
            horizon=horizon,
            freeze_steps=freeze_steps,
            comm_range=comm_range,
            agent_visible=agent_visible,
            score_channel=False,
            min_view_size=3,
        )
        times = appearance_times(appearance_split, self.freeze_steps)
        _check(
            len(times) >= self.num_items and max(times) < self.horizon,
            "freeze_steps",
            freeze_steps,
            f"a value giving the {appearance_split!r} split {self.num_items} or more "
            f"appearance times, all before the horizon {self.horizon} (got {times})",
        )
        self.appearance_split = appearance_split
        self.generator = TemporalGGenerator(
            self.grid_size, self.view_size, self.message_length, np.array(times)
        )

    @property
    def config(self) -> dict[str, Any]:
        keys = ("grid_size", "num_agents", "num_items", "view_size", "vocab_size")
        keys += ("message_length", "horizon", "freeze_steps", "comm_range")
        keys += ("appearance_split", "agent_visible")
        return {k: getattr(self, k) for k in keys}

    def _generator(self, key: chex.PRNGKey) -> State:
        return self.generator(key)

    def _outcome(self, state, lifted, lifter, t):
        pending = ~state.item_collected
        big = jnp.iinfo(jnp.int32).max
        next_time = jnp.min(jnp.where(pending, state.item_appear, big))
        in_order = lifted & (state.item_appear == next_time)  # [I]
        wrong = jnp.any(lifted & ~in_order)
        finished = jnp.all(state.item_collected | lifted) & ~wrong
        timeout = t >= self.horizon
        bonus = (self.horizon - t).astype(jnp.float32) / self.horizon
        lift_reward = 0.05 * jnp.any(lifter & in_order[None, :], axis=1)  # [A]
        reward = lift_reward + jnp.where(finished, 1.0 + bonus, jnp.where(timeout, -1.0, 0.0))
        reward = jnp.where(wrong, -1.0, reward).astype(jnp.float32)
        return reward, wrong | finished | timeout, finished, timeout & ~wrong & ~finished

    def _game_extras(self, state: State) -> dict[str, jax.Array]:
        appear = state.item_appear
        order = jnp.sum(appear[None, :] < appear[:, None], axis=1).astype(jnp.int32)
        return {"item_appear_time": appear, "item_order": order}
