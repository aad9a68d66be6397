"""The CAAL launcher: the registry smoke run, both presets, the CSV flags and their errors."""

import csv
import json

import pytest

from experiments import registry
from experiments.caal import main as caal
from jaxml.data.partmc import LABELLED_CSV
from jaxml.utils.cli import build_config
from jaxml.utils.config import ConfigError
from jaxml.utils.metrics import read_metrics
from tests.helpers import run

SMOKE_OVERRIDES = registry.by_name("caal").smoke_overrides


def test_both_presets_validate():
    for preset in ("quick", "full"):
        caal.validate(build_config(caal.get_config, preset, {}))
    bad = {
        "benchmarks": ("partmc", "mnist"),
        "strategies": ("caal", "caal"),
        "sine.num_rounds": 40,
        "partmc.acquire_per_round": 0,
        "ensemble.num_members": 1,
    }
    expected = {
        "benchmarks": "--config.benchmarks: expected a non-empty tuple of partmc, sine, got "
        "('partmc', 'mnist')",
        "strategies": "--config.strategies: expected each strategy once, got ('caal', 'caal')",
        "sine.num_rounds": "--config.sine.pool_size: expected at least initial_points + "
        "acquire_per_round x num_rounds = 620, got 500",
        "partmc.acquire_per_round": "--config.partmc.acquire_per_round: expected a number > 0, "
        "got 0",
        "ensemble.num_members": "--config.ensemble.num_members: expected an integer >= 2, got 1",
    }
    for field, value in bad.items():
        with pytest.raises(ConfigError) as e:
            caal.validate(build_config(caal.get_config, "quick", {field: value}))
        assert str(e.value) == expected[field]


@pytest.mark.slow  # tests/experiments/test_registry.py::test_smoke runs the same by default.
def test_smoke_run_writes_rows_figure_and_summary(tmp_path):
    config = build_config(caal.get_config, "quick", SMOKE_OVERRIDES)
    summary = caal.train_and_evaluate(config, tmp_path, False)
    for benchmark in ("partmc", "sine"):
        rows = read_metrics(tmp_path / benchmark)
        assert len(rows) == 3 * 2  # Three strategies x rounds 0 and 1.
        for row in rows:
            if benchmark == "partmc":  # Group mode labels whole 25-hour scenarios.
                assert row["n_labelled"] == 25 * row["n_labelled_units"]
            assert row["strategy"] in ("caal", "random", "coreset")
            for key, value in row.items():
                assert key == "strategy" or isinstance(value, int | float), (key, value)
        json.dumps(rows)
        assert f"{benchmark}_auc_rmse_caal" in summary
    assert (tmp_path / caal.FIGURE).stat().st_size > 1000
    text = (tmp_path / "summary.md").read_text()
    assert "| caal |" in text and "CAAL ranks" in text


def test_tuple_overrides_from_the_command_line(tmp_path):
    launcher = ["-m", "experiments.caal.main", f"--workdir={tmp_path}"]
    # Tuple literals parse to tuples: the run gets past both tuple fields and stops (exit 2,
    # before any training) at the sine pool size, which is checked after them.
    tuples = ["--config.strategies=('caal','random')", "--config.benchmarks=('sine',)"]
    status, _, err = run([*launcher, *tuples, "--config.sine.num_rounds=99"], timeout=120)
    assert status == 2 and "error: --config.sine.pool_size: expected at least" in err, err
    # The old comma string is one (unknown) name now, and the error says so.
    status, _, err = run([*launcher, "--config.strategies=caal,random"], timeout=120)
    assert status == 2, err
    assert "--config.strategies: expected a non-empty tuple of caal" in err
    assert "got ('caal,random',)" in err


def test_csv_aliases_rewrite_to_config_fields():
    argv = ["main.py", "--labelled_csv=a.csv", "--pool_csv", "b.csv", "--preset=quick"]
    assert caal._csv_aliases(argv) == [
        "main.py",
        "--config.partmc.labelled_csv=a.csv",
        "--config.partmc.pool_csv=b.csv",
        "--preset=quick",
    ]


def _subset_csv(path, scenarios, drop_column=None):
    with open(LABELLED_CSV, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    ids = sorted({r[0] for r in body}, key=int)[scenarios]
    keep = [r for r in body if r[0] in ids]
    cols = [i for i, h in enumerate(header) if h != drop_column]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerows([[r[i] for i in cols] for r in [header, *keep]])
    return str(path)


@pytest.mark.slow
def test_custom_csvs_run(tmp_path):
    labelled = _subset_csv(tmp_path / "l.csv", slice(0, 4))
    pool = _subset_csv(tmp_path / "p.csv", slice(4, 10))
    test = _subset_csv(tmp_path / "t.csv", slice(10, 13))
    overrides = {
        **SMOKE_OVERRIDES,
        "benchmarks": ("partmc",),
        "partmc.labelled_csv": labelled,
        "partmc.pool_csv": pool,
        "partmc.test_csv": test,
        "partmc.acquire_per_round": 2,
    }
    config = build_config(caal.get_config, "quick", overrides)
    caal.train_and_evaluate(config, tmp_path / "run", False)
    rows = read_metrics(tmp_path / "run" / "partmc")
    assert [r["n_labelled"] for r in rows if r["strategy"] == "caal"] == [100, 150]


def test_launcher_names_a_missing_column(tmp_path):
    labelled = _subset_csv(tmp_path / "l.csv", slice(0, 4))
    pool = _subset_csv(tmp_path / "p.csv", slice(4, 10))
    bad = _subset_csv(tmp_path / "bad.csv", slice(10, 13), drop_column="RH")
    status, _, err = run(
        [
            "-m",
            "experiments.caal.main",
            f"--labelled_csv={labelled}",
            f"--pool_csv={pool}",
            f"--test_csv={bad}",
            f"--workdir={tmp_path / 'bad'}",
        ],
        timeout=120,
    )
    assert status == 2, err
    assert "missing column 'RH'" in err and "bad.csv" in err
