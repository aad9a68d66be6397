"""Second-order optimizers as optax ``GradientTransformation``s.

Each method has a ``scale_by_<method>`` building block and a user-facing alias that chains it with
the learning rate, as optax does. Curvature inputs beyond the gradient are keyword extra args of
``update``: ``fisher_vector`` (rank-1), ``layer_stats`` (K-FAC, RING, RENG, R-Kalman), ``loss_fn``
(RENG, Sophia's ``obj_fn``). ``loss_grads_and_stats`` computes them from a flax model and a batch.
"""

# Sophia (Liu et al. 2023, arXiv 2305.14342) is optax's own: a trusted peer, so not written again.
from optax.contrib import hutchinson_estimator_diag_hessian as hutchinson_estimator_diag_hessian
from optax.contrib import sophia as sophia

from jaxml.optim._adaptive import ScaleByQuadraticModelState as ScaleByQuadraticModelState
from jaxml.optim._adaptive import levenberg_marquardt_damping as levenberg_marquardt_damping
from jaxml.optim._adaptive import quadratic_model_change as quadratic_model_change
from jaxml.optim._adaptive import quadratic_model_coefficients as quadratic_model_coefficients
from jaxml.optim._adaptive import reduction_ratio as reduction_ratio
from jaxml.optim._adaptive import scale_by_quadratic_model as scale_by_quadratic_model
from jaxml.optim._curvature import CurvatureInputs as CurvatureInputs
from jaxml.optim._curvature import curvature_vector_product as curvature_vector_product
from jaxml.optim._curvature import loss_grads_and_stats as loss_grads_and_stats
from jaxml.optim._curvature import output_gram as output_gram
from jaxml.optim._curvature import sampled_layer_stats as sampled_layer_stats
from jaxml.optim._grng import reng as reng
from jaxml.optim._grng import ring as ring
from jaxml.optim._grng import scale_by_reng as scale_by_reng
from jaxml.optim._grng import scale_by_ring as scale_by_ring
from jaxml.optim._kfac import kfac as kfac
from jaxml.optim._kfac import scale_by_kfac as scale_by_kfac
from jaxml.optim._kronecker import LayerFactors as LayerFactors
from jaxml.optim._kronecker import LayerStats as LayerStats
from jaxml.optim._kronecker import ScaleByKroneckerState as ScaleByKroneckerState
from jaxml.optim._kronecker import gradient_regularization_term as gradient_regularization_term
from jaxml.optim._kronecker import (
    scale_by_kronecker_natural_gradient as scale_by_kronecker_natural_gradient,
)
from jaxml.optim._newton_schulz import newton_schulz_inverse as newton_schulz_inverse
from jaxml.optim._rank1 import ScaleByRank1NaturalGradientState as ScaleByRank1NaturalGradientState
from jaxml.optim._rank1 import rank1_natural_gradient as rank1_natural_gradient
from jaxml.optim._rank1 import scale_by_rank1_natural_gradient as scale_by_rank1_natural_gradient
from jaxml.optim._rkalman import ScaleByRKalmanState as ScaleByRKalmanState
from jaxml.optim._rkalman import rkalman as rkalman
from jaxml.optim._rkalman import scale_by_rkalman as scale_by_rkalman
from jaxml.optim._step import OPTIMIZERS as OPTIMIZERS
from jaxml.optim._step import make as make
from jaxml.optim._step import train_step as train_step

__all__ = [
    "OPTIMIZERS",
    "CurvatureInputs",
    "LayerFactors",
    "LayerStats",
    "ScaleByKroneckerState",
    "ScaleByRKalmanState",
    "ScaleByRank1NaturalGradientState",
    "gradient_regularization_term",
    "hutchinson_estimator_diag_hessian",
    "kfac",
    "loss_grads_and_stats",
    "sampled_layer_stats",
    "make",
    "newton_schulz_inverse",
    "rank1_natural_gradient",
    "reng",
    "ring",
    "rkalman",
    "scale_by_kfac",
    "scale_by_kronecker_natural_gradient",
    "scale_by_rank1_natural_gradient",
    "scale_by_reng",
    "scale_by_ring",
    "scale_by_rkalman",
    "sophia",
    "train_step",
    "ScaleByQuadraticModelState",
    "levenberg_marquardt_damping",
    "quadratic_model_change",
    "quadratic_model_coefficients",
    "reduction_ratio",
    "scale_by_quadratic_model",
    "curvature_vector_product",
    "output_gram",
]

# The adaptive step's guard (issue 20).
from jaxml.optim._adaptive import guarded_damping as guarded_damping  # noqa: E402
from jaxml.optim._adaptive import step_accepted as step_accepted  # noqa: E402

__all__ += ["guarded_damping", "step_accepted"]

# One options object for the adaptive step (issue 20; adaptive=True with keywords still works).
from jaxml.optim._adaptive import QuadraticModelOptions as QuadraticModelOptions  # noqa: E402

__all__ += ["QuadraticModelOptions"]
