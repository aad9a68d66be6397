"""Auto-reset to each environment's own first state, as brax's training wrapper does.

brax's ``brax.envs.wrappers.training.AutoResetWrapper`` (the one ``brax.training.agents.ppo``
and ``.sac`` train in) does not draw a new start when an episode ends: it restores the physics
state and observation that environment had after its first ``reset``. So a run of ``B``
environments trains from ``B`` fixed starts (until a trainer resets them all), where jumanji's
``AutoResetWrapper`` draws a fresh start every episode. ``FirstStateAutoReset`` is jumanji's
wrapper with brax's rule, so that the two trainers can be compared like for like (issue 15).
"""

from __future__ import annotations

from typing import Any

import chex
import jax
from jumanji.types import TimeStep
from jumanji.wrappers import AutoResetWrapper


@chex.dataclass
class FirstState:
    env_state: Any  # The wrapped environment's state now.
    first_state: Any  # Its state right after this environment's first reset.
    first_observation: Any  # The observation of that reset.

    @property
    def key(self) -> chex.PRNGKey:
        """The wrapped state's key (readers of ``state.key`` see the environment's)."""
        return self.env_state.key


class FirstStateAutoReset(AutoResetWrapper):
    """``jumanji.wrappers.AutoResetWrapper`` whose reset restores the first state (brax's rule).

    When an episode ends, the state becomes the one ``reset`` returned and the observation its
    observation; with ``next_obs_in_extras`` the episode's last observation is kept in
    ``timestep.extras["next_obs"]`` as jumanji's wrapper does. Not vmapped: vmap it (each
    environment keeps its own first state).
    """

    def __repr__(self) -> str:
        return f"FirstStateAutoReset({self._env!r})"

    def reset(self, key: chex.PRNGKey) -> tuple[FirstState, TimeStep]:
        env_state, timestep = self._env.reset(key)
        state = FirstState(
            env_state=env_state, first_state=env_state, first_observation=timestep.observation
        )
        return state, self._maybe_add_obs_to_extras(timestep)

    def step(self, state: FirstState, action: chex.Array) -> tuple[FirstState, TimeStep]:
        env_state, timestep = self._env.step(state.env_state, action)
        timestep = self._maybe_add_obs_to_extras(timestep)
        env_state, observation = jax.lax.cond(
            timestep.last(),
            lambda: (state.first_state, state.first_observation),
            lambda: (env_state, timestep.observation),
        )
        return state.replace(env_state=env_state), timestep.replace(observation=observation)
