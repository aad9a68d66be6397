"""jaxml's default XLA flags: added when absent, never overriding the user's choice; and (slow) a
launcher run that deadlocked XLA:CPU without them finishes."""

import os

import pytest

from jaxml import _xla_flags
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
def test_the_xla_cpu_hang_reproducer_finishes_with_jaxmls_flags():
    # IPPO on SMAX 3m, 2 vmapped seeds, 4 tiny updates: with XLA:CPU's concurrency-optimized
    # scheduler on it hung 3 times out of 3 (jax 0.10.2, 2 cores); with jaxml's default, ~15 s.
    status, out, err = run(
        ["scripts/xla_cpu_scheduler_hang.py", "--scheduler=default", "--timeout=300"], timeout=400
    )
    assert status == 0, out + err
    assert "finished in" in out
