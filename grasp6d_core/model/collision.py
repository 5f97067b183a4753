"""The detector's model-free collision check, in torch (batched matmuls) on an 8 mm voxel copy of the cloud.

Why not physics.collision_and_empty directly: the same geometry (GripperGeometry: finger boxes, palm, the
approach path behind the palm, "empty" = too few points between the fingers) but its numpy einsum costs
~0.2 s per 64 grasps × 20 k points, over the 250 ms budget of a whole detection; here a chunk of 128 grasps
takes a few ms. The box tests mirror collision_and_empty line by line; a test checks the two agree.
"""
from __future__ import annotations

import numpy as np
import torch

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.physics import GripperGeometry
from grasp6d_core.sensing.tsdf import nearest_to_voxel_centres

VOXEL = 0.008  # the evaluator's model-point voxel


def voxel_thin(points: np.ndarray, voxel: float = VOXEL) -> np.ndarray:
    """One point per voxel (nearest its centre): independent of the points' order, so the check gives the same
    answer for any shuffle of a cloud (the first-come point per voxel did not)."""
    return points[nearest_to_voxel_centres(points, voxel)]


def collision_and_empty_torch(points: torch.Tensor, rotations: torch.Tensor, translations: torch.Tensor,
                              widths: torch.Tensor, depths: torch.Tensor, g: GripperGeometry) -> tuple[torch.Tensor, torch.Tensor]:
    """(M,3) points, (G,3,3), (G,3), (G,), (G,) -> collision (G,), empty (G,) bool."""
    local = torch.bmm((points[None] - translations[:, None]).expand(len(rotations), -1, -1), rotations)  # R^T(p-t)
    x, y, z = local[..., 0], local[..., 1], local[..., 2]
    half_w, depth = widths[:, None] / 2, depths[:, None]
    in_height = z.abs() < g.height / 2
    along = (x > -g.base_depth) & (x < depth)
    ay = y.abs()
    outer = ay < half_w + g.finger_width
    fingers = in_height & along & outer & (ay > half_w)
    base = in_height & outer & (x > -(g.base_depth + g.finger_width)) & (x <= -g.base_depth)
    hit = fingers | base
    if g.approach_distance > 0:
        behind = (x > -(g.base_depth + g.finger_width + g.approach_distance)) & (x <= -(g.base_depth + g.finger_width))
        hit |= in_height & outer & behind
    inner = in_height & along & (ay <= half_w)
    return hit.any(1), inner.sum(1) < g.empty_threshold


def collision_free(grasps: GraspGroup, scene_points: np.ndarray, top_k: int, geometry: GripperGeometry,
                   chunk: int = 128) -> GraspGroup:
    """The first ``top_k`` grasps (in the given order) that miss the (voxel-thinned) scene and hold something."""
    pts = torch.as_tensor(voxel_thin(np.asarray(scene_points, np.float64)), dtype=torch.float32)
    kept, count = [], 0
    for start in range(0, len(grasps), chunk):
        c = grasps[start:start + chunk]
        f = lambda a: torch.as_tensor(a, dtype=torch.float32)
        hit, empty = collision_and_empty_torch(pts, f(c.rotations), f(c.translations), f(c.widths), f(c.depths), geometry)
        ok = (~hit & ~empty).numpy()
        kept.append(c[ok])
        count += int(ok.sum())
        if count >= top_k:
            break
    return GraspGroup.concatenate(kept)
