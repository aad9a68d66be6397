"""Test-wide JAX settings: silent rank promotion is an error, as in rlax and kfac-jax."""

import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
