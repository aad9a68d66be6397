"""The persistent compilation cache writes compiled programs where it is told, or nowhere."""

import textwrap

from jaxml.utils import compilation_cache
from tests.helpers import run

# In a fresh process: JAX reads the cache directory once, at its first compilation.
COMPILE = textwrap.dedent(
    """
    import sys
    import jax, jax.numpy as jnp
    from jaxml.utils import compilation_cache
    print(compilation_cache.enable(sys.argv[1]))
    jax.jit(lambda x: jnp.sin(x) * 3.25 + 0.125).lower(jnp.ones(7)).compile()
    """
)


def test_enable_writes_compiled_programs_to_the_directory(tmp_path):
    status, out, err = run(["-c", COMPILE, str(tmp_path / "xla")])
    assert status == 0, err
    assert out.strip() == str(tmp_path / "xla")
    assert any((tmp_path / "xla").iterdir())


def test_environment_variable_chooses_or_disables_the_directory(monkeypatch, tmp_path):
    monkeypatch.setenv(compilation_cache.ENV_VAR, "off")
    assert compilation_cache.default_directory() is None
    assert compilation_cache.enable() is None
    monkeypatch.setenv(compilation_cache.ENV_VAR, str(tmp_path))
    assert compilation_cache.default_directory() == tmp_path
    monkeypatch.delenv(compilation_cache.ENV_VAR)
    assert compilation_cache.default_directory().name == "xla"
