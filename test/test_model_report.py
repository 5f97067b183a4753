"""The loss-curve picture of a training log."""
import json

from grasp6d_core.model.report import plot_curves, read_log


def test_curves_from_a_training_log(tmp_path):
    log = tmp_path / "log.jsonl"
    rows = [{"step": s, "split": "train", "loss": 2.0 / s, "Lo": 1.0 / s, "R": 0.1} for s in range(1, 60)]
    rows += [{"step": s, "split": "val", "loss": 2.5 / s, "Lo": 1.2 / s, "R": 0.2} for s in (20, 40)]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    train, val = read_log(log)
    assert len(train) == 59 and [r["step"] for r in val] == [20, 40]
    png = tmp_path / "curves.png"
    plot_curves(log, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
