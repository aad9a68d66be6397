"""Peer environments the throughput benchmarks time ours against."""

from __future__ import annotations

from collections.abc import Callable

from jumanji.environments import LevelBasedForaging
from jumanji.environments.routing.lbf.generator import RandomGenerator


def lbf(
    grid_size: int, num_food: int, fov: int, time_limit: int, grid_observation: bool
) -> Callable[[], LevelBasedForaging]:
    """A maker of jumanji's LevelBasedForaging with 2 agents (the Foraging Games' count)."""
    generator = RandomGenerator(grid_size=grid_size, num_agents=2, num_food=num_food, fov=fov)
    return lambda: LevelBasedForaging(
        generator=generator, time_limit=time_limit, grid_observation=grid_observation
    )
