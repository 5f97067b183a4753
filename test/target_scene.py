"""Two separated boxes on a table seen from above: the scene the target-object tests grasp in.

Camera frame (OpenCV: x right, y down, z forward), 0.6 m above the table looking straight down, so camera +z
is world -z (down): a top-down approach is the camera axis (0, 0, 1).
"""
import numpy as np
import trimesh

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.render import DepthRenderer

INTRINSICS = CameraIntrinsics(320, 240, 260.0, 260.0, 159.5, 119.5)
CAMERA_HEIGHT = 0.6
BOX_CENTRES = {1: (-0.12, 0.0), 2: (0.12, 0.02)}   # label -> world xy; both 6 x 4 x 5 cm
BOX_SIZE = (0.06, 0.04, 0.05)
TABLE_LABEL = 9


def two_boxes() -> dict:
    """organized (H, W, 3) camera-frame points (NaN = no depth), labels (H, W) int32, intrinsics."""
    plane = trimesh.creation.box(extents=[1.0, 1.0, 0.02])
    plane_pose = np.eye(4)
    plane_pose[2, 3] = -0.01
    meshes, poses, ids = [plane], [plane_pose], [TABLE_LABEL]
    for label, (x, y) in BOX_CENTRES.items():
        pose = np.eye(4)
        pose[:3, 3] = [x, y, BOX_SIZE[2] / 2]
        meshes.append(trimesh.creation.box(extents=BOX_SIZE))
        poses.append(pose)
        ids.append(label)
    T_world_camera = np.eye(4)
    T_world_camera[:3, :3] = np.diag([1.0, -1.0, -1.0])
    T_world_camera[2, 3] = CAMERA_HEIGHT
    depth, labels = DepthRenderer(meshes, poses, ids).render(INTRINSICS, T_world_camera)
    organized = INTRINSICS.depth_to_points(depth, organized=True)
    return {"organized": organized, "labels": np.where(labels == TABLE_LABEL, 0, labels).astype(np.int32),
            "intrinsics": INTRINSICS, "T_world_camera": T_world_camera}


def box_roi(label: int, margin: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame axis-aligned box around one box (camera x = world x, camera y = -world y)."""
    x, y = BOX_CENTRES[label]
    half = np.array([BOX_SIZE[0], BOX_SIZE[1]]) / 2 + margin
    lo = np.array([x - half[0], -y - half[1], CAMERA_HEIGHT - BOX_SIZE[2] - margin])
    hi = np.array([x + half[0], -y + half[1], CAMERA_HEIGHT + 0.0 - 0.005])
    return lo, hi
