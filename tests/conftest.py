"""Test-wide JAX settings: silent rank promotion is an error, as in rlax and kfac-jax; compiled
programs are cached on disk (``jaxml.utils.compilation_cache``), so a program that several tests
compile (a trainer's chunk before and after a resume) compiles once."""

import jax

from jaxml.utils import compilation_cache

jax.config.update("jax_numpy_rank_promotion", "raise")
compilation_cache.enable()
