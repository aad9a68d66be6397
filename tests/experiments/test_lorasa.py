"""The LoRASA launcher's configs: both presets validate, the switch point is filled in, and a
bad run or LoRA field is a one-line ConfigError naming the flag (the run itself is the registry's
smoke test)."""

import pytest

from experiments.lorasa import config as lorasa_config
from experiments.lorasa import main
from jaxml.utils.cli import build_config
from jaxml.utils.config import ConfigError


def test_switch_point_is_the_runs_share_of_its_budget():
    config = build_config(lorasa_config.get_config, "quick", {"total_timesteps": 40_000})
    run = main.trainer_config(config, "lorasa_switch25")
    assert run.total_timesteps == 40_000 and run.lora.phase1_timesteps == 10_000
    assert main.trainer_config(config, "lorasa").lora.phase1_timesteps == 20_000
    assert main.trainer_config(config, "nps").parameter_sharing == "independent"
    assert config.runs.nps.eval_episodes == config.eval_episodes


def test_bad_fields_name_the_flag():
    config = build_config(lorasa_config.get_config, "quick", {"runs.lorasa.lora.rank": 0})
    with pytest.raises(ConfigError, match=r"--config\.runs\.lorasa: config\.lora\.rank"):
        main.validate(config)
    config = build_config(lorasa_config.get_config, "quick", {"run_names": ("ps", "qmix")})
    with pytest.raises(ConfigError, match="run_names"):
        main.validate(config)


def test_mabrax_runs_are_in_the_full_preset_only():
    from experiments.lorasa import mabrax

    quick, full = lorasa_config.get_config("quick"), lorasa_config.get_config("full")
    assert quick.mabrax.tasks == ()  # Compiling one MABrax task takes 40-125 s on 2 cores.
    assert full.mabrax.tasks == ("ant_4x2", "halfcheetah_6x1", "walker2d_2x3")
    assert full.mabrax.run_names == ("ps", "ps_id", "nps", "lorasa")
    assert full.mabrax.runs.lorasa.total_timesteps == 10_000_000
    assert full.mabrax.runs.nps.eval_max_steps == 1000  # Follows the episode length.
    config = build_config(lorasa_config.get_config, "quick", {"mabrax.total_timesteps": 8_000})
    run = mabrax.trainer_config(config, "lorasa")
    assert run.lora.phase1_timesteps == 4_000 and run.learning_rate == 3e-4
    assert run.normalize_observations and run.ent_coef == 0.0
    assert mabrax.trainer_config(config, "ps_id").agent_id
    assert config.mabrax.runs.ps.eval_episodes == config.eval_episodes
    mabrax.validate(full)
    bad = build_config(lorasa_config.get_config, "quick", {"mabrax.tasks": ("hopper_9x9",)})
    with pytest.raises(ConfigError, match="mabrax"):
        mabrax.validate(bad)
