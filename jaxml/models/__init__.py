"""Flax modules shared by every part of jaxml."""

from jaxml.models.mlp import MLP as MLP
from jaxml.models.mlp import ResidualBlock as ResidualBlock
from jaxml.models.mlp import ResidualMLP as ResidualMLP
from jaxml.models.transformer import CharTransformer as CharTransformer

__all__ = [
    "MLP",
    "CharTransformer",
    "ResidualBlock",
    "ResidualMLP",
]
