"""Reproducer of a second XLA:CPU hang (jax 0.10.2, 2-core x86_64): batched LAPACK calls.

A jitted program with several independent *batched* Cholesky (or QR) factorisations, e.g.
``jnp.linalg.cholesky`` of ``[2, 256, 256]`` eight times, sometimes never finishes: every thread
asleep on a futex, the main thread in ``BlockUntilReady``. Unbatched factorisations of the same
size finished every time. ``OPENBLAS_NUM_THREADS=1``, ``--xla_cpu_multi_thread_eigen=false``,
``--xla_cpu_use_thunk_runtime=false`` and the concurrency-optimized scheduler off (jaxml's
workaround for the first hang, ``scripts/xla_cpu_scheduler_hang.py``) did not make it go away.
In jaxml it hits programs that vmap flax's orthogonal initialiser (QR) over members or agents:
``init`` of a population of the foraging paper's agents (``agent_config("paper")``) hung in every
try on 2026-12-02, and one LoRASA NPS run on MABrax ant_4x2 hung in its first chunk.
jaxml works around it: ``jaxml.models._init.orthogonal`` (every orthogonal init in
``jaxml.models``, the recurrent cells' included) loops over a vmapped batch instead of batching
the QR; the paper agent's population ``init`` then finished in 3 of 3 tries (6.5-7.2 s).

Measured 2026-12-02 on an idle machine, 5 tries each, 15 s timeout (a healthy try takes 1-2 s):
no factorisation 5/5 finished, batched QR 2/5, batched Cholesky 0/5 (scheduler on); with the
scheduler off, batched Cholesky 3/4 (under load).

  python scripts/xla_cpu_lapack_hang.py --op=cholesky --tries=5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def child(op: str) -> None:
    import jax
    import jax.numpy as jnp

    def program(key):
        mats = [jax.random.normal(k, (2, 256, 256)) for k in jax.random.split(key, 8)]
        if op == "qr":
            mats = [jnp.linalg.qr(m)[0] for m in mats]
        elif op == "cholesky":
            spd = [m @ jnp.swapaxes(m, -1, -2) + 256.0 * jnp.eye(256) for m in mats]
            mats = [jnp.linalg.cholesky(m) for m in spd]
        return mats, [2.0 * m for m in mats]

    start = time.perf_counter()
    jax.block_until_ready(jax.jit(program)(jax.random.PRNGKey(0)))
    print(f"finished in {time.perf_counter() - start:.1f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--op", choices=("none", "qr", "cholesky"), default="cholesky")
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=15.0, help="Seconds before a kill.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.op)
        return 0
    finished = 0
    for _ in range(args.tries):
        cmd = [sys.executable, __file__, "--child", f"--op={args.op}"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                                 env=dict(os.environ))  # fmt: skip
            finished += "finished" in out.stdout
        except subprocess.TimeoutExpired:
            pass
    print(f"{args.op}: {finished}/{args.tries} tries finished within {args.timeout:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
