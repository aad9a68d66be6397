"""Pure-functional environments (``jumanji.Environment`` subclasses) and adapters to others.

``make(name, **config)`` builds any registered environment; ``names()`` lists them;
``sample_action(env.action_spec, key)`` draws a random action; ``animate(states, path, env.render)``
writes an episode GIF.
"""

from jaxml.envs._registry import config_keys, make, names, register
from jaxml.envs._render import animate
from jaxml.envs._specs import sample_action
from jaxml.envs.wrappers import AsMultiAgent

# The Foraging Games (Piriyajitakonkij et al., arXiv 2505.12872).
register("ForagingScoreG-v0", "jaxml.envs.foraging:ForagingScoreG")
register("ForagingTemporalG-v0", "jaxml.envs.foraging:ForagingTemporalG")

# Adapters: other libraries' environments behind the same interface.
for _gymnax_id in ("CartPole-v1", "Acrobot-v1", "Pendulum-v1"):
    register(f"gymnax/{_gymnax_id}", "jaxml.envs.adapters.gymnax:GymnaxAdapter", env_id=_gymnax_id)
register(
    "jumanji/LevelBasedForaging-v0",
    "jaxml.envs.adapters.jumanji:JumanjiAdapter",
    env_id="LevelBasedForaging-v0",
)
register(
    "brax/inverted_pendulum", "jaxml.envs.adapters.brax:BraxAdapter", env_name="inverted_pendulum"
)
register("jaxmarl/SMAX", "jaxml.envs.adapters.jaxmarl:SMAXAdapter")
register("jaxmarl/MABrax", "jaxml.envs.adapters.jaxmarl:MABraxAdapter")

# HVAC control in an urban climate (Yu et al., arXiv 2505.07045).
register("HVAC-v0", "jaxml.envs.hvac:HVAC")
register("HVACDiscrete-v0", "jaxml.envs.hvac:HVAC", discrete=True)

__all__ = ["AsMultiAgent", "animate", "config_keys", "make", "names", "register", "sample_action"]
