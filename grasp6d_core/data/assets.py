"""Per-object files of a GraspNet-format root (docs/data.md):

``models/XXX/textured.obj`` (all parts' triangles), ``models/XXX/nontextured.ply`` (dense surface points,
~1.5 mm apart), ``models/XXX/sdf.npz`` (ObjectSDF grid), ``models/XXX/textured.sdf`` (Dex-Net text SDF, the name graspnetAPI opens),
``grasp_label/XXX_labels.npz`` (see :mod:`grasp6d_core.data.labels`) and ``models/manifest.json``.
Every file is written under a temporary name and renamed, and the label file comes last: an object whose label
file exists is complete, so an interrupted run redoes only unfinished objects.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from grasp6d_core.data.objects import (ObjectEntry, combined_mesh, object_library, object_parts, surface_points,
                                       write_manifest)
from grasp6d_core.data.sdf import ObjectSDF

DENSE_SPACING = 0.0015
# graspnetAPI loads an object as the Dex-Net pair models/XXX/textured.obj + textured.sdf (same stem).
TEXT_SDF_NAME = "textured.sdf"


def label_path(root: Path, oid: int) -> Path:
    return Path(root) / "grasp_label" / f"{oid:03d}_labels.npz"


def object_done(root: Path, oid: int) -> bool:
    return label_path(root, oid).is_file() and (Path(root) / "models" / f"{oid:03d}" / "sdf.npz").is_file()


def write_object(root: str | Path, entry: ObjectEntry, max_points: int = 512, text_sdf: bool = True,
                 views: np.ndarray | None = None) -> dict:
    """All files of one object; returns timings {'sdf', 'labels', 'total'} in seconds and the label count."""
    import open3d as o3d
    from grasp6d_core.data.labels import object_labels, save_labels
    root = Path(root)
    t0 = time.perf_counter()
    parts = object_parts(entry)
    final = root / "models" / f"{entry.oid:03d}"
    # A folder of its own per call: two runs may share a root (the reports of two seeds link one objects folder)
    # and write the same object at once.
    (root / "models").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.oid:03d}.", suffix=".tmp", dir=root / "models"))
    mesh = combined_mesh(parts)
    mesh.export(tmp / "textured.obj")
    sdf = ObjectSDF.from_parts(parts)
    t_sdf = time.perf_counter() - t0
    sdf.save(tmp / "sdf.npz")
    if text_sdf:
        sdf.save_text_sdf(tmp / TEXT_SDF_NAME)
    dense = surface_points(parts, sdf, int(min(mesh.area / DENSE_SPACING ** 2, 60000)), seed=entry.oid)
    o3d.io.write_point_cloud(str(tmp / "nontextured.ply"),
                             o3d.geometry.PointCloud(o3d.utility.Vector3dVector(dense.astype(np.float64))))
    (tmp / "parts.json").write_text(json.dumps({"oid": entry.oid, "name": entry.name, "parts": len(parts)}))
    shutil.rmtree(final, ignore_errors=True)
    try:
        tmp.rename(final)
    except OSError:    # another run put the same object (the same files: seeded by its id) in place meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    labels = object_labels(parts, sdf, views=views, max_points=max_points, seed=entry.oid)
    label_path(root, entry.oid).parent.mkdir(parents=True, exist_ok=True)
    save_labels(label_path(root, entry.oid), labels)
    return {"oid": entry.oid, "sdf": t_sdf, "labels": labels["seconds"], "points": len(labels["points"]),
            "total": time.perf_counter() - t0}


def migrate_text_sdfs(root: str | Path) -> int:
    """Rename an older root's ``models/XXX/XXX.sdf`` to ``textured.sdf``, the name graspnetAPI opens.

    Returns how many were renamed; a folder that already has ``textured.sdf`` is left alone."""
    renamed = 0
    for legacy in Path(root).glob("models/[0-9][0-9][0-9]/[0-9][0-9][0-9].sdf"):
        current = legacy.with_name(TEXT_SDF_NAME)
        if legacy.stem == legacy.parent.name and not current.exists():
            legacy.rename(current)
            renamed += 1
    return renamed


def ensure_objects(root: str | Path, oids, max_points: int = 512, text_sdf: bool = True, progress: bool = True,
                   library: list[ObjectEntry] | None = None) -> list[dict]:
    """Write the objects that are not complete yet (and the manifest); returns their timings."""
    from tqdm import tqdm
    root = Path(root)
    library = library or object_library()
    (root / "models").mkdir(parents=True, exist_ok=True)
    write_manifest(root / "models" / "manifest.json", library)
    todo = [library[o] for o in sorted(set(int(o) for o in oids)) if not object_done(root, o)]
    migrate_text_sdfs(root)
    return [write_object(root, e, max_points=max_points, text_sdf=text_sdf)
            for e in tqdm(todo, desc="objects (SDF + labels)", disable=not progress or not todo)]
