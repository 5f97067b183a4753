"""``open_source``: one entry point from a source name + parameters to a :class:`DepthSource`."""
from __future__ import annotations

from pathlib import Path

from grasp6d_core.sensing.frame import DepthSource, SourceError

SOURCE_KINDS = ("realsense", "kinect", "playback", "scene_dir")


def open_source(kind: str, *, serial: str = "", path: str = "", width: int = 640, height: int = 480,
                fps: int = 30, loop: bool = False, align_to_color: bool = False, kinect_mode: str = "NFOV",
                realtime: bool = False) -> DepthSource:
    """Open a depth source.

    - ``realsense``: live RealSense camera (``serial``, ``width``×``height`` @ ``fps``, ``align_to_color``)
    - ``kinect``: live Azure Kinect (``serial``, ``kinect_mode`` NFOV/WFOV/..., ``fps``, ``align_to_color``)
    - ``playback``: a recording at ``path``: ``.db3``/``.bag`` (RealSense) or ``.mkv`` (Azure Kinect)
    - ``scene_dir``: a benchmark-format camera directory at ``path``
    """
    if kind == "realsense":
        from grasp6d_core.sensing.realsense import RealSenseSource
        return RealSenseSource.live(serial, width, height, fps, align_to_color=align_to_color)
    if kind == "kinect":
        from grasp6d_core.sensing.kinect import KinectSource
        return KinectSource.live(serial, kinect_mode, fps, align_to_color=align_to_color)
    if kind == "scene_dir":
        from grasp6d_core.sensing.scene_dir import SceneDirSource
        return SceneDirSource(path, loop=loop, fps=fps)
    if kind == "playback":
        suffix = Path(path).suffix.lower()
        if suffix in (".db3", ".bag"):
            from grasp6d_core.sensing.realsense import RealSenseSource
            return RealSenseSource.playback(path, loop=loop, realtime=realtime, align_to_color=align_to_color)
        if suffix == ".mkv":
            if loop:
                raise SourceError("loop is not supported for Azure Kinect .mkv playback")
            from grasp6d_core.sensing.kinect import KinectSource
            return KinectSource.playback(path, align_to_color=align_to_color)
        raise SourceError(f"cannot play '{path}': expected a .db3/.bag (RealSense) or .mkv (Azure Kinect) file")
    raise SourceError(f"unknown depth source '{kind}' (choose from {', '.join(SOURCE_KINDS)})")
