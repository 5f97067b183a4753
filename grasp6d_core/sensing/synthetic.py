"""A known tabletop (box + sphere on a plane) and camera poses around it, for tests, benchmarks and demo
recordings. World frame: z up, table top at z = 0, origin at the table centre."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.render import DepthRenderer


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = np.array([0.0, 0.0, 1.0])) -> np.ndarray:
    """4×4 world <- camera for an OpenCV camera (z forward, y down) at ``eye`` looking at ``target``."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-6:  # looking along ``up``: any horizontal x will do
        x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    T[:3, 3] = eye
    return T


def overhead_pose(height: float = 0.6) -> np.ndarray:
    """Camera ``height`` above the table centre looking straight down (quaternion xyzw = (1, 0, 0, 0))."""
    T = np.diag([1.0, -1.0, -1.0, 1.0])
    T[2, 3] = height
    return T


def orbit_poses(n: int, radius: float = 0.45, height: float = 0.45, start_deg: float = 0.0,
                span_deg: float = 360.0, target=(0.0, 0.0, 0.04)) -> np.ndarray:
    """``n`` cameras on a horizontal circle around the table centre, all looking at ``target``."""
    angles = np.deg2rad(start_deg + span_deg * np.arange(n) / max(n, 1))
    return np.stack([look_at([radius * np.cos(a), radius * np.sin(a), height], target) for a in angles])


@dataclass
class TabletopScene:
    """Table plane (``table_size`` square, top at z=0), a box and a sphere resting on it."""

    table_size: float = 0.8
    box_extents: tuple = (0.102, 0.063, 0.083)  # odd sizes: faces off the voxel lattice, as in reality
    box_xy: tuple = (-0.081, 0.032)
    sphere_radius: float = 0.041
    sphere_xy: tuple = (0.092, -0.043)
    meshes: list = field(init=False)
    poses: list = field(init=False)
    ids: list = field(init=False)

    def __post_init__(self) -> None:
        table = trimesh.creation.box(extents=[self.table_size, self.table_size, 0.02])
        box = trimesh.creation.box(extents=self.box_extents)
        sphere = trimesh.creation.icosphere(subdivisions=4, radius=self.sphere_radius)
        self.meshes = [table, box, sphere]
        self.poses = [self._at(0.0, 0.0, -0.01), self._at(*self.box_xy, self.box_extents[2] / 2),
                      self._at(*self.sphere_xy, self.sphere_radius)]
        self.ids = [1, 2, 3]

    @staticmethod
    def _at(x: float, y: float, z: float) -> np.ndarray:
        T = np.eye(4)
        T[:3, 3] = [x, y, z]
        return T

    def renderer(self) -> DepthRenderer:
        return DepthRenderer(self.meshes, self.poses, self.ids)

    def world_mesh(self) -> trimesh.Trimesh:
        """All parts in the world frame as one mesh (ground truth for geometry checks)."""
        return trimesh.util.concatenate([m.copy().apply_transform(T) for m, T in zip(self.meshes, self.poses)])
