"""The Foraging Games of "From Grunts to Lexicons: Emergent Language from Cooperative Foraging"
(Piriyajitakonkij et al., arXiv 2505.12872): ScoreG and TemporalG with a message channel."""

from jaxml.envs.foraging.env import ForagingGame, ForagingScoreG, ForagingTemporalG
from jaxml.envs.foraging.generator import ScoreGGenerator, TemporalGGenerator
from jaxml.envs.foraging.observer import ForagingObserver
from jaxml.envs.foraging.types import (
    DOWN,
    LEFT,
    PICK_UP,
    RIGHT,
    UP,
    ForagingAction,
    Observation,
    State,
)
from jaxml.envs.foraging.viewer import ForagingViewer

__all__ = [
    "DOWN",
    "LEFT",
    "PICK_UP",
    "RIGHT",
    "UP",
    "ForagingAction",
    "ForagingGame",
    "ForagingObserver",
    "ForagingScoreG",
    "ForagingTemporalG",
    "ForagingViewer",
    "Observation",
    "ScoreGGenerator",
    "State",
    "TemporalGGenerator",
]
