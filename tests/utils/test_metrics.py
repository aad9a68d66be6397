import json

from jaxml.utils.metrics import MetricsWriter, read_metrics


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"step": 1, "a": 1.0}) + "\n" + '{"step": 2, "a"')
    assert read_metrics(path) == [{"step": 1, "a": 1.0}]
    assert read_metrics(tmp_path) == [{"step": 1, "a": 1.0}]


def test_resume_keeps_rows_up_to_the_checkpoint_and_fresh_drops_all(tmp_path):
    writer = MetricsWriter(tmp_path, tensorboard=False)
    for step in (10, 20, 30):
        writer.write(step, {"loss": float(step)})
    writer.close()
    MetricsWriter(tmp_path, resume_step=20, tensorboard=False).close()
    assert [r["step"] for r in read_metrics(tmp_path)] == [10, 20]
    MetricsWriter(tmp_path, resume_step=None, tensorboard=False).close()
    assert read_metrics(tmp_path) == []


def test_fresh_run_drops_old_tensorboard_events_and_resume_keeps_them(tmp_path):
    def logged_tags():
        events = (tmp_path / "tensorboard").glob("events.out.tfevents.*")
        data = b"".join(p.read_bytes() for p in events)
        return {tag for tag in (b"old_loss", b"new_loss") if tag in data}

    writer = MetricsWriter(tmp_path)
    writer.write(1, {"old_loss": 1.0})
    writer.close()
    writer = MetricsWriter(tmp_path, resume_step=1)
    writer.write(2, {"new_loss": 1.0})
    writer.close()
    assert logged_tags() == {b"old_loss", b"new_loss"}
    writer = MetricsWriter(tmp_path)
    writer.write(1, {"new_loss": 1.0})
    writer.close()
    assert logged_tags() == {b"new_loss"}
