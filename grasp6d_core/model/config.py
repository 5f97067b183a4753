"""Model configs (YAML in grasp6d_core/configs/model, also reachable as config/model/): load and validate."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "model"
REQUIRED = ("name", "config_version", "voxel_size", "num_points", "backbone", "seeds", "approach", "cylinder",
            "operation", "loss", "contact_prior")


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(name_or_path: str | Path) -> dict:
    """A config by name ('cpu', 'paper', 'baseline', 'gsnet') or YAML path, validated."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"model config '{name_or_path}' not found (available: {', '.join(available_configs())})")
    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    return validate_config(cfg, str(path))


def validate_config(cfg: dict, where: str = "config") -> dict:
    if not isinstance(cfg, dict):
        raise ValueError(f"{where}: not a mapping")
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise ValueError(f"{where}: missing keys {missing}")
    if cfg["approach"]["mode"] not in ("regress", "classify"):
        raise ValueError(f"{where}: approach.mode must be regress|classify, got {cfg['approach']['mode']!r}")
    if len(cfg["cylinder"]["depths"]) < 1 or len(cfg["cylinder"]["radii"]) < 1:
        raise ValueError(f"{where}: cylinder.depths and cylinder.radii must be non-empty")
    return copy.deepcopy(cfg)
