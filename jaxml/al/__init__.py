"""Active learning for heteroscedastic regression: ensembles, losses, acquisitions and the loop.

Implements "Confidence-Aware Active Learning for Heteroscedastic Atmospheric Regression" (CAAL,
Jiang et al., arXiv 2602.11825) with its baselines, and the paper's summary of a run: the area
under the test-error curve against labelled samples (``area_under_curve``, ``rank_strategies``).
"""

from jaxml.al._acquisition import DIVERSITY_STRATEGIES as DIVERSITY_STRATEGIES
from jaxml.al._acquisition import SCORE_STRATEGIES as SCORE_STRATEGIES
from jaxml.al._acquisition import STRATEGIES as STRATEGIES
from jaxml.al._acquisition import bald_score as bald_score
from jaxml.al._acquisition import caal_score as caal_score
from jaxml.al._acquisition import group_mean as group_mean
from jaxml.al._acquisition import kcenter_greedy as kcenter_greedy
from jaxml.al._acquisition import kmeans_pp as kmeans_pp
from jaxml.al._acquisition import minmax_normalise as minmax_normalise
from jaxml.al._acquisition import point_scores as point_scores
from jaxml.al._acquisition import random_units as random_units
from jaxml.al._acquisition import top_k as top_k
from jaxml.al._curves import area_under_curve as area_under_curve
from jaxml.al._curves import curve_areas as curve_areas
from jaxml.al._curves import learning_curve as learning_curve
from jaxml.al._curves import rank_strategies as rank_strategies
from jaxml.al._data import partmc_data as partmc_data
from jaxml.al._data import sine_data as sine_data
from jaxml.al._ensemble import MemberFit as MemberFit
from jaxml.al._ensemble import TrainSettings as TrainSettings
from jaxml.al._ensemble import Uncertainty as Uncertainty
from jaxml.al._ensemble import ensemble_uncertainty as ensemble_uncertainty
from jaxml.al._ensemble import make_ensemble_trainer as make_ensemble_trainer
from jaxml.al._ensemble import make_member_trainer as make_member_trainer
from jaxml.al._ensemble import predict_ensemble as predict_ensemble
from jaxml.al._ensemble import steps_per_epoch as steps_per_epoch
from jaxml.al._loop import ActiveLearningData as ActiveLearningData
from jaxml.al._loop import default_config as default_config
from jaxml.al._loop import make_model as make_model
from jaxml.al._loop import regression_metrics as regression_metrics
from jaxml.al._loop import run_active_learning as run_active_learning
from jaxml.al._loop import train_settings as train_settings
from jaxml.al._loop import validate_config as validate_config
from jaxml.al._losses import LOSSES as LOSSES
from jaxml.al._losses import beta_nll_loss as beta_nll_loss
from jaxml.al._losses import caal_loss as caal_loss
from jaxml.al._losses import faithful_loss as faithful_loss
from jaxml.al._losses import gaussian_nll as gaussian_nll
from jaxml.al._losses import make_loss as make_loss
from jaxml.al._losses import mse as mse
from jaxml.al._losses import mse_nll_loss as mse_nll_loss
from jaxml.al._losses import natural_nll as natural_nll
from jaxml.al._losses import natural_nll_loss as natural_nll_loss
from jaxml.al._losses import nll_loss as nll_loss
from jaxml.al._models import TRUNKS as TRUNKS
from jaxml.al._models import FTTransformerTrunk as FTTransformerTrunk
from jaxml.al._models import HeteroscedasticRegressor as HeteroscedasticRegressor
from jaxml.al._models import MLPTrunk as MLPTrunk
from jaxml.al._models import Prediction as Prediction

__all__ = [
    "DIVERSITY_STRATEGIES",
    "LOSSES",
    "SCORE_STRATEGIES",
    "STRATEGIES",
    "TRUNKS",
    "ActiveLearningData",
    "FTTransformerTrunk",
    "HeteroscedasticRegressor",
    "MLPTrunk",
    "MemberFit",
    "Prediction",
    "TrainSettings",
    "Uncertainty",
    "area_under_curve",
    "bald_score",
    "beta_nll_loss",
    "caal_loss",
    "caal_score",
    "curve_areas",
    "default_config",
    "ensemble_uncertainty",
    "faithful_loss",
    "gaussian_nll",
    "group_mean",
    "kcenter_greedy",
    "kmeans_pp",
    "learning_curve",
    "make_ensemble_trainer",
    "make_loss",
    "make_member_trainer",
    "make_model",
    "minmax_normalise",
    "mse",
    "mse_nll_loss",
    "natural_nll",
    "natural_nll_loss",
    "nll_loss",
    "partmc_data",
    "point_scores",
    "predict_ensemble",
    "random_units",
    "rank_strategies",
    "regression_metrics",
    "run_active_learning",
    "sine_data",
    "steps_per_epoch",
    "top_k",
    "train_settings",
    "validate_config",
]
