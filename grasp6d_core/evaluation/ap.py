"""Per-image scoring of a grasp dump, following GraspNet-1Billion's evaluator (DESIGN §6).

NMS (3 cm / 30°) → assign each grasp to the object with the nearest model point → ≤ ``max_per_object`` per
object → top ``top_k`` overall → collision (object models + table) and "empty" checks → force closure μ from
the object's SDF → precision@k for k = 1…top_k with denominator k, for each μ in ``FRICTION_LIST``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from grasp6d_core.grasp import MAX_WIDTH, GraspGroup
from grasp6d_core.physics import GripperGeometry, collision_and_empty, grasp_friction
from grasp6d_core.physics.force_closure import FRICTION_GRID

FRICTION_LIST = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2)
GRIPPER_REACH = 0.13  # no point farther than this from the grasp point can touch the gripper (w/2+finger, depth+base)


@dataclass
class ImageResult:
    friction: np.ndarray    # (n,) μ of each evaluated grasp (−1 none), in score order
    collision: np.ndarray   # (n,)
    empty: np.ndarray       # (n,)
    precision: np.ndarray   # (top_k, len(FRICTION_LIST)) precision@k


def precision_at_k(friction: np.ndarray, collision: np.ndarray, empty: np.ndarray, top_k: int = 50,
                   friction_list=FRICTION_LIST) -> np.ndarray:
    """(top_k, M) precision@k with denominator k even when fewer grasps exist."""
    good_geom = ~collision & ~empty
    table = np.zeros((top_k, len(friction_list)))
    ks = np.arange(1, top_k + 1)
    for j, mu in enumerate(friction_list):
        ok = np.zeros(top_k)
        n = min(len(friction), top_k)
        ok[:n] = (good_geom[:n] & (friction[:n] > 0) & (friction[:n] <= mu + 1e-9))
        table[:, j] = np.cumsum(ok) / ks
    return table


def select_grasps(grasps: GraspGroup, scene_points: np.ndarray, scene_labels: np.ndarray,
                  max_per_object: int, top_k: int) -> tuple[GraspGroup, np.ndarray]:
    """NMS, nearest-object assignment, per-object cap, global top-k. Returns grasps and their object index."""
    grasps = grasps.nms(0.03, np.deg2rad(30.0))
    if len(grasps) == 0:
        return grasps, np.zeros(0, dtype=int)
    _, nearest = cKDTree(scene_points).query(grasps.translations)
    owner = scene_labels[nearest]
    keep = []
    for obj in np.unique(owner):
        idx = np.flatnonzero(owner == obj)  # already in score order: nms returns sorted grasps
        keep.extend(idx[:max_per_object])
    keep = np.asarray(sorted(keep, key=lambda i: -grasps.scores[i]), dtype=int)[:top_k]
    return grasps[keep], owner[keep]


def evaluate_image(grasps: GraspGroup, model_points: list[np.ndarray], poses: np.ndarray, surfaces: list,
                   table_points: np.ndarray, max_per_object: int = 10, top_k: int = 50,
                   geometry: GripperGeometry = GripperGeometry()) -> ImageResult:
    """Score one image's grasps (camera frame) against K objects (model points, camera<-model poses, SDFs)."""
    posed = [pts @ T[:3, :3].T + T[:3, 3] for pts, T in zip(model_points, poses)]
    labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(posed)]) if posed else np.zeros(0, int)
    objects = np.concatenate(posed) if posed else np.zeros((0, 3))
    if len(objects) == 0:
        raise ValueError("image has no objects to grasp")
    grasps = GraspGroup(grasps.array.copy())
    grasps.array[:, 1] = np.clip(grasps.array[:, 1], 0.0, MAX_WIDTH)
    chosen, owner = select_grasps(grasps, objects, labels, max_per_object, top_k)
    n = len(chosen)
    friction = -np.ones(n)
    collision = np.zeros(n, dtype=bool)
    empty = np.ones(n, dtype=bool)
    if n:
        scene = np.concatenate([objects, table_points])
        scene_labels = np.concatenate([labels, np.full(len(table_points), -1)])
        # Only points within the gripper's reach of some grasp can collide: crop the (large) table early.
        near = cKDTree(chosen.translations).query(scene, distance_upper_bound=GRIPPER_REACH)[0] < np.inf
        scene, scene_labels = scene[near], scene_labels[near]
        for obj in np.unique(owner):
            sel = np.flatnonzero(owner == obj)
            g = chosen[sel]
            col, emp = collision_and_empty(scene, g.rotations, g.translations, g.widths, g.depths, geometry,
                                           object_mask=scene_labels == obj)
            collision[sel], empty[sel] = col, emp
            check = sel[~col & ~emp]
            if len(check):
                T = poses[obj]
                R_model = T[:3, :3].T @ chosen.rotations[check]
                t_model = (chosen.translations[check] - T[:3, 3]) @ T[:3, :3]
                friction[check] = grasp_friction(surfaces[obj], R_model, t_model, chosen.widths[check],
                                                 depths=chosen.depths[check], grid=FRICTION_GRID)
    return ImageResult(friction, collision, empty, precision_at_k(friction, collision, empty, top_k))
