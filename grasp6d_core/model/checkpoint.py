"""Checkpoints: weights + config + package version + data recipe (+ optimiser state for --resume).

Loading checks everything before touching the model: a corrupt file, a file that is not a grasp6d checkpoint,
or a checkpoint of another config raises CheckpointError naming the file — never a silent partial load.
"""
from __future__ import annotations

from pathlib import Path

import torch

FORMAT = "grasp6d-model"
FORMAT_VERSION = 1
SHIPPED_NAME = "grasp6d_cpu.pt"
SHIPPED = Path(__file__).resolve().parents[2] / "models" / SHIPPED_NAME   # in a source checkout


def shipped_checkpoint() -> Path:
    """The shipped weights: the source tree's models/, else a colcon install's share/grasp6d_ros/models, else
    a pip install's <prefix>/share/grasp6d/models. Returns the source-tree path when none exists, so the error
    names the expected place."""
    import sys
    candidates = [SHIPPED]
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory("grasp6d_ros")) / "models" / SHIPPED_NAME)
    except Exception:  # no ament index (pip route) or the ROS package is not installed
        pass
    candidates.append(Path(sys.prefix) / "share" / "grasp6d" / "models" / SHIPPED_NAME)
    return next((c for c in candidates if c.is_file()), SHIPPED)


class CheckpointError(ValueError):
    pass


def save_checkpoint(path: str | Path, model: torch.nn.Module, cfg: dict, step: int, data_recipe: dict,
                    optimizer: torch.optim.Optimizer | None = None, extra: dict | None = None) -> None:
    from grasp6d_core import __version__
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"format": FORMAT, "format_version": FORMAT_VERSION, "grasp6d_version": __version__, "config": cfg,
            "step": int(step), "data_recipe": data_recipe, "model": model.state_dict(), "extra": extra or {}}
    if optimizer is not None:
        blob["optimizer"] = optimizer.state_dict()
    _save_atomic(blob, path)


def _save_atomic(blob: dict, path: Path) -> None:
    """Write beside, then rename: a crash mid-save never leaves a half-written checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for truncated/garbage files
        raise CheckpointError(f"checkpoint {path}: corrupt or not a torch file ({type(error).__name__}: {error})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not a grasp6d model checkpoint")
    if blob.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path}: format version {blob.get('format_version')}, expected {FORMAT_VERSION}")
    for key in ("config", "model"):
        if key not in blob:
            raise CheckpointError(f"checkpoint {path}: missing '{key}'")
    return blob


def load_into(model: torch.nn.Module, blob: dict, cfg: dict, path: str | Path = "checkpoint") -> None:
    """Strictly load ``blob`` into ``model`` built from ``cfg``; config mismatch -> CheckpointError."""
    theirs = blob["config"]
    if theirs.get("name") != cfg.get("name") or _arch(theirs) != _arch(cfg):
        raise CheckpointError(f"checkpoint {path} was trained with config '{theirs.get('name')}', not "
                              f"'{cfg.get('name')}': use --config {theirs.get('name')} (or another --out)")
    try:
        model.load_state_dict(blob["model"], strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint {path}: weights do not fit config '{cfg.get('name')}': {error}") from None


def attach_prior(checkpoint: str | Path, prior_file: str | Path) -> None:
    """Put a contact prior trained by ``grasp6d train --stage prior`` (its ``prior.pt``) into a detector
    checkpoint. The prior depends only on the data, not on the network's weights, so any checkpoint can take it."""
    prior_file = Path(prior_file)
    try:
        prior = torch.load(prior_file, map_location="cpu", weights_only=False)
        state, meta = prior["contact_prior"], prior.get("meta", {})
    except Exception as error:
        raise CheckpointError(f"contact prior {prior_file}: unreadable ({type(error).__name__}: {error})") from None
    blob = read_checkpoint(checkpoint)
    blob["contact_prior"] = state
    blob.setdefault("extra", {})["contact_prior"] = meta
    _save_atomic(blob, Path(checkpoint))


def _arch(cfg: dict) -> tuple:
    return (repr(cfg.get("backbone")), repr(cfg.get("approach")), repr(cfg.get("cylinder")), repr(cfg.get("operation")))
