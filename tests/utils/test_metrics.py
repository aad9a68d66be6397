import json

from jaxml.utils.metrics import MetricsWriter, read_metrics


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"step": 1, "a": 1.0}) + "\n" + '{"step": 2, "a"')
    assert read_metrics(path) == [{"step": 1, "a": 1.0}]
    assert read_metrics(tmp_path) == [{"step": 1, "a": 1.0}]


def test_reset_keeps_rows_up_to_the_checkpoint(tmp_path):
    writer = MetricsWriter(tmp_path, tensorboard=False)
    for step in (10, 20, 30):
        writer.write(step, {"loss": float(step)})
    writer.reset(20)
    assert [r["step"] for r in read_metrics(tmp_path)] == [10, 20]
    writer.reset(None)
    assert read_metrics(tmp_path) == []
    writer.close()
