"""``--distributed``: start ``jax.distributed`` before anything starts an XLA backend.

``jax.distributed.initialize()`` refuses to run once a backend exists, and a launcher's imports
start one: jumanji builds ``jnp`` arrays when ``jumanji.types`` is imported, and every RL launcher
imports it (the digits one too, through ``jaxml.models``). Each launcher imports ``jaxml`` before
that, so ``import jaxml`` reads ``--distributed`` from the command line and initializes there;
``jaxml.utils.cli.launch`` calls :func:`initialize` again, which is then a no-op.

On CPU the cross-process collectives are gloo (unless ``JAX_CPU_COLLECTIVES_IMPLEMENTATION`` says
otherwise), so the gradient all-reduce of ``--mesh`` works across processes on one machine.
``JAX_COORDINATOR_ADDRESS`` is read by jax; ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` are read
here (jax 0.10 reads neither); unset, jax detects them on Cloud TPU, SLURM and Open MPI.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

FLAG = "--distributed"
_TRUE = ("true", "t", "1")  # What absl reads as True.


def requested(argv: Sequence[str]) -> bool:
    """Whether absl would parse ``argv`` (program name first) to ``--distributed=True``.

    Accepts ``--distributed``, ``--nodistributed`` and ``--distributed=<bool>`` (one or two
    leading dashes); the last one wins and nothing after ``--`` counts, as in absl. A value that
    is not a boolean counts as False here: absl then rejects it with its one-line error.
    """
    value = False
    for arg in argv[1:]:
        if arg == "--":
            break
        name, eq, text = arg.lstrip("-").partition("=")
        if not arg.startswith("-") or name not in ("distributed", "nodistributed"):
            continue
        if name == "nodistributed":
            value = False
        elif not eq:
            value = True
        elif text.lower() in _TRUE:
            value = True
        else:
            value = False
    return value


def _int_env(name: str) -> int | None:
    text = os.environ.get(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{name}: expected an integer >= 0, got {text!r}")
    return value


def _process_env() -> tuple[int | None, int | None]:
    return _int_env("JAX_NUM_PROCESSES"), _int_env("JAX_PROCESS_ID")


def _check_no_backend() -> None:
    from jax._src import xla_bridge  # noqa: PLC0415 -- no public "has a backend started" yet.

    if xla_bridge.backends_are_initialized():
        raise RuntimeError(
            f"{FLAG}: a JAX backend already started in this process, so "
            "jax.distributed.initialize() cannot run; import jaxml before anything that "
            "computes with JAX (jumanji does at import)"
        )


def initialize() -> None:
    """Starts ``jax.distributed`` once per process (a no-op when it already runs).

    Raises:
      ValueError: ``JAX_NUM_PROCESSES`` or ``JAX_PROCESS_ID`` is not an integer >= 0.
      RuntimeError: a JAX backend already started in this process.
    """
    import jax  # noqa: PLC0415 -- `import jaxml` stays free of jax unless --distributed is given.

    if jax.distributed.is_initialized():
        return
    num_processes, process_id = _process_env()
    _check_no_backend()
    if "JAX_CPU_COLLECTIVES_IMPLEMENTATION" not in os.environ:
        # gloo is jax 0.10's default; set it anyway so a changed default cannot silently leave
        # CPU processes without cross-process all-reduces.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(num_processes=num_processes, process_id=process_id)


def initialize_if_requested(argv: Sequence[str]) -> None:
    """Calls :func:`initialize` when ``argv`` asks for ``--distributed``.

    A bad environment variable is left for ``launch``, which reports it in one line (exit 2).
    """
    if not requested(argv):
        return
    try:
        _process_env()
        _check_no_backend()
    except (ValueError, RuntimeError):
        return
    initialize()


def is_primary() -> bool:
    """True in process 0 of a ``--distributed`` job, and always without one.

    Files every process would write alike (metrics, configs) are written by this one only. It
    does not start a backend when ``jax.distributed`` is off.
    """
    import jax  # noqa: PLC0415 -- see initialize.

    return not jax.distributed.is_initialized() or jax.process_index() == 0
