"""The absl launcher every ``experiments/<name>/main.py`` shares.

Flags (the few people change): ``--preset``, ``--seed``, ``--num_seeds``, ``--workdir``,
``--resume``, ``--mesh``, ``--distributed``; ``--config.<field>=<value>`` overrides any field.
A bad flag or config value exits with status 2 and one line naming it; a non-finite loss exits with
status 3 and the step number.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ml_collections
from absl import app, flags
from absl import logging as absl_logging
from ml_collections import config_flags

from jaxml import _distributed
from jaxml.utils import checks, compilation_cache
from jaxml.utils._io import write_text_atomically
from jaxml.utils.config import PRESETS, ConfigError, check_base, flat_fields
from jaxml.utils.runner import NonFiniteError

TrainFn = Callable[[ml_collections.ConfigDict, Path, bool], Any]
GetConfig = Callable[[str], ml_collections.ConfigDict]

EXIT_BAD_CONFIG = 2
EXIT_NON_FINITE = 3


def _fail(message: str, status: int) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def _check_override_names(argv: list[str], config: ml_collections.ConfigDict) -> None:
    # ml_collections reads these straight from sys.argv when the flag is defined and fails with
    # a traceback on an unknown field; check them first so the user gets one line listing fields.
    valid = flat_fields(config)
    for arg in argv[1:]:
        if arg.startswith("--config."):
            name = arg[len("--config.") :].split("=", 1)[0]
            if name not in valid:
                raise ConfigError(
                    f"--config.{name}: unknown field; valid fields: {', '.join(valid)}"
                )


def _check_resume_config(workdir: Path, config: ml_collections.ConfigDict) -> None:
    saved_path = workdir / "config.json"
    if not saved_path.exists():
        return
    saved = json.loads(saved_path.read_text())
    current = json.loads(config.to_json())
    differing = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if differing:
        raise ConfigError(
            f"--resume: config differs from {saved_path} in fields {', '.join(differing)}; "
            "resume with the same flags or use a new --workdir"
        )


def build_config(
    get_config: GetConfig, preset: str, overrides: dict[str, Any]
) -> ml_collections.ConfigDict:
    """Loads ``preset`` and applies flattened ``--config.*`` overrides."""
    if preset not in PRESETS:
        raise ConfigError(f"--preset={preset!r}: must be one of {', '.join(PRESETS)}")
    config = get_config(preset)
    config.update_from_flattened_dict(dict(overrides))
    return config


def launch(name: str, train_fn: TrainFn, get_config: GetConfig, argv: list[str] | None = None):
    """Parses flags, builds the config and calls ``train_fn(config, workdir, resume)``.

    Args:
      name: the experiment's registry name; the default workdir is ``results/<name>/<preset>``.
      train_fn: trains and writes ``metrics.jsonl``, figures and ``summary.md`` into ``workdir``.
      get_config: ``preset -> ConfigDict``, the experiment's ``config.get_config``.
      argv: the command line (defaults to ``sys.argv``).
    """
    argv = list(sys.argv if argv is None else argv)
    sys.argv = argv  # ml_collections reads overrides from sys.argv.
    try:
        _check_override_names(argv, get_config(PRESETS[0]))
    except ConfigError as e:
        _fail(str(e), EXIT_BAD_CONFIG)

    flags.DEFINE_enum("preset", "quick", list(PRESETS), "Named config preset.")
    flags.DEFINE_integer("seed", None, "Random seed (overrides config.seed).")
    flags.DEFINE_integer("num_seeds", None, "Seeds trained at once with vmap (config.num_seeds).")
    flags.DEFINE_string("workdir", None, "Output directory (default results/<name>/<preset>).")
    flags.DEFINE_bool("resume", False, "Resume from the latest checkpoint in --workdir.")
    flags.DEFINE_bool("mesh", None, "Shard the batch over all local devices (config.mesh).")
    flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() (multi-host).")
    config_flags.DEFINE_config_dict("config", get_config(PRESETS[0]), "Config field overrides.")

    def parse(args: list[str]) -> list[str]:
        try:
            return flags.FLAGS(args)
        except flags.Error as e:
            _fail(str(e), EXIT_BAD_CONFIG)

    def main(_):
        FLAGS = flags.FLAGS
        if not FLAGS["verbosity"].present:
            # orbax logs every save at INFO; keep the console to the progress bar and errors.
            absl_logging.set_verbosity(absl_logging.WARNING)
        if FLAGS.distributed:
            # Usually done already at `import jaxml` (see jaxml._distributed); then a no-op.
            try:
                _distributed.initialize()
            except (ValueError, RuntimeError) as e:
                _fail(str(e), EXIT_BAD_CONFIG)
        try:
            config = build_config(get_config, FLAGS.preset, FLAGS["config"].override_values)
            for field in ("seed", "num_seeds", "mesh"):
                if FLAGS[field].value is not None:
                    config[field] = FLAGS[field].value
            check_base(config)
            workdir = Path(FLAGS.workdir or f"results/{name}/{FLAGS.preset}")
            if FLAGS.resume:
                _check_resume_config(workdir, config)
            try:
                workdir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ConfigError(
                    checks.message("--workdir", "a directory that can be created", str(workdir))
                    + f" ({e.strerror})"
                ) from e
            # A rerun, a resume or the next experiment reads compiled programs back from disk.
            compilation_cache.enable()
            if _distributed.is_primary():
                # Atomic: with --distributed the other processes may read it for --resume.
                config_text = config.to_json(indent=2, sort_keys=True)
                write_text_atomically(workdir / "config.json", config_text)
            train_fn(config, workdir, FLAGS.resume)
        except ConfigError as e:
            _fail(str(e), EXIT_BAD_CONFIG)
        except NonFiniteError as e:
            _fail(str(e), EXIT_NON_FINITE)

    app.run(main, argv=argv, flags_parser=parse)
