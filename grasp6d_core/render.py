"""Synthetic depth + instance labels of a mesh scene by ray casting (open3d RaycastingScene, no GL).

The camera frame is OpenCV's: x right, y down, z forward. Depth is the z coordinate of the hit (what a depth
camera reports), not the ray length.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import open3d as o3d
import trimesh

from grasp6d_core.camera import CameraIntrinsics


class DepthRenderer:
    """Depth and label images of meshes placed in a world frame.

    ``meshes[i]`` is placed by ``poses[i]`` (4×4, world <- mesh) and labelled ``ids[i]`` (non-zero; 0 means
    "nothing was hit"). The scene is built once; :meth:`render` can be called for any number of views.
    """

    def __init__(self, meshes: Sequence[trimesh.Trimesh], poses: Sequence[np.ndarray], ids: Sequence[int]):
        if not (len(meshes) == len(poses) == len(ids)):
            raise ValueError(f"meshes ({len(meshes)}), poses ({len(poses)}) and ids ({len(ids)}) differ in length")
        if any(int(i) == 0 for i in ids):
            raise ValueError("mesh ids must be non-zero: 0 marks pixels that hit nothing")
        self._scene = o3d.t.geometry.RaycastingScene()
        geometry_ids = []
        for index, (mesh, pose) in enumerate(zip(meshes, poses)):
            pose = np.asarray(pose, dtype=np.float64)
            if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
                raise ValueError(f"poses[{index}] must be a finite 4x4 matrix, got shape {pose.shape}")
            if len(mesh.faces) == 0:
                raise ValueError(f"meshes[{index}] has no faces")
            vertices = np.asarray(mesh.vertices, dtype=np.float64) @ pose[:3, :3].T + pose[:3, 3]
            geometry_ids.append(self._scene.add_triangles(
                o3d.core.Tensor(vertices.astype(np.float32)),
                o3d.core.Tensor(np.asarray(mesh.faces, dtype=np.uint32))))
        # open3d hands out its own geometry ids (0, 1, ...); map them to ours, with INVALID_ID -> 0.
        lookup = np.zeros(max(geometry_ids, default=-1) + 2, dtype=np.int32)
        lookup[np.asarray(geometry_ids, dtype=np.int64)] = np.asarray(ids, dtype=np.int32)
        self._id_lookup = lookup

    def render(self, intrinsics: CameraIntrinsics, T_world_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Depth (H, W) float32 metres, 0 = no hit, and labels (H, W) int32 mesh ids, 0 = nothing."""
        T = np.asarray(T_world_camera, dtype=np.float64)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            raise ValueError(f"T_world_camera must be a finite 4x4 matrix, got shape {T.shape}")
        # Rays built here, not by create_rays_pinhole, which puts pixel centres at u + 0.5: CameraIntrinsics
        # (and GraspNet) put them at integer u. Directions have camera z = 1, so t_hit is the depth itself.
        v, u = np.indices((intrinsics.height, intrinsics.width), dtype=np.float64)
        directions = np.stack([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy,
                               np.ones_like(u)], axis=-1) @ T[:3, :3].T
        origins = np.broadcast_to(T[:3, 3], directions.shape)
        rays = np.concatenate([origins, directions], axis=-1).astype(np.float32)
        hits = self._scene.cast_rays(o3d.core.Tensor(rays))
        t_hit = hits["t_hit"].numpy()
        depth = t_hit.astype(np.float32)
        hit = np.isfinite(t_hit)
        depth[~hit] = 0.0
        geometry = hits["geometry_ids"].numpy().astype(np.int64)
        geometry[~hit] = len(self._id_lookup) - 1  # the lookup's last slot is 0
        labels = self._id_lookup[np.clip(geometry, 0, len(self._id_lookup) - 1)]
        return depth, labels.astype(np.int32)
