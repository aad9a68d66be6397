"""Environment steps per second of random-policy rollouts: ours beside a peer, in one process.

Each side runs ``--num_envs`` environments in parallel for ``--num_steps`` steps inside one jitted
``lax.scan``; actions are drawn uniformly from the action spec at every step and finished
episodes restart (jumanji's ``AutoResetWrapper`` under ``VmapWrapper`` for jumanji-API
environments, so both sides pay for auto-reset the same way). Compilation and one warm-up run
are excluded; ours and the peer are timed in turns, and the median of ``--repeats`` runs is
reported as env steps per second
(``num_envs * num_steps / seconds``; one multi-agent step counts once).

Rows: the Foraging Games against jumanji's LevelBasedForaging at the same grid size (5) and
agent count (2). LBF's generator cannot place 2 food items on a 5x5 grid (it keeps food off the
edges and apart), so the peer has 1 item; its field of view is 1 (a 3x3 window, like ours) with
grid observations. "step only" rows time ``vmap(env.step)`` alone (actions drawn before the
scan, no auto-reset), the transition without the reset and the sampler. A reference row compares
with LBF at its defaults (8x8, 2 agents, 2 items).

Other rows come from ``PAIRS`` (a list of ``Pair``) in ``benchmarks/_adapter_pairs.py``; each
side of a pair is a ``Builder``: ``builder(num_envs, num_steps) -> (init, run)`` with
``init(key) -> carry`` and a jitted ``run(carry) -> carry`` that takes ``num_envs * num_steps``
environment steps. ``jumanji_rollout(make_env)`` makes one for any jumanji-API environment.

  python -m benchmarks.env_throughput
  python -m benchmarks.env_throughput --num_envs=256 --repeats=3
  python -m benchmarks.env_throughput --rows=Foraging
"""

from __future__ import annotations

import importlib
import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
from absl import app, flags
from jumanji.environments import LevelBasedForaging
from jumanji.wrappers import AutoResetWrapper, VmapWrapper

from benchmarks._peers import lbf
from benchmarks._timing import Builder, interleaved_steps_per_second
from jaxml import envs

_NUM_ENVS = flags.DEFINE_integer("num_envs", 1024, "Parallel environments.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 100, "Steps per jitted scan.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed repetitions (the median is reported).")
_ROWS = flags.DEFINE_list(
    "rows", [], "Only rows whose name starts with one of these (all if empty)."
)
_OUT = flags.DEFINE_string("out", "results/benchmarks/env_throughput.json", "JSON output path.")


class Pair(NamedTuple):
    name: str  # Row name, e.g. "ForagingScoreG-v0".
    ours: Builder
    peer: Builder
    peer_name: str  # What the peer is, with its configuration.


def jumanji_rollout(make_env: Callable[[], Any]) -> Builder:
    """A ``Builder`` for a jumanji-API environment: auto-reset, vmap, random actions, scan."""

    def build(num_envs: int, num_steps: int):
        env = VmapWrapper(AutoResetWrapper(make_env()))
        spec = env.action_spec
        sample = jax.vmap(envs.sample_action, in_axes=(None, 0))

        def body(carry, _):
            state, key = carry
            key, key_act = jax.random.split(key)
            action = sample(spec, jax.random.split(key_act, num_envs))
            state, timestep = env.step(state, action)
            return (state, key), None

        def init(key):
            key_reset, key_run = jax.random.split(key)
            state, _ = env.reset(jax.random.split(key_reset, num_envs))
            return state, key_run

        run = jax.jit(lambda carry: jax.lax.scan(body, carry, None, length=num_steps)[0])
        return jax.jit(init), run

    return build


def jumanji_step_only(make_env: Callable[[], Any]) -> Builder:
    """A ``Builder`` timing ``vmap(env.step)`` alone: no auto-reset, actions drawn beforehand.

    Finished episodes keep stepping (both sides alike); this isolates the transition itself.
    """

    def build(num_envs: int, num_steps: int):
        env = make_env()
        sample = jax.vmap(jax.vmap(lambda key: envs.sample_action(env.action_spec, key)))
        step = jax.vmap(env.step)

        def init(key):
            key_reset, key_act = jax.random.split(key)
            state, _ = jax.vmap(env.reset)(jax.random.split(key_reset, num_envs))
            keys = jax.random.split(key_act, num_steps * num_envs)
            return state, sample(keys.reshape(num_steps, num_envs, *keys.shape[1:]))

        def body(state, action):
            state, timestep = step(state, action)
            return state, None

        run = jax.jit(lambda carry: (jax.lax.scan(body, carry[0], carry[1])[0], carry[1]))
        return jax.jit(init), run

    return build


def foraging_pairs() -> list[Pair]:
    peer = "LevelBasedForaging 5x5, 2 agents, 1 food, fov 1, grid obs"
    defaults = "LevelBasedForaging defaults (8x8, 2 agents, 2 food, fov 8, T 100)"
    pairs = []
    for game, horizon in (("ForagingScoreG-v0", 10), ("ForagingTemporalG-v0", 20)):
        ours = lambda game=game: envs.make(game)
        pairs.append(
            Pair(
                game,
                jumanji_rollout(ours),
                jumanji_rollout(lbf(5, 1, 1, horizon, True)),
                f"{peer}, T {horizon}",
            )
        )
        pairs.append(
            Pair(
                f"{game} step only",
                jumanji_step_only(ours),
                jumanji_step_only(lbf(5, 1, 1, horizon, True)),
                f"{peer}, T {horizon}; step only",
            )
        )
    score = jumanji_rollout(lambda: envs.make("ForagingScoreG-v0"))
    pairs.append(
        Pair(
            "ForagingScoreG-v0 (vs LBF defaults)",
            score,
            jumanji_rollout(LevelBasedForaging),
            defaults,
        )
    )
    return pairs


def all_pairs() -> list[Pair]:
    """The Foraging rows plus ``benchmarks._adapter_pairs.PAIRS`` when that module exists."""
    pairs = foraging_pairs()
    try:
        extra = importlib.import_module("benchmarks._adapter_pairs")
    except ModuleNotFoundError as error:
        if error.name != "benchmarks._adapter_pairs":
            raise
    else:
        pairs += list(extra.PAIRS)
    return pairs


def main(argv):
    del argv
    t, repeats = _NUM_STEPS.value, _REPEATS.value
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), {platform.machine()}")
    print(f"{_NUM_ENVS.value} envs (unless a row sets its own) x {t} steps per scan, median of "
          f"{repeats}; env steps per second")  # fmt: skip
    print(f"{'name':40s} {'ours':>12s} {'peer':>12s} {'ratio':>6s}  peer")
    rows = []
    for pair in all_pairs():
        if _ROWS.value and not any(pair.name.startswith(prefix) for prefix in _ROWS.value):
            continue
        n = getattr(pair, "num_envs", None) or _NUM_ENVS.value  # Adapter rows may set their own.
        ours, peer = interleaved_steps_per_second([pair.ours, pair.peer], n, t, repeats)
        row = {"name": pair.name, "ours_steps_per_s": ours, "peer_steps_per_s": peer,
               "ratio": ours / peer, "peer": pair.peer_name, "num_envs": n}  # fmt: skip
        rows.append(row)
        print(f"{pair.name:40s} {ours:12.4g} {peer:12.4g} {ours / peer:6.2f}  {pair.peer_name}")
    out = Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {"num_envs": _NUM_ENVS.value, "num_steps": t, "repeats": repeats}
    out.write_text(
        json.dumps({"device": str(jax.devices()[0]), "config": config, "rows": rows}, indent=1)
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    app.run(main)
