"""Where one job of the TAR² quick preset spends its time: compilation against running.

Reproduces ``run_trainer``'s programs for one (scenario, algorithm) job and times each phase in
wall and CPU seconds: the jitted ``init``, tracing and lowering one chunk, XLA's compilation of
it, running one chunk, and the evaluator's first call (its compilation) and a second call.
``est_job_*`` adds them up as a job of ``num_chunks`` chunks would. Run it cold to see the
compilation (the cache would otherwise serve it):

  JAXML_COMPILATION_CACHE=off python -m experiments.tar2.profile ippo sparse,dense,tar2,arel,stas
  JAXML_COMPILATION_CACHE=off python -m experiments.tar2.profile mappo sparse,tar2

Prints one JSON line per call. Not part of ``make run``.
"""

from __future__ import annotations

import json
import sys
import time

import jax

from experiments.tar2 import main
from experiments.tar2.config import get_config
from jaxml.utils import runner
from jaxml.utils.trainer import member_grid


def profile(algorithm: str, methods: tuple[str, ...], scenario: str = "3m") -> dict:
    config = get_config("quick")
    config[algorithm].tar2.methods = tuple(methods)
    trainer, _ = main.make_trainer(config, algorithm, scenario)
    chunk = max(1, trainer.num_steps // config.num_chunks)
    keys, _ = member_grid(config.seed, config.num_seeds, None)
    out: dict = {"algorithm": algorithm, "methods": list(methods), "chunk": chunk}

    def timed(name, fn):
        wall, cpu = time.perf_counter(), time.process_time()
        value = jax.block_until_ready(fn())
        out[f"{name}_s"] = round(time.perf_counter() - wall, 2)
        out[f"{name}_cpu_s"] = round(time.process_time() - cpu, 2)
        return value

    state = timed("init", lambda: jax.jit(jax.vmap(trainer.init))(keys))
    chunk_fn = runner._make_chunk_fn(jax.vmap(trainer.step), chunk)
    lowered = timed("trace_lower", lambda: chunk_fn.lower(state))
    compiled = timed("compile", lambda: lowered.compile())
    state = timed("chunk_run", lambda: compiled(state))[0]
    evaluate = jax.jit(jax.vmap(trainer.evaluate))
    timed("eval_first", lambda: evaluate(state))
    timed("eval_again", lambda: evaluate(state))
    for unit in ("s", "cpu_s"):
        phases = ("init", "trace_lower", "compile", "eval_first")
        fixed = sum(out[f"{p}_{unit}"] for p in phases)
        out[f"est_job_{unit}"] = round(fixed + config.num_chunks * out[f"chunk_run_{unit}"], 2)
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    profile(sys.argv[1], tuple(sys.argv[2].split(",")))
