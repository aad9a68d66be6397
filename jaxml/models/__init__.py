"""Flax modules shared by every part of jaxml."""

from jaxml.models.mlp import ResidualBlock as ResidualBlock
from jaxml.models.mlp import ResidualMLP as ResidualMLP

__all__ = [
    "ResidualBlock",
    "ResidualMLP",
]
