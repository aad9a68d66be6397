"""The examples in the README and the pages it links to run as written and do what they say."""

import math
import re

import pytest

from tests.helpers import REPO_ROOT


def _blocks(page: str) -> list[str]:
    """The ```python blocks of a Markdown page, path relative to the repo root."""
    return re.findall(r"```python\n(.*?)```", (REPO_ROOT / page).read_text(), re.S)


def test_readme_example_runs_and_resumes(tmp_path, capsys):
    code = _blocks("README.md")[0]
    code = code.replace('"/tmp/linreg"', repr(str(tmp_path)))
    exec(compile(code, "README.md", "exec"), {})
    first = capsys.readouterr().out.strip().splitlines()[-1]
    exec(compile(code, "README.md", "exec"), {})  # A rerun resumes a finished run: same row.
    second = capsys.readouterr().out.strip().splitlines()[-1]
    assert first == second
    assert first.startswith("{'step': 2000, 'loss': ")
    assert float(first.split("'loss': ")[1].rstrip("}")) < 1e-6


def test_environment_examples_run(tmp_path, capsys):
    env_blocks = [b for b in _blocks("docs/envs.md") if "from jaxml import envs" in b]
    assert len(env_blocks) == 2  # The Foraging Games and the adapters.
    for code in env_blocks:
        code = code.replace('"/tmp/episode.gif"', repr(str(tmp_path / "episode.gif")))
        exec(compile(code, "docs/envs.md", "exec"), {})
    out = capsys.readouterr().out
    assert "(20, 2)" in out
    assert (tmp_path / "episode.gif").stat().st_size > 0


@pytest.mark.slow
def test_readme_rl_example_reaches_cartpole_returns(capsys):
    (code,) = [b for b in _blocks("README.md") if "from jaxml.rl import ppo" in b]
    exec(compile(code, "README.md", "exec"), {})
    returns = [float(x) for x in re.findall(r"[\d.]+", capsys.readouterr().out.split("[")[-1])]
    assert len(returns) == 4 and min(returns) >= 450, returns


@pytest.mark.slow
def test_research_examples_run(capsys):
    (al,) = [b for b in _blocks("experiments/caal/README.md") if "from jaxml.al import" in b]
    namespace = {}
    exec(compile(al, "experiments/caal/README.md", "exec"), namespace)
    assert {row["strategy"] for row in namespace["rows"]} == {"caal", "random"}
    (scd,) = [b for b in _blocks("experiments/scd/README.md") if "from jaxml import diffusion" in b]
    exec(compile(scd, "experiments/scd/README.md", "exec"), {})
    assert float(capsys.readouterr().out.split()[-1]) < 0.01  # Mean |‖x‖ − 1| of the samples.
    (theory,) = [
        b for b in _blocks("experiments/resnet_bounds/README.md") if "from jaxml.theory import" in b
    ]
    exec(compile(theory, "experiments/resnet_bounds/README.md", "exec"), {})
    numbers = [float(x) for x in capsys.readouterr().out.split()]
    assert len(numbers) == 4 and all(map(math.isfinite, numbers))
