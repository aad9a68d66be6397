"""Trainers by name, like ``jaxml.envs``: ``names()``, ``default_config(name)``, ``make_trainer``.

``default_config(name, "continuous")`` is a single-agent trainer's config for continuous control:
PPO's own ``"continuous"`` preset (brax's PPO choices), and for A2C, TRPO and NPG their defaults
with brax's networks and observation normalisation (``on_policy.CONTINUOUS_NETWORK``).

Every registered trainer returns a ``jaxml.utils.trainer.Trainer`` (``OnPolicyTrainer`` for these,
whose ``partition`` splits the environment axis over a mesh), so ``run_trainer`` runs any of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import ml_collections
from jumanji.env import Environment

from jaxml.rl import a2c, dqn, mappo, npg, on_policy, ppo, sac, trpo
from jaxml.utils import checks
from jaxml.utils.trainer import Trainer


class _Entry(NamedTuple):
    default_config: Callable[[], ml_collections.ConfigDict]
    make_trainer: Callable[[ml_collections.ConfigDict, Environment], Trainer]
    multi_agent: bool  # Expects jaxml's multi-agent API (agent axis first).
    kind: str = "on_policy"  # One of KINDS.


_TRAINERS: dict[str, _Entry] = {
    "ppo": _Entry(ppo.default_config, ppo.make_trainer, False),
    "a2c": _Entry(a2c.default_config, a2c.make_trainer, False),
    "trpo": _Entry(trpo.default_config, trpo.make_trainer, False),
    "npg": _Entry(npg.default_config, npg.make_trainer, False),
    "ippo": _Entry(lambda: mappo.default_config("ippo"), mappo.make_trainer, True),
    "mappo": _Entry(lambda: mappo.default_config("mappo"), mappo.make_trainer, True),
    # Off-policy trainers (replay buffer in the state; config fields of their own).
    "sac": _Entry(sac.default_config, sac.make_trainer, False, "off_policy"),
    "dqn": _Entry(dqn.default_config, dqn.make_trainer, False, "off_policy"),
}
# What names(kind) lists: "on_policy" (the default, so callers that expect the on-policy config
# fields keep working), "off_policy" (SAC, DQN) or "all".
KINDS = ("on_policy", "off_policy", "all")


def names(kind: str = "on_policy") -> tuple[str, ...]:
    """The registered trainer names of ``kind`` (one of ``KINDS``; default: on-policy)."""
    checks.choice(kind, "kind", KINDS)
    return tuple(n for n, e in _TRAINERS.items() if kind in ("all", e.kind))


def _entry(name: str) -> _Entry:
    return _TRAINERS[checks.choice(name, "name", _TRAINERS)]


PRESETS = ("default", "continuous")


def default_config(name: str, preset: str = "default") -> ml_collections.ConfigDict:
    """The trainer's config (a fresh ``ConfigDict``; override fields as you like).

    Raises:
      ValueError: an unknown name or preset, or ``"continuous"`` for a multi-agent trainer
        (their heads are categorical).
    """
    entry = _entry(name)
    checks.choice(preset, "preset", PRESETS)
    if preset == "default":
        return entry.default_config()
    if entry.multi_agent:
        raise ValueError(f"preset: 'continuous' is for single-agent trainers, got {name!r}")
    if entry.kind == "off_policy":  # SAC is continuous already; DQN is discrete.
        raise ValueError(f"preset: 'continuous' is for on-policy trainers, got {name!r}")
    if name == "ppo":
        return ppo.default_config("continuous")
    config = entry.default_config()
    config.update(on_policy.CONTINUOUS_NETWORK)
    return config


def is_multi_agent(name: str) -> bool:
    """Whether the trainer expects a multi-agent environment (``[A, ...]`` arrays)."""
    return _entry(name).multi_agent


def make_trainer(name: str, config: ml_collections.ConfigDict | None, env: Environment) -> Trainer:
    """The ``Trainer`` of ``name`` for ``env`` (``config=None``: ``default_config(name)``).

    Raises:
      ValueError: an unknown name (listing the registered ones) or a bad config field.
    """
    entry = _entry(name)
    return entry.make_trainer(entry.default_config() if config is None else config, env)
