"""Frame lookups behind one small adapter: tf2_ros where it is installed, else static transforms from
parameters.

tf2_ros is not on PyPI (README "Installing it on a robot"), so pip-installed setups use :class:`StaticTransforms`: each entry
``"parent child x y z qx qy qz qw"`` is parent <- child. :class:`FrameBuffer` picks the backend
(``mode`` = auto | tf | static) and says which one it uses; lookups return a 4×4 numpy matrix target <- source
or raise :class:`FrameError` naming both frames. :class:`TransformLookup` is the form services use: no transform
needed -> None, and every failure (also a bad ``static_transforms`` entry) a FrameError to answer with.
"""
from __future__ import annotations

import importlib
from collections import deque
from typing import Callable, Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from grasp6d_core.errors import Grasp6dError

TRANSFORM_MODES = ("auto", "tf", "static")


class FrameError(Grasp6dError, LookupError):
    """No transform between two frames (yet), or a message without a frame; the text names them."""


def pose_to_matrix(translation: Sequence[float], quaternion_xyzw: Sequence[float]) -> np.ndarray:
    q = np.asarray(quaternion_xyzw, dtype=np.float64)
    if q.shape != (4,) or not np.all(np.isfinite(q)) or np.linalg.norm(q) < 1e-9:
        raise ValueError(f"quaternion (x y z w) must be 4 finite numbers, not all zero, got {list(q)}")
    t = np.asarray(translation, dtype=np.float64)
    if t.shape != (3,) or not np.all(np.isfinite(t)):
        raise ValueError(f"translation must be 3 finite numbers, got {list(t)}")
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(q / np.linalg.norm(q)).as_matrix()
    T[:3, 3] = t
    return T


def transform_msg_to_matrix(transform) -> np.ndarray:
    """geometry_msgs/Transform (or TransformStamped) -> 4×4."""
    transform = getattr(transform, "transform", transform)
    t, q = transform.translation, transform.rotation
    return pose_to_matrix([t.x, t.y, t.z], [q.x, q.y, q.z, q.w])


class StaticTransforms:
    """A fixed frame tree; lookups chain through any path (both directions)."""

    def __init__(self) -> None:
        self._edges: dict[str, dict[str, np.ndarray]] = {}

    def add(self, parent: str, child: str, T_parent_child: np.ndarray) -> None:
        if not parent or not child or parent == child:
            raise ValueError(f"a static transform needs two different frame names, got '{parent}' and '{child}'")
        T = np.asarray(T_parent_child, dtype=np.float64)
        # _edges[frame][neighbour] = neighbour <- frame
        self._edges.setdefault(child, {})[parent] = T
        self._edges.setdefault(parent, {})[child] = np.linalg.inv(T)

    @classmethod
    def from_strings(cls, entries: Sequence[str]) -> "StaticTransforms":
        """Entries ``"parent child x y z qx qy qz qw"`` (parent <- child); empty strings are ignored."""
        tree = cls()
        for entry in entries:
            fields = entry.split()
            if not fields:
                continue
            if len(fields) != 9:
                raise ValueError(f"static transform '{entry}' must be 'parent child x y z qx qy qz qw'")
            try:
                values = [float(v) for v in fields[2:]]
            except ValueError as error:
                raise ValueError(f"static transform '{entry}': {error}") from error
            tree.add(fields[0], fields[1], pose_to_matrix(values[:3], values[3:]))
        return tree

    @property
    def frames(self) -> list[str]:
        return sorted(self._edges)

    def lookup(self, target: str, source: str, stamp=None, timeout: float = 0.0) -> np.ndarray:
        """4×4 target <- source (``stamp``/``timeout`` are accepted for the common interface; static = always)."""
        if target == source:
            return np.eye(4)
        # Breadth-first search over the tree, composing neighbour <- frame at each step.
        queue, seen = deque([(source, np.eye(4))]), {source}
        while queue:
            frame, T_frame_source = queue.popleft()
            for neighbour, T_neighbour_frame in self._edges.get(frame, {}).items():
                if neighbour in seen:
                    continue
                T_neighbour_source = T_neighbour_frame @ T_frame_source
                if neighbour == target:
                    return T_neighbour_source
                seen.add(neighbour)
                queue.append((neighbour, T_neighbour_source))
        raise FrameError(f"no static transform from '{source}' to '{target}' "
                                   f"(known frames: {', '.join(self.frames) or 'none'}; set static_transforms)")


class TfTransforms:
    """tf2_ros Buffer + TransformListener on ``node``."""

    def __init__(self, node, tf2_ros) -> None:
        self._tf2_ros = tf2_ros
        self._buffer = tf2_ros.Buffer()
        self._listener = tf2_ros.TransformListener(self._buffer, node)

    def lookup(self, target: str, source: str, stamp=None, timeout: float = 0.1) -> np.ndarray:
        from rclpy.duration import Duration
        from rclpy.time import Time

        when = Time() if stamp is None else Time.from_msg(stamp)
        try:
            msg = self._buffer.lookup_transform(target, source, when, timeout=Duration(seconds=timeout))
        except Exception as error:  # tf2 raises LookupException / ExtrapolationException / ...
            raise FrameError(f"no TF transform from '{source}' to '{target}': {error}") from error
        return transform_msg_to_matrix(msg)

    def close(self) -> None:
        """Drop the listener's /tf and /tf_static subscriptions: the node holds them (and so the listener) until
        told, so a managed node that re-configures would otherwise add a listener each time."""
        if self._listener is not None:
            self._listener.unregister()
            self._listener = None


def import_tf2_ros():
    """tf2_ros, or None when it is not installed (pip-installed ROS)."""
    try:
        return importlib.import_module("tf2_ros")
    except ImportError:
        return None


class FrameBuffer:
    """The adapter nodes use. ``backend`` is "tf" or "static"; ``description`` says which (log it at start)."""

    def __init__(self, node=None, mode: str = "auto", static_transforms: Sequence[str] | None = None,
                 tf2_importer: Callable[[], object] | None = None):
        if mode not in TRANSFORM_MODES:
            raise ValueError(f"transform mode must be one of {TRANSFORM_MODES}, got '{mode}'")
        if static_transforms is None and node is not None and node.has_parameter("static_transforms"):
            static_transforms = list(node.get_parameter("static_transforms").value or [])
        static = StaticTransforms.from_strings(static_transforms or [])
        tf2_ros = import_tf2_ros_if(mode, tf2_importer or import_tf2_ros)
        if tf2_ros is not None:
            if node is None:
                raise ValueError("TF lookups need a node to listen on")
            self.backend, self._impl = "tf", TfTransforms(node, tf2_ros)
            self.description = "camera poses from TF (tf2_ros)"
        else:
            self.backend, self._impl = "static", static
            why = "tf2_ros is not installed" if mode == "auto" else "transform_source=static"
            self.description = (f"camera poses from static_transforms parameters ({why}); "
                                f"frames: {', '.join(static.frames) or 'none'}")

    def lookup(self, target: str, source: str, stamp=None, timeout: float = 0.1) -> np.ndarray:
        if not source:
            raise FrameError(f"the message has no header.frame_id, cannot transform it to '{target}'")
        if target == source:
            return np.eye(4)
        return self._impl.lookup(target, source, stamp, timeout=timeout)

    def close(self) -> None:
        """Release what the backend holds on the node (TF: the listener's subscriptions); static: nothing."""
        if self.backend == "tf":
            self._impl.close()


def import_tf2_ros_if(mode: str, importer: Callable[[], object]):
    """The tf2_ros module to use for ``mode`` (None = static), or a clear error when TF is demanded."""
    if mode == "static":
        return None
    module = importer()
    if module is None and mode == "tf":
        raise RuntimeError("transform_source=tf needs tf2_ros, which is not installed (it ships with a ROS 2 "
                           "distribution, not on PyPI); use transform_source:=static with static_transforms")
    return module


class TransformLookup:
    """A node's frame lookups for answering requests: None when no transform is needed, else target <- source.

    The FrameBuffer (TF or static transforms) is made at the first lookup that needs one, so a node that never
    changes frames never needs either. Every failure becomes a FrameError naming both frames.
    """

    def __init__(self, node):
        self._node = node
        self._buffer: FrameBuffer | None = None

    def lookup(self, target: str, source: str, stamp=None, timeout: float = 0.2) -> np.ndarray | None:
        if not target or target == source:
            return None
        if not source:
            raise FrameError(f"unknown frame: the input has no header.frame_id, cannot transform to '{target}'")
        try:
            if self._buffer is None:
                self._buffer = FrameBuffer(self._node)
            return np.asarray(self._buffer.lookup(target, source, stamp, timeout=timeout), dtype=np.float64)
        except (FrameError, ValueError, RuntimeError) as error:   # no transform, or bad static_transforms / TF mode
            raise FrameError(f"unknown frame: cannot transform '{source}' -> '{target}': {error}") from error
