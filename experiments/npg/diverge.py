"""Where a TanhGaussian trainer's update first goes non-finite: per-update diagnostics.

Replays a run of ``experiments.npg`` (``config.brax_trainers.<algo>`` on a brax env, seeds
vmapped with the runner's keys, so it follows the same trajectory as ``run_trainer``) one
update at a time inside ``lax.scan`` chunks, and records per update and per seed what the
policy's head does on that update's rollout: the std's minimum, the largest |mean| and |u|
of the sampled pre-squash actions, how many squashed actions sit at the ``atanh`` clip, the
stored log-probabilities, and the ratio at the old parameters (1 exactly, if the stored
log-probability is reproducible). It stops after the first chunk with a non-finite metric and
prints the updates around it; ``--out`` keeps every update's row (JSON lines, one value per seed).

  python -m experiments.npg.diverge --algo=trpo --env=swimmer --seeds=8 --updates=200 --out=t.jsonl
  python -m experiments.npg.diverge --algo=npg --env=hopper --seeds=8 --updates=210 \
      --set=max_step_kl=0.1

Measured 2026-12-02 on the code before the pre-squash fix (8 seeds, generalized pipeline): TRPO
swimmer seed 7 non-finite at update 147, NPG-rank1 hopper seed 6 at update 123; findings in
experiments/npg/README.md. Under load 7–11 on the 2-core CPU, 200 updates of 8 seeds took
~15 min (NPG) and ~25 min (TRPO).
"""

from __future__ import annotations

import functools
import json
import time

import distrax
import jax
import jax.numpy as jnp
import numpy as np

from experiments.npg.config import get_config
from experiments.npg.main import make_trainer
from jaxml.models.actor_critic import _TANH_EDGE, RawTanhGaussian, TanhGaussian
from jaxml.rl._collect import forward
from jaxml.utils import runner


def head_diagnostics(model, params, batch, key_rollout, num_steps):
    """Per-update statistics of a TanhGaussian head on a rollout ``[T, B]`` (one seed)."""
    t = batch.transitions
    policy, _ = forward(model, params, t.obs, 2)  # batch shape [T, B]
    out = {}
    if isinstance(policy, (TanhGaussian, RawTanhGaussian)):
        raw = isinstance(policy, RawTanhGaussian)
        base = policy if raw else policy.distribution
        tanh = policy.tanh if raw else policy.bijector.bijector
        if raw:  # The rollout kept the samples themselves.
            u = t.action
        else:  # The rollout's own draws: step i sampled with the i-th split of its key.
            keys = jax.random.split(key_rollout, num_steps)
            draw = lambda loc, scale, k: loc + scale * jax.random.normal(k, loc.shape)  # noqa: E731
            u = jax.vmap(draw)(base.loc, base.scale_diag, keys)
        squashed = tanh.forward(u)
        # Where the squashed action reads back as the clipped edge (the old rollout's loss).
        unit = 2.0 * (squashed - tanh.low) / (tanh.high - tanh.low) - 1.0
        base_lp = distrax.MultivariateNormalDiag(base.loc, base.scale_diag).log_prob(u)
        true_lp = base_lp - jnp.sum(tanh.forward_log_det_jacobian(u), axis=-1)
        out.update(
            std_min=jnp.min(base.scale_diag),
            std_median=jnp.median(base.scale_diag),
            loc_absmax=jnp.max(jnp.abs(base.loc)),
            u_absmax=jnp.max(jnp.abs(u)),
            clipped_frac=jnp.mean(jnp.abs(unit) >= 1.0 - _TANH_EDGE),
            true_logp_stored_err=jnp.max(jnp.abs(true_lp - t.log_prob)),
        )
    recomputed = policy.log_prob(t.action)
    diff = recomputed - t.log_prob
    out.update(
        logp_stored_min=jnp.min(t.log_prob),
        logp_stored_max=jnp.max(t.log_prob),
        logp_diff_absmax=jnp.max(jnp.abs(diff)),
        ratio_max=jnp.max(jnp.exp(diff)),
        adv_absmax=jnp.max(jnp.abs(batch.advantages)),
    )
    return out


def make_step(trainer):
    """``train_step`` with the head's diagnostics added (the same keys, the same update)."""
    kw = trainer.step.keywords
    collect_fn, update_fn, sizes = kw["collect_fn"], kw["update_fn"], kw["sizes"]

    def step(state):
        key, key_rollout, key_update = jax.random.split(state.key, 3)
        rollout_state, batch = collect_fn(state.params, state.rollout, key_rollout)
        diag = head_diagnostics(trainer.model, state.params, batch, key_rollout, sizes.num_steps)
        params, opt_state, metrics = update_fn(state.params, state.opt_state, batch, key_update)
        metrics = {
            **metrics,
            **diag,
            "episode_return": jnp.mean(rollout_state.episodes.returned_episode_return),
        }
        new = state._replace(
            params=params, opt_state=opt_state, rollout=rollout_state, key=key,
            update=state.update + 1,
        )  # fmt: skip
        return new, metrics

    return step


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--algo", default="npg")
    parser.add_argument("--env", default="hopper")
    parser.add_argument("--backend", default="generalized")
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--show", type=int, default=12, help="updates printed before the first bad")
    parser.add_argument("--set", action="append", default=[], help="field=python-literal")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)

    import ast

    config = get_config("full")
    config.brax_backend = args.backend
    for item in args.set:
        field, value = item.split("=", 1)
        config.brax_trainers[args.algo][field] = ast.literal_eval(value)
    trainer = make_trainer(config, args.algo, f"brax/{args.env}")
    step = jax.vmap(make_step(trainer))

    @functools.partial(jax.jit, static_argnums=1)
    def chunk(state, length):
        return jax.lax.scan(lambda s, _: step(s), state, None, length=length)

    state = jax.jit(jax.vmap(trainer.init))(runner.seed_keys(0, args.seeds))
    rows, start, bad = [], time.perf_counter(), None
    if args.out:
        open(args.out, "w").close()
    while len(rows) < args.updates and bad is None:
        state, metrics = chunk(state, args.chunk)
        metrics = jax.device_get(metrics)
        for i in range(args.chunk):
            row = {k: np.asarray(v[i]).tolist() for k, v in metrics.items()}
            row["update"] = len(rows) + 1
            rows.append(row)
            finite = all(np.all(np.isfinite(np.asarray(v[i]))) for v in metrics.values())
            if bad is None and not finite:
                bad = row["update"]
            if args.out:  # Row by row, so a run cut short keeps what it measured.
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
        print(f"{len(rows)} updates, {time.perf_counter() - start:.0f} s", flush=True)
    last = bad or len(rows)
    keys = [k for k in rows[0] if k != "update"]
    for row in rows[max(0, last - args.show) : last + 1]:
        print(f"--- update {row['update']}")
        for k in keys:
            print(f"  {k:22s} {np.array2string(np.asarray(row[k]), precision=4)}")
    print("first non-finite update:", bad)


if __name__ == "__main__":
    main()
