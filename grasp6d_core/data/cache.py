"""Cached single-view preprocessing: one ``.npz`` per image (sampled points, normals, objectness, graspness,
object ids — the references to the objects' labels and SDFs — poses, table normal).

The cache folder is ``<cache>/<camera>-<key>/`` where ``key`` hashes everything that decides the content: the
cache format, the package version, the source of the preprocessing code, ``num_points``, the dataset seed and
the root's generator recipe (``synth_*.json``). A change to any of them selects a new folder, so stale
tensors are never read. A file that cannot be read completely (truncated, bad CRC, missing keys, wrong
shapes) is deleted with a warning and rebuilt from the images; it is never trained on. Files are written
beside and renamed, so a killed writer leaves no half file.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

CACHE_FORMAT = 1
ARRAY_KEYS = ("points", "normals", "point_obj", "objectness", "graspness", "poses", "object_ids", "table_normal")


def _code_sources() -> list[Path]:
    import grasp6d_core.data.loader as loader
    import grasp6d_core.data.training_labels as labels
    import grasp6d_core.normals as normals
    return [Path(m.__file__) for m in (loader, labels, normals)] + [Path(__file__)]


def cache_recipe(root: Path, camera: str, num_points: int, seed: int) -> dict:
    from grasp6d_core import __version__
    code = hashlib.sha256(b"".join(p.read_bytes() for p in _code_sources())).hexdigest()
    generator = {p.name: p.read_text() for p in sorted(Path(root).glob("synth_*.json"))}
    return {"format": CACHE_FORMAT, "grasp6d_version": __version__, "code_sha256": code, "camera": camera,
            "num_points": int(num_points), "seed": int(seed), "generator": generator}


class SampleCache:
    """Per-image preprocessing of one root/camera/recipe under ``folder`` (see the module doc)."""

    def __init__(self, folder: str | Path, root: str | Path, camera: str, num_points: int, seed: int):
        self.recipe = cache_recipe(Path(root), camera, num_points, seed)
        key = hashlib.sha256(json.dumps(self.recipe, sort_keys=True).encode()).hexdigest()[:16]
        self.dir = Path(folder) / f"{camera}-{key}"
        self.num_points = int(num_points)
        self.dir.mkdir(parents=True, exist_ok=True)
        recipe_file = self.dir / "recipe.json"
        if not recipe_file.is_file():
            recipe_file.write_text(json.dumps(self.recipe, indent=1))

    def path(self, scene: int, ann: int) -> Path:
        return self.dir / f"scene_{scene:04d}_{ann:04d}.npz"

    def load(self, scene: int, ann: int) -> dict | None:
        """The cached sample, or None when absent or unreadable (then the file is removed with a warning)."""
        path = self.path(scene, ann)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                sample = {k: z[k] for k in ARRAY_KEYS}   # reading every member checks the zip CRCs
            self._check(sample)
        except Exception as error:  # noqa: BLE001 - any failure means the file cannot be trusted
            warnings.warn(f"cache file {path} is corrupt ({type(error).__name__}: {error}); rebuilding it",
                          stacklevel=2)
            path.unlink(missing_ok=True)
            return None
        sample["scene"], sample["ann"] = int(scene), int(ann)
        return sample

    def _check(self, sample: dict) -> None:
        n = self.num_points
        for key in ("points", "normals"):
            if sample[key].shape != (n, 3):
                raise ValueError(f"{key} has shape {sample[key].shape}, expected ({n}, 3)")
        for key in ("point_obj", "objectness", "graspness"):
            if sample[key].shape != (n,):
                raise ValueError(f"{key} has shape {sample[key].shape}, expected ({n},)")
        if sample["poses"].shape != (len(sample["object_ids"]), 4, 4):
            raise ValueError(f"poses has shape {sample['poses'].shape} for {len(sample['object_ids'])} objects")
        if not all(np.all(np.isfinite(sample[k])) for k in ("points", "normals", "graspness", "poses")):
            raise ValueError("non-finite values")

    def save(self, scene: int, ann: int, sample: dict) -> None:
        path = self.path(scene, ann)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **{k: np.asarray(sample[k]) for k in ARRAY_KEYS})
        tmp.replace(path)
