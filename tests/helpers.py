"""Helpers for tests: launching the repo's scripts as a user would, and a cheap-compile jit."""

import functools
import os
import subprocess
import sys
from pathlib import Path

import jax

REPO_ROOT = Path(__file__).resolve().parents[1]

# jax.jit with XLA's cheapest compile: for tests whose programs run once on tiny inputs.
fast_jit = functools.partial(
    jax.jit,
    compiler_options={
        "xla_backend_optimization_level": 0,
        "xla_llvm_disable_expensive_passes": True,
    },
)


def assert_episode_sums(sparse_r, dense_r, last, *, atol: float) -> None:
    """Per complete episode of every env (``last [T, B]`` marks the ends), the sparse reward
    released at its last step equals the dense rewards summed over it (``[T, B, ...]``)."""
    import numpy as np

    for b in range(last.shape[1]):
        start = 0
        for end in np.flatnonzero(last[:, b]):
            np.testing.assert_allclose(
                sparse_r[end, b], dense_r[start : end + 1, b].sum(0), rtol=1e-5, atol=atol
            )
            start = end + 1


def launch(args: list[str], *, devices: int | None = None, **popen_kwargs):
    """Starts ``python <args>`` from the repo root; ``devices`` fakes that many CPU devices."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if devices is not None:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen_kwargs,
    )


def run(args: list[str], *, devices: int | None = None, timeout: float = 600):
    """Runs ``python <args>`` to completion; returns (exit status, stdout, stderr)."""
    proc = launch(args, devices=devices)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def eval_return_before_and_after(trainer, seeds: int):
    """``(before, after)`` ``[seeds]``: a trainer's ``evaluate`` ``eval_return`` of its initial
    and of its trained state (seeds vmapped, one compile for both evaluations)."""
    import jax
    import numpy as np

    from jaxml.utils.trainer import scan_steps

    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    state = jax.jit(jax.vmap(trainer.init))(keys)
    evaluate = jax.jit(jax.vmap(trainer.evaluate))
    before = evaluate(state)["eval_return"]
    state, _ = jax.jit(jax.vmap(lambda s: scan_steps(trainer, s, trainer.num_steps)))(state)
    after = evaluate(state)["eval_return"]
    return np.asarray(before), np.asarray(after)
