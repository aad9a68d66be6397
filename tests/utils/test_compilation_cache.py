"""The persistent compilation cache writes compiled programs where it is told, or nowhere."""

import jax
import jax.numpy as jnp

from jaxml.utils import compilation_cache


def test_enable_writes_compiled_programs_to_the_directory(tmp_path):
    before = jax.config.jax_compilation_cache_dir
    try:
        assert compilation_cache.enable(tmp_path / "xla") == tmp_path / "xla"
        jax.jit(lambda x: jnp.sin(x) * 3.25 + 0.125).lower(jnp.ones(7)).compile()
        assert any((tmp_path / "xla").iterdir())
    finally:
        jax.config.update("jax_compilation_cache_dir", before)


def test_environment_variable_chooses_or_disables_the_directory(monkeypatch, tmp_path):
    monkeypatch.setenv(compilation_cache.ENV_VAR, "off")
    assert compilation_cache.default_directory() is None
    monkeypatch.setenv(compilation_cache.ENV_VAR, str(tmp_path))
    assert compilation_cache.default_directory() == tmp_path
    monkeypatch.delenv(compilation_cache.ENV_VAR)
    assert compilation_cache.default_directory().name == "xla"
