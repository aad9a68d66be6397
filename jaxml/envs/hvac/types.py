"""The state of ``HVAC-v0`` (arXiv 2505.07045): building temperatures, weather noise, settings.

Shapes: ``N = bem.NUM_NODES`` (10) thermal nodes; everything else is a scalar per building, so
a batch of buildings is a leading axis added by ``jax.vmap``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import chex

from jaxml.data.weather import GeneratorParams
from jaxml.envs.hvac.bem import BuildingParams

if TYPE_CHECKING:  # Type checkers understand the standard dataclass; chex's is the pytree one.
    from dataclasses import dataclass
else:
    from chex import dataclass


@dataclass
class State:
    """Everything ``step`` needs; the reward weight and the building are data, not configuration,
    so one compiled ``step`` serves a vmapped batch of cities and weights.

    Attributes:
      temps: [N] float32 K, node temperatures (``bem.NODE_NAMES``).
      noise: [4] float32, the weather's unit AR(1) noise (``weather.NOISE_CHANNELS``).
      heat_to_canyon: [] float32 W m-2, heat the canyon air receives on the next step (this
        step's waste heat plus the heat its air conditioning removed).
      settings: [3] float32, the last applied (cooling set point C, heating set point C, ACH).
      climate: [] int32, index into the env's ``climates``.
      building: ``BuildingParams`` of [] float32 leaves.
      weather: ``GeneratorParams`` of the climate (noise levels; zero noise for EPW years).
      weight: [] float32 in [0, 1], the energy weight ``w`` of the reward.
      start: [] int32, the step of the year (0 = 1 January 00:00) the episode started at.
      step_count: [] int32, steps taken in this episode.
      key: PRNG key, split each step for the weather noise.
    """

    temps: chex.Array
    noise: chex.Array
    heat_to_canyon: chex.Array
    settings: chex.Array
    climate: chex.Array
    building: BuildingParams
    weather: GeneratorParams
    weight: chex.Array
    start: chex.Array
    step_count: chex.Array
    key: chex.PRNGKey
