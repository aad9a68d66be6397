"""Generalization-bound calculators for discrete- and continuous-time residual networks.

"On the Generalization Behavior of Deep Residual Networks From a Dynamical System Perspective"
(arXiv 2602.20921), with Bartlett-Foster-Telgarsky's spectrally-normalised margin bound
(arXiv 1706.08498) as the classical comparison, and the margins and margin losses (0-1, ramp,
BFT's margin loss) both bounds are stated for.
"""

from jaxml.theory._bounds import log_complexity_constant as log_complexity_constant
from jaxml.theory._bounds import log_spectral_complexity as log_spectral_complexity
from jaxml.theory._bounds import measure_norms as measure_norms
from jaxml.theory._bounds import residual_bound as residual_bound
from jaxml.theory._bounds import spectral_margin_bound as spectral_margin_bound
from jaxml.theory._margins import margin_statistics as margin_statistics
from jaxml.theory._margins import margins as margins
from jaxml.theory._margins import ramp_loss as ramp_loss
from jaxml.theory._margins import ramp_loss_lipschitz as ramp_loss_lipschitz
from jaxml.theory._norms import block_lipschitz as block_lipschitz
from jaxml.theory._norms import dead_zone_lipschitz as dead_zone_lipschitz
from jaxml.theory._norms import frobenius_norm as frobenius_norm
from jaxml.theory._norms import max_column_norm as max_column_norm
from jaxml.theory._norms import norm_21 as norm_21
from jaxml.theory._norms import residual_step_lipschitz as residual_step_lipschitz
from jaxml.theory._norms import spectral_norm as spectral_norm
from jaxml.theory._norms import spectral_norms as spectral_norms

__all__ = [
    "block_lipschitz",
    "dead_zone_lipschitz",
    "frobenius_norm",
    "log_complexity_constant",
    "log_spectral_complexity",
    "margin_statistics",
    "margins",
    "max_column_norm",
    "measure_norms",
    "norm_21",
    "ramp_loss",
    "ramp_loss_lipschitz",
    "residual_bound",
    "residual_step_lipschitz",
    "spectral_margin_bound",
    "spectral_norm",
    "spectral_norms",
]
