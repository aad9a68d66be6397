"""Argument checks with one error format: ``<argument>: expected <accepted>, got <value>``.

Library code raises ``ValueError`` (the default ``error``); launchers pass
``jaxml.utils.config.ConfigError`` and an argument named like the flag (``--config.<field>``),
which ``jaxml.utils.cli`` turns into one line and exit status 2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def message(argument: str, expected: str, got: Any) -> str:
    """The one error text: ``<argument>: expected <expected>, got <got!r>``."""
    return f"{argument}: expected {expected}, got {got!r}"


def expect(ok: bool, argument: str, expected: str, got: Any, error: type = ValueError) -> None:
    """Raises ``error(message(...))`` unless ``ok``."""
    if not ok:
        raise error(message(argument, expected, got))


def choice(value: Any, argument: str, choices: Iterable[Any], error: type = ValueError) -> Any:
    """``value`` if it is one of ``choices``; else raises naming the accepted values."""
    choices = tuple(choices)
    expect(value in choices, argument, f"one of {', '.join(map(str, choices))}", value, error)
    return value


def choices(
    values: Sequence[Any], argument: str, accepted: Iterable[Any], error: type = ValueError
) -> tuple:
    """``values`` as a tuple if it is a non-empty sequence of ``accepted`` values."""
    accepted = tuple(accepted)
    expected = f"a non-empty tuple of {', '.join(map(str, accepted))}"
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise error(message(argument, expected, values))
    for value in values:
        expect(value in accepted, argument, expected, values, error)
    return tuple(values)


def positive(value: Any, argument: str, error: type = ValueError) -> Any:
    """``value`` if it is a number > 0."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    expect(ok, argument, "a number > 0", value, error)
    return value


def positive_int(value: Any, argument: str, error: type = ValueError) -> int:
    """``value`` as an int if it is an integer > 0 (an integral float is accepted)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    expect(ok, argument, "an integer > 0", value, error)
    return value


def positive_ints(values: Any, argument: str, error: type = ValueError) -> tuple[int, ...]:
    """``values`` as a tuple of ints > 0 (a non-empty sequence)."""
    expected = "a non-empty tuple of integers > 0"
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise error(message(argument, expected, values))
    for v in values:
        ok = isinstance(v, int) and not isinstance(v, bool) and v > 0
        expect(ok, argument, expected, values, error)
    return tuple(values)


def in_range(
    value: Any,
    argument: str,
    low: float,
    high: float,
    *,
    closed: tuple[bool, bool] = (True, True),
    error: type = ValueError,
) -> Any:
    """``value`` if it lies in the interval from ``low`` to ``high`` (``closed`` at each end)."""
    above = value >= low if closed[0] else value > low
    below = value <= high if closed[1] else value < high
    interval = f"{'[' if closed[0] else '('}{low}, {high}{']' if closed[1] else ')'}"
    ok = isinstance(value, int | float) and not isinstance(value, bool) and above and below
    expect(ok, argument, f"a value in {interval}", value, error)
    return value
