"""What a preset's training costs on this machine, measured: each algorithm's trainer of the
preset (``grid.task_trainer``), ``members`` members vmapped, a few trainer steps timed after
compilation (wall and process CPU), extrapolated to the preset's members x trainer steps.

  python -m experiments.hvac.cost --preset=full     # issue 19: is the full preset CPU-sized?

The extrapolation is linear in members and steps (the members are vmapped, so a larger grid
costs at least proportionally on a CPU that the measured members already saturate).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
from absl import app, flags

from experiments.hvac import grid
from experiments.hvac.config import get_config
from experiments.hvac.main import env_key, make_envs, weights_of

# Trainer steps timed per algorithm: an off-policy step is one vector env step and one gradient
# step; an on-policy step is a whole rollout and its epochs.
TIMED_STEPS = {"sac": 40, "dqn": 40, "ppo": 2}


def measure(preset: str, members: int = 4, timed_steps: dict[str, int] | None = None) -> list[dict]:
    """One row per algorithm: seconds per member-step (wall, CPU) and the preset's total."""
    config = get_config(preset)
    envs = make_envs(config)
    rows = []
    for algo in config.algos:
        k = (timed_steps or TIMED_STEPS)[algo]
        trained = grid.task_trainer(algo, config.trainers[algo], envs[env_key(algo, "train")])
        trainer = trained.trainer
        setting = {
            "climate": jnp.zeros((members,), jnp.int32),
            "weight": jnp.full((members,), config.base_weight, jnp.float32),
        }
        keys = jax.random.split(jax.random.PRNGKey(0), members)
        state = jax.jit(jax.vmap(trainer.init))(keys, setting)

        def chunk(s, k=k, trainer=trainer):
            def body(s, _):
                s, metrics = jax.vmap(trainer.step)(s)
                return s, jax.tree.map(jnp.mean, metrics)  # Consumed: the losses come back.

            return jax.lax.scan(body, s, None, length=k)

        run = jax.jit(chunk).lower(state).compile()
        state, _ = jax.block_until_ready(run(state))  # Warm-up (and past learning_starts).
        wall, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(run(state))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        num_members = len(config.cities) * len(weights_of(config, algo)) * config.num_seeds
        total_steps = num_members * trainer.num_steps
        rows.append({
            "algo": algo, "members_timed": members, "steps_timed": k,
            "wall_ms_per_member_step": 1e3 * wall / (members * k),
            "cpu_ms_per_member_step": 1e3 * cpu / (members * k),
            "preset_members": num_members, "preset_steps_per_member": trainer.num_steps,
            "preset_cpu_hours": cpu / (members * k) * total_steps / 3600,
            "preset_wall_hours": wall / (members * k) * total_steps / 3600,
        })  # fmt: skip
    return rows


def main(argv) -> None:
    del argv
    rows = measure(flags.FLAGS.preset)
    for r in rows:
        print(
            f"{r['algo']}: {r['cpu_ms_per_member_step']:.2f} CPU ms per member-step "
            f"({r['wall_ms_per_member_step']:.2f} wall); {r['preset_members']} members x "
            f"{r['preset_steps_per_member']} steps -> {r['preset_cpu_hours']:.1f} CPU h "
            f"({r['preset_wall_hours']:.1f} h wall at this rate)"
        )
    total = sum(r["preset_cpu_hours"] for r in rows)
    print(f"training, all algorithms: {total:.1f} CPU h")


if __name__ == "__main__":
    flags.DEFINE_enum("preset", "full", ["quick", "full"], "The preset whose cost to measure.")
    app.run(main)
