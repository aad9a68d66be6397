"""jaxml: JAX reference implementations of second-order optimizers, environments, RL trainers,
active learning, constrained diffusion and generalization bounds."""

import sys

from jaxml import _distributed, _xla_flags

_xla_flags.apply()  # Before any jax computation starts a backend (see _xla_flags for why).
# A launcher's own imports (jumanji) start a backend; --distributed must come first (see there).
_distributed.initialize_if_requested(sys.argv)

__version__ = "0.1.0"
