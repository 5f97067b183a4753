"""Reference dumps for consistency checks: an oracle from the ground-truth labels, and random grasps.

Label layout (GraspNet-1Billion, docs/data.md): ``grasp_label/XXX_labels.npz`` with points (Np, 3),
offsets (Np, 300, 12, 4, 3) = (angle, depth, width), scores (Np, 300, 12, 4) = μ (≤ 0 none), and
``collision_label/scene_XXXX/collision_labels.npz`` with one (Np, 300, 12, 4) bool array per scene object
(``arr_i`` in object_id_list order). A label grasp's approach is −view, views on a Fibonacci sphere.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from grasp6d_core.data.scene_io import load_meta, scene_dir
from grasp6d_core.grasp import GraspGroup, dump_path
from grasp6d_core.rotations import grasp_rotation
from grasp6d_core.views import fibonacci_views


def load_object_labels(root: Path, oid: int) -> dict:
    path = Path(root) / "grasp_label" / f"{oid:03d}_labels.npz"
    if not path.is_file():
        raise FileNotFoundError(f"object {oid}: no grasp labels at {path}")
    with np.load(path) as data:
        return {k: data[k] for k in ("points", "offsets", "scores")}


def load_scene_collisions(root: Path, scene: int) -> list[np.ndarray]:
    path = Path(root) / "collision_label" / f"scene_{scene:04d}" / "collision_labels.npz"
    if not path.is_file():
        raise FileNotFoundError(f"scene {scene}: no collision labels at {path}")
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def scene_object_order(root: Path, scene: int) -> list[int]:
    return [int(v) for v in (scene_dir(root, scene) / "object_id_list.txt").read_text().split()]


def oracle_grasps(root: Path, scene: int, camera: str, ann: int, per_object: int = 20,
                  rng: np.random.Generator | None = None) -> GraspGroup:
    """Collision-free label grasps with the best μ per object, camera frame, score = 1.1 − μ."""
    rng = rng or np.random.default_rng(0)
    order = scene_object_order(root, scene)
    collisions = load_scene_collisions(root, scene)
    ids, poses = load_meta(root, scene, camera, ann)
    views = fibonacci_views()
    groups = []
    for oid, T in zip(ids, poses):
        labels = load_object_labels(root, int(oid))
        mu = labels["scores"]
        good = (mu > 0) & ~collisions[order.index(int(oid))]
        if not good.any():
            continue
        idx = np.argwhere(good)
        best = mu[good]
        # Best μ first; random among ties so the picks spread over the object (NMS would merge neighbours).
        pick = idx[np.lexsort((rng.random(len(best)), best))][: per_object * 4]
        pick = pick[rng.permutation(len(pick))[:per_object]] if len(pick) > per_object else pick
        p, v, a, d = pick.T
        off = labels["offsets"][p, v, a, d]
        R = grasp_rotation(-views[v], off[:, 0])
        g = GraspGroup.from_components(1.1 - mu[p, v, a, d], off[:, 2], off[:, 1], R, labels["points"][p],
                                       object_ids=int(oid))
        groups.append(g.transform(T))
    return GraspGroup.concatenate(groups)


def random_grasps(root: Path, scene: int, camera: str, ann: int, n: int = 200,
                  rng: np.random.Generator | None = None) -> GraspGroup:
    """Uniformly random poses inside the objects' bounding region (camera frame), random widths/depths."""
    rng = rng or np.random.default_rng(0)
    _, poses = load_meta(root, scene, camera, ann)
    centres = poses[:, :3, 3]
    lo, hi = centres.min(0) - 0.1, centres.max(0) + 0.1
    approach = rng.normal(size=(n, 3))
    R = grasp_rotation(approach, rng.uniform(-np.pi, np.pi, n))
    return GraspGroup.from_components(rng.random(n), rng.uniform(0.02, 0.1, n), rng.choice([0.01, 0.02, 0.03, 0.04], n),
                                      R, rng.uniform(lo, hi, size=(n, 3)))


def write_dump(kind: str, root: Path, dump: Path, scenes: list[int], camera: str, anns: list[int], seed: int = 0) -> int:
    """Write an 'oracle' or 'random' dump for the given scenes/images; returns the number of files."""
    make = {"oracle": oracle_grasps, "random": random_grasps}[kind]
    rng = np.random.default_rng(seed)
    count = 0
    for scene in scenes:
        for ann in anns:
            make(root, scene, camera, ann, rng=rng).save_npy(dump_path(dump, scene, camera, ann))
            count += 1
    return count
