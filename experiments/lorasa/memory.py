"""Peak memory of one compiled IPPO update per parameter mode (PS, PS+id, NPS, LoRASA), on SMAX.

"Low-Rank Agent-Specific Adaptation (LoRASA) for Multi-Agent Policy Learning" (Zhang, Kapoor,
Sun, arXiv 2502.05573) claims that LoRASA's memory stays close to PS's. Here each mode's update
(``trainer.step``: a rollout of ``num_envs x num_steps`` plus the minibatch epochs, as in
``step_time.py``; LoRASA in phase 2, the backbone frozen) is lowered and compiled, never run,
and XLA's own accounting of the compiled program is read (``Compiled.memory_analysis()``):

- ``peak``: ``argument + output + temp - alias``, the bytes one execution of the update holds:
  its arguments (the train state), its outputs (the new state and the metrics) and XLA's temp
  arena, in which buffer assignment has already packed every intermediate buffer with reuse
  (so ``temp`` is the intermediates' peak, not their sum): the figure the claim is about;
- ``argument`` / ``output`` / ``temp`` / ``alias``: those buffer classes;
- ``xla_peak``: the compiled program's ``peak_memory_in_bytes``, kept for reference: on the CPU
  backend of jax 0.10.2 it is ``argument + output`` (plus a few bytes) and leaves the temp arena
  out (a 17 MB arena on SMAX 3m adds nothing to it), so it is not used;
- ``params`` / ``opt_state``: the bytes of the parameters and of the optimizer state in the
  train state (LoRASA's frozen backbone holds no Adam moments: ``optax.set_to_zero``).

The state is not donated (``run_trainer`` does not donate on CPU), so ``alias`` is 0. The figures
are the backend's (CPU here; an accelerator's buffer assignment differs).

  python -m experiments.lorasa.memory --scenario=3m [--recurrent=lstm]

Prints a row per mode and writes ``results/benchmarks/lorasa_memory.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
from absl import app, flags

from experiments.lorasa.config import RUNS, run_config
from jaxml import envs
from jaxml.models.agent_actor_critic import count_params
from jaxml.rl import mappo
from jaxml.rl.on_policy import OnPolicyTrainer

MODES = ("ps", "ps_id", "nps", "lorasa")
FIELDS = ("params", "opt_state", "argument", "output", "temp", "alias", "peak", "xla_peak")


def tree_bytes(tree: Any) -> int:
    """Bytes of every array (or ``ShapeDtypeStruct``) leaf of ``tree``."""
    return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree)))


def build(config, env) -> tuple[OnPolicyTrainer, Any]:
    """``(trainer, abstract initial state)`` for one mode's trainer ``config``; a LoRA config is
    phase 2, its backbone an (abstract) phase-1 PS network's."""
    key = jax.random.PRNGKey(0)
    if config.parameter_sharing != "lora":
        trainer = mappo.make_trainer(config, env)
        return trainer, jax.eval_shape(trainer.init, key)
    shared = config.copy_and_resolve_references()
    shared.parameter_sharing = "shared"
    first = mappo.make_trainer(shared, env)
    trainer = mappo.make_trainer(config, env, init_params=jax.eval_shape(first.init, key))

    def init(key):  # Phase 2's start from phase 1's state, as make_two_phase_trainer does.
        return mappo.init_state(key, env=trainer.env, policy=trainer.model,
                                optimizer=trainer.optimizer, config=config,
                                init_params=first.init(key))  # fmt: skip

    return trainer, jax.eval_shape(init, key)


def state_bytes(state: Any) -> dict[str, int]:
    """Parameter count and bytes of the parameters and the optimizer state (no compile)."""
    return {
        "num_params": count_params(state.params),
        "params": tree_bytes(state.params),
        "opt_state": tree_bytes(state.opt_state),
    }


def measure(trainer: OnPolicyTrainer, state: Any) -> dict[str, int]:
    """Bytes of one compiled ``trainer.step(state)`` (see the module docstring)."""
    stats = jax.jit(trainer.step).lower(state).compile().memory_analysis()
    buffers = {
        "argument": int(stats.argument_size_in_bytes),
        "output": int(stats.output_size_in_bytes),
        "temp": int(stats.temp_size_in_bytes),
        "alias": int(stats.alias_size_in_bytes),
    }
    peak = buffers["argument"] + buffers["output"] + buffers["temp"] - buffers["alias"]
    return {
        **state_bytes(state),
        **buffers,
        "peak": peak,
        "xla_peak": int(stats.peak_memory_in_bytes),
    }


def mode_config(name: str, recurrent: str = "none", total_timesteps: int = 10 * 64 * 64):
    """The experiment's trainer config of mode ``name`` (64 envs x 64 steps, 4 x 4 minibatches),
    with a ``recurrent`` actor and critic (``mappo``'s ``"none"``, ``"gru"``, ``"lstm"``)."""
    config = run_config(RUNS[name], total_timesteps)
    config.recurrent = recurrent
    return config


def define_flags() -> None:
    """The launcher's flags; defined on launch, not at import, because the tests import this
    module in one process with benchmarks that define their own ``--out``."""
    flags.DEFINE_string("scenario", "3m", "SMAX scenario.")
    flags.DEFINE_enum("recurrent", "none", mappo.RECURRENT, "Recurrent cell.")
    flags.DEFINE_string("out", "results/benchmarks/lorasa_memory.json", "JSON output.")


def main(_):
    args = flags.FLAGS
    env = envs.make("jaxmarl/SMAX", scenario=args.scenario)
    rows = []
    print(f"{'mode':8s} {'#params':>8s} " + " ".join(f"{f:>11s}" for f in FIELDS) + "  (bytes)")
    for name in MODES:
        row = {"mode": name, **measure(*build(mode_config(name, args.recurrent), env))}
        rows.append(row)
        print(f"{name:8s} {row['num_params']:>8,d} " + " ".join(f"{row[f]:>11,d}" for f in FIELDS))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    info = {"recurrent": args.recurrent, "backend": jax.default_backend(), "jax": jax.__version__}
    out.write_text(json.dumps({"scenario": args.scenario, **info, "rows": rows}, indent=1))


if __name__ == "__main__":
    define_flags()
    app.run(main)
