"""The launcher's contract: one-line errors naming the flag, and the exit statuses."""

import textwrap

import pytest

from experiments.digits.config import get_config
from jaxml.utils.cli import build_config
from jaxml.utils.config import ConfigError, flat_fields
from tests.helpers import run

DIGITS = ["-m", "experiments.digits.main"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--preset=huge"], "--preset=huge"),
        (["--num_seeds=two"], "--num_seeds=two"),
        (["--config.not_a_field=1"], "--config.not_a_field"),
        (["--config.batch_size=abc"], "--config.batch_size=abc"),
        (["--config.batch_size=0"], "--config.batch_size: expected a number > 0, got 0"),
        (
            ["--config.test_fraction=1.5"],
            "--config.test_fraction: expected a value in (0.0, 1.0), got 1.5",
        ),
        (["--num_seeds=0"], "--config.num_seeds: expected a number > 0, got 0"),
        (["--config.warmup_steps=5000"], "--config.warmup_steps: expected a value in [0, 1500)"),
    ],
)
def test_bad_flag_exits_2_with_one_line_naming_it(args, named, tmp_path):
    status, _, err = run([*DIGITS, f"--workdir={tmp_path}", *args])
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and named in lines[0]


def test_unknown_field_lists_the_valid_ones(tmp_path):
    _, _, err = run([*DIGITS, f"--workdir={tmp_path}", "--config.nope=1"])
    assert "model.width" in err and "learning_rate" in err


def test_non_finite_loss_exits_3_with_the_step(tmp_path):
    script = tmp_path / "nan_main.py"
    script.write_text(
        textwrap.dedent(
            """
            import jax.numpy as jnp
            from jaxml.utils import runner
            from jaxml.utils.cli import launch
            from jaxml.utils.config import base_config

            def get_config(preset):
                config = base_config()
                config.num_steps = 50
                return config

            def train(config, workdir, resume):
                step = lambda c: (c + 1, {"loss": jnp.where(c + 1 == 33, jnp.nan, 1.0)})
                runner.run(step, jnp.int32(0), num_steps=config.num_steps, chunk_size=10,
                           workdir=workdir, progress_bar=False, tensorboard=False)

            launch("nan", train, get_config)
            """
        )
    )
    status, _, err = run([str(script), f"--workdir={tmp_path / 'w'}"])
    assert status == 3
    assert err.strip().splitlines()[-1].startswith("error: non-finite metric 'loss' at step 33")


def test_resume_with_a_different_config_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(get_config("quick").to_json())
    status, _, err = run([*DIGITS, f"--workdir={tmp_path}", "--resume", "--config.batch_size=64"])
    assert status == 2 and "batch_size" in err


def test_build_config_applies_overrides_to_the_chosen_preset():
    config = build_config(get_config, "full", {"learning_rate": 0.5, "model.width": 32})
    assert config.learning_rate == 0.5 and config.model.width == 32
    assert config.num_steps == get_config("full").num_steps != get_config("quick").num_steps
    with pytest.raises(ConfigError, match="--preset='huge'"):
        build_config(get_config, "huge", {})


def test_presets_share_their_fields():
    # --config.* overrides are checked against the quick preset, so every preset needs its fields.
    assert flat_fields(get_config("quick")) == flat_fields(get_config("full"))


def test_a_workdir_that_cannot_be_created_exits_2_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")  # A file where a parent directory should be.
    status, _, err = run([*DIGITS, f"--workdir={blocker / 'run'}"])
    assert status == 2
    assert err.strip().splitlines() == [
        f"error: --workdir: expected a directory that can be created, got '{blocker / 'run'}' "
        "(Not a directory)"
    ]
