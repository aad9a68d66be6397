"""Second-order optimizers as optax ``GradientTransformation``s.

Each method has a ``scale_by_<method>`` building block and a user-facing alias that chains it with
the learning rate, as optax does. Curvature inputs beyond the gradient are keyword extra args of
``update`` (e.g. ``fisher_vector`` for the rank-1 natural gradient, ``obj_fn`` for Sophia).
"""

# Sophia (Liu et al. 2023, arXiv 2305.14342) is optax's own: a trusted peer, so not written again.
from optax.contrib import hutchinson_estimator_diag_hessian as hutchinson_estimator_diag_hessian
from optax.contrib import sophia as sophia

from jaxml.optim._newton_schulz import newton_schulz_inverse as newton_schulz_inverse
from jaxml.optim._rank1 import ScaleByRank1NaturalGradientState as ScaleByRank1NaturalGradientState
from jaxml.optim._rank1 import rank1_natural_gradient as rank1_natural_gradient
from jaxml.optim._rank1 import scale_by_rank1_natural_gradient as scale_by_rank1_natural_gradient

__all__ = [
    "ScaleByRank1NaturalGradientState",
    "hutchinson_estimator_diag_hessian",
    "newton_schulz_inverse",
    "rank1_natural_gradient",
    "scale_by_rank1_natural_gradient",
    "sophia",
]
