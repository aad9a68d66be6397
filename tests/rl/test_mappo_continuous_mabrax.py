"""IPPO with per-agent tanh-Gaussian heads on jaxmarl's MABrax ``halfcheetah_6x1`` (LoRASA's
continuous tasks, arXiv 2502.05573): a two-update smoke run through the LoRASA launcher's
trainer in PS+id and in LoRASA, evaluated with the squashed mean. Slow: compiling brax's step
takes about a minute on 2 CPU cores."""

import jax
import numpy as np
import pytest

from experiments.lorasa import config as lorasa_config
from experiments.lorasa import mabrax
from jaxml.rl import on_policy
from jaxml.utils.cli import build_config


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ps_id", "lorasa"])
def test_ippo_trains_and_evaluates_on_halfcheetah_6x1(name):
    overrides = {"mabrax.episode_length": 16, "eval_episodes": 2}
    for run in ("ps_id", "lorasa"):
        overrides.update({f"mabrax.runs.{run}.num_envs": 2, f"mabrax.runs.{run}.num_steps": 8})
    overrides["mabrax.total_timesteps"] = 2 * 8 * 2 * (2 if name == "lorasa" else 1)
    config = build_config(lorasa_config.get_config, "quick", overrides)
    trainer, _ = mabrax.make_trainer(config, "halfcheetah_6x1", name)
    assert trainer.model.continuous and trainer.model.layout.num_agents == 6
    out = jax.jit(on_policy.make_train(trainer))(jax.random.PRNGKey(0))
    assert np.all(np.isfinite(np.asarray(out.metrics["loss"])))
    actions = np.asarray(
        jax.jit(lambda s: trainer.model.distribution(
            trainer.model.apply(s.params, s.rollout.obs, None, 1)[1], 2
        ).sample(seed=s.key))(out.state)
    )  # fmt: skip
    assert actions.shape == (2, 6, 1) and np.all(np.abs(actions) <= 1.0)
    metrics = jax.jit(trainer.evaluate)(out.state)
    assert np.isfinite(float(metrics["eval_return"])) and float(metrics["eval_length"]) == 16
