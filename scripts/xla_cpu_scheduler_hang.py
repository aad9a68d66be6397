"""Reproducer of an XLA:CPU deadlock (jax 0.10.2, 2-core x86_64) that jaxml works around.

IPPO on SMAX 3m, two seeds vmapped in one jitted ``train``, never finishes when XLA:CPU's
concurrency-optimized scheduler is on: every XLA worker thread waits for work and the main thread
waits in ``BlockUntilReady``. With the scheduler off (what ``import jaxml`` sets unless
``XLA_FLAGS`` names the flag) the same program runs in about 12 s including compilation.

  python scripts/xla_cpu_scheduler_hang.py --scheduler=on       # hangs (killed after --timeout)
  python scripts/xla_cpu_scheduler_hang.py --scheduler=off      # "finished in ..."
  python scripts/xla_cpu_scheduler_hang.py --scheduler=default  # whatever ``import jaxml`` sets

Measured 2026-11-26 on the 2-core CPU: this
setting (8 envs x 8 steps, 4 updates of one epoch of one minibatch, 64-64 MLP, 2 seeds) hung 3
times out of 3 with the scheduler on and finished in 14.8 s with it off. With one update it hung
once in 3 tries. It finished with one seed, with a 64- or 8-unit MLP, and on CartPole behind
``mappo.AsMultiAgent``; random SMAX rollouts alone (jaxmarl, nested scans, vmapped seeds) finished
too. Still to do for an upstream report: strip jaxml (flax MLP + jaxmarl SMAX + a PPO step).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"


def train_once() -> None:
    import jax

    from experiments.marl.config import smax_config
    from jaxml import envs
    from jaxml.rl import mappo

    config = smax_config("ippo", total_timesteps=4 * 64)  # 4 updates.
    config.update(num_envs=8, num_steps=8, update_epochs=1, num_minibatches=1)
    env = envs.make("jaxmarl/SMAX", scenario="3m", max_steps=100)
    train = jax.jit(jax.vmap(mappo.make_train(config, env)))
    start = time.perf_counter()
    jax.block_until_ready(train(jax.random.split(jax.random.PRNGKey(0), 2)))
    print(f"finished in {time.perf_counter() - start:.1f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", choices=("on", "off", "default"), required=True)
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds before a kill.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # The repository root.
        train_once()
        return 0
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)  # "default": jaxml's choice when the child imports it.
    if args.scheduler != "default":
        env["XLA_FLAGS"] = f"{FLAG}={'true' if args.scheduler == 'on' else 'false'}"
    command = [sys.executable, __file__, "--child", f"--scheduler={args.scheduler}"]
    try:
        return subprocess.run(command, env=env, timeout=args.timeout, check=False).returncode
    except subprocess.TimeoutExpired:
        print(f"no result after {args.timeout:.0f} s with the scheduler {args.scheduler}: hung")
        return 124


if __name__ == "__main__":
    sys.exit(main())
