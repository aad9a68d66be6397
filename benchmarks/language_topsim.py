"""Timing of ``topographic_similarity``: jitted JAX against the slow scipy reference, one process.

N messages of length L: random meanings [N, 3] with 10 values per attribute; position l of a
message says attribute l mod 3 halved (tokens 0..4), replaced by a random token with probability
0.5, so rho is clearly non-zero and a wrong rank would show in the compared values.
Ours: ``jax.jit(topographic_similarity)``, compiled and run once before timing, then the median
of ``--repeats`` calls each ended by ``block_until_ready``. Reference: ``tests/language/reference``
(the textbook edit-distance table in Python for each of the N(N-1)/2 pairs, then
``scipy.stats.spearmanr``), timed once (it takes tens of seconds at N = 1,000). Prints
``name  ours_s  reference_s  ratio`` rows and both values, and writes
results/benchmarks/language_topsim.json.

  python -m benchmarks.language_topsim
  python -m benchmarks.language_topsim --sizes 1000 3000 --skip-reference-above 1000
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import jax
import numpy as np

from jaxml import language
from tests.language import reference


def _time(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--length", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-reference-above", type=int, default=1000)
    parser.add_argument("--out", default="results/benchmarks/language_topsim.json")
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        rng = np.random.default_rng(n)
        meanings = rng.integers(0, 10, (n, 3))
        said = meanings[:, np.arange(args.length) % 3] // 2
        noise = rng.integers(0, 5, (n, args.length))
        messages = np.where(rng.random((n, args.length)) < 0.5, noise, said)
        on_device = jax.device_put(meanings), jax.device_put(messages)
        jitted = jax.jit(language.topographic_similarity)
        start = time.perf_counter()
        ours_value = float(jax.block_until_ready(jitted(*on_device)))
        compile_s = time.perf_counter() - start
        ours_s = _time(lambda: jitted(*on_device), args.repeats)  # noqa: B023
        row = {
            "n": n,
            "length": args.length,
            "pairs": n * (n - 1) // 2,
            "ours_s": ours_s,
            "ours_first_call_s": compile_s,
            "ours_value": ours_value,
        }
        if n <= args.skip_reference_above:
            start = time.perf_counter()
            row["reference_value"] = reference.topographic_similarity(meanings, messages)
            row["reference_s"] = time.perf_counter() - start
            row["ratio"] = row["reference_s"] / ours_s
            row["abs_difference"] = abs(ours_value - row["reference_value"])
        rows.append(row)
        print(
            f"topsim N={n} L={args.length}  ours {ours_s:.4f} s  "
            f"reference {row.get('reference_s', float('nan')):.2f} s  "
            f"ratio {row.get('ratio', float('nan')):.0f}x  "
            f"(values {ours_value:.6f} / {row.get('reference_value', float('nan')):.6f}; "
            f"first call {compile_s:.2f} s)",
            flush=True,
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    device = jax.devices()[0]
    meta = {
        "device": f"{device.platform} {device.device_kind}",
        "python": platform.python_version(),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
