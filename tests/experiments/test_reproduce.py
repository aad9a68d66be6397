"""REPORT.md opens with every experiment's claims, built here from fake workdirs."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from experiments import reproduce
from experiments.registry import Experiment
from jaxml.utils.claims import Claim, write_claims


def fake_run(report_dir: Path, name: str, claims=None, claims_text=None, status=0):
    """A workdir as a launcher leaves it: summary.md, a figure, maybe claims.json."""
    workdir = report_dir / name
    workdir.mkdir(parents=True)
    (workdir / "summary.md").write_text(f"{name} summary\n\n![curves](curves.png)\n")
    (workdir / "curves.png").write_bytes(b"png")
    if claims is not None:
        write_claims(workdir, claims)
    if claims_text is not None:
        (workdir / "claims.json").write_text(claims_text)
    experiment = Experiment(name, f"experiments.{name}.main", f"paper of {name}", {})
    return reproduce.Outcome(experiment, workdir, status, 12.0)


@pytest.fixture
def outcomes(tmp_path):
    return [
        fake_run(tmp_path, "digits", [Claim("accuracy >= 0.95", True, "0.9712")]),
        fake_run(
            tmp_path,
            "scd",
            [
                Claim("SCD's mean |residual| is below plain's", True, "SCD 0.01; plain 0.02"),
                Claim("SCD's W1 is below DPS's", False, "SCD 0.2 ranks 2 of 2"),
            ],  # fmt: skip
        ),
        # A failed run's claims.json is not read: its numbers are not a result.
        fake_run(tmp_path, "marl", [Claim("learns", True, "0 -> 1")], status=1),
        fake_run(tmp_path, "grng"),
        fake_run(tmp_path, "npg", claims_text='[{"statement": "x"'),
        fake_run(tmp_path, "caal", []),
    ]


def test_report_opens_with_the_claims_table(tmp_path, outcomes):
    report = reproduce.write_report(tmp_path, "quick", outcomes, 123.4).read_text()
    lines = report.splitlines()
    assert lines[:14] == [
        "# jaxml report: preset `quick`",
        "",
        "Of 3 claim(s) checked, 2 held and 1 did not. Failed: marl. No claim checked: grng, "
        "npg, caal.",
        "",
        "| experiment | claim | held? | evidence |",
        "| --- | --- | --- | --- |",
        "| digits | accuracy >= 0.95 | yes | 0.9712 |",
        r"| scd | SCD's mean \|residual\| is below plain's | yes | SCD 0.01; plain 0.02 |",
        "| scd | SCD's W1 is below DPS's | **no** | SCD 0.2 ranks 2 of 2 |",
        "| marl | — | FAILED | exit status 1: see `marl/run.log` |",
        "| grng | — | — | no claims.json: this launcher states no claims |",
        lines[11],
        "| caal | — | — | claims.json lists no claim: none could be checked in this run |",
        "",
    ]
    assert lines[11].startswith("| npg | — | — | unreadable claims.json: ")
    assert "not JSON" in lines[11]
    assert lines[14].startswith("6 experiment(s), 123 s in all, on ")
    # Then the sections, as before: the summary with its figure rebased, or FAILED.
    assert "## digits\n\n*paper of digits*\n\nExit status 0, 12 s.\n\ndigits summary" in report
    assert "![curves](digits/curves.png)" in report
    assert "## marl\n\n*paper of marl*\n\nExit status 1, 12 s.\n\nFAILED: see `marl/run.log`." in (
        report
    )
    assert report.index("| digits |") < report.index("## digits")


def test_every_claim_holding_and_every_run_passing(tmp_path):
    outcomes = [fake_run(tmp_path, "digits", [Claim("accuracy >= 0.95", True, "0.97")])]
    report = reproduce.write_report(tmp_path, "full", outcomes, 1.0).read_text()
    assert report.splitlines()[2] == "Of 1 claim(s) checked, 1 held and 0 did not."


def test_main_runs_each_experiment_and_writes_the_report(tmp_path, monkeypatch):
    def launch(module, preset, workdir, log_path):  # Stands in for the launcher's process.
        workdir.mkdir(parents=True)
        (workdir / "summary.md").write_text("numbers\n")
        write_claims(workdir, [Claim(f"{module} works", module.endswith("a.main"), "measured")])
        log_path.write_text("log\n")
        return 0, 1.0

    experiments = [Experiment(n, f"experiments.{n}.main", n, {}) for n in ("a", "b")]
    monkeypatch.setattr(reproduce, "run_experiment", launch)
    monkeypatch.setattr(reproduce, "EXPERIMENTS", tuple(experiments))
    for holder, value in (("_PRESET", "quick"), ("_ONLY", []), ("_RESULTS", str(tmp_path))):
        monkeypatch.setattr(reproduce, holder, SimpleNamespace(value=value))
    reproduce.main([])
    report = (tmp_path / "quick" / "REPORT.md").read_text()
    assert "| a | experiments.a.main works | yes | measured |" in report
    assert "| b | experiments.b.main works | **no** | measured |" in report
    assert (tmp_path / "quick" / "b" / "run.log").read_text() == "log\n"
    assert json.loads((tmp_path / "quick" / "a" / "claims.json").read_text())[0]["held"]
