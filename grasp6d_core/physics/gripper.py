"""Parallel-jaw gripper geometry and vectorised collision checks (GraspNet-1Billion evaluator semantics).

Gripper frame (README "Conventions"): x = approach, y = closing, z = finger height; the grasp point is the origin.
Following graspnetAPI's ``collision_detection``: each finger is a box of thickness ``finger_width`` along y
beside the closing gap, spanning x ∈ (−base_depth, depth) and z ∈ (−height/2, height/2); the base (palm) is a
box of thickness ``finger_width`` along x behind the fingers spanning the full outer width. A grasp collides when
any scene point is inside a finger or the base; it is "empty" when fewer than ``empty_threshold`` object points
lie between the fingers. Optionally (as learned detectors' collision filters do) the path the hand sweeps
while approaching from ``approach_distance`` back along x must be free too.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GripperGeometry:
    height: float = 0.02           # finger extent along z
    finger_width: float = 0.01     # finger thickness along y (and base thickness along x)
    base_depth: float = 0.02       # how far the fingers reach behind the grasp point (palm at x = -base_depth)
    empty_threshold: int = 10      # fewer object points than this between the fingers = empty grasp
    approach_distance: float = 0.0  # > 0: also require the approach path (behind the palm) to be free


def points_in_gripper_frame(points: np.ndarray, rotations: np.ndarray, translations: np.ndarray) -> np.ndarray:
    """Points (M, 3) expressed in each grasp frame -> (N, M, 3): R^T (p - t)."""
    return np.einsum("nmj,nji->nmi", points[None, :, :] - translations[:, None, :], rotations)


def collision_and_empty(points: np.ndarray, rotations: np.ndarray, translations: np.ndarray,
                        widths: np.ndarray, depths: np.ndarray, geometry: GripperGeometry = GripperGeometry(),
                        object_mask: np.ndarray | None = None, chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Collision and "empty" flags (N,), (N,) of N grasps against scene points (M, 3).

    ``object_mask`` (M,) marks which points count for the "empty" test (default: all); table points, for
    example, collide but never make a grasp non-empty. Grasps are processed in chunks to bound memory.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    rotations = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
    translations = np.asarray(translations, dtype=np.float64).reshape(-1, 3)
    n = len(rotations)
    widths = np.broadcast_to(np.asarray(widths, dtype=np.float64), (n,))
    depths = np.broadcast_to(np.asarray(depths, dtype=np.float64), (n,))
    if len(translations) != n:
        raise ValueError(f"rotations ({n}) and translations ({len(translations)}) differ in length")
    if object_mask is None:
        object_mask = np.ones(len(points), dtype=bool)
    collision = np.zeros(n, dtype=bool)
    empty = np.ones(n, dtype=bool)
    if n == 0 or len(points) == 0:
        return collision, empty
    g = geometry
    for start in range(0, n, chunk):
        sl = slice(start, start + chunk)
        local = points_in_gripper_frame(points, rotations[sl], translations[sl])
        x, y, z = local[..., 0], local[..., 1], local[..., 2]
        half_w = widths[sl, None] / 2
        depth = depths[sl, None]
        in_height = np.abs(z) < g.height / 2
        along_fingers = (x > -g.base_depth) & (x < depth)
        outer = np.abs(y) < half_w + g.finger_width
        fingers = in_height & along_fingers & outer & (np.abs(y) > half_w)
        base = in_height & outer & (x > -(g.base_depth + g.finger_width)) & (x <= -g.base_depth)
        hit = fingers | base
        if g.approach_distance > 0:
            # The hand's swept volume while moving in from approach_distance behind the palm.
            behind = (x > -(g.base_depth + g.finger_width + g.approach_distance)) & (x <= -(g.base_depth + g.finger_width))
            hit |= in_height & outer & behind
        inner = in_height & along_fingers & (np.abs(y) <= half_w) & object_mask[None, :]
        collision[sl] = hit.any(axis=1)
        empty[sl] = inner.sum(axis=1) < g.empty_threshold
    return collision, empty
