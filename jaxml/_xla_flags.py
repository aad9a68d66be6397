"""XLA flags jaxml sets before JAX starts its backends (importing ``jaxml`` applies them).

``--xla_cpu_enable_concurrency_optimized_scheduler=false``: with jax 0.10.2 the CPU runtime
deadlocks on some programs that batch several training runs, e.g. IPPO on SMAX 3m with 3 vmapped
seeds, or IPPO-LSTM on the Foraging Games with 2 seeds under vmap or ``lax.map``: every worker
thread waits for work while the main thread waits for the result, forever. Each seed alone runs,
and the same programs finish with this scheduler switched off (checked 2026-11-25). The flag only
concerns the XLA:CPU scheduler. A flag the user already put in ``XLA_FLAGS`` is left as it is,
and nothing changes once a backend has started (set ``XLA_FLAGS`` yourself in that case).
"""

from __future__ import annotations

import os

CPU_SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"


def with_default_flags(xla_flags: str) -> str:
    """``xla_flags`` plus jaxml's defaults for the flags it does not mention."""
    if CPU_SCHEDULER_FLAG in xla_flags:
        return xla_flags
    return f"{xla_flags} {CPU_SCHEDULER_FLAG}=false".strip()


def apply() -> None:
    os.environ["XLA_FLAGS"] = with_default_flags(os.environ.get("XLA_FLAGS", ""))
