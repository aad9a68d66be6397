"""jumanji's registered environments (e.g. ``LevelBasedForaging-v0``) under jaxml's registry.

jumanji environments already follow jaxml's interface, so this adapter is a transparent
``jumanji.wrappers.Wrapper``: ``reset``, ``step`` (same keys, same states), the specs,
``render`` and every attribute are the wrapped environment's, unchanged. What it adds is
construction by id with checked arguments, so that
``jaxml.envs.make("jumanji/LevelBasedForaging-v0")`` works like every other entry.

For LevelBasedForaging (jumanji 1.1) the shapes are already agent-first: ``Observation``
(``agents_view [A, 3 * (A + F)]`` int32 with the default vector observer, ``action_mask [A, 6]``
bool, ``step_count ()`` int32), action ``[A]`` int32, reward ``[A]`` and discount ``[A]`` float32;
termination (all food eaten, discount 0) and truncation (``time_limit`` reached, discount 1) are
kept apart, termination wins when both hold. Its grid size, agent and food counts are set
through its generator: ``env_kwargs={"generator": RandomGenerator(grid_size=6, fov=6,
num_agents=2, num_food=2)}`` (its generator needs ``(grid_size - 2)**2 - num_agents >
5 * num_food``, so 2 food items need a grid of 6 or more).

jumanji broadcasts ranks implicitly in places (LevelBasedForaging does); ``reset`` and ``step``
run the wrapped env with rank promotion allowed, so that ``jax_numpy_rank_promotion="raise"``
(jaxml's test setting) still guards the code around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import chex
import jumanji
from jumanji import registration
from jumanji.types import TimeStep
from jumanji.wrappers import Wrapper

from jaxml.envs.adapters import _common


class JumanjiAdapter(Wrapper):
    """A registered jumanji environment, built by id.

    Args:
      env_id: a jumanji environment id, e.g. ``"LevelBasedForaging-v0"``.
      env_kwargs: keyword arguments of the environment's constructor.
    """

    def __init__(self, env_id: str, env_kwargs: Mapping[str, Any] | None = None):
        _common.check_choice("env_id", env_id, sorted(jumanji.registered_environments()))
        env_class = registration.load(registration._REGISTRY[env_id].entry_point)
        kwargs = _common.check_kwargs("env_kwargs", env_kwargs, env_class)
        self.env_id = env_id
        super().__init__(jumanji.make(env_id, **kwargs))

    def __repr__(self) -> str:
        return f"JumanjiAdapter({self.env_id!r})"

    def reset(self, key: chex.PRNGKey) -> tuple[Any, TimeStep]:
        with _common.library_rank_promotion():
            return self._env.reset(key)

    def step(self, state: Any, action: chex.Array) -> tuple[Any, TimeStep]:
        with _common.library_rank_promotion():
            return self._env.step(state, action)
