"""Intel RealSense depth through pyrealsense2: a live camera or a recording (.db3 / .bag) played back.

Depth units come from each frame (``get_units``: 1 mm on D400, 0.1 mm on D405, whatever a recording says), so
no scale is ever assumed. With ``align_to_color`` the depth is re-projected into the colour camera and the
frame carries the colour intrinsics (README "Conventions"). Lens distortion is ignored: D400 depth is rectified and the
colour distortion of these cameras is small.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from grasp6d_core.camera import CameraIntrinsics
from grasp6d_core.sensing.frame import DepthFrame, DepthSource, SourceError


# How often a wait for frames looks whether a recording is played out, and how long its last frameset may
# take to come through after that.
EOF_CHECK_PERIOD_S = 0.05
EOF_GRACE_S = 0.1
END_OF_FILE = object()


def import_pyrealsense2():
    try:
        import pyrealsense2 as rs
    except ImportError as error:
        raise SourceError("the RealSense source needs pyrealsense2 (pip install pyrealsense2; it bundles "
                          f"librealsense): {error}") from error
    return rs


def intrinsics_from_rs(intr) -> CameraIntrinsics:
    """pyrealsense2.intrinsics -> CameraIntrinsics (distortion dropped)."""
    return CameraIntrinsics(int(intr.width), int(intr.height), float(intr.fx), float(intr.fy),
                            float(intr.ppx), float(intr.ppy))


class RealSenseSource(DepthSource):
    """Frames from a RealSense pipeline. Build it with :meth:`live` or :meth:`playback`."""

    def __init__(self, config, *, align_to_color: bool = False, with_color: bool = False,
                 playback_realtime: bool | None = None, loop: bool = False, description: str = "RealSense"):
        rs = self._rs = import_pyrealsense2()
        self.description = description
        self._config, self._playback_realtime = config, playback_realtime
        self._pipeline, self._playback = None, None
        self._loop = loop
        self._finished = False
        self._index = 0
        has_color = self._start(require_color=align_to_color)
        self._align = rs.align(rs.stream.color) if align_to_color else None
        self._with_color = (with_color or align_to_color) and has_color
        self._intrinsics: dict[int, CameraIntrinsics] = {}

    def _start(self, require_color: bool = False) -> bool:
        """Start a pipeline on the config; returns whether it has a colour stream."""
        rs = self._rs
        pipeline = rs.pipeline()
        try:
            # Resolved before starting, so a missing colour stream is refused without starting a pipeline only to
            # stop it (each start/stop of a playback spins up librealsense threads, whose teardown can crash it).
            resolved = self._config.resolve(rs.pipeline_wrapper(pipeline))
            has_color = rs.stream.color in {s.stream_type() for s in resolved.get_streams()}
            if require_color and not has_color:
                raise SourceError(f"{self.description}: align_to_color needs a colour stream, there is none")
            playback = None
            if self._playback_realtime is not None:
                # Real-time playback switched off before the first frame is read; the pipeline then starts on
                # this same device and no frame of the file is dropped.
                playback = resolved.get_device().as_playback()
                playback.set_real_time(self._playback_realtime)
            pipeline.start(self._config)
        except RuntimeError as error:
            raise SourceError(f"{self.description}: cannot start: {error}") from error
        self._pipeline, self._playback = pipeline, playback
        return has_color

    # ------------------------------------------------------------------------------------------- builders
    @classmethod
    def live(cls, serial: str = "", width: int = 640, height: int = 480, fps: int = 30,
             align_to_color: bool = False, with_color: bool = False) -> "RealSenseSource":
        """A connected camera (the first one, or the one with ``serial``)."""
        rs = import_pyrealsense2()
        devices = [d.get_info(rs.camera_info.serial_number) for d in rs.context().query_devices()]
        if not devices:
            raise SourceError("no RealSense camera is connected")
        if serial and serial not in devices:
            raise SourceError(f"no RealSense camera with serial '{serial}' (connected: {', '.join(devices)})")
        config = rs.config()
        if serial:
            config.enable_device(serial)
        config.enable_stream(rs.stream.depth, width, height, rs.format.z16, fps)
        if align_to_color or with_color:
            config.enable_stream(rs.stream.color, width, height, rs.format.rgb8, fps)
        return cls(config, align_to_color=align_to_color, with_color=with_color,
                   description=f"RealSense {serial or devices[0]}")

    @classmethod
    def playback(cls, path: str | Path, loop: bool = False, realtime: bool = False,
                 align_to_color: bool = False) -> "RealSenseSource":
        """A recording (.db3 or .bag). ``realtime=False`` delivers every frame, as fast as it is read."""
        rs = import_pyrealsense2()
        path = Path(path)
        if not path.is_file():
            raise SourceError(f"RealSense recording '{path}' does not exist")
        config = rs.config()
        # The loop is ours (a new pipeline at the end of the file), not librealsense's repeat_playback: stopping
        # a pipeline while librealsense restarts the file on its reader thread crashed the process now and then.
        config.enable_device_from_file(str(path), repeat_playback=False)
        return cls(config, align_to_color=align_to_color, with_color=True, playback_realtime=realtime,
                   loop=loop, description=f"RealSense recording '{path}'")

    # ---------------------------------------------------------------------------------------------- reading
    def read(self, timeout: float = 1.0) -> DepthFrame | None:
        if self._finished:
            return None
        frames = self._wait_for_frames(timeout)
        if frames is END_OF_FILE:
            if self._loop:
                self._restart()
            else:
                self._finished = True
            return None
        if frames is None:
            return None
        if self._align is not None:
            frames = self._align.process(frames)
        depth_frame = frames.get_depth_frame()
        if not depth_frame:
            return None
        depth = np.asanyarray(depth_frame.get_data()).astype(np.float32) * np.float32(depth_frame.get_units())
        color = None
        if self._with_color:
            color_frame = frames.get_color_frame()
            color = np.asanyarray(color_frame.get_data()).copy() if color_frame else None
        self._index += 1
        return DepthFrame(depth=depth, intrinsics=self._intrinsics_of(depth_frame),
                          timestamp=depth_frame.get_timestamp() * 1e-3, color=color, index=self._index - 1,
                          extras={"frame_number": depth_frame.get_frame_number()})

    def _wait_for_frames(self, timeout: float):
        """The next frameset, None when none came within ``timeout``, END_OF_FILE when a recording is played out.

        A recording's end is seen between short waits, so a read with a long timeout does not wait it out there."""
        if self._playback is None:
            ok, frames = self._pipeline.try_wait_for_frames(max(int(timeout * 1000), 1))
            return frames if ok else None
        deadline = time.monotonic() + timeout
        while True:
            wait_ms = max(int(min(deadline - time.monotonic(), EOF_CHECK_PERIOD_S) * 1000), 1)
            ok, frames = self._pipeline.try_wait_for_frames(wait_ms)
            if ok:
                return frames
            if self._playback.current_status() == self._rs.playback_status.stopped:
                # the file is read; its last frameset may still be on its way through the pipeline's syncer
                ok, frames = self._pipeline.try_wait_for_frames(int(EOF_GRACE_S * 1000))
                return frames if ok else END_OF_FILE
            if time.monotonic() >= deadline:
                return None

    def _restart(self) -> None:
        """Play the recording again: the played-out pipeline (its reader thread has ended) is stopped, a new one
        starts at the first frame. When that fails (the file went away) the source ends, with the reason."""
        self._stop_pipeline()
        try:
            self._start()
        except SourceError as error:
            self._finished = True
            raise SourceError(f"{error} (playing the recording again at its end)") from error

    def _intrinsics_of(self, frame) -> CameraIntrinsics:
        profile = frame.get_profile().as_video_stream_profile()
        key = profile.unique_id()
        if key not in self._intrinsics:
            self._intrinsics[key] = intrinsics_from_rs(profile.get_intrinsics())
        return self._intrinsics[key]

    def _stop_pipeline(self) -> None:
        if self._pipeline is not None:
            try:
                self._pipeline.stop()
            except RuntimeError:
                pass  # already stopped
            self._pipeline, self._playback = None, None

    def close(self) -> None:
        self._stop_pipeline()
        self._finished = True
