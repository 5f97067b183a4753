"""A PyBullet table-top clutter world (VGN's protocol): objects dropped in a pile or placed packed, depth
rendered from a fixed camera. No GUI, one physics client per world."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np

from grasp6d_core.camera import REALSENSE_640, CameraIntrinsics
from grasp6d_core.sensing.synthetic import look_at

WORKSPACE = 0.30          # side of the square work area centred at the origin, table top at z = 0
OBJECT_SETS = {"seen": range(0, 500), "novel": range(500, 1000)}  # pybullet_data/random_urdfs ids
DEFAULT_INTRINSICS = REALSENSE_640.scaled(0.5)   # the RealSense at 320×240, as the demo recording's camera


DEFAULT_CAMERA = look_at([0.0, -0.35, 0.55], [0.0, 0.0, 0.0])
# Extra views around the table, fused for multi-view input (VGN integrates several views into its TSDF).
RING_CAMERAS = [look_at([0.4 * np.cos(a), 0.4 * np.sin(a), 0.45], [0.0, 0.0, 0.03]) for a in np.arange(4) * np.pi / 2 + 0.3]


@contextlib.contextmanager
def _c_stdout_silenced():
    """Point file descriptor 1 at /dev/null for the block (C-level prints bypass sys.stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


class ClutterWorld:
    """Owns a DIRECT PyBullet client with a table plane and a set of graspable objects."""

    def __init__(self, seed: int = 0, timestep: float = 1.0 / 240.0):
        import pybullet
        import pybullet_data
        from pybullet_utils.bullet_client import BulletClient
        with _c_stdout_silenced():  # bullet's C code prints "argv[0]=" on connect, into e.g. `--json` output
            self.p = BulletClient(connection_mode=pybullet.DIRECT)
        self.data_path = Path(pybullet_data.getDataPath())
        self.p.setAdditionalSearchPath(str(self.data_path))
        self.p.setGravity(0, 0, -9.81)
        self.p.setTimeStep(timestep)
        self.plane = self.p.loadURDF("plane.urdf")
        self.rng = np.random.default_rng(seed)
        self.objects: list[int] = []

    # ------------------------------------------------------------------------------------------ objects
    def object_urdf(self, index: int) -> str:
        path = self.data_path / "random_urdfs" / f"{index:03d}" / f"{index:03d}.urdf"
        if not path.is_file():
            raise FileNotFoundError(f"object {index}: no {path}")
        return str(path)

    def add_object(self, urdf: str, position, orientation=(0, 0, 0, 1), scale: float = 1.0) -> int:
        body = self.p.loadURDF(urdf, position, orientation, globalScaling=scale)
        self.objects.append(body)
        return body

    def remove_object(self, body: int) -> None:
        self.p.removeBody(body)
        self.objects.remove(body)

    def clear(self) -> None:
        for body in list(self.objects):
            self.remove_object(body)

    def reset(self, scene: str = "pile", objects: str = "seen", count: int = 5) -> list[int]:
        """Fill the table with ``count`` random objects of a set ('seen'/'novel'), 'pile' or 'packed'."""
        if scene not in ("pile", "packed"):
            raise ValueError(f"unknown scene {scene!r}: choose 'pile' or 'packed'")
        if objects not in OBJECT_SETS:
            raise ValueError(f"unknown object set {objects!r}: choose from {sorted(OBJECT_SETS)}")
        self.clear()
        picks = self.rng.choice(list(OBJECT_SETS[objects]), size=count, replace=False)
        if scene == "pile":
            walls = self._box_walls(0.10)
            for i, index in enumerate(picks):
                xy = self.rng.uniform(-0.04, 0.04, 2)
                quat = self.p.getQuaternionFromEuler(self.rng.uniform(0, 2 * np.pi, 3))
                self.add_object(self.object_urdf(int(index)), [*xy, 0.12 + 0.06 * i], quat)
                self.settle(120)
            for wall in walls:
                self.p.removeBody(wall)
        else:
            for index in picks:
                yaw = self.p.getQuaternionFromEuler([0, 0, self.rng.uniform(0, 2 * np.pi)])
                xy = self.rng.uniform(-WORKSPACE / 3, WORKSPACE / 3, 2)
                self.add_object(self.object_urdf(int(index)), [*xy, 0.05], yaw)
        self.settle(480)
        self.remove_outside()
        return list(self.objects)

    def _box_walls(self, half: float) -> list[int]:
        """Temporary walls that keep a dropped pile compact (VGN drops objects into a box, then lifts it)."""
        walls = []
        for axis in (0, 1):
            for sign in (-1, 1):
                extents = [0.005, half, 0.15] if axis == 0 else [half, 0.005, 0.15]
                shape = self.p.createCollisionShape(self.p.GEOM_BOX, halfExtents=extents)
                pos = [0.0, 0.0, 0.15]
                pos[axis] = sign * half
                walls.append(self.p.createMultiBody(0, shape, basePosition=pos))
        return walls

    def settle(self, steps: int = 240) -> None:
        for _ in range(steps):
            self.p.stepSimulation()

    def remove_outside(self) -> list[int]:
        """Remove objects that left the work area or the table; returns them."""
        gone = []
        for body in list(self.objects):
            pos, _ = self.p.getBasePositionAndOrientation(body)
            if max(abs(pos[0]), abs(pos[1])) > WORKSPACE / 2 + 0.05 or pos[2] < -0.05:
                self.remove_object(body)
                gone.append(body)
        return gone

    def height_of(self, body: int) -> float:
        return float(self.p.getBasePositionAndOrientation(body)[0][2])

    # ------------------------------------------------------------------------------------------ camera
    def render(self, intrinsics: CameraIntrinsics = DEFAULT_INTRINSICS,
               T_world_camera: np.ndarray = DEFAULT_CAMERA, near: float = 0.05, far: float = 2.0):
        """(depth metres (H, W) float32 with 0 = nothing, segmentation (H, W) body ids) from a pinhole camera."""
        eye = T_world_camera[:3, 3]
        forward, down = T_world_camera[:3, 2], T_world_camera[:3, 1]
        view = self.p.computeViewMatrix(eye, eye + forward, -down)
        fov = np.degrees(2 * np.arctan(intrinsics.height / (2 * intrinsics.fy)))
        proj = self.p.computeProjectionMatrixFOV(fov, intrinsics.width / intrinsics.height, near, far)
        _, _, _, zbuf, seg = self.p.getCameraImage(intrinsics.width, intrinsics.height, view, proj,
                                                   renderer=self.p.ER_TINY_RENDERER)
        zbuf = np.asarray(zbuf, dtype=np.float64).reshape(intrinsics.height, intrinsics.width)
        depth = far * near / (far - (far - near) * zbuf)  # OpenGL depth buffer -> metric z
        depth[zbuf >= 1.0] = 0.0
        return depth.astype(np.float32), np.asarray(seg).reshape(intrinsics.height, intrinsics.width)

    def point_cloud(self, intrinsics: CameraIntrinsics = DEFAULT_INTRINSICS,
                    T_world_camera: np.ndarray = DEFAULT_CAMERA) -> np.ndarray:
        """World-frame points (N, 3) seen by the camera, cropped to the work area (and a margin of table)."""
        depth, _ = self.render(intrinsics, T_world_camera)
        pts = intrinsics.depth_to_points(depth)
        pts = pts @ T_world_camera[:3, :3].T + T_world_camera[:3, 3]
        keep = (np.abs(pts[:, 0]) < WORKSPACE / 2 + 0.05) & (np.abs(pts[:, 1]) < WORKSPACE / 2 + 0.05) & (pts[:, 2] > -0.01)
        return pts[keep]

    def close(self) -> None:
        try:
            self.p.disconnect()
        except Exception:  # already disconnected
            pass
