"""The training-loop core: chunked runner, metrics, checkpoints, sharding, configs, launcher."""

from jaxml._distributed import is_primary as is_primary
from jaxml.utils.checkpoint import Checkpointer as Checkpointer
from jaxml.utils.config import ConfigError as ConfigError
from jaxml.utils.config import base_config as base_config
from jaxml.utils.metrics import MetricsWriter as MetricsWriter
from jaxml.utils.metrics import read_metrics as read_metrics
from jaxml.utils.runner import NonFiniteError as NonFiniteError
from jaxml.utils.runner import RunResult as RunResult
from jaxml.utils.runner import run as run
from jaxml.utils.runner import seed_keys as seed_keys
from jaxml.utils.runner import vmap_seeds as vmap_seeds
from jaxml.utils.sharding import make_data_mesh as make_data_mesh
from jaxml.utils.sharding import replicate as replicate
from jaxml.utils.sharding import shard_batch as shard_batch

__all__ = [
    "Checkpointer",
    "ConfigError",
    "MetricsWriter",
    "NonFiniteError",
    "RunResult",
    "base_config",
    "is_primary",
    "make_data_mesh",
    "read_metrics",
    "replicate",
    "run",
    "seed_keys",
    "shard_batch",
    "vmap_seeds",
]
