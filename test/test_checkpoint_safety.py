"""Checkpoints are read with torch.load(weights_only=True): a crafted file whose pickle would run code is
refused with one line naming it, and nothing runs. The payload is real: loaded the old way (weights_only=False)
it creates a marker file; each test asserts the marker does NOT exist afterwards."""
import builtins

import numpy as np
import pytest
import torch

from grasp6d_core.cli import main
from grasp6d_core.model.checkpoint import (FORMAT, FORMAT_VERSION, CheckpointError, attach_prior, read_checkpoint,
                                           save_checkpoint, shipped_checkpoint)


class _CreatesFile:
    """Unpickling this calls open(marker, 'w'): stands for any code a checkpoint could run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.open, (self.marker, "w")


def crafted_checkpoint(path, marker) -> None:
    """A grasp6d-looking checkpoint with one extra pickled entry."""
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, "config": {"name": "cpu"}, "model": {},
                "extra": {"note": _CreatesFile(marker)}}, path)


def test_the_payload_is_real(tmp_path):
    # Guards the tests below: the same file, read by an unrestricted unpickler, does run its code.
    crafted_checkpoint(tmp_path / "evil.pt", tmp_path / "marker")
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert (tmp_path / "marker").exists()


def test_crafted_checkpoint_is_refused_by_detect_without_running_code(tmp_path, capsys):
    evil, marker = tmp_path / "evil.pt", tmp_path / "marker"
    crafted_checkpoint(evil, marker)
    code = main(["detect", "--checkpoint", str(evil), "--input", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert not marker.exists(), "the checkpoint's pickle ran code"
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"grasp6d detect: checkpoint {evil}: refused") and "io.open" in err, err


def test_crafted_checkpoint_is_refused_by_the_library(tmp_path):
    from grasp6d_core.model.detector import GraspDetector
    evil, marker = tmp_path / "evil.pt", tmp_path / "marker"
    crafted_checkpoint(evil, marker)
    with pytest.raises(CheckpointError, match=f"checkpoint {evil}: refused, it holds a pickled io.open"):
        GraspDetector.from_checkpoint(evil)
    assert not marker.exists()


def test_crafted_prior_is_refused_and_the_checkpoint_kept(tmp_path):
    from grasp6d_core.model.config import load_config
    from grasp6d_core.model.network import GraspNet6D
    ckpt, prior, marker = tmp_path / "net.pt", tmp_path / "prior.pt", tmp_path / "marker"
    save_checkpoint(ckpt, GraspNet6D(load_config("cpu")), load_config("cpu"), 1, {})
    before = ckpt.read_bytes()
    torch.save({"contact_prior": {"weights": {}}, "meta": {"x": _CreatesFile(marker)}}, prior)
    with pytest.raises(CheckpointError, match=f"contact prior {prior}: refused"):
        attach_prior(ckpt, prior)
    assert not marker.exists() and ckpt.read_bytes() == before


def test_shipped_weights_load_restricted():
    blob = torch.load(shipped_checkpoint(), map_location="cpu", weights_only=True)
    assert blob["format"] == FORMAT and blob["config"]["name"] == "cpu" and blob.get("contact_prior") is not None


def test_saved_metadata_is_made_plain_so_it_loads_again(tmp_path):
    from grasp6d_core.model.config import load_config
    from grasp6d_core.model.network import GraspNet6D
    path = tmp_path / "a.pt"
    # numpy values in the recipe/extra would otherwise be pickled as numpy objects the restricted reader refuses
    save_checkpoint(path, GraspNet6D(load_config("cpu")), load_config("cpu"), np.int64(3),
                    {"scenes": np.arange(3), "root": tmp_path}, extra={"loss": np.float32(0.5)})
    blob = read_checkpoint(path)
    assert blob["data_recipe"] == {"scenes": [0, 1, 2], "root": str(tmp_path)} and blob["extra"] == {"loss": 0.5}
    with pytest.raises(TypeError, match=r"extra.bad: object cannot be stored"):
        save_checkpoint(path, GraspNet6D(load_config("cpu")), load_config("cpu"), 1, {}, extra={"bad": object()})
