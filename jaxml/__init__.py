"""jaxml: JAX reference implementations of second-order optimizers, environments and RL trainers."""

__version__ = "0.1.0"
