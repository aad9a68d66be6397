"""jaxml's default XLA flags: added when absent, never overriding the user's choice; and (slow) a
launcher run that deadlocked XLA:CPU without them finishes."""

import os

import pytest

from jaxml import _xla_flags
from jaxml.utils.metrics import read_metrics
from tests.helpers import run


def test_default_flag_is_added_only_when_the_user_did_not_set_it():
    flag = _xla_flags.CPU_SCHEDULER_FLAG
    assert _xla_flags.with_default_flags("") == f"{flag}=false"
    assert _xla_flags.with_default_flags("--xla_force_host_platform_device_count=8") == (
        f"--xla_force_host_platform_device_count=8 {flag}=false"
    )
    assert _xla_flags.with_default_flags(f"{flag}=true") == f"{flag}=true"


def test_importing_jaxml_sets_the_flag_for_this_process():
    assert f"{_xla_flags.CPU_SCHEDULER_FLAG}=false" in os.environ["XLA_FLAGS"]


@pytest.mark.slow
def test_vmapped_ippo_seeds_on_smax_finish(tmp_path):
    # IPPO on SMAX 3m with 3 vmapped seeds never finished on XLA:CPU (jax 0.10.2) with the
    # concurrency-optimized scheduler (twice in a row, 150 s each, idle CPU); without it, ~1 min.
    status, _, err = run(
        [
            "-m", "experiments.marl.main", "--preset=quick", f"--workdir={tmp_path}",
            "--config.progress_bar=false", "--config.runs=smax_3m_ippo", "--config.num_seeds=3",
            "--config.vmap_seeds=true", "--config.smax_total_timesteps=65536",
            "--config.num_chunks=4",
        ],
        timeout=400,
    )  # fmt: skip
    assert status == 0, err
    assert len(read_metrics(tmp_path / "runs" / "smax_3m_ippo")) == 4
