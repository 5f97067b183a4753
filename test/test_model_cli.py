"""The model's command line end to end on a tiny generated root: train (with --resume), the prior stage,
detect (benchmark dump + PNG) and the evaluator reading that dump; bad checkpoints give one clear line."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from grasp6d_core.cli import main


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    """The data engine's output is what the model trains on: one train scene (0) and one seen scene (100)."""
    root = tmp_path_factory.mktemp("tiny")
    for split in ("train", "seen"):
        assert main(["synth", "--out", str(root), "--split", split, "--scenes", "1", "--views", "2", "--seed", "3",
                     "--objects", "2-2", "--object-ids", "0,1", "--label-points", "128", "--no-text-sdf",
                     "--quiet"]) == 0
    return root


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> Path:
    from grasp6d_core.model.config import load_config
    cfg = load_config("cpu")
    cfg["seeds"]["num"], cfg["num_points"] = 64, 3000
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_resume_prior_detect_eval(tiny_root, tiny_config, tmp_path, capsys):
    out = tmp_path / "run"
    common = ["train", "--config", str(tiny_config), "--data", str(tiny_root), "--out", str(out),
              "--train-scenes", "0", "--val-scenes", "100", "--val-every", "2", "--ckpt-every", "2", "--val-images", "1"]
    assert main(common + ["--steps", "2"]) == 0
    assert main(common + ["--steps", "4", "--resume", "--lr", "3e-4"]) == 0
    import torch
    assert torch.load(out / "last.pt", weights_only=True)["optimizer"]["param_groups"][0]["lr"] == 3e-4
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in rows if r["split"] == "train"]
    assert train_steps == [1, 2, 3, 4]          # resumed at 3, nothing repeated or lost
    assert any(r["split"] == "val" for r in rows)
    assert (out / "curves.png").stat().st_size > 10_000 and any((out / "tb").iterdir())

    assert main(["train", "--stage", "prior", "--data", str(tiny_root), "--out", str(out), "--train-scenes", "0",
                 "--steps", "3", "--num-points", "3000"]) == 0
    from grasp6d_core.model.detector import GraspDetector
    det = GraspDetector.from_checkpoint(out / "final.pt")
    assert det.info["step"] == 4 and det.prior is not None and det.info["data_recipe"]["train_scenes"][2] == 1
    assert det.info["data_recipe"]["generator"]["train"]["seed"] == 3   # the synth settings that rebuild the data

    # Held-out loss terms of a checkpoint report R even for a config trained without it (φ = 0).
    from grasp6d_core.model.train_loop import checkpoint_terms
    no_r = yaml.safe_load(tiny_config.read_text())
    no_r["loss"]["phi"] = 0.0
    (tmp_path / "no_r.yaml").write_text(yaml.safe_dump(no_r))
    assert main(["train", "--config", str(tmp_path / "no_r.yaml"), "--data", str(tiny_root), "--out",
                 str(tmp_path / "no_r"), "--train-scenes", "0", "--val-scenes", "", "--steps", "1"]) == 0
    terms = checkpoint_terms(tmp_path / "no_r" / "final.pt", tiny_root, [100], images=2)
    assert terms["R"] > 0 and set(terms) >= {"La", "Ls", "Lr", "Lw", "loss"}

    # A 4-step network's grasps may all hit the scene, so how many survive the collision check depends on the
    # untrained weights; this checks the dump and the evaluator (the shipped detector's test covers collisions).
    dump = tmp_path / "dump"
    assert main(["detect", "--checkpoint", str(out / "final.pt"), "--input", str(tiny_root), "--scenes", "100",
                 "--out", str(dump), "--views", "0-1", "--top-k", "20", "--no-collision"]) == 0
    for ann in (0, 1):
        rows = np.load(dump / "scene_0100" / "realsense" / f"{ann:04d}.npy")
        assert rows.ndim == 2 and rows.shape[1] == 17 and 0 < len(rows) <= 20
        assert np.all(np.diff(rows[:, 0]) <= 0)
    assert list(dump.rglob("*.png"))
    capsys.readouterr()
    assert main(["eval", "--root", str(tiny_root), "--dump", str(dump), "--scenes", "100", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.0 <= result["AP"] <= 1.0 and "scene_0100" in result["per_scene"]


def test_train_refuses_bad_resume_and_missing_data(tiny_root, tiny_config, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes(b"not a checkpoint")
    assert main(["train", "--config", str(tiny_config), "--data", str(tiny_root), "--out", str(out),
                 "--train-scenes", "0", "--val-scenes", "", "--steps", "1", "--resume"]) == 2
    assert "corrupt" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(out), "--steps", "1"]) == 2
    assert "none of scenes 0-99 exist" in capsys.readouterr().err


def test_attach_prior_refuses_an_unreadable_prior(tmp_path):
    from grasp6d_core.model.checkpoint import CheckpointError, attach_prior, save_checkpoint
    from grasp6d_core.model.config import load_config
    from grasp6d_core.model.network import GraspNet6D
    ckpt = tmp_path / "net.pt"
    save_checkpoint(ckpt, GraspNet6D(load_config("cpu")), load_config("cpu"), 1, {})
    before = ckpt.read_bytes()
    (tmp_path / "prior.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt or not a torch file"):
        attach_prior(ckpt, tmp_path / "prior.pt")
    assert ckpt.read_bytes() == before       # the checkpoint is untouched
