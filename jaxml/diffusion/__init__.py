"""EDM diffusion with plain and softly constrained denoisers (arXiv 2206.00364, 2512.14980).

``_training`` holds the SCD comparison's pieces: a method's denoiser and loss, its supervised
trainer, vmapped Heun sampling of many models (optionally DPS-guided) and the metrics rows.
"""

from jaxml.diffusion._constraints import ResidualFn as ResidualFn
from jaxml.diffusion._constraints import batched_residual as batched_residual
from jaxml.diffusion._constraints import circle_residual as circle_residual
from jaxml.diffusion._constraints import constraint_gradient as constraint_gradient
from jaxml.diffusion._constraints import darcy_operator as darcy_operator
from jaxml.diffusion._constraints import darcy_residual as darcy_residual
from jaxml.diffusion._constraints import darcy_source as darcy_source
from jaxml.diffusion._constraints import darcy_source_family as darcy_source_family
from jaxml.diffusion._constraints import ellipse_residual as ellipse_residual
from jaxml.diffusion._constraints import half_squared_norm as half_squared_norm
from jaxml.diffusion._constraints import mean_abs_residual as mean_abs_residual
from jaxml.diffusion._constraints import (
    standardised_darcy_residual as standardised_darcy_residual,
)
from jaxml.diffusion._denoisers import DPS_WEIGHTINGS as DPS_WEIGHTINGS
from jaxml.diffusion._denoisers import GAMMA_MODES as GAMMA_MODES
from jaxml.diffusion._denoisers import PIDM_WEIGHTINGS as PIDM_WEIGHTINGS
from jaxml.diffusion._denoisers import EDMDenoiser as EDMDenoiser
from jaxml.diffusion._denoisers import Gamma as Gamma
from jaxml.diffusion._denoisers import MLPDenoiserNet as MLPDenoiserNet
from jaxml.diffusion._denoisers import SoftConstrainedDenoiser as SoftConstrainedDenoiser
from jaxml.diffusion._denoisers import apply_fn as apply_fn
from jaxml.diffusion._denoisers import dps_guided as dps_guided
from jaxml.diffusion._denoisers import fourier_features as fourier_features
from jaxml.diffusion._denoisers import regularised_denoising_loss as regularised_denoising_loss
from jaxml.diffusion._denoisers import residual_penalty as residual_penalty
from jaxml.diffusion._denoisers import soft_correction as soft_correction
from jaxml.diffusion._edm import SIGMA_DATA as SIGMA_DATA
from jaxml.diffusion._edm import DenoiseFn as DenoiseFn
from jaxml.diffusion._edm import Preconditioning as Preconditioning
from jaxml.diffusion._edm import denoising_loss as denoising_loss
from jaxml.diffusion._edm import edm_preconditioning as edm_preconditioning
from jaxml.diffusion._edm import heun_sample as heun_sample
from jaxml.diffusion._edm import karras_sigmas as karras_sigmas
from jaxml.diffusion._edm import loss_weight as loss_weight
from jaxml.diffusion._edm import precondition as precondition
from jaxml.diffusion._edm import sample_sigma as sample_sigma
from jaxml.diffusion._metrics import mean_pairwise_distance as mean_pairwise_distance
from jaxml.diffusion._metrics import sliced_wasserstein_1 as sliced_wasserstein_1
from jaxml.diffusion._metrics import wasserstein_1_exact as wasserstein_1_exact
from jaxml.diffusion._metrics import wasserstein_1d as wasserstein_1d
from jaxml.diffusion._training import GAMMA_PROBES as GAMMA_PROBES
from jaxml.diffusion._training import METHODS as METHODS
from jaxml.diffusion._training import DPSGuidance as DPSGuidance
from jaxml.diffusion._training import ModelFn as ModelFn
from jaxml.diffusion._training import ResidualFamily as ResidualFamily
from jaxml.diffusion._training import denoiser_trainer as denoiser_trainer
from jaxml.diffusion._training import gamma_profile as gamma_profile
from jaxml.diffusion._training import heun_sample_models as heun_sample_models
from jaxml.diffusion._training import make_denoiser as make_denoiser
from jaxml.diffusion._training import method_loss as method_loss
from jaxml.diffusion._training import reference_metrics as reference_metrics
from jaxml.diffusion._training import sample_metrics as sample_metrics

__all__ = [
    "DPS_WEIGHTINGS",
    "GAMMA_MODES",
    "GAMMA_PROBES",
    "METHODS",
    "PIDM_WEIGHTINGS",
    "SIGMA_DATA",
    "DPSGuidance",
    "DenoiseFn",
    "EDMDenoiser",
    "Gamma",
    "MLPDenoiserNet",
    "ModelFn",
    "Preconditioning",
    "ResidualFamily",
    "ResidualFn",
    "SoftConstrainedDenoiser",
    "apply_fn",
    "batched_residual",
    "circle_residual",
    "constraint_gradient",
    "darcy_operator",
    "darcy_residual",
    "darcy_source",
    "darcy_source_family",
    "denoiser_trainer",
    "denoising_loss",
    "dps_guided",
    "edm_preconditioning",
    "ellipse_residual",
    "fourier_features",
    "gamma_profile",
    "half_squared_norm",
    "heun_sample",
    "heun_sample_models",
    "karras_sigmas",
    "loss_weight",
    "make_denoiser",
    "mean_abs_residual",
    "mean_pairwise_distance",
    "method_loss",
    "precondition",
    "reference_metrics",
    "regularised_denoising_loss",
    "residual_penalty",
    "sample_metrics",
    "sample_sigma",
    "sliced_wasserstein_1",
    "soft_correction",
    "standardised_darcy_residual",
    "wasserstein_1_exact",
    "wasserstein_1d",
]
