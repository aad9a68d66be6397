import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.scd import main
from experiments.scd.config import get_config
from jaxml.utils.config import ConfigError


@pytest.mark.parametrize("preset", ["quick", "full"])
def test_presets_validate(preset):
    main.validate(get_config(preset))


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("tasks", "circle,moon", "config.tasks"),
        ("methods", "plain,magic", "config.methods"),
        ("soft.gamma_mode", "wild", "soft.gamma_mode"),
        ("dps_weighting", "x", "dps_weighting"),
        ("circle.constraints", "radius_1.0,square_2", "circle.constraints"),
        ("darcy.constraints", "source_-1", "darcy.constraints"),
        ("darcy.channel_mult", "1,2,2,2,2,2", "darcy.grid"),
    ],
)
def test_bad_fields_raise_naming_the_field(field, value, match):
    config = get_config("quick")
    section, _, name = field.rpartition(".")
    (config[section] if section else config)[name] = value
    with pytest.raises(ConfigError, match=match):
        main.validate(config)


def test_gamma_init_must_lie_below_gamma_max_when_learned():
    config = get_config("quick")
    config.soft.gamma_init = 2.0
    with pytest.raises(ConfigError, match="gamma_init"):
        main.validate(config)
    config.soft.gamma_mode = "constant"
    main.validate(config)


def test_circle_specs_are_ellipses():
    np.testing.assert_allclose(main.parse_circle_spec("radius_1.2"), [1.2, 1.2])
    np.testing.assert_allclose(main.parse_circle_spec("ellipse_1.2_0.8"), [1.2, 0.8])
    residual = main.circle_family(jnp.asarray([2.0, 2.0]))
    np.testing.assert_allclose(residual(jnp.asarray([3.0, 4.0])), [5.0 / 2.0 - 1.0], rtol=1e-6)


def test_darcy_family_holds_log_k_fixed_and_scales_the_pressure_jacobian():
    config = get_config("quick")
    config.darcy.grid, config.darcy.num_modes = 8, 8
    config.darcy.num_train, config.darcy.num_eval = 16, 4
    task = main.darcy_task(config, jax.random.PRNGKey(0))
    residual = task.family(jnp.asarray([1.0]))
    x = task.x_train[0]
    # Data solve the PDE: the residual of the correct source vanishes (up to the float32 solve).
    assert float(jnp.max(jnp.abs(residual(x)))) < 1e-5
    grad = jax.grad(lambda y: 0.5 * jnp.sum(residual(y) ** 2))(x + 0.1)
    assert float(jnp.max(jnp.abs(grad[..., 0]))) == 0.0
    assert float(jnp.max(jnp.abs(grad[..., 1]))) > 0.0
    # Gershgorin scaling: the pressure Jacobian has spectral norm <= 1.
    jac = jax.jacfwd(lambda p: residual(jnp.stack([x[..., 0], p], -1)).ravel())(x[..., 1])
    assert float(np.linalg.norm(np.asarray(jac).reshape(64, 64), 2)) <= 1.0 + 1e-5
