"""The geometric floor every learned detector must beat: sample antipodal point pairs on the cloud.

For seed points p1 with outward normal n1, look along −n1 for the far surface point p2 whose normal points
along the same line (both within ``max_angle`` of it); the grasp closes along p2 − p1 at their midpoint,
approaching from above (top-down projection of −up onto the plane normal to the closing axis). Candidates
that collide with the cloud (gripper + approach path, :mod:`grasp6d_core.physics`) are dropped.
"""
from __future__ import annotations

import numpy as np

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.hand import PANDA, full_hand_feasible


def cloud_with_normals(views: list[tuple[np.ndarray, np.ndarray]], voxel: float = 0.003) -> tuple[np.ndarray, np.ndarray]:
    """Fuse world-frame clouds of several views, each (points, viewpoint): normals are estimated and oriented
    towards the camera per view (so they point out of the objects), then merged on a voxel grid."""
    import open3d as o3d
    merged = o3d.geometry.PointCloud()
    for points, viewpoint in views:
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)))
        cloud = cloud.voxel_down_sample(voxel)
        cloud.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=4 * voxel, max_nn=20))
        cloud.orient_normals_towards_camera_location(np.asarray(viewpoint, dtype=np.float64))
        merged += cloud
    merged = merged.voxel_down_sample(voxel)
    normals = np.asarray(merged.normals)
    return np.asarray(merged.points), normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)


def antipodal_grasps(points: np.ndarray, normals: np.ndarray, table_height: float = 0.0, n_seeds: int = 400,
                     max_width: float = PANDA.max_opening, max_angle_deg: float = 25.0, depth: float = 0.02,
                     rng: np.random.Generator | None = None) -> GraspGroup:
    """Antipodal grasps (world frame, z up) on a cloud with outward normals; best first. Empty group when nothing qualifies."""
    rng = rng or np.random.default_rng(0)
    pts, normals = np.asarray(points, dtype=np.float64), np.asarray(normals, dtype=np.float64)
    above = pts[:, 2] > table_height + 0.004
    obj_pts, obj_normals = pts[above], normals[above]
    if len(obj_pts) < 10:
        return GraspGroup()
    seeds = rng.choice(len(obj_pts), size=min(n_seeds, len(obj_pts)), replace=False)
    cos_max = np.cos(np.deg2rad(max_angle_deg))
    d = -obj_normals[seeds]                                   # closing direction from p1 into the object
    rel = obj_pts[None, :, :] - obj_pts[seeds][:, None, :]   # (S, M, 3)
    s = np.einsum("smj,sj->sm", rel, d)
    perp = np.linalg.norm(rel - s[..., None] * d[:, None, :], axis=2)
    aligned = np.einsum("mj,sj->sm", obj_normals, d)
    ok = (s > 0.005) & (s < max_width - 0.015) & (perp < 0.004) & (aligned > cos_max)
    has = ok.any(axis=1)
    if not has.any():
        return GraspGroup()
    partner = np.argmax(np.where(ok, s, -np.inf), axis=1)[has]
    seeds, d = seeds[has], d[has]
    p1, p2 = obj_pts[seeds], obj_pts[partner]
    y = p2 - p1
    width = np.linalg.norm(y, axis=1)
    y /= width[:, None]
    x = np.array([0.0, 0.0, -1.0]) - y[:, 2:3] * y           # top-down approach, orthogonal to closing axis
    x_norm = np.linalg.norm(x, axis=1)
    good = x_norm > 0.3                                      # closing axis not too steep to approach from above
    x, y, p1, p2, width = x[good] / x_norm[good, None], y[good], p1[good], p2[good], width[good]
    centre = (p1 + p2) / 2
    centre[:, 2] = np.maximum(centre[:, 2], table_height + 0.015)  # keep fingertips off the table
    z = np.cross(x, y)
    R = np.stack([x, y, z], axis=2)
    quality = (np.einsum("ij,ij->i", -obj_normals[seeds][good], y) + np.einsum("ij,ij->i", obj_normals[partner][good], y)) / 2
    score = quality + 2.0 * (centre[:, 2] - table_height)    # prefer the top of the pile
    grasps = GraspGroup.from_components(score, np.minimum(width + 0.02, max_width), depth, R, centre - depth * x)
    return grasps[full_hand_feasible(pts, grasps, PANDA, above, max_width)].sort_by_score()
