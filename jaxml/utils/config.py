"""Experiment configuration: ml_collections presets and the checks every launcher shares.

An experiment's ``config.py`` defines ``get_config(preset)`` returning a ``ConfigDict`` built on
:func:`base_config`; the launcher picks the preset with ``--preset`` and overrides any field with
``--config.<field>=<value>``. Bad values raise :class:`ConfigError`, a ``ValueError`` naming the
flag and the accepted values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ml_collections

from jaxml.utils import checks

PRESETS = ("quick", "full")


class ConfigError(ValueError):
    """A configuration value that the experiment cannot run with."""


def base_config() -> ml_collections.ConfigDict:
    """Fields every experiment has; the ``--seed``, ``--num_seeds``, ``--mesh`` flags set them."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Seeds seed, seed+1, ..., seed+num_seeds-1 are trained at once with vmap.
    config.num_seeds = 1
    # Shard the batch axis over all local devices with a 1-D jax.sharding.Mesh named "data".
    config.mesh = False
    # Steps of the jitted step function run per lax.scan chunk (one host round-trip per chunk).
    config.chunk_size = 100
    # Checkpoint every this many chunks (and always at the end).
    config.checkpoint_every_chunks = 1
    config.max_checkpoints_to_keep = 2
    config.tensorboard = True
    config.progress_bar = True
    return config


def check_preset(preset: str) -> str:
    return checks.choice(preset, "--preset", PRESETS, ConfigError)


def check_choice(config: ml_collections.ConfigDict, field: str, choices: Iterable[str]) -> None:
    """Raises ConfigError unless ``config.<field>`` is one of ``choices``."""
    checks.choice(config[field], f"--config.{field}", choices, ConfigError)


def check_choices(config: ml_collections.ConfigDict, field: str, choices: Iterable[str]) -> None:
    """Raises ConfigError unless ``config.<field>`` is a non-empty tuple of ``choices``."""
    checks.choices(config[field], f"--config.{field}", choices, ConfigError)


def check_positive(config: ml_collections.ConfigDict, fields: Sequence[str]) -> None:
    """Raises ConfigError unless every ``config.<field>`` is a number > 0."""
    for field in fields:
        checks.positive(config[field], f"--config.{field}", ConfigError)


def check_in_range(
    config: ml_collections.ConfigDict,
    field: str,
    low: float,
    high: float,
    closed: tuple[bool, bool] = (True, True),
) -> None:
    """Raises ConfigError unless ``config.<field>`` lies between ``low`` and ``high``."""
    checks.in_range(config[field], f"--config.{field}", low, high, closed=closed, error=ConfigError)


def check_base(config: ml_collections.ConfigDict) -> None:
    """Checks the fields of :func:`base_config`."""
    check_positive(config, ("num_seeds", "chunk_size", "checkpoint_every_chunks"))
    check_positive(config, ("max_checkpoints_to_keep",))


def flat_fields(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    """Dotted names of every leaf field, e.g. ``['model.width', 'seed']``."""
    names = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, ml_collections.ConfigDict):
            names.extend(flat_fields(value, prefix=f"{name}."))
        else:
            names.append(name)
    return sorted(names)
