"""``HVAC-v0`` env steps per second at 1, 1,024 and 16,384 buildings beside a per-step numpy
implementation of the same model (the test oracle ``tests/envs/hvac/reference.py``).

"Reinforcement Learning Meets Urban Climate Modeling: RL-based HVAC control" (arXiv 2505.07045)
trains in a per-step numpy surrogate of CLM-Urban's building model; this measures what the
vectorised JAX env buys over that style on the same machine.

- **ours**: ``jax.vmap(env.step)`` over ``B`` buildings (the five cities, generated weather,
  one-year episodes so nothing resets) inside one jitted ``lax.scan`` of ``T`` steps; every
  step's observation and reward are summed into the carry (consumed, so nothing is dead code);
  the fixed set-point action. Timed after a compiling warm-up call, median of ``--repeats``.
- **numpy**: one building stepped in a Python loop: the generator's cycles (precomputed, as the
  env does) plus numpy AR(1) noise, the oracle's ``bem_step`` (float64, dense
  ``np.linalg.solve``), the reward and the observation. Steps per second of one building (a
  per-step numpy env of many buildings is this loop per building).

Both rates are also given per CPU second (process CPU time, all threads), which the load from
other jobs on a shared machine changes less than wall-clock.

  python -m benchmarks.hvac_throughput
  python -m benchmarks.hvac_throughput --num_envs=1,1024 --repeats=5
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from jaxml.data import weather
from jaxml.envs.hvac import HVAC, STEP_SECONDS, STEPS_PER_YEAR, bem
from tests.envs.hvac import reference

_NUM_ENVS = flags.DEFINE_list("num_envs", ["1", "1024", "16384"], "Batch sizes (buildings).")
_ENV_STEPS = flags.DEFINE_integer(
    "env_steps", 204_800, "Env steps per timed call (T = env_steps / B, at least 20)."
)
_NUMPY_STEPS = flags.DEFINE_integer("numpy_steps", 2_000, "Steps of the numpy loop.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repetitions (the median is reported).")
_OUT = flags.DEFINE_string("out", "results/benchmarks/hvac_throughput.json", "JSON output.")

ACTION = (26.0, 15.0, 0.5)


def _cpu() -> float:
    return time.process_time()  # User + system CPU seconds of every thread of the process.


def jax_rate(num_envs: int, num_steps: int, repeats: int) -> dict:
    """Env steps/s of ``vmap(env.step)`` over ``num_envs`` buildings, ``num_steps`` per call."""
    env = HVAC(episode_steps=STEPS_PER_YEAR)
    keys = jax.random.split(jax.random.PRNGKey(0), num_envs)
    state, _ = jax.jit(jax.vmap(env.reset))(keys)
    action = jnp.tile(jnp.asarray(ACTION, jnp.float32), (num_envs, 1))

    @jax.jit
    def run(carry):
        def body(carry, _):
            s, acc = carry
            s, ts = jax.vmap(env.step)(s, action)
            return (s, acc + ts.reward.sum() + ts.observation.sum()), None

        return jax.lax.scan(body, carry, None, num_steps)[0]

    carry = (state, jnp.float32(0.0))
    start = time.perf_counter()
    carry = jax.block_until_ready(run(carry))
    first = time.perf_counter() - start
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), _cpu()
        carry = jax.block_until_ready(run(carry))
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
    steps = num_envs * num_steps
    assert np.isfinite(float(carry[1]))
    return {
        "side": "jax", "num_envs": num_envs, "steps_per_call": num_steps,
        "env_steps_per_s": steps / statistics.median(walls),
        "env_steps_per_cpu_s": steps / statistics.median(cpus),
        "first_call_s": first,
    }  # fmt: skip


def numpy_rate(num_steps: int, city: str = "newyork") -> dict:
    """Steps/s of one building stepped by the numpy oracle in a Python loop."""
    env = HVAC(climates=(city,), episode_steps=STEPS_PER_YEAR)
    state, _ = env.reset_to(jax.random.PRNGKey(0), 0, 0.1)
    base = np.asarray(env._base[0], np.float64)  # [17520, 5] the cycles, as the env keeps them.
    gen = jax.tree.map(lambda x: np.asarray(x, np.float64), env._generators)
    noise_std = gen.noise_std[0]
    phi = gen.phi_hour[0] ** (STEP_SECONDS / 3600.0)
    params = {k: float(v) for k, v in state.building._asdict().items()}
    temps = np.asarray(state.temps, np.float64)
    noise = np.asarray(state.noise, np.float64)
    heat_in, t0, acc = 0.0, int(state.start), 0.0
    rng = np.random.default_rng(0)
    cool, heat, ach = ACTION
    w = 0.1
    start, cpu = time.perf_counter(), _cpu()
    for t in range(num_steps):
        b = base[(t0 + t) % STEPS_PER_YEAR]
        s = noise_std * noise
        sw = max(1.0 + s[1], 0.0)
        forcing = (b[0] + s[0], b[1] * sw, b[2] * sw, b[3] + s[2], max(b[4] + s[3], 0.0))
        temps, heating, cooling, waste = reference.bem_step(
            params, temps, forcing, heat + weather.CELSIUS, cool + weather.CELSIUS, ach,
            heat_in, np.inf, float(STEP_SECONDS),
        )  # fmt: skip
        heat_in = waste + cooling
        noise = phi * noise + np.sqrt(1.0 - phi**2) * rng.standard_normal(4)
        t_in = temps[bem.INDOOR] - weather.CELSIUS
        p = cooling / bem.COP_AC / bem.ETA_AC + heating / bem.ETA_HEAT_1 / bem.ETA_HEAT_2
        reward = -w * p - (1 - w) * (abs(t_in - 24.0) + abs(t_in - 18.0))
        obs = np.array([cool, heat, ach, t_in, temps[bem.CANYON] - weather.CELSIUS])
        acc += reward + obs.sum()
    wall, cpus = time.perf_counter() - start, _cpu() - cpu
    assert np.isfinite(acc)
    return {
        "side": "numpy",
        "num_envs": 1,
        "steps_per_call": num_steps,
        "env_steps_per_s": num_steps / wall,
        "env_steps_per_cpu_s": num_steps / cpus,
    }


def main(argv):
    del argv
    rows = [numpy_rate(_NUMPY_STEPS.value)]
    print(json.dumps(rows[0]))
    for b in (int(x) for x in _NUM_ENVS.value):
        row = jax_rate(b, max(20, _ENV_STEPS.value // b), _REPEATS.value)
        for unit in ("env_steps_per_s", "env_steps_per_cpu_s"):
            row[f"ratio_{unit}"] = row[unit] / rows[0][unit]
        rows.append(row)
        print(json.dumps(row))
    print(
        f"{'envs':>6} {'ours steps/s':>14} {'numpy steps/s':>14} {'ratio':>9} {'ratio/CPU s':>11}"
    )
    for r in rows[1:]:
        print(f"{r['num_envs']:>6} {r['env_steps_per_s']:>14,.0f} "
              f"{rows[0]['env_steps_per_s']:>14,.0f} {r['ratio_env_steps_per_s']:>9,.0f} "
              f"{r['ratio_env_steps_per_cpu_s']:>11,.0f}")  # fmt: skip
    out = Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    device = f"{jax.devices()[0].device_kind} ({platform.processor() or platform.machine()}), " \
             f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"  # fmt: skip
    out.write_text(json.dumps({"device": device, "rows": rows}, indent=1))


if __name__ == "__main__":
    app.run(main)
