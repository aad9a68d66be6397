"""Loaders for data that ship with jaxml or its dependencies."""

from jaxml.data.digits import Digits as Digits
from jaxml.data.digits import load_digits_split as load_digits_split

__all__ = [
    "Digits",
    "load_digits_split",
]
