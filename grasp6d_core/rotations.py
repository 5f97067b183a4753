"""Grasp-frame rotations in the GraspNet convention (README "Grasp frame").

x = approach (into the object), y = closing direction, z = finger height. For an approach vector ``a`` and
an in-plane angle ``theta``: x = a/|a|, y = normalize([-a_y, a_x, 0]) (fallback [0, 1, 0] when a is
vertical), z = x × y, R = [x y z] · Rx(theta). Everything is vectorised over a leading batch axis.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

_EPS = 1e-8


def grasp_rotation(approach: np.ndarray, angle: np.ndarray | float = 0.0) -> np.ndarray:
    """Rotation matrices (N, 3, 3) of grasps with approach vectors (N, 3) and in-plane angles (N,)."""
    approach = np.asarray(approach, dtype=np.float64)
    single = approach.ndim == 1
    approach = np.atleast_2d(approach)
    angle = np.broadcast_to(np.asarray(angle, dtype=np.float64), (approach.shape[0],))
    norm = np.linalg.norm(approach, axis=1, keepdims=True)
    if np.any(norm < _EPS):
        raise ValueError("approach vectors must be non-zero")
    x = approach / norm
    y = np.stack([-x[:, 1], x[:, 0], np.zeros(len(x))], axis=1)
    y_norm = np.linalg.norm(y, axis=1, keepdims=True)
    vertical = y_norm[:, 0] < _EPS
    y[vertical] = [0.0, 1.0, 0.0]
    y_norm[vertical] = 1.0
    y = y / y_norm
    z = np.cross(x, y)
    frame = np.stack([x, y, z], axis=2)  # columns x, y, z
    in_plane = Rotation.from_euler("x", angle[:, None]).as_matrix()
    rotation = frame @ in_plane
    return rotation[0] if single else rotation


def approach_of(rotation: np.ndarray) -> np.ndarray:
    """Approach vectors (first column) of rotation matrices (..., 3, 3)."""
    return np.asarray(rotation)[..., :, 0]


def in_plane_angle(rotation: np.ndarray) -> np.ndarray:
    """Recover theta of :func:`grasp_rotation` from rotations (N, 3, 3), in (-pi, pi]."""
    rotation = np.atleast_3d(np.asarray(rotation, dtype=np.float64))
    frame = grasp_rotation(approach_of(rotation), 0.0).reshape(-1, 3, 3)
    relative = np.swapaxes(frame, 1, 2) @ rotation.reshape(-1, 3, 3)
    return np.arctan2(relative[:, 2, 1], relative[:, 1, 1])


def rotation_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Rotations (N, 3, 3) -> quaternions (N, 4) in ROS order (x, y, z, w)."""
    return Rotation.from_matrix(np.asarray(rotation).reshape(-1, 3, 3)).as_quat()


def quaternion_to_rotation(quaternion: np.ndarray) -> np.ndarray:
    """Quaternions (N, 4) in ROS order (x, y, z, w) -> rotations (N, 3, 3); normalises them first."""
    quaternion = np.asarray(quaternion, dtype=np.float64).reshape(-1, 4)
    norm = np.linalg.norm(quaternion, axis=1)
    if np.any(norm < _EPS) or not np.all(np.isfinite(quaternion)):
        raise ValueError("quaternions must be finite and non-zero")
    return Rotation.from_quat(quaternion / norm[:, None]).as_matrix()


def rotation_angle_between(rot_a: np.ndarray, rot_b: np.ndarray) -> np.ndarray:
    """Geodesic angle [rad] between paired rotations (N, 3, 3) and (N, 3, 3)."""
    relative = np.swapaxes(np.asarray(rot_a), -1, -2) @ np.asarray(rot_b)
    cos = (np.trace(relative, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))
