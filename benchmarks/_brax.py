"""What the brax-trainer benchmarks (``ppo_brax``, ``sac_brax``) share."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def install_device_put_replicated() -> None:
    """brax 0.14's trainers call ``jax.device_put_replicated``, which jax 0.10 removed: a drop-in
    that stacks one copy per device (one CPU device here) before brax's trainer is imported."""
    jax.device_put_replicated = lambda x, devices: jax.tree.map(
        lambda a: jnp.stack([a] * len(devices)), x
    )


def compare(env_name: str, ours: dict, peers: list[dict], num_seeds: int) -> list[dict]:
    """``name ours peer ratio`` rows: seed-mean returns (mean action and sampled) and env steps/s
    (ours: all seeds in one vmapped program; brax's seeds run one after another, so its rate is
    the mean of theirs)."""

    def row(name, mine, theirs, digits):
        mine, theirs = float(mine), float(theirs)
        return {
            "name": name,
            "ours": round(mine, digits),
            "peer": round(theirs, digits),
            "ratio": round(mine / theirs, 3),
        }

    rows = [
        row(f"{env_name} return ({mode})", np.mean(ours[mode]),
            np.mean([p[mode] for p in peers]), 1)
        for mode in ("deterministic", "stochastic")
    ]  # fmt: skip
    theirs = np.mean([p["steps_per_s"] for p in peers])
    rows.append(row(f"{env_name} env steps/s ({num_seeds} seeds)", ours["steps_per_s"], theirs, 0))
    return rows


def side_by_side(
    side: str,
    num_seeds: int,
    env_name: str,
    run_ours: Callable[[], dict],
    run_brax: Callable[[int], dict],
    out: str,
    settings: dict,
    first_seed: int = 0,
) -> None:
    """Runs jaxml (all seeds at once) and/or brax (one run per seed: ``first_seed ..
    first_seed + num_seeds − 1``), prints each side's JSON line, then the ``compare`` rows, and
    merges them under ``env_name`` into the JSON ``out`` with ``settings`` (budget, task) and
    the device."""
    ours, peers = None, []
    if side in ("jaxml", "both"):
        ours = run_ours()
        print(json.dumps(ours), flush=True)
    if side in ("brax", "both"):
        for seed in range(first_seed, first_seed + num_seeds):
            peers.append(run_brax(seed))
            print(json.dumps(peers[-1]), flush=True)
    if ours is None or not peers:
        return
    rows = compare(env_name, ours, peers, num_seeds)
    print(f"{'name':44s} {'ours':>10s} {'peer':>10s} {'ratio':>7s}")
    for r in rows:
        print(f"{r['name']:44s} {r['ours']:>10} {r['peer']:>10} {r['ratio']:>7}")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(path.read_text()) if path.exists() else {}
    previous[env_name] = {
        "device": str(jax.devices()[0]), "seeds": num_seeds, **settings,
        "jaxml": ours, "brax": peers, "rows": rows,
    }  # fmt: skip
    path.write_text(json.dumps(previous, indent=1))


def brax_returns(env: Any, make_policy: Callable, params: Any, num_episodes: int) -> dict:
    """brax's own ``acting.Evaluator`` on ``num_episodes`` episodes of up to 1,000 steps (fixed
    key): the mean return with the mean action (``deterministic``) and sampled (``stochastic``)."""
    from brax import envs
    from brax.training import acting

    eval_env = envs.training.wrap(env, episode_length=1000)
    returns = {}
    for mode in (True, False):
        evaluator = acting.Evaluator(
            eval_env, functools.partial(make_policy, deterministic=mode),
            num_eval_envs=num_episodes, episode_length=1000, action_repeat=1,
            key=jax.random.PRNGKey(123),
        )  # fmt: skip
        metrics = evaluator.run_evaluation(params, {})
        returns["deterministic" if mode else "stochastic"] = round(
            float(metrics["eval/episode_reward"]), 1
        )
    return returns
