"""Per-image scoring of a grasp dump, following GraspNet-1Billion's evaluator (docs/evaluation.md).

NMS (3 cm / 30°) → assign each grasp to the object with the nearest model point → ≤ ``max_per_object`` per
object → top ``top_k`` overall → collision (object models + table) and "empty" checks → force closure μ from
the object's SDF → precision@k for k = 1…top_k with denominator k, for each μ in ``FRICTION_LIST``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from grasp6d_core.evaluation.dexnet_normals import PlaneFitNormals
from grasp6d_core.grasp import MAX_WIDTH, GraspGroup
from grasp6d_core.physics import GripperGeometry, collision_and_empty, grasp_friction
from grasp6d_core.physics.force_closure import FRICTION_GRID

FRICTION_LIST = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2)
# graspnetAPI checks a grasp only against the scene points inside its object's box (posed 8 mm model points)
# grown by this margin; points farther out are ignored even where a finger reaches them.
WORKSPACE_MARGIN = 0.05
# Dex-Net's close_fingers (graspnetAPI's force-closure check) moves each jaw from ±width/2 only to the centre.
JAW_TRAVEL = 0.5


@dataclass
class ImageResult:
    grasps: np.ndarray      # (n, 17) the grasps scored (after NMS, per-object cap and top-k), in score order
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
    """NMS, nearest-object assignment, per-object cap, global top-k (ties at the cut kept).

    Returns the grasps in score order and their object index."""
    grasps = grasps.nms(0.03, np.deg2rad(30.0))
    if len(grasps) == 0:
        return grasps, np.zeros(0, dtype=int)
    _, nearest = cKDTree(scene_points).query(grasps.translations)
    owner = scene_labels[nearest]
    keep = []
    for obj in np.unique(owner):
        idx = np.flatnonzero(owner == obj)  # already in score order: nms returns sorted grasps
        keep.extend(idx[:max_per_object])
    keep = np.asarray(keep, dtype=int)
    if len(keep) > top_k:
        # graspnetAPI keeps every capped grasp scoring at least the top_k-th best score: ties at the cut all stay.
        cut = np.sort(grasps.scores[keep])[::-1][top_k - 1]
        keep = keep[grasps.scores[keep] >= cut]
    keep = keep[np.argsort(-grasps.scores[keep], kind="stable")]
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
        for obj in np.unique(owner):
            sel = np.flatnonzero(owner == obj)
            g = chosen[sel]
            # As graspnetAPI: only points in the object's box + margin count, and any of them (another object,
            # the table) between the fingers makes the grasp non-empty.
            lo, hi = posed[obj].min(axis=0) - WORKSPACE_MARGIN, posed[obj].max(axis=0) + WORKSPACE_MARGIN
            workspace = scene[np.all((scene > lo) & (scene < hi), axis=1)]
            col, emp = collision_and_empty(workspace, g.rotations, g.translations, g.widths, g.depths, geometry)
            collision[sel], empty[sel] = col, emp
            check = sel[~col & ~emp]
            if len(check):
                T = poses[obj]
                R_model = T[:3, :3].T @ chosen.rotations[check]
                t_model = (chosen.translations[check] - T[:3, 3]) @ T[:3, :3]
                surface = PlaneFitNormals(surfaces[obj]) if hasattr(surfaces[obj], "voxel_size") else surfaces[obj]
                friction[check] = grasp_friction(surface, R_model, t_model, chosen.widths[check],
                                                 depths=chosen.depths[check], grid=FRICTION_GRID, travel=JAW_TRAVEL,
                                                 dexnet_contacts=True)
    return ImageResult(chosen.array, friction, collision, empty, precision_at_k(friction, collision, empty, top_k))
