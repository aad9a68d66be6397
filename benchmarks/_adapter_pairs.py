"""Adapter overhead: jaxml's adapters against the raw library they wrap, same random policy.

Each row times a jitted ``lax.scan`` of ``num_steps`` steps over ``num_envs`` parallel
environments, after compilation and one warm-up run, ours and raw in turns (so load drifts hit
both), and reports the median of ``repeats`` samples as env steps per second (one multi-agent
step counts once); a sample repeats the scan until it has run 0.2 s. Both sides draw the
same random actions from the same keys.

Rows come in two kinds:

- ``<env>``: the step alone. Raw is the library's transition without auto-reset (gymnax
  ``step_env``, brax ``create(..., auto_reset=False)``, jaxmarl ``step_env``), ours is
  ``VmapWrapper(adapter)``. This is the adapter's own overhead: key handling, timestep and
  spec-shaped outputs, dict-to-array stacking.
- ``<env> +autoreset``: how each is used in training. Raw is the library's auto-resetting
  ``step`` (gymnax and jaxmarl compute a reset every step and select; brax keeps the first
  state and swaps it in), ours is ``VmapWrapper(AutoResetWrapper(adapter))`` (jumanji's
  wrapper, which under vmap also computes a reset every step). The difference includes the two
  auto-reset strategies, not only the adapter.

SMAX (3m, heuristic enemy) uses a masked random policy on both sides: raw computes jaxmarl's
``get_avail_actions`` for it each step, ours reads ``observation.action_mask``.

``PAIRS`` holds the rows as ``Pair(name, ours, peer, peer_name, num_envs)``; each side is a
builder ``(num_envs, num_steps) -> (init, run)`` with ``init(key) -> carry`` and a jitted
``run(carry) -> carry`` (the shape ``benchmarks/env_throughput.py`` reads). Importing this
module builds nothing and imports no wrapped library.

  python -m benchmarks._adapter_pairs
  python -m benchmarks._adapter_pairs --rows gymnax/CartPole-v1 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Builder = Callable[[int, int], tuple[Callable[[jax.Array], Any], Callable[[Any], Any]]]


class Pair(NamedTuple):
    name: str  # Row name, e.g. "gymnax/CartPole-v1".
    ours: Builder  # jaxml's adapter.
    peer: Builder  # The raw library.
    peer_name: str  # What the raw side is.
    num_envs: int = 1024  # Parallel environments for this row.


def _scan(body: Callable, num_steps: int) -> Callable:
    return jax.jit(lambda carry: jax.lax.scan(body, carry, None, length=num_steps)[0])


def _split_keys(key: jax.Array, num_envs: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(next key, action key, [num_envs] per-env step keys)."""
    key, key_act, key_step = jax.random.split(key, 3)
    return key, key_act, jax.random.split(key_step, num_envs)


# --- jaxml's side: any adapter through jumanji's wrappers -----------------------------------


def _ours(make_env: Callable[[], Any], policy: Callable, autoreset: bool, observe=None) -> Builder:
    """``policy(key, seen, num_envs) -> actions`` with ``seen = observe(timestep)`` (or None).

    The carry keeps only what the policy reads, as the raw side does, so that neither side
    pays for outputs the other lets XLA drop.
    """
    observe = observe or (lambda timestep: None)

    def build(num_envs: int, num_steps: int):
        from jumanji.wrappers import AutoResetWrapper, VmapWrapper

        env = make_env()
        env = VmapWrapper(AutoResetWrapper(env) if autoreset else env)

        def body(carry, _):
            state, seen, key, total = carry
            key, key_act = jax.random.split(key)
            state, timestep = env.step(state, policy(key_act, seen, num_envs))
            return (state, observe(timestep), key, total + timestep.reward.sum()), None

        def init(key):
            key_reset, key_run = jax.random.split(key)
            state, timestep = env.reset(jax.random.split(key_reset, num_envs))
            return state, observe(timestep), key_run, jnp.float32(0.0)

        return jax.jit(init), _scan(body, num_steps)

    return build


# --- gymnax CartPole ---------------------------------------------------------------------------


def _cartpole_actions(key, num_envs):
    return jax.random.randint(key, (num_envs,), 0, 2)


def _gymnax_ours(autoreset: bool) -> Builder:
    def make():
        from jaxml import envs

        return envs.make("gymnax/CartPole-v1")

    return _ours(make, lambda key, _, n: _cartpole_actions(key, n), autoreset)


def _gymnax_raw(autoreset: bool) -> Builder:
    def build(num_envs: int, num_steps: int):
        import gymnax

        env, params = gymnax.make("CartPole-v1")

        def step(key, state, action):
            if autoreset:
                _, state, reward, *_ = env.step(key, state, action, params)
            else:
                _, state, reward, *_ = env.step_env(key, state, action, params)
            return state, reward

        def body(carry, _):
            state, key, total = carry
            key, key_act, keys = _split_keys(key, num_envs)
            state, reward = jax.vmap(step)(keys, state, _cartpole_actions(key_act, num_envs))
            return (state, key, total + reward.sum()), None

        def init(key):
            key_reset, key_run = jax.random.split(key)
            reset = jax.vmap(env.reset, in_axes=(0, None))
            _, state = reset(jax.random.split(key_reset, num_envs), params)
            return state, key_run, jnp.float32(0.0)

        return jax.jit(init), _scan(body, num_steps)

    return build


# --- brax inverted_pendulum --------------------------------------------------------------------


def _brax_actions(key, num_envs):
    return jax.random.uniform(key, (num_envs, 1), minval=-1.0, maxval=1.0)


def _brax_ours(autoreset: bool) -> Builder:
    def make():
        from jaxml import envs

        return envs.make("brax/inverted_pendulum")

    return _ours(make, lambda key, _, n: _brax_actions(key, n), autoreset)


def _brax_raw(autoreset: bool) -> Builder:
    def build(num_envs: int, num_steps: int):
        from brax import envs as brax_envs

        env = brax_envs.create("inverted_pendulum", episode_length=1000, auto_reset=autoreset)

        def body(carry, _):
            state, key, total = carry
            key, key_act = jax.random.split(key)
            with jax.numpy_rank_promotion("allow"):  # brax broadcasts ranks implicitly.
                state = jax.vmap(env.step)(state, _brax_actions(key_act, num_envs))
            return (state, key, total + state.reward.sum()), None

        def init(key):
            key_reset, key_run = jax.random.split(key)
            with jax.numpy_rank_promotion("allow"):
                state = jax.vmap(env.reset)(jax.random.split(key_reset, num_envs))
            return state, key_run, jnp.float32(0.0)

        return jax.jit(init), _scan(body, num_steps)

    return build


# --- jaxmarl SMAX (3m, heuristic enemy) --------------------------------------------------------


def _masked_actions(key, mask):
    """[..., A] int32 uniform over each agent's available actions (mask [..., A, N] bool)."""
    return jax.random.categorical(key, jnp.where(mask, 0.0, -jnp.inf)).astype(jnp.int32)


def _smax_ours(autoreset: bool) -> Builder:
    def make():
        from jaxml import envs

        return envs.make("jaxmarl/SMAX")

    policy = lambda key, mask, _: _masked_actions(key, mask)
    return _ours(make, policy, autoreset, observe=lambda ts: ts.observation.action_mask)


def _smax_raw(autoreset: bool) -> Builder:
    def build(num_envs: int, num_steps: int):
        from jaxmarl.environments.smax import HeuristicEnemySMAX, map_name_to_scenario

        env = HeuristicEnemySMAX(scenario=map_name_to_scenario("3m"), max_steps=100)
        agents = env.agents

        def avail_mask(state):
            avail = env.get_avail_actions(state)
            return jnp.stack([avail[a] for a in agents]).astype(bool)

        def step(key, state, action):
            actions = {a: action[i] for i, a in enumerate(agents)}
            if autoreset:
                _, state, rewards, _, _ = env.step(key, state, actions)
            else:
                _, state, rewards, _, _ = env.step_env(key, state, actions)
            return state, avail_mask(state), sum(rewards[a] for a in agents)

        def body(carry, _):
            state, mask, key, total = carry
            key, key_act, keys = _split_keys(key, num_envs)
            with jax.numpy_rank_promotion("allow"):  # jaxmarl broadcasts ranks implicitly.
                state, mask, reward = jax.vmap(step)(keys, state, _masked_actions(key_act, mask))
            return (state, mask, key, total + reward.sum()), None

        def init(key):
            key_reset, key_run = jax.random.split(key)
            with jax.numpy_rank_promotion("allow"):
                _, state = jax.vmap(env.reset)(jax.random.split(key_reset, num_envs))
                mask = jax.vmap(avail_mask)(state)
            return state, mask, key_run, jnp.float32(0.0)

        return jax.jit(init), _scan(body, num_steps)

    return build


PAIRS = [
    Pair("gymnax/CartPole-v1", _gymnax_ours(False), _gymnax_raw(False), "gymnax step_env"),
    Pair(
        "gymnax/CartPole-v1 +autoreset",
        _gymnax_ours(True),
        _gymnax_raw(True),
        "gymnax step (auto-reset)",
    ),
    Pair(
        "brax/inverted_pendulum",
        _brax_ours(False),
        _brax_raw(False),
        "brax create(auto_reset=False), generalized",
    ),
    Pair(
        "brax/inverted_pendulum +autoreset",
        _brax_ours(True),
        _brax_raw(True),
        "brax create(auto_reset=True), generalized",
    ),
    Pair("jaxmarl/SMAX", _smax_ours(False), _smax_raw(False), "HeuristicEnemySMAX 3m step_env"),
    Pair(
        "jaxmarl/SMAX +autoreset",
        _smax_ours(True),
        _smax_raw(True),
        "HeuristicEnemySMAX 3m step (auto-reset)",
    ),
]


def measure(pair: Pair, num_steps: int, repeats: int, min_sample_s: float = 0.2) -> dict:
    """Median env steps per second (and compile seconds) of both sides of ``pair``.

    A timed sample runs the compiled scan back to back until it has taken ``min_sample_s``
    (the count is fixed at warm-up), so that millisecond scans (CartPole) are not timer noise.
    """
    sides = {}
    for side, builder in (("ours", pair.ours), ("raw", pair.peer)):
        init, run = builder(pair.num_envs, num_steps)
        carry = jax.block_until_ready(init(jax.random.PRNGKey(0)))
        start = time.perf_counter()
        run = run.lower(carry).compile()
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        carry = jax.block_until_ready(run(carry))  # Warm-up.
        calls = max(1, math.ceil(min_sample_s / (time.perf_counter() - start)))
        sides[side] = {
            "run": run,
            "carry": carry,
            "calls": calls,
            "times": [],
            "compile_s": compile_s,
        }
    for _ in range(repeats):
        for entry in sides.values():
            start = time.perf_counter()
            for _ in range(entry["calls"]):
                entry["carry"] = entry["run"](entry["carry"])
            jax.block_until_ready(entry["carry"])
            entry["times"].append((time.perf_counter() - start) / entry["calls"])
    steps = pair.num_envs * num_steps
    row = {"name": pair.name, "num_envs": pair.num_envs, "raw": pair.peer_name}
    for side, entry in sides.items():
        row[f"{side}_steps_per_s"] = steps / statistics.median(entry["times"])
        row[f"{side}_compile_s"] = entry["compile_s"]
        row[f"{side}_scan_s"] = entry["times"]  # Seconds per scan, one entry per sample.
        row[f"{side}_scans_per_sample"] = entry["calls"]
    row["ratio"] = row["ours_steps_per_s"] / row["raw_steps_per_s"]
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", nargs="*", default=None, help="Row names (default: all).")
    parser.add_argument("--num_steps", type=int, default=100, help="Steps per jitted scan.")
    parser.add_argument("--repeats", type=int, default=7, help="Timed runs per side.")
    parser.add_argument("--out", default="results/benchmarks/adapter_throughput.json")
    args = parser.parse_args(argv)
    names = [p.name for p in PAIRS]
    unknown = sorted(set(args.rows or []) - set(names))
    if unknown:
        raise ValueError(f"--rows: unknown {unknown}; accepted: {names}")
    pairs = [p for p in PAIRS if args.rows is None or p.name in args.rows]

    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), {platform.machine()}")
    print(f"{args.num_steps} steps per scan, median of {args.repeats}; env steps per second")
    print(f"{'name':34s} {'envs':>5s} {'ours':>11s} {'raw':>11s} {'ratio':>6s}")
    rows = []
    for pair in pairs:
        row = measure(pair, args.num_steps, args.repeats)
        rows.append(row)
        print(
            f"{row['name']:34s} {row['num_envs']:5d} {row['ours_steps_per_s']:11.4g} "
            f"{row['raw_steps_per_s']:11.4g} {row['ratio']:6.3f}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {"num_steps": args.num_steps, "repeats": args.repeats}
    out.write_text(
        json.dumps({"device": str(jax.devices()[0]), "config": config, "rows": rows}, indent=1)
    )
    print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    main()
