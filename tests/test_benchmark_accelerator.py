"""benchmarks/accelerator.py: every benchmark in one command, each capped, one JSON report."""

import json
import re
import sys
import time
from pathlib import Path

import pytest

from benchmarks import accelerator

ROOT = Path(__file__).resolve().parent.parent


def _flag_names(args):
    """``--name=value`` and ``--name value ...`` flags of an argv tail."""
    return [a[2:].split("=", 1)[0] for a in args if a.startswith("--")]


def _defines(source: str, flag: str) -> bool:
    """Whether a script's source defines ``flag`` (absl ``DEFINE_*`` or argparse)."""
    absl = re.search(rf'DEFINE_\w+\(\s*"{re.escape(flag)}"', source)
    argparse = re.search(rf'add_argument\(\s*"--{re.escape(flag)}"', source)
    return bool(absl or argparse)


@pytest.mark.parametrize("scale", accelerator.SCALES)
def test_every_flag_is_one_the_script_defines(scale):
    # The gpu shapes run nowhere in the tests: a misspelt flag would only show on the device.
    for name, bench in accelerator.BENCHMARKS.items():
        source = (ROOT / (bench.module.replace(".", "/") + ".py")).read_text()
        argv, _ = accelerator.command(name, scale, Path("/tmp/x.json"))
        assert argv[:3] == [sys.executable, "-m", bench.module]
        for flag in _flag_names(argv[3:]):
            assert _defines(source, flag), f"{name}: {bench.module} defines no --{flag}"
        assert set(bench.args) == set(accelerator.SCALES) == set(bench.timeout_s)


def test_gpu_caps_add_up_to_less_than_eight_minutes():
    caps = sum(b.timeout_s["gpu"] for b in accelerator.BENCHMARKS.values())
    budget = accelerator.DEFAULT_BUDGET_S["gpu"]
    # The total budget (the probe and the processes' starts run inside it) also stops the run.
    assert caps + accelerator.MIN_TIMEOUT_S <= budget < 8 * 60


def test_optim_step_runs_every_optimizer_at_gpu_scale():
    from jaxml import optim

    order = accelerator._OPTIMIZER_ORDER.split(",")
    assert sorted(order) == sorted(optim.OPTIMIZERS) and order[0] == "adamw"


def test_optim_step_headline_reads_partial_progress_lines():
    lines = [{"model": "mlp", "optimizer": "adamw", "ms_per_step": 2.0},
             {"model": "mlp", "optimizer": "kfac", "ms_per_step": 5.0}]  # fmt: skip
    (line,) = accelerator.headlines("optim_step", {"figures": lines})
    assert "adamw 2 ms/step" in line and "kfac 2.50" in line


def test_kfac_jax_peer_only_with_its_venv(tmp_path, monkeypatch):
    monkeypatch.setattr(accelerator, "KFAC_JAX_VENV", tmp_path / "venv")
    argv, notes = accelerator.command("kfac_jax", "gpu", tmp_path / "o.json")
    assert "kfac_jax" not in argv[3].split("=")[1].split(",") and "skipped" in notes[0]
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").write_text("")
    argv, notes = accelerator.command("kfac_jax", "gpu", tmp_path / "o.json")
    assert argv[3].endswith(",kfac_jax") and not notes
    assert argv[-1] == f"--out={tmp_path / 'o.json'}"


def test_timeout_kills_the_script_and_its_workers_and_keeps_printed_figures(tmp_path):
    pid_file = tmp_path / "worker.pid"
    script = (
        "import subprocess, sys, time\n"
        "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(w.pid))\n"
        "print('{\"partial\": 1}', flush=True)\n"
        "time.sleep(120)\n"
    )
    record = accelerator.run_benchmark(
        [sys.executable, "-c", script], tmp_path / "none.json", timeout_s=3.0
    )
    assert record["status"] == "timeout" and record["wall_s"] < 30
    assert record["figures"] == [{"partial": 1}]
    status = Path(f"/proc/{pid_file.read_text()}/status")

    def stopped():  # Gone, or a zombie waiting for a reaper: either way no longer running.
        try:
            return "State:\tZ" in status.read_text()
        except FileNotFoundError:
            return True

    # SIGKILL was sent; a loaded machine may take a moment to schedule the worker's exit.
    deadline = time.monotonic() + 10
    while not stopped() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stopped()


def test_failures_and_missing_packages_are_recorded_and_the_rest_still_runs(tmp_path, monkeypatch):
    Bench = accelerator.Benchmark
    fake = {
        # This very script with a bad --only: exits 2 quickly, without importing jax.
        "broken": Bench("benchmarks.accelerator", {"tiny": ("--only=nope",)}, {"tiny": 60}),
        "absent": Bench("benchmarks.accelerator", {"tiny": ()}, {"tiny": 60}, ("no_such_pkg_20",)),
        # The driver itself with nothing to run: only its device probe, then its report.
        "writes": Bench(
            "benchmarks.accelerator",
            {"tiny": ("--scale=tiny", "--only=ppo_brax", "--skip=ppo_brax")},
            {"tiny": 60},
        ),
    }
    monkeypatch.setattr(accelerator, "BENCHMARKS", fake)
    monkeypatch.setattr(accelerator, "probe_device", lambda: {"devices": ["fake:0"], "jax": "x"})
    out = tmp_path / "report.json"
    report = accelerator.run_all("tiny", list(fake), out, budget_s=300)
    saved = json.loads(out.read_text())
    records = saved["benchmarks"]
    assert records["broken"]["status"] == "failed" and records["broken"]["returncode"] == 2
    # The first gets all the budget the later caps leave (300 - 2 x 60), the last what is left.
    assert 170 < records["broken"]["timeout_s"] <= 180
    assert 250 < records["writes"]["timeout_s"] <= 300
    assert "--only/--skip" in records["broken"]["output_tail"]
    assert records["absent"]["status"] == "skipped"
    assert "no_such_pkg_20" in records["absent"]["notes"][-1]
    # "writes" wrote its report to --out, read back as its figures.
    assert records["writes"]["status"] == "ok", records["writes"]["output_tail"]
    assert records["writes"]["figures"]["benchmarks"] == {}
    assert records["writes"]["figures"]["device"]["devices"]
    assert saved["device"]["devices"] == ["fake:0"] and saved["scale"] == "tiny"
    assert "broken" in accelerator.table(report) and "total" in accelerator.table(report)
    # A spent budget skips what is left instead of starting it.
    report = accelerator.run_all("tiny", ["broken"], out, budget_s=1)
    assert report["benchmarks"]["broken"]["status"] == "skipped"


def test_one_benchmark_at_tiny_scale_end_to_end(tmp_path, capsys):
    out = tmp_path / "accelerator.json"
    report = accelerator.main(["--scale=tiny", "--only=language_topsim", f"--out={out}"])
    record = json.loads(out.read_text())["benchmarks"]["language_topsim"]
    assert record["status"] == "ok", record["output_tail"]
    (row,) = record["figures"]["rows"]
    # The script's own check: jitted JAX against the Python/scipy reference on the same data.
    assert row["n"] == 50 and row["abs_difference"] < 1e-5
    assert report["device"]["devices"] and report["device"]["jax"]
    assert "N=50:" in capsys.readouterr().out


@pytest.mark.slow
def test_every_benchmark_at_tiny_scale(tmp_path):
    report = accelerator.main(["--scale=tiny", f"--out={tmp_path / 'a.json'}"])
    for name, record in report["benchmarks"].items():
        assert record["status"] == "ok", (name, record["output_tail"])
        assert record["figures"], name
        assert accelerator.headlines(name, record) != ["(figures in the JSON)"], name


def test_a_missing_package_deeper_down_is_named(tmp_path):
    record = accelerator.run_benchmark(
        [sys.executable, "-c", "import no_such_pkg_20x"], tmp_path / "none.json", 60
    )
    assert record["status"] == "failed" and record["missing_module"] == "no_such_pkg_20x"
    report = {"date": "d", "scale": "tiny", "device": {}, "benchmarks": {"x": record},
              "total_wall_s": 1.0, "out": "o"}  # fmt: skip
    assert "missing package: no_such_pkg_20x" in accelerator.table(report)
