"""Other libraries' environments (gymnax, brax, jumanji, jaxmarl) as ``jumanji.Environment``s.

Each adapter keeps jaxml's environment contract: pure ``reset(key)`` and ``step(state, action)``
returning jumanji ``TimeStep``s, a ``State`` pytree that carries its own key, termination
(LAST, discount 0) apart from truncation (LAST, discount 1), specs converted from the wrapped
library's spaces, no auto-reset inside (use ``jumanji.wrappers.AutoResetWrapper``), and for
multi-agent environments the agent axis first (``[A, ...]``). Each module's docstring says
what maps to what.

The names load lazily, so importing this package imports none of the wrapped libraries.
"""

import importlib

_SOURCES = {
    "GymnaxAdapter": "jaxml.envs.adapters.gymnax",
    "BraxAdapter": "jaxml.envs.adapters.brax",
    "JumanjiAdapter": "jaxml.envs.adapters.jumanji",
    "SMAXAdapter": "jaxml.envs.adapters.jaxmarl",
    "MABraxAdapter": "jaxml.envs.adapters.jaxmarl",
    "SMAXObservation": "jaxml.envs.adapters.jaxmarl",
    "MABraxObservation": "jaxml.envs.adapters.jaxmarl",
}


def __getattr__(name: str):
    if name in _SOURCES:
        return getattr(importlib.import_module(_SOURCES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BraxAdapter",
    "GymnaxAdapter",
    "JumanjiAdapter",
    "MABraxAdapter",
    "MABraxObservation",
    "SMAXAdapter",
    "SMAXObservation",
]
