"""HVAC control in an urban climate (Yu et al., "Reinforcement Learning Meets Urban Climate
Modeling: RL-based HVAC control", arXiv 2505.07045): ``HVAC-v0`` and ``HVACDiscrete-v0``."""

from jaxml.envs.hvac import bem
from jaxml.envs.hvac.env import (
    ACTION_HIGH,
    ACTION_LOW,
    HVAC,
    STEP_SECONDS,
    STEPS_PER_YEAR,
    discrete_settings,
    setpoint_action,
)
from jaxml.envs.hvac.types import State
from jaxml.envs.hvac.wrappers import KeepTaskAutoReset

__all__ = [
    "ACTION_HIGH",
    "ACTION_LOW",
    "HVAC",
    "KeepTaskAutoReset",
    "STEPS_PER_YEAR",
    "STEP_SECONDS",
    "State",
    "bem",
    "discrete_settings",
    "setpoint_action",
]
