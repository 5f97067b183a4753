"""A scene's depth views fused in the robot's TSDF volume, as the surface cloud the detector sees.

On the robot, tsdf_node fuses the camera's frames in :class:`~grasp6d_core.sensing.tsdf.TSDFVolume` and the
detector reads a surface cloud sampled from it; the paper's fused-scene protocol scores that input. This module
does the same for a GraspNet-format scene: every chosen view's depth image is integrated at its camera pose in
the table frame (``cam0_wrt_table @ camera_poses[ann]``) into a volume of the table top, and the sampled surface
points and normals are returned in the frame of one reference camera (camera 0 by default, the frame the fused
protocol's dump ``0000.npy`` is scored in). Used by ``grasp6d detect --fused``, ``grasp6d report`` and the
loader's fused samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.data.scene_io import table_from_camera
from grasp6d_core.sensing.scene_dir import read_depth_metres
from grasp6d_core.sensing.tsdf import TSDFVolume

@dataclass
class FusedCloud:
    points: np.ndarray      # (N, 3) float32, in the reference camera's frame
    normals: np.ndarray     # (N, 3) float32 unit normals, same frame
    views: list[int]        # the image ids fused
    reference: int          # the image id whose camera frame the cloud is in


def fuse_views(cam_dir: str | Path, views: Sequence[int], num_points: int = 20000, seed: int = 0,
               voxel_size: float = 0.005, reference: int = 0) -> FusedCloud:
    """Fuse depth images ``views`` of one scene's camera folder (…/scene_XXXX/<camera>) and sample
    ``num_points`` surface points with normals, in camera ``reference``'s frame. FileNotFoundError names a
    missing pose file or depth image; ValueError says when the views leave no surface."""
    cam_dir = Path(cam_dir)
    views = sorted({int(v) for v in views})
    if not views:
        raise ValueError(f"{cam_dir}: no views to fuse")
    reference_pose = table_from_camera(cam_dir, reference)
    if reference_pose is None:
        raise FileNotFoundError(f"{cam_dir}: camera_poses.npy and cam0_wrt_table.npy are needed to fuse views")
    K = np.load(cam_dir / "camK.npy")
    # TSDFVolume's default workspace, the table-top box tsdf_node uses: the robot's input, not a copy of it
    volume = TSDFVolume(voxel_size=voxel_size)
    for ann in views:
        depth = read_depth_metres(cam_dir / "depth" / f"{ann:04d}.png")
        intrinsics = CameraIntrinsics.from_matrix(K, depth.shape[1], depth.shape[0])
        volume.integrate_depth(depth, intrinsics, table_from_camera(cam_dir, ann))
    points, normals = volume.surface(num_points, seed=seed)
    if len(points) == 0:
        raise ValueError(f"{cam_dir}: views {views} leave no surface in the table workspace")
    to_reference = np.linalg.inv(reference_pose)
    return FusedCloud((points @ to_reference[:3, :3].T + to_reference[:3, 3]).astype(np.float32),
                      (normals @ to_reference[:3, :3].T).astype(np.float32), views, int(reference))
