"""Checkpoints: weights + config + package version + data recipe (+ optimiser state for --resume).

Loading checks everything before touching the model: a corrupt file, a file that is not a grasp6d checkpoint,
or a checkpoint of another config raises CheckpointError naming the file — never a silent partial load.

Files are read with ``torch.load(weights_only=True)``: a checkpoint can be chosen by a remote ROS peer or come
from anywhere, and an unrestricted unpickler runs whatever code a file names. So a checkpoint holds only
tensors and plain values (dict/list/tuple/str/int/float/bool/None); saving converts numpy values to plain ones
and refuses anything else, so every file we write loads again under the restricted reader.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grasp6d_core import __version__
from grasp6d_core.errors import Grasp6dError

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
    except (ImportError, LookupError, OSError):  # no ament index (pip route; OSError: AMENT_PREFIX_PATH unset) or the ROS package is not installed
        pass
    candidates.append(Path(sys.prefix) / "share" / "grasp6d" / "models" / SHIPPED_NAME)
    return next((c for c in candidates if c.is_file()), SHIPPED)


class CheckpointError(Grasp6dError, ValueError):
    pass


def save_checkpoint(path: str | Path, model: torch.nn.Module, cfg: dict, step: int, data_recipe: dict,
                    optimizer: torch.optim.Optimizer | None = None, extra: dict | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"format": FORMAT, "format_version": FORMAT_VERSION, "grasp6d_version": __version__,
            "config": plain(cfg, "config"), "step": int(step), "data_recipe": plain(data_recipe, "data_recipe"),
            "model": model.state_dict(), "extra": plain(extra or {}, "extra")}
    if optimizer is not None:
        blob["optimizer"] = optimizer.state_dict()
    _save_atomic(blob, path)


def save_prior(path: str | Path, state: dict, meta: dict, curve: list) -> None:
    """A contact prior on its own (``grasp6d train --stage prior`` writes it as ``prior.pt``)."""
    _save_atomic({"contact_prior": plain(state, "contact_prior"), "meta": plain(meta, "meta"),
                  "curve": plain(curve, "curve")}, Path(path))


def plain(value: Any, where: str = "value") -> Any:
    """``value`` with numpy scalars/arrays and paths turned into plain Python values (tensors kept), so that
    ``torch.load(weights_only=True)`` reads it back. Anything else raises TypeError naming ``where``."""
    if isinstance(value, (torch.Tensor, str, bool, int, float, type(None))):
        return value
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: plain(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise TypeError(f"{where}: {type(value).__name__} cannot be stored in a checkpoint (plain values and tensors only)")


def _load_restricted(path: Path, what: str) -> Any:
    """``torch.load`` that cannot run code: a pickled object other than tensors and plain values is refused."""
    if not path.is_file():
        raise CheckpointError(f"{what} {path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if found:
            raise CheckpointError(f"{what} {path}: refused, it holds a pickled {found.group(1)} (only tensors and "
                                  f"plain values are loaded, since unpickling other objects can run code)") from None
        raise CheckpointError(f"{what} {path}: corrupt or not a torch file ({_first_line(error)})") from None
    except Exception as error:  # torch raises many types for truncated/garbage files
        raise CheckpointError(f"{what} {path}: corrupt or not a torch file ({type(error).__name__}: "
                              f"{_first_line(error)})") from None


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = next((line for line in lines if "error:" in line.lower() or "unsupported" in line.lower()), None)
    return detail or (lines[0] if lines else type(error).__name__)


def _save_atomic(blob: dict, path: Path) -> None:
    """Write beside, then rename: a crash mid-save never leaves a half-written checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    blob = _load_restricted(path, "checkpoint")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not a grasp6d model checkpoint")
    if blob.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path}: format version {blob.get('format_version')}, expected {FORMAT_VERSION}")
    for key in ("config", "model"):
        if key not in blob:
            raise CheckpointError(f"checkpoint {path}: missing '{key}'")
    return blob


def load_into(model: torch.nn.Module, blob: dict, cfg: dict, path: str | Path = "checkpoint",
              same_config: bool = True) -> None:
    """Strictly load ``blob`` into ``model`` built from ``cfg``; config mismatch -> CheckpointError.

    ``same_config=False`` (a run's ``--init``) only needs the same network: a run may start from weights trained
    with other losses (e.g. the ``baseline`` ablation continued from ``cpu`` weights, R and prior off)."""
    theirs = blob["config"]
    if _arch(theirs) != _arch(cfg) or (same_config and theirs.get("name") != cfg.get("name")):
        network = "" if same_config else " (another network)"
        raise CheckpointError(f"checkpoint {path} was trained with config '{theirs.get('name')}'{network}, not "
                              f"'{cfg.get('name')}': use --config {theirs.get('name')} (or another --out)")
    try:
        model.load_state_dict(blob["model"], strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint {path}: weights do not fit config '{cfg.get('name')}': {error}") from None


def attach_prior(checkpoint: str | Path, prior_file: str | Path) -> None:
    """Put a contact prior trained by ``grasp6d train --stage prior`` (its ``prior.pt``) into a detector
    checkpoint. The prior depends only on the data, not on the network's weights, so any checkpoint can take it."""
    prior_file = Path(prior_file)
    prior = _load_restricted(prior_file, "contact prior")
    if not isinstance(prior, dict) or not isinstance(prior.get("contact_prior"), dict):
        raise CheckpointError(f"contact prior {prior_file}: unreadable (no 'contact_prior' entry)")
    state, meta = prior["contact_prior"], prior.get("meta", {})
    blob = read_checkpoint(checkpoint)
    blob["contact_prior"] = state
    blob.setdefault("extra", {})["contact_prior"] = meta
    _save_atomic(blob, Path(checkpoint))


def _arch(cfg: dict) -> tuple:
    """The settings that shape the network's weights (compared as values: key order does not matter)."""
    return tuple(cfg.get(part) for part in ("backbone", "approach", "cylinder", "operation"))
