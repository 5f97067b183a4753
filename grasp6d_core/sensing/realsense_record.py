"""Write a RealSense recording (.db3) from depth images, with the real SDK and no camera.

A ``pyrealsense2.software_device`` with one depth sensor feeds the frames to ``pyrealsense2.recorder``; the
file plays back through the ordinary pipeline (:meth:`RealSenseSource.playback`, realsense-viewer,
realsense2_camera's rosbag mode), so it stands in for a camera in tests and demos.

CLI::

    python -m grasp6d_core.sensing.realsense_record OUT.db3 --synthetic-table [--frames 30]
    python -m grasp6d_core.sensing.realsense_record OUT.db3 --scene-dir root/scenes/scene_0000/realsense
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterable

import numpy as np

from grasp6d_core.camera import REALSENSE_640, CameraIntrinsics
from grasp6d_core.sensing.frame import SourceError
from grasp6d_core.sensing.realsense import import_pyrealsense2


def depth_to_units(depth_m: np.ndarray, depth_units: float) -> np.ndarray:
    """Metres -> uint16 device units; invalid (NaN, inf, <= 0) and out-of-range depth -> 0 (no measurement)."""
    depth_m = np.asarray(depth_m, dtype=np.float64)
    units = np.round(np.where(np.isfinite(depth_m) & (depth_m > 0), depth_m, 0.0) / depth_units)
    return np.where(units <= 65535, units, 0).astype(np.uint16)


def write_recording(path: str | Path, depths: Iterable[np.ndarray], intrinsics: CameraIntrinsics,
                    fps: int = 30, depth_units: float = 0.001) -> int:
    """Record depth images (metres, H×W) as a RealSense Z16 depth stream; returns the number of frames.

    Timestamps are ``i / fps``; the depth scale is stored as the sensor's depth-units option, so playback
    returns ``round(depth / depth_units) * depth_units`` exactly.
    """
    rs = import_pyrealsense2()
    path = Path(path)
    if path.suffix not in (".db3", ".bag"):
        raise SourceError(f"recording path '{path}' must end in .db3 (or .bag)")
    path.parent.mkdir(parents=True, exist_ok=True)
    W, H = intrinsics.width, intrinsics.height

    device = rs.software_device()
    sensor = device.add_sensor("Depth")
    rs_intr = rs.intrinsics()
    rs_intr.width, rs_intr.height = W, H
    rs_intr.fx, rs_intr.fy, rs_intr.ppx, rs_intr.ppy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    rs_intr.model, rs_intr.coeffs = rs.distortion.none, [0.0] * 5
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid = rs.stream.depth, 0, 0
    stream.width, stream.height, stream.fps, stream.bpp, stream.fmt = W, H, fps, 2, rs.format.z16
    stream.intrinsics = rs_intr
    profile = sensor.add_video_stream(stream).as_video_stream_profile()
    sensor.add_read_only_option(rs.option.depth_units, depth_units)

    recorder = rs.recorder(str(path), device)
    queue = rs.frame_queue(4)
    sensor.open(profile)
    sensor.start(queue)
    keep_alive = []  # the SDK reads the pixel buffers asynchronously: keep them until the sensor stops
    count = 0
    try:
        for count, depth in enumerate(depths, start=1):
            intrinsics.check_image(np.asarray(depth))
            pixels = np.ascontiguousarray(depth_to_units(depth, depth_units))
            keep_alive.append(pixels)
            frame = rs.software_video_frame()
            frame.pixels, frame.bpp, frame.stride = pixels, 2, W * 2
            frame.timestamp = (count - 1) * 1000.0 / fps  # ms
            frame.domain = rs.timestamp_domain.hardware_clock
            frame.frame_number = count - 1
            frame.profile = profile
            frame.depth_units = depth_units
            sensor.on_video_frame(frame)
            queue.wait_for_frame(5000)  # the recorder has written it once the frame reaches the queue
    finally:
        sensor.stop()
        sensor.close()
        del recorder  # closes the file
    return count


def synthetic_table_depths(n_frames: int, intrinsics: CameraIntrinsics | None = None):
    """Depth images of the synthetic tabletop (box + sphere on a plane) from one static camera 0.6 m above."""
    from grasp6d_core.sensing.synthetic import TabletopScene, overhead_pose

    intrinsics = intrinsics or REALSENSE_640
    depth, _ = TabletopScene().renderer().render(intrinsics, overhead_pose())
    return intrinsics, (depth for _ in range(n_frames))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write a RealSense .db3 recording from depth images")
    parser.add_argument("out", help="output file (.db3)")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--synthetic-table", action="store_true",
                       help="rendered tabletop (box + sphere on a plane) seen from 0.6 m above, 640x480")
    group.add_argument("--scene-dir", help="a benchmark-format camera directory (depth/NNNN.png + camK.npy)")
    parser.add_argument("--frames", type=int, default=30, help="frames to write (synthetic: copies of one view)")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--depth-units", type=float, default=0.001, help="metres per depth unit")
    args = parser.parse_args(argv)
    if args.synthetic_table:
        intrinsics, depths = synthetic_table_depths(args.frames)
    else:
        from grasp6d_core.sensing.scene_dir import SceneDirSource

        source = SceneDirSource(args.scene_dir)
        intrinsics = source.intrinsics
        depths = (frame.depth for _, frame in zip(range(args.frames), source))
    count = write_recording(args.out, depths, intrinsics, fps=args.fps, depth_units=args.depth_units)
    print(f"wrote {count} frames ({intrinsics.width}x{intrinsics.height}) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
