"""jaxml: JAX reference implementations of second-order optimizers, environments, RL trainers,
active learning, constrained diffusion and generalization bounds."""

from jaxml import _xla_flags

_xla_flags.apply()  # Before any jax computation starts a backend (see _xla_flags for why).

__version__ = "0.1.0"
