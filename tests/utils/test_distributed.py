"""--mesh --distributed on one machine: two CPU processes (gloo) against one process, two devices.

Each process has one CPU device, so the ``data`` mesh can only be formed with the other process's
device and every step's batch (digits) or environment axis (PPO) is split across the processes.
The job must log what a single process with two devices logs, write each checkpoint once (and
metrics, TensorBoard and config only from process 0), and resume from its checkpoints: the latest
one is deleted, as if the job had been stopped after the one before, and ``--resume`` must rerun the
last chunk to the same numbers.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jaxml._distributed import requested
from jaxml.utils.metrics import read_metrics
from tests.helpers import REPO_ROOT

TIMEOUT_S = 240  # Per launch; a stuck collective must fail the test, not hang it.

DIGITS = (
    "experiments.digits.main",
    ".",
    [
        "--config.num_steps=20",
        "--config.warmup_steps=5",
        "--config.chunk_size=10",
        "--config.progress_bar=false",
        "--config.model.width=32",
        "--config.model.num_blocks=1",
    ],
    (10, 20),
)
PPO = (
    "experiments.npg.main",
    "runs/CartPole-v1/ppo",
    [
        "--config.algos=ppo",
        "--config.envs=CartPole-v1",
        "--config.num_seeds=1",
        "--config.total_timesteps=2048",
        "--config.num_chunks=2",
        "--config.checkpoint_every_chunks=1",
        "--config.progress_bar=false",
    ],
    (2, 4),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
        **extra,
    )
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        # Own process group: a timeout kills the launcher and anything it started.
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_all(procs: list[subprocess.Popen], logs: list[Path]) -> None:
    """Waits for every process; one failing or the deadline passing kills the rest and fails."""
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    codes = [p.returncode for p in procs]
    if codes != [0] * len(procs):
        tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
        pytest.fail(f"exit codes {codes} (negative: killed at the {TIMEOUT_S} s deadline)\n{tails}")


def _wait_exit(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _pair(module: str, workdir: Path, args: list[str], tag: str) -> list[subprocess.Popen]:
    port = _free_port()
    cmd = ["-m", module, "--mesh", "--distributed", f"--workdir={workdir}", *args]
    procs = []
    for rank in range(2):
        env = _env(
            1,
            JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
            JAX_COORDINATOR_BIND_ADDRESS=f"127.0.0.1:{port}",  # Loopback only.
            JAX_NUM_PROCESSES="2",
            JAX_PROCESS_ID=str(rank),
        )
        procs.append(_start(cmd, env, workdir.parent / f"{tag}.p{rank}.log"))
    return procs


def _logs(workdir: Path, tag: str) -> list[Path]:
    return [workdir.parent / f"{tag}.p{rank}.log" for rank in range(2)]


def _assert_same_rows(rows, expected):
    assert [r["step"] for r in rows] == [r["step"] for r in expected]
    for row, ref in zip(rows, expected, strict=True):
        assert row.keys() == ref.keys()
        for name in ref:
            np.testing.assert_allclose(row[name], ref[name], rtol=1e-5, err_msg=name)


def _checkpoint_steps(run_dir: Path) -> list[int]:
    entries = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    # Only finished steps: an interrupted or doubled write leaves orbax temporary directories.
    assert all(name.isdigit() for name in entries), entries
    for name in entries:
        assert (run_dir / "checkpoints" / name / "_CHECKPOINT_METADATA").exists()
    return sorted(int(name) for name in entries)


def _mesh_specs(run_dir: Path, step: int) -> tuple[set[int], set[tuple]]:
    """Device ids of the saved arrays' mesh and their partition specs (orbax's _sharding)."""
    path = run_dir / "checkpoints" / str(step) / "default" / "_sharding"
    shardings = json.loads(path.read_text())
    ids, specs = set(), set()
    for s in shardings.values():
        s = json.loads(s) if isinstance(s, str) else s
        ids |= {d["id"] for d in s["device_mesh"]["mesh"]}
        specs.add(tuple(tuple(a) if isinstance(a, list) else a for a in s["partition_spec"]))
    return ids, specs


@pytest.mark.parametrize(
    ("module", "run_subdir", "args", "steps"),
    [
        pytest.param(*DIGITS, id="digits"),
        pytest.param(*PPO, id="ppo", marks=pytest.mark.slow),
    ],
)
def test_two_processes_match_one_and_resume(module, run_subdir, args, steps, tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    # The one-process reference runs beside the pair: the machine's cores are few.
    ref = _start(
        ["-m", module, "--mesh", f"--workdir={single}", *args], _env(2), tmp_path / "single.log"
    )
    pair = _pair(module, multi, args, "fresh")
    _wait_all([ref, *pair], [tmp_path / "single.log", *_logs(multi, "fresh")])

    expected = read_metrics(single / run_subdir)
    run_dir = multi / run_subdir
    rows = read_metrics(run_dir)
    assert len(expected) == len(steps)
    _assert_same_rows(rows, expected)  # Also: written once, not once per process.
    assert _checkpoint_steps(run_dir) == list(steps)
    ids, specs = _mesh_specs(run_dir, steps[-1])
    assert len(ids) == 2  # One device of each process.
    if module == PPO[0]:
        assert (None, "data") in specs  # The environment axis is split over the processes.
    assert (multi / "config.json").exists() and not list(multi.glob("*.tmp"))
    tb = multi / "tensorboard"
    if tb.exists():
        assert len(list(tb.iterdir())) == 1  # Process 0's event file only.

    # Stopped after the checkpoint before the last: --resume reruns the last chunk.
    shutil.rmtree(run_dir / "checkpoints" / str(steps[-1]))
    pair = _pair(module, multi, [*args, "--resume"], "resume")
    _wait_all(pair, _logs(multi, "resume"))
    assert f"resumed from step {steps[-2]}" in _logs(multi, "resume")[0].read_text()
    _assert_same_rows(read_metrics(run_dir), expected)
    assert _checkpoint_steps(run_dir) == list(steps)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["main.py"], False),
        (["main.py", "--distributed"], True),
        (["main.py", "-distributed"], True),
        (["main.py", "--distributed=true"], True),
        (["main.py", "--distributed=1"], True),
        (["main.py", "--distributed=false"], False),
        (["main.py", "--distributed", "--nodistributed"], False),
        (["main.py", "--nodistributed", "--distributed"], True),
        (["main.py", "--distributed=maybe"], False),  # absl reports it.
        (["main.py", "--", "--distributed"], False),
        (["main.py", "--distributed_port=1"], False),
        (["--distributed"], False),  # The program name is not a flag.
    ],
)
def test_distributed_is_read_from_argv_as_absl_reads_it(argv, expected):
    assert requested(argv) is expected


PROBE = """
import sys

import jax
import jaxml  # --distributed in sys.argv: starts jax.distributed.
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from jaxml.utils import is_primary, sharding
from jaxml.utils.runner import to_host

mesh = sharding.make_data_mesh(True)
# Committed to this process's device, which device_put would refuse to spread over the mesh.
local = jax.device_put(np.arange(6.0, dtype=np.float32), jax.local_devices()[0])
replicated = sharding.replicate({"x": local}, mesh)["x"]
split = jax.jit(lambda x: x * 2, out_shardings=NamedSharding(mesh, PartitionSpec("data")))(
    replicated
)
print(
    jax.process_count(),
    mesh.size,
    replicated.is_fully_replicated,
    split.addressable_shards[0].data.shape[0],
    to_host(split).tolist(),
    float(to_host(replicated.sum())),
    is_primary(),
)
"""


def test_sharding_helpers_across_processes(tmp_path):
    port = _free_port()
    procs, logs = [], []
    for rank in range(2):
        env = _env(
            1,
            JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
            JAX_COORDINATOR_BIND_ADDRESS=f"127.0.0.1:{port}",
            JAX_NUM_PROCESSES="2",
            JAX_PROCESS_ID=str(rank),
        )
        logs.append(tmp_path / f"probe.p{rank}.log")
        procs.append(_start(["-c", PROBE, "--distributed"], env, logs[-1]))
    _wait_all(procs, logs)
    for rank, log in enumerate(logs):
        # The split array is gathered whole; each process holds half of it.
        assert log.read_text().strip().splitlines()[-1] == (
            f"2 2 True 3 [0.0, 2.0, 4.0, 6.0, 8.0, 10.0] 15.0 {rank == 0}"
        )


def test_bad_process_count_exits_2_naming_the_variable(tmp_path):
    env = _env(1, JAX_NUM_PROCESSES="two", JAX_PROCESS_ID="0")
    log = tmp_path / "bad.log"
    proc = _start(["-m", DIGITS[0], "--distributed", f"--workdir={tmp_path}"], env, log)
    _wait_exit(proc)
    lines = log.read_text().strip().splitlines()
    assert proc.returncode == 2, lines
    assert lines == ["error: JAX_NUM_PROCESSES: expected an integer >= 0, got 'two'"]
