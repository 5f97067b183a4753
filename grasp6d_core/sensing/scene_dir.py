"""A benchmark-format camera directory (docs/data.md) as a depth source:
``depth/NNNN.png`` (uint16, millimetres unless ``meta/NNNN.mat`` says another ``factor_depth``), ``camK.npy``,
``camera_poses.npy`` (camera i w.r.t. camera 0) and, when present, ``cam0_wrt_table.npy``. Frame poses are
table <- camera when the table pose exists, else camera 0 <- camera i.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.sensing.frame import DepthFrame, DepthSource, SourceError


def read_depth_png(path: Path) -> np.ndarray:
    """16-bit PNG -> uint16 array."""
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image)
    if array.ndim != 2 or array.dtype not in (np.uint16, np.int32, np.uint8):
        raise SourceError(f"'{path}' is not a single-channel 16-bit depth PNG (mode {image.mode})")
    return array.astype(np.uint16)


def factor_depth(png: Path) -> float:
    """Depth units per metre of ``depth/NNNN.png``: ``factor_depth`` of ``meta/NNNN.mat`` beside it, else
    GraspNet's millimetres."""
    meta = Path(png).parent.parent / "meta" / f"{Path(png).stem}.mat"
    if not meta.is_file():
        return 1000.0
    from scipy.io import loadmat

    return float(np.asarray(loadmat(meta).get("factor_depth", 1000.0)).reshape(-1)[0])


def read_depth_metres(png: Path) -> np.ndarray:
    """A benchmark-format ``depth/NNNN.png`` in metres (float32)."""
    return read_depth_png(png).astype(np.float32) / np.float32(factor_depth(png))


def write_depth_png(path: Path, depth_mm: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.asarray(depth_mm, dtype=np.uint16)).save(path)


class SceneDirSource(DepthSource):
    def __init__(self, directory: str | Path, loop: bool = False, fps: float = 30.0):
        self.directory = Path(directory)
        self._pngs = sorted((self.directory / "depth").glob("*.png"))
        if not self._pngs:
            raise SourceError(f"scene directory '{self.directory}' has no depth/*.png")
        camK = self.directory / "camK.npy"
        if not camK.is_file():
            raise SourceError(f"scene directory '{self.directory}' has no camK.npy")
        height, width = read_depth_png(self._pngs[0]).shape
        self.intrinsics = CameraIntrinsics.from_matrix(np.load(camK), width, height)
        self._poses = self._load_poses()
        self._loop, self._fps, self._next, self._count = loop, fps, 0, 0

    def _load_poses(self) -> np.ndarray | None:
        poses_path = self.directory / "camera_poses.npy"
        if not poses_path.is_file():
            return None
        poses = np.load(poses_path)
        if poses.ndim != 3 or poses.shape[1:] != (4, 4) or len(poses) < len(self._pngs):
            raise SourceError(f"'{poses_path}' must hold one 4x4 pose per depth image "
                              f"({len(self._pngs)}), has shape {poses.shape}")
        table_path = self.directory / "cam0_wrt_table.npy"
        return np.load(table_path) @ poses if table_path.is_file() else poses

    @property
    def finished(self) -> bool:
        return not self._loop and self._next >= len(self._pngs)

    def __len__(self) -> int:
        return len(self._pngs)

    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        if self.finished:
            return None
        i = self._next % len(self._pngs)
        png = self._pngs[i]
        depth = read_depth_metres(png)
        self._next += 1
        self._count += 1
        return DepthFrame(depth=depth, intrinsics=self.intrinsics, timestamp=(self._count - 1) / self._fps,
                          T_world_camera=None if self._poses is None else self._poses[i], index=self._count - 1,
                          extras={"file": str(png)})
