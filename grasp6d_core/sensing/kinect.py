"""Azure Kinect depth through pyk4a: a live device or an .mkv recording, NFOV / WFOV modes.

pyk4a (and the Azure Kinect Sensor SDK it wraps) is imported only when a Kinect source is opened, so the rest
of the package works without it; when it is missing the error says what to install.

The depth camera's own intrinsics are used without distortion, fine for NFOV; the WFOV lens is a fisheye, so
with WFOV use ``align_to_color`` (depth re-projected into the near-pinhole colour camera by the SDK).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.sensing.frame import DepthFrame, DepthSource, SourceError

PYK4A_MISSING = ("the Azure Kinect source needs pyk4a and the Azure Kinect Sensor SDK (libk4a): "
                 "`pip install pyk4a` after installing the SDK, or `pip install pyk4a-bundle` which ships it")


@dataclass(frozen=True)
class KinectMode:
    name: str          # pyk4a.DepthMode member name
    width: int
    height: int
    max_fps: int
    range_m: tuple[float, float]  # operating range from the Azure Kinect hardware specification


DEPTH_MODES: dict[str, KinectMode] = {m.name: m for m in (
    KinectMode("NFOV_2X2BINNED", 320, 288, 30, (0.5, 5.46)),
    KinectMode("NFOV_UNBINNED", 640, 576, 30, (0.5, 3.86)),
    KinectMode("WFOV_2X2BINNED", 512, 512, 30, (0.25, 2.88)),
    KinectMode("WFOV_UNBINNED", 1024, 1024, 15, (0.25, 2.21)),
)}
ALIASES = {"NFOV": "NFOV_UNBINNED", "WFOV": "WFOV_2X2BINNED"}
FPS_VALUES = (5, 15, 30)


def kinect_mode(name: str, fps: int = 30) -> KinectMode:
    """The depth mode called ``name`` (NFOV, WFOV or a pyk4a DepthMode name), checked against ``fps``."""
    key = ALIASES.get(name.upper(), name.upper())
    if key not in DEPTH_MODES:
        raise ValueError(f"unknown Azure Kinect depth mode '{name}' (choose from "
                         f"{', '.join(list(ALIASES) + list(DEPTH_MODES))})")
    mode = DEPTH_MODES[key]
    if fps not in FPS_VALUES:
        raise ValueError(f"Azure Kinect fps must be one of {FPS_VALUES}, got {fps}")
    if fps > mode.max_fps:
        raise ValueError(f"Azure Kinect mode {mode.name} runs at most {mode.max_fps} fps, got {fps}")
    return mode


def kinect_depth_to_metres(depth_mm: np.ndarray) -> np.ndarray:
    """The SDK's uint16 millimetres (0 = invalid) -> float32 metres."""
    depth_mm = np.asarray(depth_mm)
    if depth_mm.dtype != np.uint16 or depth_mm.ndim != 2:
        raise ValueError(f"Kinect depth must be a uint16 H×W image, got {depth_mm.dtype} {depth_mm.shape}")
    return depth_mm.astype(np.float32) * np.float32(0.001)


def import_pyk4a():
    try:
        import pyk4a
    except ImportError as error:  # also raised when the SDK's shared library cannot be loaded
        raise SourceError(f"{PYK4A_MISSING} ({error})") from error
    return pyk4a


class KinectSource(DepthSource):
    """Build with :meth:`live` or :meth:`playback`."""

    def __init__(self, handle, calibration, align_to_color: bool, playback: bool, description: str):
        self._pyk4a = import_pyk4a()
        self._handle, self._playback, self._align = handle, playback, align_to_color
        self.description = description
        kind = self._pyk4a.CalibrationType.COLOR if align_to_color else self._pyk4a.CalibrationType.DEPTH
        self._K = np.asarray(calibration.get_camera_matrix(kind), dtype=np.float64)
        self._finished, self._index = False, 0

    @classmethod
    def live(cls, serial: str = "", mode: str = "NFOV", fps: int = 30, align_to_color: bool = False) -> "KinectSource":
        pyk4a = import_pyk4a()
        depth_mode = kinect_mode(mode, fps)
        config = pyk4a.Config(
            depth_mode=getattr(pyk4a.DepthMode, depth_mode.name), camera_fps=getattr(pyk4a.FPS, f"FPS_{fps}"),
            color_resolution=pyk4a.ColorResolution.RES_720P if align_to_color else pyk4a.ColorResolution.OFF,
            synchronized_images_only=align_to_color)
        device_id = 0
        if serial:
            serials = []
            for i in range(pyk4a.connected_device_count()):
                probe = pyk4a.PyK4A(device_id=i)
                probe.open()
                serials.append(probe.serial)
                probe.close()
            if serial not in serials:
                raise SourceError(f"no Azure Kinect with serial '{serial}' (connected: {serials or 'none'})")
            device_id = serials.index(serial)
        device = pyk4a.PyK4A(config=config, device_id=device_id)
        try:
            device.start()
        except Exception as error:
            raise SourceError(f"Azure Kinect {serial or device_id}: cannot start: {error}") from error
        return cls(device, device.calibration, align_to_color, False, f"Azure Kinect {serial or device_id}")

    @classmethod
    def playback(cls, path: str | Path, align_to_color: bool = False) -> "KinectSource":
        pyk4a = import_pyk4a()
        path = Path(path)
        if not path.is_file():
            raise SourceError(f"Azure Kinect recording '{path}' does not exist")
        handle = pyk4a.PyK4APlayback(str(path))
        handle.open()
        return cls(handle, handle.calibration, align_to_color, True, f"Azure Kinect recording '{path}'")

    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        if self._finished:
            return None
        try:
            if self._playback:
                capture = self._handle.get_next_capture()
            else:
                capture = self._handle.get_capture(timeout=max(int(timeout * 1000), 1))
        except EOFError:
            self._finished = True
            return None
        except self._pyk4a.K4ATimeoutException:
            return None
        depth_mm = capture.transformed_depth if self._align else capture.depth
        if depth_mm is None:
            return None  # a capture without depth (colour-only frame of a recording)
        depth = kinect_depth_to_metres(depth_mm)
        height, width = depth.shape
        color = None
        if self._align and capture.color is not None and capture.color.ndim == 3:
            color = np.ascontiguousarray(capture.color[..., 2::-1])  # BGRA -> RGB
        self._index += 1
        return DepthFrame(depth=depth, intrinsics=CameraIntrinsics.from_matrix(self._K, width, height),
                          timestamp=capture.depth_timestamp_usec * 1e-6, color=color, index=self._index - 1)

    def close(self) -> None:
        if self._handle is not None:
            (self._handle.close if self._playback else self._handle.stop)()
            self._handle = None
            self._finished = True
