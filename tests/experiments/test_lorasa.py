"""The LoRASA launcher's configs: both presets validate, the switch point is filled in, and a
bad run or LoRA field is a one-line ConfigError naming the flag (the run itself is the registry's
smoke test); every MABrax mode gets the same constant learning rate, in both of LoRASA's
phases."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.lorasa import config as lorasa_config
from experiments.lorasa import main
from jaxml.rl import mappo
from jaxml.utils.cli import build_config
from jaxml.utils.config import ConfigError
from jaxml.utils.trainer import Trainer


def test_switch_point_is_the_runs_share_of_its_budget():
    config = build_config(lorasa_config.get_config, "quick", {"total_timesteps": 40_000})
    run = main.trainer_config(config, "lorasa_switch25")
    assert run.total_timesteps == 40_000 and run.lora.phase1_timesteps == 10_000
    assert main.trainer_config(config, "lorasa").lora.phase1_timesteps == 20_000
    assert main.trainer_config(config, "nps").parameter_sharing == "independent"
    assert config.runs.nps.eval_episodes == config.eval_episodes


def test_eval_every_chunks_is_its_own_field():
    config = build_config(
        lorasa_config.get_config, "quick", {"num_chunks": 4, "eval_every_chunks": 1}
    )
    assert (config.num_chunks, config.eval_every_chunks) == (4, 1)
    assert lorasa_config.get_config("full").eval_every_chunks == 50


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


def _step_sizes(optimizer, params, num_steps):
    """The largest |Δθ| of each of ``num_steps`` optimizer steps under a constant gradient:
    Adam's bias-corrected moments are then g and g², so each step is the rate in force at that
    step, lr · |g| / (|g| + eps), on every trained leaf (0 on frozen ones)."""
    grads = jax.tree.map(jnp.ones_like, params)

    def body(state, _):
        updates, state = optimizer.update(grads, state, params)
        return state, jnp.max(jnp.stack([jnp.max(jnp.abs(u)) for u in jax.tree.leaves(updates)]))

    _, sizes = jax.lax.scan(body, optimizer.init(params), None, length=num_steps)
    return np.asarray(sizes)


def test_every_mabrax_mode_gets_the_same_constant_learning_rate_in_every_phase():
    from experiments.lorasa import mabrax, memory
    from tests.rl.test_mappo_continuous import TargetReaching

    config = build_config(lorasa_config.get_config, "quick", {"mabrax.total_timesteps": 32_000})
    env, lr = TargetReaching(), 3e-4
    for name in ("ps", "ps_id", "nps", "lorasa"):
        run = mabrax.trainer_config(config, name)
        assert run.learning_rate == lr and not run.anneal_lr, name
        if run.parameter_sharing == "lora":  # Both phases: PS, then adapters.
            phase1, phase2 = mappo.phase_configs(run)
            phases = (memory.build(phase1, env), memory.build(phase2, env))
        else:
            phases = (memory.build(run, env),)
        steps = 0
        for trainer, abstract in phases:
            params = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), abstract.params)
            n = trainer.sizes.num_updates * trainer.sizes.grad_steps_per_update
            sizes = _step_sizes(trainer.optimizer, params, n)
            # Annealing would end at lr / num_updates (and restart at lr at the switch). The
            # gradient's clipping to norm 0.5 leaves g small, so eps takes 0.2 % off lr.
            np.testing.assert_allclose(sizes, sizes[0], rtol=1e-4)
            np.testing.assert_allclose(sizes[0], lr, rtol=1e-2)
            steps += trainer.sizes.num_updates
        assert steps == 8, name  # 32 000 steps of 4 000 per update, LoRASA's 4 + 4.


def test_backbone_evaluation_is_the_evaluation_with_the_adapters_zeroed():
    class State(NamedTuple):
        params: dict

    def evaluate(state):  # Sensitive to every leaf, adapters included.
        leaves = jax.tree_util.tree_flatten_with_path(state.params)[0]
        return {"eval_return": sum((i + 1.0) * jnp.sum(x) for i, (_, x) in enumerate(leaves))}

    trainer = Trainer(init=lambda key: None, step=lambda s: (s, {}), num_steps=1, evaluate=evaluate)

    def tree(adapter):
        return {
            "Dense_0": {"kernel": jnp.ones((2, 2)), "lora_a": adapter((3, 1, 2)),
                        "lora_b": adapter((3, 2, 1))},
            "head": {"lora_w": adapter((3, 2, 2))},
        }  # fmt: skip

    params = tree(jnp.ones)
    out = main.with_backbone_evaluation(trainer).evaluate(State(params))
    assert set(out) == {"eval_return", "backbone_eval_return"}
    assert float(out["eval_return"]) == float(evaluate(State(params))["eval_return"])
    zeroed = evaluate(State(tree(jnp.zeros)))["eval_return"]
    assert float(out["backbone_eval_return"]) == float(zeroed)
    assert float(out["backbone_eval_return"]) < float(out["eval_return"])
