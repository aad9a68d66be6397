"""--mesh on 8 fake CPU devices: the batch is really split, and the run matches one device."""

import textwrap

import pytest

from jaxml.utils.config import ConfigError
from jaxml.utils.sharding import check_batch_divisible
from tests.helpers import run

HLO_PROBE = textwrap.dedent(
    """
    import jax
    from experiments.digits.config import get_config
    from experiments.digits.main import make_trainer
    from jaxml.data import load_digits_split
    from jaxml.utils import sharding

    config = get_config("quick")
    mesh = sharding.make_data_mesh(True)
    trainer = make_trainer(config, load_digits_split(), mesh)
    state = sharding.replicate(trainer.init(jax.random.PRNGKey(0)), mesh)
    hlo = jax.jit(trainer.step).lower(state).compile().as_text()
    print(mesh.size, "all-reduce" in hlo)
    """
)


def test_mesh_step_splits_the_batch_and_all_reduces_gradients():
    status, out, err = run(["-c", HLO_PROBE], devices=8)
    assert status == 0, err
    assert out.split() == ["8", "True"]


def test_batch_must_divide_over_the_mesh():
    class FakeMesh:
        size = 8

    with pytest.raises(ConfigError, match="--config.batch_size=12"):
        check_batch_divisible(12, FakeMesh(), "--config.batch_size")
    check_batch_divisible(16, FakeMesh(), "--config.batch_size")
    check_batch_divisible(12, None, "--config.batch_size")
