"""Fast per-object grasp labels in GraspNet-1Billion's layout, for the model's stand-in training scenes.

Why here: the data engine's label generator had not landed when the shipped weights had to be trained
(see docs/model.md). Contacts come from ray casting the closing line from both jaws' open positions
(open3d, millions of rays per second) instead of marching an SDF; μ comes from the Judges' two-contact
force-closure (physics.force_closure), gripper self-collision from sample points of the finger/palm boxes
against the object's SDF grid (data.sdf.ObjectSDF).
Layout: points (Np,3); offsets (Np,300,12,4,3) = (angle, depth, width); scores (Np,300,12,4) = μ (−1 none);
collision (Np,300,12,4) = gripper hits the object itself (only probed where both contacts exist).
"""
from __future__ import annotations

import numpy as np

from grasp6d_core.physics.force_closure import min_friction, required_friction
from grasp6d_core.rotations import grasp_rotation

NUM_ANGLES = 12
DEPTHS = np.array([0.01, 0.02, 0.03, 0.04])
MAX_WIDTH = 0.10
WIDTH_MARGIN = 0.01   # label width = contact distance + margin (the jaws need room to close onto the object)
FINGER_WIDTH, HEIGHT, BASE_DEPTH = 0.01, 0.02, 0.02


def gripper_probe_points(width: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(G,) widths/depths -> (G, 18, 3) gripper-frame points on the finger and palm boxes' mid-planes."""
    g = len(width)
    yf = width / 2 + FINGER_WIDTH / 2
    pts = []
    for side in (-1.0, 1.0):
        for x in (-BASE_DEPTH, None, 0.0):
            for z in (-HEIGHT / 2, HEIGHT / 2):
                xv = depth if x is None else np.full(g, x)
                pts.append(np.stack([xv, side * yf, np.full(g, z)], -1))
    for y in (-1.0, 0.0, 1.0):
        for z in (-HEIGHT / 2, HEIGHT / 2):
            pts.append(np.stack([np.full(g, -BASE_DEPTH - FINGER_WIDTH / 2), y * yf, np.full(g, z)], -1))
    return np.stack(pts, 1)


def sdf_distance(sdf, points: np.ndarray) -> np.ndarray:
    """ObjectSDF.distance for millions of points: torch's multi-threaded trilinear grid_sample, no autograd
    (scipy's map_coordinates is single-threaded; values agree, border-clamped alike)."""
    import torch
    import torch.nn.functional as F
    with torch.no_grad():
        grid = torch.as_tensor(sdf.values)[None, None]
        idx = (torch.as_tensor(points, dtype=torch.float32) - torch.as_tensor(sdf.origin, dtype=torch.float32)) / sdf.voxel_size
        shape = torch.tensor(sdf.values.shape, dtype=torch.float32)
        g = (2 * idx / (shape - 1) - 1).flip(-1).view(1, -1, 1, 1, 3)
        return F.grid_sample(grid, g, mode="bilinear", padding_mode="border", align_corners=True).view(-1).numpy()


def label_points(mesh, spacing: float = 0.008, max_points: int = 256, seed: int = 0) -> np.ndarray:
    import trimesh
    from grasp6d_core.model.network import farthest_point_indices
    pts = trimesh.sample.sample_surface_even(mesh, 6000, seed=seed)[0]
    keys = np.floor(pts / spacing).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    pts = pts[np.sort(first)]
    if len(pts) > max_points:
        pts = pts[farthest_point_indices(pts, max_points)]
    return pts.astype(np.float32)


def object_labels(mesh, sdf, views: np.ndarray, points: np.ndarray | None = None, chunk: int = 8) -> dict:
    """GraspNet-layout labels of one watertight mesh (object frame)."""
    import open3d as o3d
    points = label_points(mesh) if points is None else points
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(mesh.vertices, np.float32)),
                        o3d.core.Tensor(np.asarray(mesh.faces, np.uint32)))
    n_v, n_a, n_d = len(views), NUM_ANGLES, len(DEPTHS)
    angles = np.arange(n_a) * np.pi / n_a
    rot = grasp_rotation(np.repeat(-views, n_a, 0), np.tile(angles, n_v)).reshape(n_v, n_a, 3, 3)
    x_axis, y_axis = rot[..., 0], rot[..., 1]                                       # (V, A, 3)
    scores = np.full((len(points), n_v, n_a, n_d), -1.0, np.float32)
    widths = np.zeros_like(scores)
    collision = np.zeros(scores.shape, bool)
    half = MAX_WIDTH / 2
    for s in range(0, len(points), chunk):
        p = points[s:s + chunk]
        c = p[:, None, None, None] + DEPTHS[None, None, None, :, None] * x_axis[None, :, :, None]  # (P,V,A,D,3)
        y = np.broadcast_to(y_axis[None, :, :, None], c.shape)
        flat_c, flat_y = c.reshape(-1, 3), y.reshape(-1, 3)
        rays = np.concatenate([np.concatenate([flat_c + half * flat_y, -flat_y], 1),
                               np.concatenate([flat_c - half * flat_y, flat_y], 1)]).astype(np.float32)
        hits = scene.cast_rays(o3d.core.Tensor(rays))
        t = hits["t_hit"].numpy().reshape(2, -1)
        nrm = hits["primitive_normals"].numpy().reshape(2, -1, 3).astype(np.float64)
        start_out = sdf_distance(sdf, rays[:, :3]).reshape(2, -1) > 0
        ok = (t[0] < half) & (t[1] < half) & start_out[0] & start_out[1]
        c_r = flat_c + (half - np.minimum(t[0], half))[:, None] * flat_y
        c_l = flat_c - (half - np.minimum(t[1], half))[:, None] * flat_y
        w = np.linalg.norm(c_r - c_l, axis=1) + WIDTH_MARGIN
        ok &= w <= MAX_WIDTH
        mu = min_friction(required_friction(c_l, c_r, nrm[1], nrm[0]))
        # Self-collision: finger/palm probe points inside the object.
        # Only grasps with two contacts can be good: probe just those (~10 %), the rest stay "no grasp".
        sel = np.flatnonzero(ok)
        depth = np.broadcast_to(DEPTHS, c.shape[:-1]).reshape(-1)[sel]
        probes = gripper_probe_points(w[sel], depth)                                       # (G, 18, 3)
        rmat = np.broadcast_to(rot[None, :, :, None], c.shape[:-1] + (3, 3)).reshape(-1, 3, 3)[sel]
        world = np.einsum("gij,gkj->gki", rmat, probes) + np.repeat(p, n_v * n_a * n_d, 0)[sel][:, None]
        hit_self = np.zeros(len(ok), bool)
        hit_self[sel] = (sdf_distance(sdf, world.reshape(-1, 3)).reshape(len(world), -1) < 0).any(1)
        shape = (len(p), n_v, n_a, n_d)
        scores[s:s + chunk] = np.where(ok, mu, -1.0).reshape(shape)
        widths[s:s + chunk] = np.where(ok, w, 0.0).reshape(shape)
        collision[s:s + chunk] = hit_self.reshape(shape)
    offsets = np.stack([np.broadcast_to(angles[None, None, :, None], scores.shape),
                        np.broadcast_to(DEPTHS[None, None, None, :], scores.shape), widths], -1).astype(np.float32)
    return {"points": points, "offsets": offsets, "scores": scores, "collision": collision}


def table_collision(labels: dict, pose_world: np.ndarray, views: np.ndarray, table_z: float = 0.0) -> np.ndarray:
    """(Np,V,A,D) bool: the finger/palm boxes reach below the table plane z = table_z (world frame).

    Closed form of the lowest probe point: the boxes' x extents give min(x·u) over {−base−finger, d}, the
    closing and height extents −(w/2 + finger)|y·u| − h/2|z·u|, with u the world up in the grasp frame.
    """
    pts, off = labels["points"], labels["offsets"]
    n_p, n_v, n_a, n_d = labels["scores"].shape
    angles = np.arange(n_a) * np.pi / n_a
    rot = grasp_rotation(np.repeat(-views, n_a, 0), np.tile(angles, n_v)).reshape(n_v, n_a, 3, 3)
    up = pose_world[:3, :3].T @ np.array([0.0, 0.0, 1.0])   # world z in the object frame
    xu, yu, zu = [(rot[..., i] @ up)[None, :, :, None] for i in range(3)]     # (1, V, A, 1)
    w = np.where(off[..., 2] > 0, off[..., 2], MAX_WIDTH)
    d = DEPTHS[None, None, None, :]
    lowest = np.minimum(np.minimum(-(BASE_DEPTH + FINGER_WIDTH) * xu, d * xu), 0.0) \
        - (w / 2 + FINGER_WIDTH) * np.abs(yu) - HEIGHT / 2 * np.abs(zu)
    base = (pts @ up + pose_world[2, 3])[:, None, None, None]
    return base + lowest < table_z + 0.001
