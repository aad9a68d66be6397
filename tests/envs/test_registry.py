"""The registry: ``make`` errors list the valid names and config keys."""

import pytest

from jaxml import envs
from jaxml.envs.foraging import ForagingScoreG, ForagingTemporalG


def test_names_include_the_foraging_games():
    assert {"ForagingScoreG-v0", "ForagingTemporalG-v0"} <= set(envs.names())
    assert list(envs.names()) == sorted(envs.names())


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(ValueError, match="^name: unknown environment 'Foraging-v9'") as info:
        envs.make("Foraging-v9")
    for name in envs.names():
        assert name in str(info.value)


def test_unknown_config_key_lists_the_accepted_ones():
    with pytest.raises(ValueError, match=r"^config: unknown keys \['grid'\]") as info:
        envs.make("ForagingScoreG-v0", grid=7)
    for key in envs.config_keys("ForagingScoreG-v0"):
        assert key in str(info.value)
    assert "freeze_steps" in envs.config_keys("ForagingTemporalG-v0")
    assert "score_split" in envs.config_keys("ForagingScoreG-v0")


def test_bad_config_value_is_a_value_error_naming_the_field():
    with pytest.raises(ValueError, match="^vocab_size: got 1; accepted"):
        envs.make("ForagingTemporalG-v0", vocab_size=1)


def test_make_passes_the_config():
    assert isinstance(envs.make("ForagingScoreG-v0", grid_size=7), ForagingScoreG)
    assert envs.make("ForagingTemporalG-v0", horizon=30, freeze_steps=4).horizon == 30
    assert isinstance(envs.make("ForagingTemporalG-v0"), ForagingTemporalG)


def test_register_rejects_duplicates_and_bad_entry_points():
    with pytest.raises(ValueError, match="already registered"):
        envs.register("ForagingScoreG-v0", "jaxml.envs.foraging:ForagingScoreG")
    with pytest.raises(ValueError, match="entry_point"):
        envs.register("New-v0", "jaxml.envs.foraging.ForagingScoreG")
