"""Acceptance of the digits experiment through its launcher, as a user runs it."""

import signal
import time

import numpy as np

from jaxml.utils.metrics import read_metrics
from tests.helpers import launch, run

DIGITS = ["-m", "experiments.digits.main", "--preset=quick", "--config.progress_bar=false"]
SHORT = ["--config.num_steps=800", "--config.chunk_size=50"]


def test_sigkill_then_resume_ends_with_the_uninterrupted_metrics(tmp_path):
    status, _, err = run([*DIGITS, *SHORT, f"--workdir={tmp_path / 'full'}"])
    assert status == 0, err
    uninterrupted = read_metrics(tmp_path / "full")
    assert uninterrupted[-1]["step"] == 800
    assert uninterrupted[-1]["test_accuracy"] >= 0.95

    workdir = tmp_path / "killed"
    proc = launch([*DIGITS, *SHORT, f"--workdir={workdir}"])
    deadline = time.time() + 300
    while not [r for r in read_metrics(workdir) if r["step"] >= 200] and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    done = read_metrics(workdir)
    assert 200 <= done[-1]["step"] < 800, "the kill must land mid-run"

    status, _, err = run([*DIGITS, *SHORT, f"--workdir={workdir}", "--resume"])
    assert status == 0, err
    resumed = read_metrics(workdir)
    assert resumed[-1] == uninterrupted[-1]
    assert resumed == uninterrupted


def test_mesh_gives_the_single_device_loss_curve(tmp_path):
    curves = {}
    for name, extra in (("one", []), ("mesh", ["--mesh"])):
        args = [*DIGITS, "--config.num_steps=300", "--config.chunk_size=25", *extra]
        status, _, err = run([*args, f"--workdir={tmp_path / name}"], devices=8)
        assert status == 0, err
        curves[name] = [r["train_loss"] for r in read_metrics(tmp_path / name)]
    assert len(curves["one"]) == 12
    np.testing.assert_allclose(curves["mesh"], curves["one"], rtol=1e-5, atol=1e-5)


def test_num_seeds_trains_each_seed_as_its_own_run(tmp_path):
    common = [
        *DIGITS,
        "--config.num_steps=100",
        "--config.warmup_steps=10",
        "--config.chunk_size=50",
    ]
    status, _, err = run([*common, "--seed=3", "--num_seeds=2", f"--workdir={tmp_path / 'multi'}"])
    assert status == 0, err
    status, _, err = run([*common, "--seed=4", f"--workdir={tmp_path / 'single'}"])
    assert status == 0, err
    multi, single = read_metrics(tmp_path / "multi"), read_metrics(tmp_path / "single")
    for m, s in zip(multi, single, strict=True):
        np.testing.assert_allclose(m["train_loss_per_seed"][1], s["train_loss"], rtol=1e-4)
    assert multi[-1]["train_loss_per_seed"][0] != multi[-1]["train_loss_per_seed"][1]
