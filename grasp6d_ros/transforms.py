"""Frame lookups for the app nodes: identity when the frames agree, else the frames adapter (grasp6d_ros.frames).

Errors come back as :class:`FrameError` naming both frames, so a service can answer success=false.
"""
from __future__ import annotations

import numpy as np

from grasp6d_core.errors import Grasp6dError


class FrameError(Grasp6dError, RuntimeError):
    pass


class TransformLookup:
    def __init__(self, node):
        self._node = node
        self._buffer = None

    def lookup(self, target: str, source: str, stamp=None, timeout: float = 0.2) -> np.ndarray | None:
        """4×4 target<-source, or None when no transform is needed."""
        if not target or target == source:
            return None
        if not source:
            raise FrameError(f"unknown frame: the input has no header.frame_id, cannot transform to '{target}'")
        try:
            from grasp6d_ros import frames
        except ImportError as error:
            raise FrameError(f"unknown frame: no transform adapter to go from '{source}' to '{target}' "
                             f"({error})") from error
        try:
            if self._buffer is None:
                self._buffer = frames.FrameBuffer(self._node)
            return np.asarray(self._buffer.lookup(target, source, stamp, timeout=timeout), dtype=np.float64)
        except Exception as error:
            raise FrameError(f"unknown frame: cannot transform '{source}' -> '{target}': {error}") from error
