"""The one protocol every depth source speaks: :class:`DepthFrame` values read from a :class:`DepthSource`."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.errors import Grasp6dError


class SourceError(Grasp6dError, RuntimeError):
    """A depth source cannot be opened or read; the text names the device, file or package at fault."""


@dataclass
class DepthFrame:
    """One depth image in metres (float32 H×W, 0 = no measurement) with what is needed to fuse it."""

    depth: np.ndarray
    intrinsics: CameraIntrinsics
    timestamp: float  # seconds (device or recording clock)
    T_world_camera: np.ndarray | None = None  # 4×4 when the source knows the camera pose (scene directories)
    color: np.ndarray | None = None  # H×W×3 uint8 RGB, registered to the depth when present
    index: int = 0  # running frame number of the source
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.depth = np.asarray(self.depth, dtype=np.float32)
        if self.depth.ndim != 2:
            raise ValueError(f"DepthFrame.depth must be H×W, got shape {self.depth.shape}")
        self.intrinsics.check_image(self.depth)


class DepthSource(abc.ABC):
    """Frames from a camera, a recording or a directory. ``read`` returns the next frame, or None when a
    finite source is exhausted (or, for live devices, when no frame arrived within ``timeout``)."""

    @abc.abstractmethod
    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        ...

    def close(self) -> None:
        """Release the device or file; reading after close is an error."""

    _finished = False

    @property
    def finished(self) -> bool:
        """True once a finite source has delivered its last frame (live sources never finish)."""
        return self._finished

    def __iter__(self) -> Iterator[DepthFrame]:
        while not self.finished:
            frame = self.read()
            if frame is None:
                if self.finished:
                    return
                continue
            yield frame

    def __enter__(self) -> "DepthSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
