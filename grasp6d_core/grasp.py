"""GraspGroup: a set of parallel-jaw grasps stored as GraspNet-1Billion 17-float rows.

Row layout (the benchmark's): ``[score, width, height, depth, R (9, row-major), t (3), object_id]``, in the
camera frame. The grasp frame follows the GraspNet convention (x approach, y closing, z finger height);
see :mod:`grasp6d_core.rotations`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from grasp6d_core.rotations import quaternion_to_rotation, rotation_angle_between, rotation_to_quaternion

GRASP_ARRAY_LEN = 17
SCORE, WIDTH, HEIGHT, DEPTH = 0, 1, 2, 3
ROTATION = slice(4, 13)
TRANSLATION = slice(13, 16)
OBJECT_ID = 16
MAX_WIDTH = 0.10
DEFAULT_HEIGHT = 0.02

# Rotating a parallel-jaw grasp by pi about its approach axis swaps the fingers: the same physical grasp.
_FLIP_ABOUT_APPROACH = np.diag([1.0, -1.0, -1.0])


def dump_path(dump_root: str | Path, scene_id: int, camera: str, ann_id: int) -> Path:
    """Where the benchmark's tools expect the grasps of one image: ``dump/scene_XXXX/<camera>/NNNN.npy``."""
    return Path(dump_root) / f"scene_{int(scene_id):04d}" / camera / f"{int(ann_id):04d}.npy"


class GraspGroup:
    """An (N, 17) array of grasps with vectorised accessors, sorting, NMS and rigid transforms."""

    def __init__(self, array: np.ndarray | None = None):
        if array is None:
            array = np.zeros((0, GRASP_ARRAY_LEN))
        array = np.asarray(array, dtype=np.float64)
        if array.ndim == 1 and array.size == GRASP_ARRAY_LEN:
            array = array[None]
        if array.ndim != 2 or array.shape[1] != GRASP_ARRAY_LEN:
            raise ValueError(f"grasp array must have shape (N, {GRASP_ARRAY_LEN}), got {array.shape}")
        self.array = array

    # ----------------------------------------------------------------------------------------- building
    @classmethod
    def from_components(cls, scores: np.ndarray, widths: np.ndarray, depths: np.ndarray,
                        rotations: np.ndarray, translations: np.ndarray, heights: np.ndarray | float = DEFAULT_HEIGHT,
                        object_ids: np.ndarray | int = -1) -> "GraspGroup":
        """Build from per-grasp arrays; widths are clamped to [0, 0.10] m."""
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        n = len(scores)
        array = np.zeros((n, GRASP_ARRAY_LEN))
        array[:, SCORE] = scores
        array[:, WIDTH] = np.clip(np.broadcast_to(widths, (n,)), 0.0, MAX_WIDTH)
        array[:, HEIGHT] = np.broadcast_to(heights, (n,))
        array[:, DEPTH] = np.broadcast_to(depths, (n,))
        array[:, ROTATION] = np.asarray(rotations, dtype=np.float64).reshape(n, 9)
        array[:, TRANSLATION] = np.asarray(translations, dtype=np.float64).reshape(n, 3)
        array[:, OBJECT_ID] = np.broadcast_to(object_ids, (n,))
        return cls(array)

    @classmethod
    def from_poses(cls, positions: np.ndarray, quaternions: np.ndarray, widths: np.ndarray, depths: np.ndarray,
                   scores: np.ndarray, heights: np.ndarray | float = DEFAULT_HEIGHT,
                   object_ids: np.ndarray | int = -1) -> "GraspGroup":
        """Build from positions (N, 3) and ROS-order quaternions (N, 4) (x, y, z, w)."""
        rotations = quaternion_to_rotation(quaternions) if len(np.atleast_1d(scores)) else np.zeros((0, 3, 3))
        return cls.from_components(scores, widths, depths, rotations, positions, heights, object_ids)

    @classmethod
    def concatenate(cls, groups: Iterable["GraspGroup"]) -> "GraspGroup":
        arrays = [g.array for g in groups]
        return cls(np.concatenate(arrays, axis=0) if arrays else None)

    # ---------------------------------------------------------------------------------------- accessors
    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index) -> "GraspGroup":
        """Index, slice, integer array or boolean mask -> a new GraspGroup (always 2-D)."""
        if isinstance(index, (int, np.integer)):
            return GraspGroup(self.array[index][None])
        return GraspGroup(self.array[index])

    def __repr__(self) -> str:
        return f"GraspGroup({len(self)} grasps)"

    def copy(self) -> "GraspGroup":
        return GraspGroup(self.array.copy())

    @property
    def scores(self) -> np.ndarray:
        return self.array[:, SCORE]

    @property
    def widths(self) -> np.ndarray:
        return self.array[:, WIDTH]

    @property
    def heights(self) -> np.ndarray:
        return self.array[:, HEIGHT]

    @property
    def depths(self) -> np.ndarray:
        return self.array[:, DEPTH]

    @property
    def rotations(self) -> np.ndarray:
        """(N, 3, 3) rotation matrices; columns are the grasp frame's x (approach), y (closing), z."""
        return self.array[:, ROTATION].reshape(-1, 3, 3)

    @property
    def translations(self) -> np.ndarray:
        return self.array[:, TRANSLATION]

    @property
    def object_ids(self) -> np.ndarray:
        return self.array[:, OBJECT_ID].astype(np.int64)

    @property
    def approaches(self) -> np.ndarray:
        return self.rotations[:, :, 0]

    def quaternions(self) -> np.ndarray:
        """(N, 4) quaternions in ROS order (x, y, z, w)."""
        if len(self) == 0:
            return np.zeros((0, 4))
        return rotation_to_quaternion(self.rotations)

    def poses(self) -> np.ndarray:
        """(N, 4, 4) homogeneous grasp poses in the grasps' frame."""
        poses = np.tile(np.eye(4), (len(self), 1, 1))
        poses[:, :3, :3] = self.rotations
        poses[:, :3, 3] = self.translations
        return poses

    # ---------------------------------------------------------------------------------------- ordering
    def sort_by_score(self, descending: bool = True) -> "GraspGroup":
        order = np.argsort(-self.scores if descending else self.scores, kind="stable")
        return GraspGroup(self.array[order])

    def top_k(self, k: int) -> "GraspGroup":
        """The k best grasps, best first."""
        return self.sort_by_score()[: max(int(k), 0)]

    def nms(self, translation_thresh: float = 0.03, rotation_thresh: float = np.deg2rad(30.0)) -> "GraspGroup":
        """Greedy non-maximum suppression, best first, as the benchmark does before scoring.

        A grasp is dropped when a better kept grasp lies within ``translation_thresh`` metres *and*
        ``rotation_thresh`` radians. The rotation distance treats the two finger-swapped versions of a grasp
        (pi about the approach axis) as the same grasp. Each kept grasp is compared with all remaining ones
        at once, so the cost is O(kept × N) with no N × N matrix.
        """
        ordered = self.sort_by_score()
        n = len(ordered)
        if n == 0:
            return ordered
        translations = ordered.translations
        rotations = ordered.rotations
        flipped = rotations @ _FLIP_ABOUT_APPROACH
        alive = np.ones(n, dtype=bool)
        keep: list[int] = []
        for i in range(n):
            if not alive[i]:
                continue
            keep.append(i)
            candidates = np.flatnonzero(alive)
            close = np.linalg.norm(translations[candidates] - translations[i], axis=1) < translation_thresh
            if close.any():
                near = candidates[close]
                ref = np.broadcast_to(rotations[i], (len(near), 3, 3))
                angle = np.minimum(rotation_angle_between(ref, rotations[near]),
                                   rotation_angle_between(ref, flipped[near]))
                alive[near[angle < rotation_thresh]] = False
            alive[i] = False
        return GraspGroup(ordered.array[keep])

    # --------------------------------------------------------------------------------------- geometry
    def transform(self, T: np.ndarray) -> "GraspGroup":
        """Apply a 4×4 rigid transform (new_frame <- current_frame) to every grasp pose."""
        T = np.asarray(T, dtype=np.float64)
        if T.shape != (4, 4):
            raise ValueError(f"transform must be 4x4, got {T.shape}")
        if not np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-5) or not np.allclose(T[3], [0, 0, 0, 1]):
            raise ValueError("transform must be rigid (orthonormal rotation, last row [0, 0, 0, 1])")
        out = self.array.copy()
        out[:, ROTATION] = (T[:3, :3] @ self.rotations).reshape(-1, 9)
        out[:, TRANSLATION] = self.translations @ T[:3, :3].T + T[:3, 3]
        return GraspGroup(out)

    # ------------------------------------------------------------------------------------------ files
    def save_npy(self, path: str | Path) -> Path:
        """Save as a float32 (N, 17) ``.npy``, the benchmark's dump format; parent folders are created."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, self.array.astype(np.float32))
        return path

    @classmethod
    def load_npy(cls, path: str | Path) -> "GraspGroup":
        path = Path(path)
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read grasp file {path}: {error}") from error
        if array.size == 0:
            return cls()
        try:
            return cls(array)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error

    def save_dump(self, dump_root: str | Path, scene_id: int, camera: str, ann_id: int) -> Path:
        return self.save_npy(dump_path(dump_root, scene_id, camera, ann_id))

    @classmethod
    def load_dump(cls, dump_root: str | Path, scene_id: int, camera: str, ann_id: int) -> "GraspGroup":
        return cls.load_npy(dump_path(dump_root, scene_id, camera, ann_id))
