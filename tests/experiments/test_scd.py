import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl import flags
from ml_collections import config_flags

from experiments.scd import main
from experiments.scd.config import get_config
from jaxml.utils.config import ConfigError


@pytest.mark.parametrize("preset", ["quick", "full"])
def test_presets_validate(preset):
    main.validate(get_config(preset))


AXES = "a non-empty tuple of semi-axes (a, b) > 0, e.g. ((1.0, 1.0), (1.2, 0.8))"
SCALES = "a non-empty tuple of source scales > 0, e.g. (1.0, 2.0)"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("tasks", ("circle", "moon"), "a non-empty tuple of circle, darcy"),
        ("tasks", (), "a non-empty tuple of circle, darcy"),
        ("methods", ("plain", "magic"), "a non-empty tuple of plain, soft, pidm, dps"),
        ("soft.gamma_mode", "wild", "one of learned, scheduled, constant"),
        ("dps_weighting", "x", "one of sigma_squared, constant"),
        ("circle.constraints", ((1.0, 1.0), (2.0,)), AXES),
        ("circle.constraints", ((1.0, -1.0),), AXES),
        ("darcy.constraints", (1.0, -1.0), SCALES),
        ("darcy.channel_mult", (1, 0), "a non-empty tuple of integers > 0"),
        ("darcy.num_eval", 501, "a value in [2, 500]"),
        ("circle.num_eval", 1, "a value in [2, inf]"),
    ],
)
def test_bad_fields_raise_in_the_one_format(field, value, expected):
    config = get_config("quick")
    section, _, name = field.rpartition(".")
    (config[section] if section else config)[name] = value
    with pytest.raises(ConfigError) as error:
        main.validate(config)
    assert str(error.value) == f"--config.{field}: expected {expected}, got {value!r}"


def test_grid_must_divide_by_the_unet_downsampling():
    config = get_config("quick")
    config.darcy.channel_mult = (1, 2, 2, 2, 2, 2)
    with pytest.raises(ConfigError) as error:
        main.validate(config)
    expected = "--config.darcy.grid: expected a multiple of 2^(len(darcy.channel_mult) - 1) = 32"
    assert str(error.value) == f"{expected}, got 16"


def test_gamma_init_must_lie_below_gamma_max_when_learned():
    config = get_config("quick")
    config.soft.gamma_init = 2.0
    with pytest.raises(ConfigError, match=r"--config.soft.gamma_init: expected a value in \(0"):
        main.validate(config)
    config.soft.gamma_mode = "constant"
    main.validate(config)


def test_tuple_overrides_parse_from_the_command_line(monkeypatch):
    # The syntax the config docstring gives; one bare name is a 1-tuple.
    argv = [
        "main",
        "--config.methods=('plain','soft')",
        "--config.tasks=circle",
        "--config.circle.constraints=((1.0,1.0),(1.5,0.5))",
        "--config.darcy.channel_mult=(1,2,2)",
    ]
    monkeypatch.setattr(sys, "argv", argv)  # config_flags defines the overrides it finds there.
    values = flags.FlagValues()
    config_flags.DEFINE_config_dict("config", get_config("quick"), flag_values=values)
    values(argv)
    config = values.config
    assert config.methods == ("plain", "soft")
    assert config.tasks == ("circle",)
    assert config.circle.constraints == ((1.0, 1.0), (1.5, 0.5))
    assert config.darcy.channel_mult == (1, 2, 2)
    main.validate(config)


def test_circle_constraints_are_ellipses_named_as_before():
    config = get_config("quick")
    task = main.circle_task(config, jax.random.PRNGKey(0))
    assert list(task.constraints) == ["radius_1.0", "radius_1.2", "ellipse_1.2_0.8"]
    np.testing.assert_array_equal(task.constraints["ellipse_1.2_0.8"], np.float32([1.2, 0.8]))
    residual = main.circle_family(jnp.asarray([2.0, 2.0]))
    np.testing.assert_allclose(residual(jnp.asarray([3.0, 4.0])), [5.0 / 2.0 - 1.0], rtol=1e-6)


def test_darcy_task_solves_its_first_constraint():
    config = get_config("quick")
    config.darcy.grid, config.darcy.num_modes = 8, 8
    config.darcy.num_train, config.darcy.num_eval = 16, 4
    task = main.darcy_task(config, jax.random.PRNGKey(0))
    assert list(task.constraints) == ["source_1.0", "source_2.0"]
    assert task.x_train.shape == (16, 8, 8, 2) and task.x_test.shape == (4, 8, 8, 2)
    # Data solve the PDE: the residual of the correct source vanishes (up to the float32 solve);
    # the doubled source does not.
    x = task.x_train[0]
    correct = task.family(jnp.asarray(task.constraints["source_1.0"]))
    wrong = task.family(jnp.asarray(task.constraints["source_2.0"]))
    assert float(jnp.max(jnp.abs(correct(x)))) < 1e-5
    assert float(jnp.max(jnp.abs(wrong(x)))) > 1e-3
    assert float(jnp.max(jnp.abs(task.true_residual_physical(x)))) < 1e-3
