"""Environment wrappers that change an environment's interface (jumanji's own wrappers handle
auto-reset and vmap; ``FirstStateAutoReset`` is brax's training auto-reset rule).

``AsMultiAgent`` gives a single-agent environment jaxml's multi-agent API (an agent axis of 1), so
the multi-agent trainers (``jaxml.rl.mappo``) train it as PPO, recurrent policies included.
"""

from __future__ import annotations

import jax.numpy as jnp
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import TimeStep


class AsMultiAgent(Environment):
    """A single-agent environment with an agent axis of 1, so ``mappo`` trains it as PPO.

    Observations (one array), rewards and discounts gain a leading axis of 1; a
    ``DiscreteArray(n)`` action becomes ``MultiDiscreteArray([n])`` and the environment receives
    ``action[0]``. With ``config.recurrent = "gru" | "lstm"`` this is recurrent PPO (the agent
    id is a constant input then; IPPO and MAPPO coincide up to the critic's input).
    """

    def __init__(self, env: Environment):
        if not isinstance(env.action_spec, specs.DiscreteArray):
            raise ValueError(f"env: action_spec {env.action_spec!r}; accepted: DiscreteArray")
        if not isinstance(env.observation_spec, specs.Array):
            raise ValueError("env: accepted only a single-array observation_spec")
        self.env = env
        super().__init__()

    def __repr__(self) -> str:
        return f"AsMultiAgent({self.env!r})"

    def _lift(self, timestep: TimeStep) -> TimeStep:
        return timestep.replace(
            observation=timestep.observation[None],
            reward=jnp.reshape(timestep.reward, (1,)),
            discount=jnp.reshape(timestep.discount, (1,)),
        )

    def reset(self, key):
        state, timestep = self.env.reset(key)
        return state, self._lift(timestep)

    def step(self, state, action):
        state, timestep = self.env.step(state, action[0].astype(self.env.action_spec.dtype))
        return state, self._lift(timestep)

    @property
    def observation_spec(self) -> specs.Spec:
        spec = self.env.observation_spec
        return specs.Array((1, *spec.shape), spec.dtype, spec.name)

    @property
    def action_spec(self) -> specs.Spec:
        n = self.env.action_spec.num_values
        return specs.MultiDiscreteArray(jnp.asarray([n], jnp.int32), jnp.int32, "action")

    @property
    def reward_spec(self) -> specs.Spec:
        return specs.Array((1,), jnp.float32, "reward")

    @property
    def discount_spec(self) -> specs.Spec:
        return specs.BoundedArray((1,), jnp.float32, 0.0, 1.0, "discount")


__all__ = ["AsMultiAgent"]

# TAR²'s sparse-reward tasks: the episode's summed reward released at its last step.
from jaxml.envs._sparse import SparseReward, SparseRewardState  # noqa: E402

__all__ += ["SparseReward", "SparseRewardState"]

from jaxml.envs._first_state import FirstState, FirstStateAutoReset  # noqa: E402

__all__ += ["FirstState", "FirstStateAutoReset"]
