"""Auto-reset that keeps each building's task (climate and reward weight) across episodes.

jumanji's ``AutoResetWrapper`` calls ``env.reset(key)``, which draws a new climate and restores
the default weight, so a vmapped sweep over cities x weights (``HVAC.reset_to``) would lose its
grid after the first episode. ``KeepTaskAutoReset`` is the same wrapper with the reset replaced
by ``reset_to(key, state.climate, state.weight)``: a new start time, new weather noise, the same
task. "Reinforcement Learning Meets Urban Climate Modeling: RL-based HVAC control"
(arXiv 2505.07045) trains one city and one weight per run; this keeps that per lane.
"""

from __future__ import annotations

import jax
from jumanji.types import TimeStep
from jumanji.wrappers import AutoResetWrapper

from jaxml.envs.hvac.env import HVAC
from jaxml.envs.hvac.types import State
from jaxml.utils import checks


class KeepTaskAutoReset(AutoResetWrapper):
    """``jumanji.wrappers.AutoResetWrapper`` for ``HVAC`` that keeps climate and weight.

    Args:
      env: an ``HVAC`` environment, or a jumanji ``Wrapper`` of one that keeps its state and
        forwards ``reset_to`` (e.g. one whose ``reset`` starts a fixed task); not vmapped.
      next_obs_in_extras: as in jumanji's wrapper: keep the last observation of an episode in
        ``timestep.extras["next_obs"]`` (useful to bootstrap through the truncation).
    """

    def __init__(self, env: HVAC, next_obs_in_extras: bool = False):
        checks.expect(
            isinstance(env.unwrapped, HVAC) and not isinstance(env, AutoResetWrapper),
            "env", "an unwrapped HVAC environment, or a state-preserving wrapper of one", env,
        )  # fmt: skip
        super().__init__(env, next_obs_in_extras=next_obs_in_extras)

    def _auto_reset(self, state: State, timestep: TimeStep) -> tuple[State, TimeStep]:
        key, _ = jax.random.split(state.key)
        new_state, reset_timestep = self._env.reset_to(key, state.climate, state.weight)
        timestep = self._maybe_add_obs_to_extras(timestep)
        return new_state, timestep.replace(observation=reset_timestep.observation)
