"""Per-step time, compile time and memory of every jaxml optimizer, relative to AdamW.

Same model, batch and jitted training step (``jaxml.optim.train_step``, curvature extra args
included) for each optimizer, measured side by side in one process; compile time is kept apart.
Timing starts after a warm-up scan, from the state it reached: K-FAC's one-off cold-start inverse
at step 0 is not counted, its periodic warm-started refreshes are. Memory is XLA's compiled
estimate (arguments + outputs + temporaries of one step).

  python -m benchmarks.optim_step                 # both models
  python -m benchmarks.optim_step --models=mlp --repeats=3
  python -m benchmarks.optim_step --batch_scale=8   # batch 1,024 / 128 sequences (accelerator)
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import jax
from absl import app, flags

from jaxml import optim
from jaxml.data.text import ALPHABET
from jaxml.models import MLP, CharTransformer

_MODELS = flags.DEFINE_list("models", ["mlp", "transformer"], "Models to benchmark.")
_OPTIMIZERS = flags.DEFINE_list("optimizers", list(optim.OPTIMIZERS), "Optimizers to compare.")
_STEPS = flags.DEFINE_integer("steps", 20, "Steps per timed scan.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed repetitions (the median is reported).")
_BATCH_SCALE = flags.DEFINE_integer(
    "batch_scale", 1, "Batch multiplier: MLP 128 x this rows, transformer 16 x this sequences."
)
_OUT = flags.DEFINE_string("out", "results/benchmarks/optim_step.json", "JSON output path.")
_PROGRESS = flags.DEFINE_bool(
    "progress", False, "Also print each measurement as a JSON line as soon as it is taken."
)

HYPERPARAMS = {
    "sgd": {"learning_rate": 0.1, "momentum": 0.9},
    "adam": {"learning_rate": 1e-3},
    "rmsprop": {"learning_rate": 1e-3},
    "rank1": {"learning_rate": 0.03, "damping": 1e-3},
    "adamw": {"learning_rate": 1e-3},
    "sophia": {"learning_rate": 1e-3},
    "kfac": {"learning_rate": 0.03, "damping": 1e-2, "inverse_update_every": 10},
    "ring": {"learning_rate": 0.03, "rho": 0.05, "damping": 1e-2, "inverse_update_every": 10},
    "reng": {"learning_rate": 0.03, "rho": 0.05, "damping": 1e-2, "inverse_update_every": 10},
    "rkalman": {"learning_rate": 1.0},
}


def problem(name: str, batch_scale: int = 1):
    """(model, inputs, targets): an MLP 3x512 on 64 features (batch 128 x ``batch_scale``), or
    the char transformer (16 x ``batch_scale`` sequences of 64 tokens)."""
    key_x, key_y = jax.random.split(jax.random.PRNGKey(0))
    if name == "mlp":
        n = 128 * batch_scale
        x = jax.random.normal(key_x, (n, 64))
        return MLP(10, hidden=(512, 512, 512)), x, jax.random.randint(key_y, (n,), 0, 10)
    tokens = jax.random.randint(key_x, (16 * batch_scale, 65), 0, len(ALPHABET))
    model = CharTransformer(len(ALPHABET), 64, width=64, num_layers=2, num_heads=4)
    return model, tokens[:, :-1], tokens[:, 1:]


def measure(model, x, y, name: str, steps: int, repeats: int) -> dict:
    tx = optim.make(name, **HYPERPARAMS[name])
    params = model.init(jax.random.PRNGKey(1), x)
    opt_state = tx.init(params)

    def body(carry, key):
        params, opt_state = carry
        params, opt_state, metrics = optim.train_step(name, tx, model, params, opt_state, x, y, key)
        return (params, opt_state), metrics["loss"]

    run = jax.jit(lambda carry, keys: jax.lax.scan(body, carry, keys))
    keys = jax.random.split(jax.random.PRNGKey(2), steps)
    start = time.perf_counter()
    compiled = run.lower((params, opt_state), keys).compile()
    compile_s = time.perf_counter() - start
    memory = compiled.memory_analysis()
    mem_bytes = (
        memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
        if memory is not None
        else None
    )
    # Warm-up, which also pays the one-off cold start of the Kronecker inverses (step 0). Timed
    # scans then continue from the state it left: the steady state of a real run.
    carry = jax.block_until_ready(compiled((params, opt_state), keys))[0]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        carry = jax.block_until_ready(compiled(carry, keys))[0]
        times.append((time.perf_counter() - start) / steps)
    return {"ms_per_step": 1e3 * statistics.median(times), "compile_s": compile_s,
            "memory_mb": None if mem_bytes is None else mem_bytes / 2**20}  # fmt: skip


def main(argv):
    del argv
    unknown = sorted(set(_OPTIMIZERS.value) - set(optim.OPTIMIZERS))
    if unknown or "adamw" not in _OPTIMIZERS.value:
        raise app.UsageError(
            f"--optimizers must include adamw and name only {list(optim.OPTIMIZERS)}"
        )
    rows = []
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), {platform.machine()}")
    print(f"{'model':12s} {'optimizer':9s} {'ms/step':>9s} {'ratio':>6s} {'compile s':>9s} "
          f"{'mem MB':>8s} {'mem ratio':>9s}")  # fmt: skip
    for model_name in _MODELS.value:
        model, x, y = problem(model_name, _BATCH_SCALE.value)
        results = {}
        for n in _OPTIMIZERS.value:
            results[n] = measure(model, x, y, n, _STEPS.value, _REPEATS.value)
            if _PROGRESS.value:  # A caller that may stop this run keeps what was measured.
                print(json.dumps({"model": model_name, "optimizer": n, **results[n]}), flush=True)
        base = results["adamw"]
        for name, r in results.items():
            r.update(
                model=model_name, optimizer=name, time_ratio=r["ms_per_step"] / base["ms_per_step"]
            )
            mem = r["memory_mb"]
            r["memory_ratio"] = None if mem is None else mem / base["memory_mb"]
            rows.append(r)
            mem_s = "n/a" if mem is None else f"{mem:.1f}"
            ratio_s = "n/a" if mem is None else f"{r['memory_ratio']:.2f}"
            print(f"{model_name:12s} {name:9s} {r['ms_per_step']:9.2f} {r['time_ratio']:6.2f} "
                  f"{r['compile_s']:9.1f} {mem_s:>8s} {ratio_s:>9s}")  # fmt: skip
    out = Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": str(jax.devices()[0]), "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    app.run(main)
