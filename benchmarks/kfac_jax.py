"""jaxml's K-FAC family against kfac-jax 0.0.8, each against optax AdamW in its own process.

MLP 64-512x3-10 (tanh) on scikit-learn digits (1,400 train / 397 test), batch 128, 300 steps, the
same initial parameters and batches for everyone. Each method runs in a fresh process beside
AdamW(1e-3), so its step-time ratio is measured against the AdamW of the same jax build; kfac-jax
(which needs jax <= 0.9.1 and is not an optax transform) runs from its own virtual environment.
Reported per method: step time / AdamW's, test loss after the last step, and the wall-clock
(summed step times, compile excluded) to first reach AdamW's best test loss.

  python -m benchmarks.kfac_jax --make_venv        # once: .venv-kfac-jax/ with kfac-jax 0.0.8
  nice -n 10 python -m benchmarks.kfac_jax         # the table; JSON in results/benchmarks/
  python -m benchmarks.kfac_jax --methods=kfac_adaptive,kfac_jax --profile
  python -m benchmarks.kfac_jax --methods=ring_adaptive --seed=1 --trace \
      --jaxml_overrides='{"model_damping": false}'   # an ablation row of docs/kfac_adaptive.md

This file is also the worker of each process (``--role``), so its module level imports only the
standard library: the kfac-jax environment has neither jaxml nor flax.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-kfac-jax"
PEER_REQUIREMENTS = ("kfac-jax==0.0.8", "jax==0.9.1", "jaxlib==0.9.1")
HIDDEN = (512, 512, 512)
NUM_CLASSES = 10
NUM_TEST = 397
INVERSE_EVERY = 5
# The fixed settings (lr 0.1, damping 1e-2, KL clip 0.1, inverses every 5; ρ 0.05), and
# the adaptive forms: learning rate and momentum from the quadratic model (scale 1), damping
# adapted from 1e-2 every 5 steps, as kfac-jax is configured below.
FIXED = {"damping": 1e-2, "kl_clip": 0.1, "inverse_update_every": INVERSE_EVERY}
ADAPTIVE = {"damping": 1e-2, "inverse_update_every": INVERSE_EVERY, "adaptive": True}
METHODS = {
    "kfac": ("kfac", {"learning_rate": 0.1, **FIXED}),
    "ring": ("ring", {"learning_rate": 0.1, "rho": 0.05, **FIXED}),
    "reng": ("reng", {"learning_rate": 0.1, "rho": 0.05, **FIXED}),
    "kfac_adaptive": ("kfac", {"learning_rate": 1.0, **ADAPTIVE}),
    "ring_adaptive": ("ring", {"learning_rate": 1.0, "rho": 0.05, **ADAPTIVE}),
    "reng_adaptive": ("reng", {"learning_rate": 1.0, "rho": 0.05, **ADAPTIVE}),
    "rkalman": ("rkalman", {"learning_rate": 1.0}),
    # kfac-jax's own defaults otherwise (10 curvature-only burn-in batches before step 0, damping
    # adapted every 5 steps by 0.9, exact quadratic model); --kfac_jax_* override these.
    "kfac_jax": (
        None,
        {"initial_damping": 1e-2, "inverse_update_period": INVERSE_EVERY, "num_burnin_steps": 10},
    ),
}


def make_venv() -> None:
    """Creates ``.venv-kfac-jax/`` from this interpreter's base Python and installs the peer."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not (VENV / "bin" / "python").exists():
        subprocess.run([str(base), "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, *PEER_REQUIREMENTS], check=True)


# ----------------------------------------------------------------------------- the problem


def write_problem(path: Path, steps: int, batch_size: int, seed: int) -> None:
    """Data split, batch indices and initial parameters, shared by every process."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from jaxml.models import MLP

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y.astype(np.int32), test_size=NUM_TEST, random_state=seed, stratify=y
    )
    rng = np.random.default_rng(seed)
    batches = np.stack(
        [rng.choice(len(x_tr), batch_size, replace=False) for _ in range(steps)]
    ).astype(np.int32)
    params = MLP(NUM_CLASSES, hidden=HIDDEN, activation=jnp.tanh).init(
        jax.random.PRNGKey(seed), x_tr[:1]
    )["params"]
    layers = {}
    for i in range(len(HIDDEN) + 1):
        layers[f"w{i}"] = np.asarray(params[f"Dense_{i}"]["kernel"])
        layers[f"b{i}"] = np.asarray(params[f"Dense_{i}"]["bias"])
    np.savez(path, x_tr=x_tr, y_tr=y_tr, x_te=x_te, y_te=y_te, batches=batches, **layers)


def load_problem(path: str):
    import numpy as np

    data = dict(np.load(path))
    layers = [(data[f"w{i}"], data[f"b{i}"]) for i in range(len(HIDDEN) + 1)]
    return data, layers


# Steps left out of the mean step time: they compile. kfac-jax traces one program per kind of step
# (inverse refresh, damping adaptation, ...), all met within the first two periods of 5 steps.
WARMUP_STEPS = 10


def summarize(times: list[float], test_losses: list[tuple[int, float]]) -> dict:
    """Mean step time after the first (compiling) steps, and the test-loss curve."""
    steady = times[WARMUP_STEPS:] if len(times) > 2 * WARMUP_STEPS else times
    return {
        "ms_per_step": 1e3 * statistics.fmean(steady),
        "first_step_s": times[0],
        "step_seconds": times,
        "test_loss_curve": test_losses,
        "final_test_loss": test_losses[-1][1],
        "best_test_loss": min(v for _, v in test_losses),
    }


def train(step, state, batches, evaluate, eval_every: int, finish=None) -> dict:
    """Runs ``state = step(state, t, batch_indices)``; only the steps are timed.

    ``finish(state) -> dict``, if given, adds its entries (e.g. the final damping) to the summary.
    """
    import jax

    times, curve = [], []
    for t, idx in enumerate(batches):
        start = time.perf_counter()
        state = jax.block_until_ready(step(state, t, idx))
        times.append(time.perf_counter() - start)
        if (t + 1) % eval_every == 0 or t + 1 == len(batches):
            curve.append((t + 1, float(evaluate(state))))
    summary = summarize(times, curve)
    return summary if finish is None else {**summary, **finish(state)}


def ce_loss(logits, labels):
    import optax

    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def adamw_run(forward, params, data, eval_every: int) -> dict:
    """optax AdamW(1e-3) on the same problem, in the calling process."""
    import jax
    import optax

    tx = optax.adamw(1e-3)
    x_tr, y_tr, x_te, y_te = data["x_tr"], data["y_tr"], data["x_te"], data["y_te"]

    @jax.jit
    def update(params, opt_state, idx):
        loss_fn = lambda p: ce_loss(forward(p, x_tr[idx]), y_tr[idx])  # noqa: E731
        grads = jax.grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    test = jax.jit(lambda p: ce_loss(forward(p, x_te), y_te))
    return train(
        lambda s, t, idx: update(*s, idx),
        (params, tx.init(params)),
        data["batches"],
        lambda s: test(s[0]),
        eval_every,
    )


# ----------------------------------------------------------------------------- jaxml's side


def jaxml_worker(args) -> dict:
    import jax
    import jax.numpy as jnp
    import optax

    from jaxml import optim
    from jaxml.models import MLP

    data, layers = load_problem(args.problem)
    model = MLP(NUM_CLASSES, hidden=HIDDEN, activation=jnp.tanh)
    params = {"params": {f"Dense_{i}": {"kernel": w, "bias": b} for i, (w, b) in enumerate(layers)}}
    params = jax.tree.map(jnp.asarray, params)
    x_tr, y_tr = jnp.asarray(data["x_tr"]), jnp.asarray(data["y_tr"])
    x_te, y_te = jnp.asarray(data["x_te"]), jnp.asarray(data["y_te"])
    data = {**data, "x_tr": x_tr, "y_tr": y_tr, "x_te": x_te, "y_te": y_te}
    forward = model.apply
    result = {"adamw": adamw_run(forward, params, data, args.eval_every)}

    name, hyper = METHODS[args.method]
    # --jaxml_overrides: ablations, e.g. {"model_damping": false} or
    # {"adaptive": {"loss_check_every": 1}} (a dict for "adaptive" becomes QuadraticModelOptions).
    overrides = json.loads(args.jaxml_overrides)
    if isinstance(overrides.get("adaptive"), dict):
        overrides["adaptive"] = optim.QuadraticModelOptions(**overrides["adaptive"])
        for key in ("damping_adaptation_every", "min_damping", "momentum"):
            hyper = {k: v for k, v in hyper.items() if k != key}
    hyper = {**hyper, **overrides}
    tx = optim.OPTIMIZERS[name].factory(**hyper)
    key = jax.random.PRNGKey(args.seed)

    @jax.jit
    def update(params, opt_state, t, idx):
        new = optim.train_step(
            name, tx, model, params, opt_state, x_tr[idx], y_tr[idx], jax.random.fold_in(key, t)
        )
        return new[:2]

    trace = []

    def traced(state, t, idx):
        state = update(*state, t, idx)
        inner = state[1]
        if args.trace and hasattr(inner, "rejected"):
            # The adaptive step's λ, α, μ, ρ, ‖δ‖ and rejections after each step (--trace).
            trace.append({"step": t, "damping": float(inner.damping),
                          "alpha": float(inner.learning_rate), "mu": float(inner.momentum),
                          "rho": float(inner.reduction_ratio),
                          "update_norm": float(optax.tree.norm(inner.last_update)),
                          "rejected": int(inner.rejected)})  # fmt: skip
        return state

    def finish(state):
        # The adaptive step's final λ and how many proposed steps its guard rejected.
        inner = state[1]
        if not hasattr(inner, "rejected"):  # Under inject_hyperparams: one level down.
            inner = getattr(inner, "inner_state", None)
        if not hasattr(inner, "rejected"):
            return {}
        return {"final_damping": float(inner.damping), "rejected_steps": int(inner.rejected)}

    test = jax.jit(lambda p: ce_loss(forward(p, x_te), y_te))
    result[args.method] = train(
        traced,
        (params, tx.init(params)),
        data["batches"],
        lambda s: test(s[0]),
        args.eval_every,
        finish,
    )
    if trace:
        result[args.method]["trace"] = trace
    if args.profile:
        result["profile"] = jaxml_profile(model, params, x_tr[:128], y_tr[:128], name, hyper)
    result["jax"] = jax.__version__
    return result


def median_ms(fn, *args, repeats: int = 30) -> float:
    import jax

    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def jaxml_profile(model, params, x, y, name: str, hyper: dict) -> dict:
    """Where one step goes: each piece jitted and timed alone (median ms) on one batch."""
    import jax
    import jax.numpy as jnp
    import optax

    from jaxml import optim
    from jaxml.optim._kronecker import damped_inverses, layer_factors

    key = jax.random.PRNGKey(0)
    ci = optim.loss_grads_and_stats(model, params, x, y, key)
    stats = ci.layer_stats["params"]
    factors = {k: layer_factors(s, True) for k, s in stats.items()}

    def fwd_bwd(p):
        return jax.value_and_grad(lambda q: ce_loss(model.apply(q, x), y))(p)

    def helper(p):
        out = optim.loss_grads_and_stats(model, p, x, y, key)
        return out.loss, out.grads, out.layer_stats

    def factor_stats(stats):
        return {k: layer_factors(s, True) for k, s in stats.items()}

    def inverses(factors):  # One warm-started refresh (from the exact inverses' neighbourhood).
        out = {}
        for k, (a, g) in factors.items():
            warm = optim.LayerFactors(a, g, jnp.linalg.inv(a + 0.1 * jnp.eye(a.shape[0])),
                                      jnp.linalg.inv(g + 0.1 * jnp.eye(g.shape[0])))  # fmt: skip
            out[k] = damped_inverses(a, g, jnp.float32(1e-2), warm, 30, 1e-2)
        return out

    inv = jax.jit(inverses)(factors)

    def precondition(grads):
        out = {}
        for k, (a_inv, g_inv) in inv.items():
            g = grads["params"][k]
            stacked = jnp.concatenate([g["kernel"], g["bias"][None]], axis=0)
            out[k] = a_inv @ stacked @ g_inv
        return out

    direction = jax.tree.map(lambda g: -g, ci.grads)

    def gram(p, d, last):
        out = optim.loss_grads_and_stats(model, p, x, y, key)
        return out.curvature_gram((d, last))

    def extra_forward(p):
        return ci.loss_fn(optax.apply_updates(p, direction))

    pieces = {
        "forward+backward (AdamW's gradient)": median_ms(jax.jit(fwd_bwd), params),
        "helper: + sampled-label backward": median_ms(jax.jit(helper), params),
        "factor statistics A, G (E[a aᵀ], E[e eᵀ])": median_ms(jax.jit(factor_stats), stats),
        "inverse refresh (Newton–Schulz, all layers)": median_ms(jax.jit(inverses), factors),
        "preconditioning A⁻¹ Ĝ G⁻¹": median_ms(jax.jit(precondition), ci.grads),
        "helper + curvature Gram of (Δ, δ₀)": median_ms(
            jax.jit(gram), params, direction, direction
        ),
        "extra forward L(θ+δ) (every 5 steps)": median_ms(jax.jit(extra_forward), params),
    }
    return pieces


# ----------------------------------------------------------------------------- kfac-jax's side


def kfac_jax_worker(args) -> dict:
    import jax
    import jax.numpy as jnp
    import kfac_jax

    data, layers = load_problem(args.problem)
    params = [{"w": jnp.asarray(w), "b": jnp.asarray(b)} for w, b in layers]
    x_tr, y_tr = jnp.asarray(data["x_tr"]), jnp.asarray(data["y_tr"])
    x_te, y_te = jnp.asarray(data["x_te"]), jnp.asarray(data["y_te"])

    def forward(params, x):
        for layer in params[:-1]:
            x = jnp.tanh(x @ layer["w"] + layer["b"])
        return x @ params[-1]["w"] + params[-1]["b"]

    data = {**data, "x_tr": x_tr, "y_tr": y_tr, "x_te": x_te, "y_te": y_te}
    result = {"adamw": adamw_run(forward, params, data, args.eval_every)}

    def loss_fn(params, batch):
        x, y = batch
        logits = forward(params, x)
        kfac_jax.register_softmax_cross_entropy_loss(logits, y)
        return ce_loss(logits, y)

    hyper = {**METHODS["kfac_jax"][1], "initial_damping": args.kfac_jax_damping}
    hyper["num_burnin_steps"] = args.kfac_jax_burnin
    optimizer = kfac_jax.Optimizer(
        value_and_grad_func=jax.value_and_grad(loss_fn),
        l2_reg=0.0,
        use_adaptive_learning_rate=True,
        use_adaptive_momentum=True,
        use_adaptive_damping=True,
        initial_damping=hyper["initial_damping"],
        inverse_update_period=hyper["inverse_update_period"],
        num_burnin_steps=hyper["num_burnin_steps"],
        multi_device=False,
    )
    key = jax.random.PRNGKey(args.seed)
    batches = data["batches"]
    first = (x_tr[batches[0]], y_tr[batches[0]])
    start = time.perf_counter()
    opt_state = jax.block_until_ready(optimizer.init(params, key, first))
    init_s = time.perf_counter() - start

    def step(state, t, idx):
        params, opt_state = state
        batch = (x_tr[idx], y_tr[idx])
        if t == 0 and hyper["num_burnin_steps"] > 0:
            # The burn-in (curvature estimates only) reads the first batches, then step 0's.
            burnin = [(x_tr[i], y_tr[i]) for i in batches[: hyper["num_burnin_steps"]]]
            feed = {"data_iterator": iter([*burnin, batch])}
        else:
            feed = {"batch": batch}
        out = optimizer.step(
            params, opt_state, jax.random.fold_in(key, t), global_step_int=t, **feed
        )
        return out[0], out[1]

    test = jax.jit(lambda p: ce_loss(forward(p, x_te), y_te))
    result["kfac_jax"] = train(
        step, (params, opt_state), batches, lambda s: test(s[0]), args.eval_every
    )
    result["kfac_jax"]["init_s"] = init_s
    result["kfac_jax"]["hyperparams"] = hyper
    result["jax"] = jax.__version__
    result["kfac_jax_version"] = getattr(kfac_jax, "__version__", "0.0.8")
    return result


# ----------------------------------------------------------------------------- the table


def time_to_reach(run: dict, target: float) -> float | None:
    """Seconds of steps to first reach ``target`` (compiling steps counted at the steady rate)."""
    steady = run["ms_per_step"] / 1e3
    seconds = [steady] * WARMUP_STEPS + run["step_seconds"][WARMUP_STEPS:]
    for step, loss in run["test_loss_curve"]:
        if loss <= target:
            return sum(seconds[:step])
    return None


def worker_command(method: str, problem: Path, out: Path, args) -> list[str]:
    python = str(VENV / "bin" / "python") if method == "kfac_jax" else sys.executable
    role = "kfac_jax" if method == "kfac_jax" else "jaxml"
    # As a module from the repository root: run as a script, this file's folder would come first
    # on sys.path and this file would shadow the kfac_jax package.
    command = [python, "-m", "benchmarks.kfac_jax", f"--role={role}", f"--method={method}",
               f"--problem={problem}", f"--out={out}", f"--eval_every={args.eval_every}",
               f"--seed={args.seed}"]  # fmt: skip
    if role == "kfac_jax":
        command += [f"--kfac_jax_damping={args.kfac_jax_damping}",
                    f"--kfac_jax_burnin={args.kfac_jax_burnin}"]  # fmt: skip
    if role == "jaxml":
        command += [f"--jaxml_overrides={args.jaxml_overrides}"]
        command += ["--trace"] if args.trace else []
    return command + (["--profile"] if args.profile and role == "jaxml" else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--make_venv", action="store_true", help="create .venv-kfac-jax first")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--eval_every", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="time jaxml's step pieces")
    parser.add_argument("--kfac_jax_damping", type=float, default=1e-2, help="initial λ")
    parser.add_argument("--kfac_jax_burnin", type=int, default=10, help="burn-in batches")
    parser.add_argument("--jaxml_overrides", default="{}", help="JSON merged into jaxml's settings")
    parser.add_argument("--trace", action="store_true", help="record the adaptive step per step")
    parser.add_argument("--out", default="results/benchmarks/kfac_jax.json")
    parser.add_argument("--role", choices=("main", "jaxml", "kfac_jax"), default="main")
    parser.add_argument("--method", default="")
    parser.add_argument("--problem", default="")
    args = parser.parse_args()

    if args.role != "main":
        worker = jaxml_worker if args.role == "jaxml" else kfac_jax_worker
        Path(args.out).write_text(json.dumps(worker(args)))
        return

    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: expected names from {sorted(METHODS)}, got {unknown}")
    if args.make_venv:
        make_venv()
    if "kfac_jax" in methods and not (VENV / "bin" / "python").exists():
        parser.error(f"--methods: kfac_jax needs {VENV}; run with --make_venv once")

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_start = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        problem = Path(tmp) / "problem.npz"
        write_problem(problem, args.steps, args.batch_size, args.seed)
        for method in methods:
            out = Path(tmp) / f"{method}.json"
            # jaxml's workers keep the caller's PYTHONPATH (packages installed beside the
            # interpreter, as on an accelerator machine); kfac-jax's venv sees only its own jax.
            inherited = [] if method == "kfac_jax" else [os.environ.get("PYTHONPATH", "")]
            path = os.pathsep.join(p for p in (str(ROOT), *inherited) if p)
            env = {**os.environ, "PYTHONPATH": path}
            command = worker_command(method, problem, out, args)
            subprocess.run(command, check=True, env=env, cwd=ROOT)
            results[method] = json.loads(out.read_text())

    load_end = os.getloadavg()
    rows = []
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; {args.steps} steps, batch "
          f"{args.batch_size}; each method beside AdamW(1e-3) in its own process")  # fmt: skip
    print(f"started {started}; load average (1, 5, 15 min) at start {load_start}, "
          f"at end {load_end}")  # fmt: skip
    print(f"{'name':32s} {'ours':>10s} {'peer':>10s} {'ratio':>7s}")
    peer = results.get("kfac_jax")
    for method in methods:
        r = results[method]
        run, adamw = r[method], r["adamw"]
        target = adamw["best_test_loss"]
        row = {
            "method": method,
            "jax": r["jax"],
            "step_time_ratio_vs_adamw": run["ms_per_step"] / adamw["ms_per_step"],
            "ms_per_step": run["ms_per_step"],
            "adamw_ms_per_step": adamw["ms_per_step"],
            "final_test_loss": run["final_test_loss"],
            "adamw_final_test_loss": adamw["final_test_loss"],
            "adamw_best_test_loss": target,
            "seconds_to_adamw_best": time_to_reach(run, target),
            "adamw_seconds_to_its_best": time_to_reach(adamw, target),
            "test_loss_curve": run["test_loss_curve"],
            "adamw_test_loss_curve": adamw["test_loss_curve"],
            "step_seconds": run["step_seconds"],
            "adamw_step_seconds": adamw["step_seconds"],
            "profile_ms": r.get("profile"),
            "final_damping": run.get("final_damping"),
            "rejected_steps": run.get("rejected_steps"),
            "trace": run.get("trace"),
        }
        rows.append(row)
    by_name = {row["method"]: row for row in rows}
    for row in rows:
        ref = by_name.get("kfac_jax") if peer is not None else None
        for field in ("step_time_ratio_vs_adamw", "final_test_loss", "seconds_to_adamw_best"):
            ours = row[field]
            theirs = None if ref is None else ref[field]
            ratio = None if ours is None or not theirs else ours / theirs
            fmt = lambda v: "n/a" if v is None else f"{v:.4g}"  # noqa: E731
            print(f"{row['method'] + ' ' + field:32.32s} {fmt(ours):>10s} {fmt(theirs):>10s} "
                  f"{fmt(ratio):>7s}")  # fmt: skip
        if row["rejected_steps"] is not None:
            print(f"  final damping {row['final_damping']:.3g}, "
                  f"steps rejected by the guard {row['rejected_steps']}")  # fmt: skip
        if row["profile_ms"]:
            for piece, ms in row["profile_ms"].items():
                print(f"  profile {piece:45s} {ms:8.2f} ms")
    out = ROOT / args.out if not Path(args.out).is_absolute() else Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.machine(), "cpus": os.cpu_count(),
                               "started": started, "load_start": load_start,
                               "load_end": load_end, "steps": args.steps,
                               "batch_size": args.batch_size, "rows": rows}, indent=1))  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
