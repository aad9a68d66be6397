"""The environment registry: ``make(name, **config)`` for every environment and adapter.

Entries are registered by module path and loaded on first use, so that importing ``jaxml.envs``
does not import brax, gymnax or jaxmarl.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, NamedTuple

import jumanji


class EnvSpec(NamedTuple):
    name: str  # Registry name, e.g. "ForagingScoreG-v0" or "gymnax/CartPole-v1".
    entry_point: str  # "module:callable"; the callable takes the config as keyword arguments.
    kwargs: dict[str, Any]  # Fixed keyword arguments the entry point gets before the config.


_REGISTRY: dict[str, EnvSpec] = {}


def register(name: str, entry_point: str, **kwargs: Any) -> None:
    """Registers ``entry_point`` (``"module:callable"``) under ``name``; names are unique."""
    if name in _REGISTRY:
        raise ValueError(f"name: environment {name!r} is already registered")
    if ":" not in entry_point:
        raise ValueError(f"entry_point: expected 'module:callable', got {entry_point!r}")
    _REGISTRY[name] = EnvSpec(name, entry_point, dict(kwargs))


def names() -> tuple[str, ...]:
    """Every registered environment name, sorted."""
    return tuple(sorted(_REGISTRY))


def _load(spec: EnvSpec):
    module, attr = spec.entry_point.split(":")
    return getattr(importlib.import_module(module), attr)


def config_keys(name: str) -> tuple[str, ...]:
    """The config fields ``make(name, ...)`` accepts (the entry point's keyword arguments)."""
    spec = _spec(name)
    params = inspect.signature(_load(spec)).parameters
    return tuple(p for p in params if p not in spec.kwargs)


def _spec(name: str) -> EnvSpec:
    if name not in _REGISTRY:
        raise ValueError(f"name: unknown environment {name!r}; registered: {', '.join(names())}")
    return _REGISTRY[name]


def make(name: str, **config: Any) -> jumanji.Environment:
    """The registered environment ``name`` built with ``config``.

    Raises:
      ValueError: for an unknown name (the message lists the registered ones) or an unknown
        config key (the message lists the accepted ones).
    """
    spec = _spec(name)
    accepted = config_keys(name)
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        raise ValueError(
            f"config: unknown keys {unknown} for {name!r}; accepted: {', '.join(accepted)}"
        )
    return _load(spec)(**spec.kwargs, **config)
