"""DepthRenderer: metric depth (camera z, not ray length), instance labels, OpenCV camera frame."""
import numpy as np
import pytest
import trimesh

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.render import DepthRenderer

K = CameraIntrinsics(160, 120, 120.0, 120.0, 79.5, 59.5)


def look_down(height: float, tilt_deg: float = 0.0) -> np.ndarray:
    """Camera above the origin looking down (-z world); optionally tilted about the camera x axis."""
    T = np.eye(4)
    T[:3, :3] = np.diag([1.0, -1.0, -1.0])  # camera z -> world -z, camera y -> world -y
    a = np.deg2rad(tilt_deg)
    T[:3, :3] = T[:3, :3] @ np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    T[:3, 3] = [0.0, 0.0, height]
    return T


def scene():
    plane = trimesh.creation.box(extents=[2.0, 2.0, 0.02])
    box = trimesh.creation.box(extents=[0.1, 0.1, 0.1])
    plane_pose = np.eye(4); plane_pose[2, 3] = -0.01        # top face at z = 0
    box_pose = np.eye(4); box_pose[:3, 3] = [0.0, 0.0, 0.05]  # top face at z = 0.1
    return DepthRenderer([plane, box], [plane_pose, box_pose], [7, 3])


def test_depth_and_labels_looking_down():
    depth, labels = scene().render(K, look_down(0.6))
    assert depth.dtype == np.float32 and labels.dtype == np.int32 and depth.shape == (120, 160)
    assert depth[60, 80] == pytest.approx(0.5, abs=1e-5) and labels[60, 80] == 3
    assert depth[2, 2] == pytest.approx(0.6, abs=1e-5) and labels[2, 2] == 7


def test_tilted_view_back_projects_onto_the_true_surface():
    T = look_down(0.6, tilt_deg=25.0)
    depth, labels = scene().render(K, T)
    points_cam = K.depth_to_points(depth)
    points = points_cam @ T[:3, :3].T + T[:3, 3]
    lab = labels[depth > 0]
    # Plane pixels back-project onto z = 0, box-top pixels (facing the camera) onto z <= 0.1 box surface.
    assert np.abs(points[lab == 7, 2]).max() < 1e-4
    box_pts = points[lab == 3]
    assert len(box_pts) > 50 and np.all(np.abs(box_pts[:, :2]) <= 0.05 + 1e-4) and box_pts[:, 2].max() <= 0.1 + 1e-4


def test_no_hit_is_zero_and_bad_input_is_named():
    depth, labels = scene().render(K, look_down(-0.5))  # below the plane, looking further down
    assert not depth.any() and not labels.any()
    with pytest.raises(ValueError, match="non-zero"):
        DepthRenderer([trimesh.creation.box()], [np.eye(4)], [0])
    with pytest.raises(ValueError, match="T_world_camera"):
        scene().render(K, np.eye(3))
