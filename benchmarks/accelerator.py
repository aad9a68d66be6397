"""Every benchmark of the project in one command, at accelerator scale, in under 8 minutes.

Issue 20, item 4. Each benchmark runs as its own script (``python -m benchmarks.<module>``, its
own flags, its own JSON) in a subprocess of its own process group, with a time cap; a benchmark
that fails, runs out of time or lacks a package is recorded as such and the others still run.
The caps add up to less than 8 minutes, and a total budget (``--budget_s``) shortens the last
caps if earlier benchmarks ran long. The figures each script writes (or, for the one that writes
none, the JSON lines it prints) are gathered into one file, rewritten after every benchmark so
that a run killed from outside keeps what it had measured:

``results/benchmarks/accelerator.json`` (``accelerator_tiny.json`` at ``--scale=tiny``, so a CPU
check never overwrites GPU figures): the date, ``jax.devices()``, the jax version, the load
average, and per benchmark its command, status (ok, failed, timeout, skipped), wall seconds, cap,
figures and the tail of its output. A short table goes to stdout.

Scales: ``tiny`` (the smallest shapes: seconds per benchmark on a CPU; what the tests run) and
``gpu`` (the accelerator shapes: 16k-64k environments, batch 1,024, ...; ``make bench-gpu``).
The parent imports neither jax nor jaxml: the device is read by a subprocess, so the parent
holds no accelerator memory while the benchmarks run.

  python -m benchmarks.accelerator --scale=gpu                  # make bench-gpu
  python -m benchmarks.accelerator --scale=tiny                 # plumbing check on a CPU
  python -m benchmarks.accelerator --scale=gpu --only=hvac_throughput,rl_throughput
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
SCALES = ("tiny", "gpu")
KFAC_JAX_VENV = ROOT / ".venv-kfac-jax"  # benchmarks.kfac_jax's peer environment (--make_venv).
TAIL_CHARS = 3000  # Output kept per benchmark: its printed table, or the traceback.
MIN_TIMEOUT_S = 10.0  # A benchmark with less than this left of the budget is skipped.
PROBE_TIMEOUT_S = 60.0
DEFAULT_BUDGET_S = {"tiny": 1800.0, "gpu": 470.0}  # Total seconds, the device probe included.


class Benchmark(NamedTuple):
    module: str  # Run as ``python -m <module>`` from the repository root.
    args: dict[str, tuple[str, ...]]  # Scale -> the script's own flags.
    timeout_s: dict[str, float]  # Scale -> its cap in seconds.
    needs: tuple[str, ...] = ()  # Top-level packages it imports (skipped when one is missing).
    out_flag: str | None = "--out"  # The flag naming its JSON; None: JSON lines on stdout.
    env: tuple[tuple[str, str], ...] = ()  # Environment variables it is started with.


# What importing each script pulls in (measured with ``python -X importtime``): jaxml's models
# and optimizers import jumanji, distrax (with tensorflow-probability) and ml_collections. A
# missing package deeper down still shows, as the ModuleNotFoundError its run records.
_CORE = ("jax", "flax", "optax", "chex", "absl", "jumanji", "distrax", "tensorflow_probability",
         "ml_collections", "sklearn")  # fmt: skip
_RL = (*_CORE, "rlax", "flashbax")
# optim_step's order at gpu scale: AdamW (every ratio's base), then the second-order methods.
_OPTIMIZER_ORDER = "adamw,kfac,ring,reng,rkalman,sophia,rank1,sgd,adam,rmsprop"

# In priority order: the issue names optimizer steps, environment throughput at 16k-64k envs and
# PPO/MAPPO training throughput first. gpu caps: 445 s together, within the 470 s budget (the
# device probe and the process starts run inside it too).
BENCHMARKS: dict[str, Benchmark] = {
    "optim_step": Benchmark(
        "benchmarks.optim_step",
        {
            "tiny": (
                "--models=mlp",
                "--optimizers=adamw,kfac",
                "--steps=2",
                "--repeats=1",
                "--batch_scale=1",
                "--progress",
            ),
            # Every optimizer on the MLP 3x512 at batch 1,024 (8 x the CPU benchmark's), the
            # second-order ones first; --progress keeps the rows measured before a timeout.
            "gpu": (
                "--models=mlp",
                f"--optimizers={_OPTIMIZER_ORDER}",
                "--steps=20",
                "--repeats=5",
                "--batch_scale=8",
                "--progress",
            ),
        },
        {"tiny": 240, "gpu": 75},
        _CORE,
    ),
    "optim_step_transformer": Benchmark(
        "benchmarks.optim_step",
        {
            "tiny": (
                "--models=transformer",
                "--optimizers=adamw",
                "--steps=2",
                "--repeats=1",
                "--progress",
            ),
            # Every optimizer on the char transformer, 128 sequences of 64 tokens.
            "gpu": (
                "--models=transformer",
                f"--optimizers={_OPTIMIZER_ORDER}",
                "--steps=20",
                "--repeats=5",
                "--batch_scale=8",
                "--progress",
            ),
        },
        {"tiny": 240, "gpu": 60},
        _CORE,
    ),
    "env_throughput": Benchmark(
        "benchmarks.env_throughput",
        {
            "tiny": (
                "--num_envs=8",
                "--num_steps=4",
                "--repeats=1",
                "--rows=ForagingScoreG-v0 step only",
            ),
            # The Foraging rows (ours and jumanji's LevelBasedForaging) at 16,384 envs.
            "gpu": ("--num_envs=16384", "--num_steps=100", "--repeats=3", "--rows=Foraging"),
        },
        {"tiny": 240, "gpu": 50},
        _CORE,
    ),
    "hvac_throughput": Benchmark(
        "benchmarks.hvac_throughput",
        {
            "tiny": ("--num_envs=1,8", "--env_steps=160", "--numpy_steps=50", "--repeats=1"),
            # 1,024 / 16,384 / 65,536 buildings; 3.3 M env steps per timed call.
            "gpu": (
                "--num_envs=1024,16384,65536",
                "--env_steps=3276800",
                "--numpy_steps=2000",
                "--repeats=3",
            ),
        },
        {"tiny": 240, "gpu": 35},
        _CORE,
    ),
    "rl_throughput": Benchmark(
        "benchmarks.rl_throughput",
        {
            "tiny": (
                "--modes=train,ratio",
                "--num_envs=4",
                "--num_steps=8",
                "--total_timesteps=64",
                "--runs=1",
                "--ratio_num_envs=8",
                "--ratio_num_steps=8",
                "--ratio_updates=1",
                "--repeats=1",
            ),
            # PPO CartPole: training at 4,096 envs x 128 steps (8 updates), then training beside
            # random stepping of the same envs at 16,384 envs x 64 steps (4 updates).
            "gpu": (
                "--modes=train,ratio",
                "--num_envs=4096",
                "--num_steps=128",
                "--total_timesteps=4194304",
                "--runs=2",
                "--ratio_num_envs=16384",
                "--ratio_num_steps=64",
                "--ratio_updates=4",
                "--repeats=3",
            ),
        },
        {"tiny": 240, "gpu": 60},
        (*_RL, "gymnax"),
    ),
    "marl_throughput": Benchmark(
        "benchmarks.marl_throughput",
        {
            "tiny": ("--num_envs=4", "--num_steps=8", "--updates=1", "--repeats=1"),
            # MAPPO on SMAX 3m, 2,048 envs x 64 steps, 4 updates (the script's own GPU hint).
            "gpu": ("--num_envs=2048", "--num_steps=64", "--updates=4", "--repeats=3"),
        },
        {"tiny": 240, "gpu": 50},
        (*_RL, "jaxmarl"),
    ),
    "kfac_jax": Benchmark(
        "benchmarks.kfac_jax",
        {
            "tiny": ("--methods=kfac", "--steps=12", "--eval_every=6"),
            # The MLP on digits, 300 steps, adaptive K-FAC beside AdamW (one process per
            # method, and the script reports once all are done: one method keeps it inside its
            # cap). kfac-jax itself is added when .venv-kfac-jax exists (``command``).
            "gpu": ("--methods=kfac_adaptive", "--steps=300"),
        },
        {"tiny": 240, "gpu": 45},
        _CORE,
        # Its parent process holds jax too (the shared problem): without this, the parent's
        # preallocation (75 % of the GPU) would leave its workers short.
        env=(("XLA_PYTHON_CLIENT_PREALLOCATE", "false"),),
    ),
    "language_topsim": Benchmark(
        "benchmarks.language_topsim",
        {
            "tiny": ("--sizes", "50", "--repeats", "1", "--skip-reference-above", "50"),
            # Up to 8 M pairs (16 M pairs are ~1,000 sequential 16k-pair chunks); the Python
            # reference (75 s at N = 1,000 on a CPU) is skipped.
            "gpu": (
                "--sizes",
                "1000",
                "4000",
                "--repeats",
                "3",
                "--skip-reference-above",
                "0",
            ),
        },
        {"tiny": 240, "gpu": 20},
        _CORE,
    ),
    "ppo_brax": Benchmark(
        "benchmarks.ppo_brax",
        {
            "tiny": (
                "--side=jaxml",
                "--env=inverted_pendulum",
                "--seeds=1",
                "--total_timesteps=64",
                "--set=num_envs=8",
                "--set=num_steps=8",
                "--eval_episodes=1",
            ),
            # jaxml's side only, 2 seeds x 1.3 M steps at 2,048 envs x 128 steps (5 updates).
            "gpu": (
                "--side=jaxml",
                "--env=inverted_pendulum",
                "--seeds=2",
                "--total_timesteps=1310720",
                "--set=num_envs=2048",
                "--eval_episodes=16",
            ),
        },
        {"tiny": 240, "gpu": 50},
        (*_RL, "brax", "mujoco"),
        out_flag=None,  # --side=jaxml prints its JSON line and writes no file.
    ),
}


def command(name: str, scale: str, out: Path) -> tuple[list[str], list[str]]:
    """The argv of benchmark ``name`` at ``scale`` writing its JSON to ``out``, and notes."""
    bench = BENCHMARKS[name]
    args, notes = list(bench.args[scale]), []
    if name == "kfac_jax" and scale == "gpu":
        if (KFAC_JAX_VENV / "bin" / "python").exists():
            args[0] += ",kfac_jax"
        else:
            notes.append(f"kfac-jax peer skipped: no {KFAC_JAX_VENV.name}/ (--make_venv)")
    if bench.out_flag is not None:
        args.append(f"{bench.out_flag}={out}")
    return [sys.executable, "-m", bench.module, *args], notes


def missing_packages(needs: tuple[str, ...]) -> list[str]:
    """The packages of ``needs`` that this interpreter cannot import (without importing them)."""
    return [n for n in needs if importlib.util.find_spec(n) is None]


def _figures(out: Path, output: str):
    """The JSON the script wrote, else the JSON objects it printed one per line, else None."""
    if out.exists():
        try:
            return json.loads(out.read_text())
        except json.JSONDecodeError:
            pass
    lines = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return lines or None


def run_benchmark(argv: list[str], out: Path, timeout_s: float, env: dict | None = None) -> dict:
    """Runs ``argv`` from the repository root in a process group of its own, killed with all its
    children after ``timeout_s``; returns status, return code, wall seconds, figures and the tail
    of its output (stdout and stderr together)."""
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    child_env.setdefault("PYTHONUNBUFFERED", "1")  # Output up to a kill is kept.
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=timeout_s)
        status = "ok" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # The script and any worker it started.
        output, _ = proc.communicate()
        status = "timeout"
    wall = time.perf_counter() - start
    missing = re.findall(r"ModuleNotFoundError: No module named '([\w.]+)'", output or "")
    return {
        "status": status,
        "returncode": proc.returncode,
        "wall_s": round(wall, 2),
        "timeout_s": round(timeout_s, 1),
        "figures": _figures(out, output or ""),
        "output_tail": (output or "")[-TAIL_CHARS:],
        **({"missing_module": missing[-1]} if missing else {}),
    }


_PROBE = """
import json, platform, jax, jaxlib
devices = jax.devices()
print(json.dumps({"jax": jax.__version__, "jaxlib": jaxlib.__version__,
                  "backend": jax.default_backend(), "devices": [str(d) for d in devices],
                  "device_kind": devices[0].device_kind, "python": platform.python_version()}))
"""


def probe_device(timeout_s: float = PROBE_TIMEOUT_S) -> dict:
    """``jax.devices()`` and versions, read by a subprocess (the parent never initialises jax)."""
    with tempfile.TemporaryDirectory() as tmp:
        record = run_benchmark([sys.executable, "-c", _PROBE], Path(tmp) / "none", timeout_s)
    figures = record["figures"]
    if record["status"] == "ok" and figures:
        return figures[-1]
    return {"error": record["status"], "output_tail": record["output_tail"]}


# ----------------------------------------------------------------------------- the table


def _g(value) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _optim_step(fig) -> list[str]:
    rows = fig if isinstance(fig, list) else fig["rows"]  # A list: the --progress lines.
    lines = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        base = next(r for r in mine if r["optimizer"] == "adamw")
        ratios = ", ".join(
            f"{r['optimizer']} {r['ms_per_step'] / base['ms_per_step']:.2f}" for r in mine
        )
        lines.append(f"{model}: adamw {_g(base['ms_per_step'])} ms/step; x adamw: {ratios}")
    return lines


def _kfac_jax(fig) -> list[str]:
    return [
        f"{r['method']}: {r['step_time_ratio_vs_adamw']:.2f} x adamw step, test loss "
        f"{r['final_test_loss']:.4f} (adamw {r['adamw_final_test_loss']:.4f})"
        for r in fig["rows"]
    ]


def _env_throughput(fig) -> list[str]:
    return [
        f"{r['name']} ({r['num_envs']} envs): {_g(r['ours_steps_per_s'])} steps/s, "
        f"{r['ratio']:.2f} x peer"
        for r in fig["rows"]
    ]


def _hvac(fig) -> list[str]:
    return [
        f"{r['num_envs']} buildings: {_g(r['env_steps_per_s'])} steps/s "
        f"({r['ratio_env_steps_per_s']:.3g} x numpy)"
        for r in fig["rows"]
        if r["side"] == "jax"
    ]


def _rl(fig) -> list[str]:
    lines = []
    for r in fig["rows"]:
        if r["mode"] == "train":
            rate, ret = _g(r["steps_per_second"]), r["final_return"]
            lines.append(
                f"{r['algo']} train, {r['num_envs']} envs: {rate} steps/s, return {ret:.0f}"
            )
        else:
            lines.append(f"ppo, {r['num_envs']} envs: train {_g(r['train_steps_per_second'])} "
                         f"vs env-only {_g(r['env_only_steps_per_second'])} steps/s "
                         f"(ratio {r['ratio']:.3f})")  # fmt: skip
    return lines


def _marl(fig) -> list[str]:
    return [
        f"{r['name']}, {r['num_envs']} envs: train {_g(r['train_steps_per_second'])} vs "
        f"env-only {_g(r['env_only_steps_per_second'])} steps/s (ratio {r['ratio']:.3f})"
        for r in fig["throughput"]
    ]


def _topsim(fig) -> list[str]:
    return [f"N={r['n']}: {_g(r['ours_s'])} s ({r['pairs']} pairs)" for r in fig["rows"]]


def _ppo_brax(fig) -> list[str]:
    return [
        f"{r['env']} jaxml: {_g(r['steps_per_s'])} steps/s, return (mean action) "
        f"{sum(r['deterministic']) / len(r['deterministic']):.1f}"
        for r in fig
        if r.get("side") == "jaxml"
    ]


HEADLINES: dict[str, Callable] = {
    "optim_step": _optim_step,
    "optim_step_transformer": _optim_step,
    "kfac_jax": _kfac_jax,
    "env_throughput": _env_throughput,
    "hvac_throughput": _hvac,
    "rl_throughput": _rl,
    "marl_throughput": _marl,
    "language_topsim": _topsim,
    "ppo_brax": _ppo_brax,
}


def headlines(name: str, record: dict) -> list[str]:
    """A few lines of the benchmark's main figures for the table (the JSON keeps everything)."""
    if record.get("figures") is None:
        return []
    try:
        return HEADLINES[name](record["figures"])
    except (KeyError, TypeError, ValueError, StopIteration, ZeroDivisionError):
        return ["(figures in the JSON)"]


def table(report: dict) -> str:
    device = report["device"]
    lines = [
        f"{report['date']}  scale={report['scale']}  device: "
        f"{device.get('devices', device.get('error'))}  jax {device.get('jax', '?')}",
        f"{'benchmark':24s} {'status':8s} {'wall s':>7s} {'limit s':>7s}",
    ]
    for name, r in report["benchmarks"].items():
        lines.append(f"{name:24s} {r['status']:8s} {r.get('wall_s', 0):7.1f} "
                     f"{r.get('timeout_s', 0):7.0f}")  # fmt: skip
        notes = [*r.get("notes", [])]
        if "missing_module" in r:
            notes.append(f"missing package: {r['missing_module']}")
        lines += [f"    {line}" for line in [*notes, *headlines(name, r)]]
    lines.append(f"total {report['total_wall_s']:.1f} s; wrote {report['out']}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the driver


def run_all(scale: str, names: list[str], out: Path, budget_s: float) -> dict:
    """Runs ``names`` at ``scale`` within ``budget_s`` seconds; writes and returns the report."""
    start = time.perf_counter()
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "scale": scale,
        "budget_s": budget_s,
        "host": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_start": os.getloadavg(),
        },
        "device": probe_device(),
        "benchmarks": {},
        "out": str(out),
    }
    out.parent.mkdir(parents=True, exist_ok=True)

    def write():
        report["total_wall_s"] = round(time.perf_counter() - start, 1)
        report["host"]["load_average_end"] = os.getloadavg()
        out.write_text(json.dumps(report, indent=1, default=str))

    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(names):
            bench = BENCHMARKS[name]
            json_out = Path(tmp) / f"{name}.json"
            argv, notes = command(name, scale, json_out)
            record = {"command": " ".join(argv[1:]), "notes": notes}
            left = budget_s - (time.perf_counter() - start)
            missing = missing_packages(bench.needs)
            if missing:
                record.update(status="skipped", notes=[*notes, f"missing packages: {missing}"])
            elif left < MIN_TIMEOUT_S:
                record.update(status="skipped", notes=[*notes, "total budget spent"])
            else:
                # Its cap, or more: all the budget that the caps of those after it leave free
                # (time that earlier benchmarks saved goes to the next one).
                later = sum(BENCHMARKS[n].timeout_s[scale] for n in names[i + 1 :])
                timeout = min(left, max(bench.timeout_s[scale], left - later))
                record.update(run_benchmark(argv, json_out, timeout, dict(bench.env)))
            report["benchmarks"][name] = record
            print(f"{name}: {record['status']} ({record.get('wall_s', 0):.1f} s)", flush=True)
            write()
    write()
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="gpu")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default all)")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names to leave out")
    parser.add_argument("--budget_s", type=float, default=None,
                        help=f"total seconds (default {DEFAULT_BUDGET_S})")  # fmt: skip
    parser.add_argument("--out", default=None, help="default results/benchmarks/accelerator.json")
    args = parser.parse_args(argv)
    chosen = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    skipped = [n for n in args.skip.split(",") if n]
    unknown = sorted(set(chosen + skipped) - set(BENCHMARKS))
    if unknown:
        parser.error(f"--only/--skip: expected names from {list(BENCHMARKS)}, got {unknown}")
    names = [n for n in chosen if n not in skipped]
    budget = args.budget_s or DEFAULT_BUDGET_S[args.scale]
    suffix = "" if args.scale == "gpu" else f"_{args.scale}"
    out = Path(args.out or f"results/benchmarks/accelerator{suffix}.json")
    out = out if out.is_absolute() else ROOT / out
    report = run_all(args.scale, names, out, budget)
    print(table(report))
    return report


if __name__ == "__main__":
    main()
