"""The RL launchers as a user runs them: --mesh splits the environments without changing the
numbers, a killed run resumes to the uninterrupted result, and seeds run one by one or vmapped
give the same curves."""

import numpy as np
import pytest

from experiments.marl.config import get_config as marl_config
from experiments.marl.main import validate as validate_marl
from jaxml.utils.config import ConfigError
from jaxml.utils.metrics import read_metrics
from tests.helpers import run

NPG = [
    "-m",
    "experiments.npg.main",
    "--preset=quick",
    "--config.progress_bar=false",
    "--config.envs=CartPole-v1",
    "--config.algos=ppo",
    "--config.num_seeds=2",
    "--config.total_timesteps=4096",  # 4 updates of 8 envs x 128 steps.
    "--config.num_chunks=2",
    "--config.trainers.ppo.num_envs=8",
]


@pytest.mark.parametrize("normalize", [False, True])
def test_mesh_over_8_devices_gives_the_single_device_curves(tmp_path, normalize):
    """With normalisation the moments are replicated and the discounted returns split."""
    args = NPG
    if normalize:
        args = [
            *NPG,
            "--config.trainers.ppo.normalize_observations=true",
            "--config.trainers.ppo.normalize_rewards=true",
        ]
    rows = {}
    for name, extra in (("one", []), ("mesh", ["--mesh"])):
        status, _, err = run([*args, *extra, f"--workdir={tmp_path / name}"], devices=8)
        assert status == 0, err
        rows[name] = read_metrics(tmp_path / name / "runs" / "CartPole-v1" / "ppo")
    assert [r["step"] for r in rows["one"]] == [2, 4]
    for key in ("episode_return_per_seed", "loss_per_seed", "approx_kl_per_seed"):
        np.testing.assert_allclose(
            [r[key] for r in rows["mesh"]], [r[key] for r in rows["one"]], rtol=1e-4, atol=1e-5
        )
    # The final policy is evaluated once, after the last chunk, and the summary reports it.
    assert "eval_return" not in rows["one"][0]
    final = rows["one"][-1]["eval_return_per_seed"]
    np.testing.assert_allclose(rows["mesh"][-1]["eval_return_per_seed"], final, rtol=1e-4)
    summary = (tmp_path / "one" / "summary.md").read_text()
    assert f"{np.mean(final):.1f} ± {np.std(final):.1f}" in summary


def test_mesh_refuses_env_counts_the_devices_do_not_divide(tmp_path):
    args = [*NPG, "--config.trainers.ppo.num_envs=4"]
    status, _, err = run([*args, "--mesh", f"--workdir={tmp_path}"], devices=8)
    assert status != 0
    assert "num_envs: expected a multiple of the 8 mesh devices, got 4" in err


def test_nested_trainer_fields_override_from_the_command_line(tmp_path):
    """``--config.runs.<run>.<field>`` reaches the trainer; an unknown field exits 2 naming it."""
    base = ["-m", "experiments.marl.main", f"--workdir={tmp_path}", "--config.progress_bar=false"]
    status, _, err = run([*base, "--config.runs.smax_3m_mappo.nope=1"])
    assert status == 2 and "--config.runs.smax_3m_mappo.nope: unknown field" in err
    config = marl_config("quick")
    config.runs.smax_3m_mappo.num_minibatches = 7
    with pytest.raises(ConfigError, match="--config.runs.smax_3m_mappo: config.num_minibatches"):
        validate_marl(config)


@pytest.mark.parametrize("name", ["marl", "npg"])
def test_eval_every_chunks_is_its_own_field_and_zero_means_the_end(name):
    import importlib

    from experiments import rl_common

    get_config = importlib.import_module(f"experiments.{name}.config").get_config
    config = get_config("quick")
    chunks = config.num_chunks
    assert rl_common.eval_every_chunks(config) == chunks  # Default: after the last chunk only.
    config.eval_every_chunks = 1
    assert config.num_chunks == chunks  # Not a reference to num_chunks.
    assert rl_common.eval_every_chunks(config) == 1
    config.eval_every_chunks = -1
    with pytest.raises(ValueError, match="config.eval_every_chunks"):
        rl_common.eval_every_chunks(config)
