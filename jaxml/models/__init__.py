"""Flax modules shared by every part of jaxml."""

from jaxml.models.actor_critic import ActorCritic as ActorCritic
from jaxml.models.actor_critic import flatten_observation as flatten_observation
from jaxml.models.actor_critic import make_actor_critic as make_actor_critic
from jaxml.models.mlp import MLP as MLP
from jaxml.models.mlp import ResidualBlock as ResidualBlock
from jaxml.models.mlp import ResidualMLP as ResidualMLP
from jaxml.models.transformer import CharTransformer as CharTransformer

__all__ = [
    "MLP",
    "ActorCritic",
    "CharTransformer",
    "ResidualBlock",
    "ResidualMLP",
    "flatten_observation",
    "make_actor_critic",
]

# Multi-agent (shared-parameter, optionally recurrent) actor-critics.
from jaxml.models.agent_actor_critic import AgentActorCritic as AgentActorCritic  # noqa: E402
from jaxml.models.agent_actor_critic import (  # noqa: E402
    make_agent_actor_critic as make_agent_actor_critic,
)

__all__ += ["AgentActorCritic", "make_agent_actor_critic"]

# Diffusion denoiser backbone and the residual networks of the generalization-bound study.
from jaxml.models.resnet import NeuralODE as NeuralODE  # noqa: E402
from jaxml.models.resnet import ResidualWeights as ResidualWeights  # noqa: E402
from jaxml.models.resnet import ResNet as ResNet  # noqa: E402
from jaxml.models.resnet import dead_zone as dead_zone  # noqa: E402
from jaxml.models.resnet import ode_weights as ode_weights  # noqa: E402
from jaxml.models.resnet import resnet_weights as resnet_weights  # noqa: E402
from jaxml.models.unet import UNet as UNet  # noqa: E402

__all__ += [
    "NeuralODE",
    "ResNet",
    "ResidualWeights",
    "UNet",
    "dead_zone",
    "ode_weights",
    "resnet_weights",
]

# TAR²'s return model: causal time attention and agent attention over (step, agent) tokens.
from jaxml.models.tar2 import TAR2RewardModel as TAR2RewardModel  # noqa: E402

__all__ += ["TAR2RewardModel"]

# Per-agent parameters: agent-stacked networks and low-rank adapters (LoRASA, 2502.05573).
from jaxml.models import lora as lora  # noqa: E402
from jaxml.models import stacked as stacked  # noqa: E402
from jaxml.models.lora import LoRADense as LoRADense  # noqa: E402
from jaxml.models.lora import LoRAGRUCell as LoRAGRUCell  # noqa: E402
from jaxml.models.lora import LoRALSTMCell as LoRALSTMCell  # noqa: E402

__all__ += ["LoRADense", "LoRAGRUCell", "LoRALSTMCell", "lora", "stacked"]

# STAS, TAR²'s coalition-averaged baseline return model.
from jaxml.models.tar2 import STASRewardModel as STASRewardModel  # noqa: E402

__all__ += ["STASRewardModel"]

# The Foraging Games agent (arXiv 2505.12872): grid/position/message encoders, LSTM, three heads.
from jaxml.models import foraging_agent as foraging_agent  # noqa: E402

__all__ += ["foraging_agent"]
