"""Pytrees of the Foraging Games: the state, the observation and the two-part action.

Shapes use ``A`` agents, ``I`` items, ``L`` message length (tokens per step), ``v`` view size and
``C`` view channels (2 in ScoreG, 1 in TemporalG). Positions are ``(row, col)`` with row 0 at the
top of the grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import chex

if TYPE_CHECKING:  # Type checkers understand the standard dataclass; chex's is the pytree one.
    from dataclasses import dataclass
else:
    from chex import dataclass

# The five environment actions (no no-op, as in the paper's code).
UP, DOWN, LEFT, RIGHT, PICK_UP = 0, 1, 2, 3, 4
NUM_ACTIONS = 5
# (d_row, d_col) of each action; PICK_UP stays in place.
MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1), (0, 0))

# Occupancy codes of the view's first channel before the /255 scaling (the authors' values).
EMPTY, ITEM, AGENT, WALL = 0, 85, 127, 255


@dataclass
class State:
    """Everything ``step`` needs; no configuration (that lives on the environment).

    Attributes:
      agent_pos: [A, 2] int32, each agent's cell.
      item_pos: [I, 2] int32, each item's cell (kept after collection, see ``item_collected``).
      item_score: [I] int32, each item's score (ScoreG; zeros in TemporalG).
      item_appear: [I] int32, the step count at which each item becomes visible (TemporalG;
        zeros in ScoreG). An item that has not appeared is invisible and cannot be picked up,
        but its cell is already taken (it matters only when items appear after the freeze).
      item_collected: [I] bool, picked up (and so gone from the grid).
      assigned: [A, I] bool, the item given to each agent: the one whose score it sees (ScoreG)
        or the one placed in its view (TemporalG).
      sent: [A, L] int32, the tokens each agent emitted on the last step (zeros after reset).
      inbox: [A, L] int32, the tokens each agent receives now: its partner's ``sent`` when the
        two are within communication range, else token 0.
      step_count: [] int32, steps taken in this episode (t; 0 after reset).
      key: PRNG key, not used by ``step`` (the rules are deterministic) but by auto-reset.
    """

    agent_pos: chex.Array
    item_pos: chex.Array
    item_score: chex.Array
    item_appear: chex.Array
    item_collected: chex.Array
    assigned: chex.Array
    sent: chex.Array
    inbox: chex.Array
    step_count: chex.Array
    key: chex.PRNGKey


class Observation(NamedTuple):
    """What each agent observes, agent axis first.

    Attributes:
      view: [A, v, v, C] float32 in [0, 1], the egocentric window centred on the agent.
        Channel 0 is occupancy (0 empty, 85 item, 127 the agent itself or a visible partner,
        255 outside the grid) / 255; in ScoreG channel 1 is an item's score / 255 where this
        agent is that item's score-seer, else 0.
      position: [A, 2] int32, the agent's own ``(row, col)``.
      message: [A, L] int32, the tokens the partner sent on the previous step (0 at reset and
        whenever the partner was out of communication range).
    """

    view: chex.Array
    position: chex.Array
    message: chex.Array


class ForagingAction(NamedTuple):
    """The action of every agent: an environment action and a message, agent axis first.

    Attributes:
      action: [A] int32 in 0..4: UP, DOWN, LEFT, RIGHT, PICK_UP.
      message: [A, L] int32 in 0..vocab_size-1, the tokens sent this step (heard next step).
    """

    action: chex.Array
    message: chex.Array
