"""jaxml's SAC and DQN beside rejax's (a public JAX RL package) at the same config and budget.

rejax 0.1.3 unpacks gymnax's old 5-value ``step`` and fails on gymnax 1.0 (jaxml's), so it runs
in a venv of its own with ``gymnax==0.0.9``, in a subprocess of this script; everything else
(jax 0.10.2, flax, optax, distrax) is the current interpreter's, reached through a ``.pth`` file,
so both sides run the same jax. ``--make-venv`` creates that venv (two small wheels from PyPI)::

    python benchmarks/offpolicy_rejax.py --make-venv /tmp/rejax_venv
    python benchmarks/offpolicy_rejax.py --rejax-python /tmp/rejax_venv/bin/python

Each side trains ``--seeds`` seeds vmapped in one jitted program, timed after its own compile
(``lower().compile()``), so the figure is env steps/s of the compiled training loop. Returns are
each side's own evaluation of the final policy: jaxml ``rl.evaluate`` (16 episodes per seed,
mean action / greedy), rejax its ``eval_callback`` (128 episodes per seed, its ``act``: a sample
of the SAC policy, ε = 0.05 for DQN); rejax's one final evaluation runs inside its timed
program. Prints ``name  ours  peer  ratio`` rows and writes
``results/benchmarks/offpolicy_rejax.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

# The shared config of each task. SAC: one env, one update per env step, 64-64 networks,
# lr 10⁻³ for all three optimisers, batch 256, τ = 0.005, 10³ warm-up steps. DQN: PureJaxRL's
# CartPole config (jaxml's default) at 10⁵ steps: 10 envs, one update per env step of all 10,
# hard target copy every 500 env steps, batch 128, lr 2.5·10⁻⁴, ε 1 → 0.05 over half the run,
# with rejax DQN's fixed 64-64 network (ReLU on both sides).
TASKS = {
    "sac": dict(env="Pendulum-v1", total_timesteps=12_000, num_envs=1, updates=1,
                batch_size=256, buffer_size=12_000, learning_starts=1_000, lr=1e-3,
                gamma=0.99, tau=0.005, hidden=(64, 64)),
    "dqn": dict(env="CartPole-v1", total_timesteps=100_000, num_envs=10, updates=1,
                batch_size=128, buffer_size=10_000, learning_starts=10_000, lr=2.5e-4,
                gamma=0.99, target_env_steps=500, hidden=(64, 64), eps_fraction=0.5),
}  # fmt: skip


def timed(fn, args):
    import jax

    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return out, compile_s, time.perf_counter() - start


def run_jaxml(name: str, seeds: int) -> dict:
    import jax
    import numpy as np

    from jaxml import envs, rl
    from jaxml.utils.trainer import scan_steps

    task = TASKS[name]
    config = rl.default_config(name)
    config.update(
        num_envs=task["num_envs"], total_timesteps=task["total_timesteps"],
        buffer_size=task["buffer_size"], batch_size=task["batch_size"],
        learning_starts=task["learning_starts"], updates_per_step=task["updates"],
        gamma=task["gamma"], eval_episodes=16,
    )  # fmt: skip
    if name == "sac":
        config.update(
            actor_hidden=task["hidden"], critic_hidden=task["hidden"], tau=task["tau"],
            actor_learning_rate=task["lr"], critic_learning_rate=task["lr"],
            alpha_learning_rate=task["lr"], eval_max_steps=200,
        )  # fmt: skip
    else:
        config.update(
            hidden=task["hidden"], learning_rate=task["lr"], tau=1.0,
            target_update_period=task["target_env_steps"] // task["num_envs"],
            epsilon_anneal_steps=int(task["eps_fraction"] * task["total_timesteps"]),
            eval_max_steps=500,
        )  # fmt: skip
    trainer = rl.make_trainer(name, config, envs.make(f"gymnax/{task['env']}"))
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    state = jax.jit(jax.vmap(trainer.init))(keys)
    train = jax.vmap(lambda s: scan_steps(trainer, s, trainer.num_steps).state)
    state, compile_s, run_s = timed(train, (state,))
    returns = np.asarray(jax.jit(jax.vmap(trainer.evaluate))(state)["eval_return"])
    steps = trainer.num_steps * task["num_envs"]
    return dict(compile_s=compile_s, run_s=run_s, steps_per_s=seeds * steps / run_s,
                returns=returns.tolist())  # fmt: skip


def run_rejax(name: str, seeds: int) -> dict:
    import jax
    import numpy as np
    import rejax

    task = TASKS[name]
    common = dict(
        env=task["env"], total_timesteps=task["total_timesteps"], eval_freq=task["total_timesteps"],
        skip_initial_evaluation=True, num_envs=task["num_envs"], num_epochs=task["updates"],
        batch_size=task["batch_size"], buffer_size=task["buffer_size"],
        fill_buffer=task["learning_starts"], learning_rate=task["lr"], gamma=task["gamma"],
        agent_kwargs={"activation": "relu"},
    )  # fmt: skip
    if name == "sac":
        algo = rejax.SAC.create(
            **common, polyak=1.0 - task["tau"], target_update_freq=1,
            hidden_layer_sizes=task["hidden"],
        )  # fmt: skip
    else:
        algo = rejax.DQN.create(
            **common, polyak=0.0, target_update_freq=task["target_env_steps"], ddqn=True,
            exploration_fraction=task["eps_fraction"], eps_start=1.0, eps_end=0.05,
        )  # fmt: skip
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    (_, (_, returns)), compile_s, run_s = timed(jax.vmap(algo.train), (keys,))
    returns = np.asarray(returns)[:, -1].mean(axis=-1)  # [seeds]: the final evaluation's mean.
    steps_per_s = seeds * task["total_timesteps"] / run_s
    return dict(compile_s=compile_s, run_s=run_s, steps_per_s=steps_per_s, returns=returns.tolist())


def make_venv(path: str) -> None:
    """A venv with rejax 0.1.3 and gymnax 0.0.9 over this interpreter's packages."""
    import site
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", path], check=True)
    python = os.path.join(path, "bin", "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    base = [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    with open(os.path.join(purelib, "zz_base_packages.pth"), "w") as f:
        f.write("\n".join(dict.fromkeys(base)) + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "rejax==0.1.3", "gymnax==0.0.9"],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--make-venv", metavar="DIR")
    parser.add_argument("--rejax-python", metavar="PYTHON")
    parser.add_argument("--side", choices=("jaxml", "rejax"))
    parser.add_argument("--tasks", default="sac,dqn")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="results/benchmarks/offpolicy_rejax.json")
    args = parser.parse_args()
    if args.make_venv:
        make_venv(args.make_venv)
        return
    tasks = [t for t in args.tasks.split(",") if t]
    if args.side:  # One side in this process: a JSON line per task.
        run = run_jaxml if args.side == "jaxml" else run_rejax
        for task in tasks:
            print(json.dumps({"task": task, **run(task, args.seeds)}), flush=True)
        return
    if not args.rejax_python:
        parser.error("--rejax-python: expected the venv's python (see --make-venv)")
    results = {}
    env = {**os.environ, "PYTHONPATH": os.getcwd()}  # Run from the repository root.
    for side, python in (("jaxml", sys.executable), ("rejax", args.rejax_python)):
        out = subprocess.run(
            [python, __file__, "--side", side, "--tasks", args.tasks, "--seeds", str(args.seeds)],
            check=True, capture_output=True, text=True, env=env,
        ).stdout  # fmt: skip
        for line in out.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                results.setdefault(row.pop("task"), {})[side] = row
    print(f"{'name':32s} {'ours':>10s} {'peer':>10s} {'ratio':>7s}")
    for task, sides in results.items():
        ours, peer = sides["jaxml"], sides["rejax"]
        for key in ("steps_per_s", "compile_s", "run_s"):
            ratio = ours[key] / peer[key]
            print(f"{task + ' ' + key:32s} {ours[key]:10.1f} {peer[key]:10.1f} {ratio:7.2f}")
        mean = lambda r: sum(r) / len(r)  # noqa: E731
        print(f"{task + ' final return (mean)':32s} {mean(ours['returns']):10.1f} "
              f"{mean(peer['returns']):10.1f}")  # fmt: skip
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"tasks": TASKS, "seeds": args.seeds, "load": os.getloadavg(),
                   "results": results}, f, indent=1)  # fmt: skip


if __name__ == "__main__":
    main()
