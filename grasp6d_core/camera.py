"""Pinhole camera intrinsics (depth image -> points, points -> pixels) and the camera models, defined once.

The models: GraspNet-1Billion's colour-aligned 1280×720 camK of its RealSense D435 and Azure Kinect (what the
data engine renders and writes as camK.npy), and the streams the live pipeline uses — the D435's 640×480 depth
stream (the demo recording; the simulated camera is it at half resolution) and the Kinect's NFOV unbinned
depth mode. Everything else (synth's sensor models, the PyBullet camera, the demo recording tool, benchmarks)
takes them from here; ``test_sensing.py::test_camera_models_have_one_source`` keeps it so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a depth image of ``width`` × ``height`` pixels (no distortion: rectified)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        if not (np.isfinite(self.fx) and np.isfinite(self.fy) and self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be positive and finite, got fx={self.fx} fy={self.fy}")

    @property
    def K(self) -> np.ndarray:
        """3×3 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @classmethod
    def from_matrix(cls, K: np.ndarray, width: int, height: int) -> "CameraIntrinsics":
        K = np.asarray(K, dtype=np.float64)
        if K.shape != (3, 3):
            raise ValueError(f"camera matrix must be 3x3, got shape {K.shape}")
        return cls(int(width), int(height), float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))

    def scaled(self, factor: float) -> "CameraIntrinsics":
        """Intrinsics of the image resized by ``factor``."""
        return CameraIntrinsics(round(self.width * factor), round(self.height * factor), self.fx * factor,
                                self.fy * factor, self.cx * factor, self.cy * factor)

    def check_image(self, depth: np.ndarray) -> None:
        if depth.shape[:2] != (self.height, self.width):
            raise ValueError(f"depth image is {depth.shape[1]}x{depth.shape[0]} but the intrinsics are "
                             f"{self.width}x{self.height}")

    def depth_to_points(self, depth: np.ndarray, organized: bool = False,
                        min_depth: float = 1e-6, max_depth: float = np.inf) -> np.ndarray:
        """Back-project a depth image in metres (H, W) to camera-frame points.

        ``organized=False`` returns (M, 3) points of the valid pixels (finite, within [min_depth, max_depth]);
        ``organized=True`` returns (H, W, 3) with NaN for invalid pixels.
        """
        depth = np.asarray(depth, dtype=np.float32)
        self.check_image(depth)
        v, u = np.indices(depth.shape, dtype=np.float32)
        valid = np.isfinite(depth) & (depth >= min_depth) & (depth <= max_depth)
        z = np.where(valid, depth, np.nan).astype(np.float32)
        points = np.stack([(u - self.cx) * z / self.fx, (v - self.cy) * z / self.fy, z], axis=-1)
        return points if organized else points[valid]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Camera-frame points (N, 3) -> pixel coordinates (N, 2) as (u, v) floats and a mask of points in
        front of the camera that land inside the image."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        z = points[:, 2]
        in_front = z > 1e-9
        safe_z = np.where(in_front, z, 1.0)
        uv = np.stack([points[:, 0] * self.fx / safe_z + self.cx, points[:, 1] * self.fy / safe_z + self.cy], axis=1)
        inside = in_front & (uv[:, 0] >= -0.5) & (uv[:, 0] < self.width - 0.5) & \
            (uv[:, 1] >= -0.5) & (uv[:, 1] < self.height - 0.5)
        return uv, inside


# GraspNet-1Billion's camK.npy (colour-aligned, 1280×720) of its two cameras.
GRASPNET_REALSENSE = CameraIntrinsics(1280, 720, 927.17, 927.37, 651.32, 349.62)
GRASPNET_KINECT = CameraIntrinsics(1280, 720, 631.55, 631.21, 638.43, 366.50)
# The D435 at 640×480 (the 4:3 centre of the colour view, the same vertical field of view within 1°), principal
# point at the image centre because PyBullet's projection puts it there; and the Azure Kinect's NFOV unbinned
# depth mode.
REALSENSE_640 = CameraIntrinsics(640, 480, 605.0, 605.0, 319.5, 239.5)
KINECT_NFOV = CameraIntrinsics(640, 576, 504.0, 504.0, 319.5, 287.5)
