"""Write config/demo/clutter_table.db3, the RealSense recording `make demo` plays.

A PyBullet clutter world (the sim executor's ClutterWorld: packed objects from pybullet_data) rendered at
640x480 from the static camera pose of config/grasp_demo.yaml and written through the real RealSense SDK
(rs.software_device + rs.recorder), so it plays back like a camera. The scene parameters (sim_seed, sim_scene,
sim_objects, sim_count) and the camera pose are read from the playback choice in config/grasp_demo.yaml: the
demo's sim executor rebuilds the same world from the same values, so the grasps found on the recording are
executed on the objects it shows.

    .venv/bin/python tools/make_demo_recording.py [--out config/demo/clutter_table.db3] [--frames 5]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grasp6d_core.camera import REALSENSE_640  # noqa: E402

INTRINSICS = REALSENSE_640   # the D435's 640x480 depth stream (grasp6d_core.camera: the one source of camera models)


def demo_settings(config: Path = ROOT / "config") -> tuple[dict, np.ndarray]:
    """(executor sim_* parameters, T_world_camera) of the playback choice in grasp_demo.yaml."""
    from grasp6d_ros.frames import StaticTransforms
    from grasp6d_ros.launch_description import describe
    specs = {s.executable: s for s in describe("playback", "sim", config=config)}
    sim = {k: v for k, v in specs["executor_node"].parameters.items() if k.startswith("sim_")}
    tsdf = specs["tsdf_node"].parameters
    T = StaticTransforms.from_strings(tsdf["static_transforms"]).lookup(tsdf["task_frame"], "camera_depth_optical_frame")
    return sim, T


def render_demo_depth(sim: dict, T_world_camera: np.ndarray) -> tuple[np.ndarray, int]:
    """Depth (metres) of the demo world seen from ``T_world_camera``, and how many objects it holds."""
    from grasp6d_core.sim.world import ClutterWorld
    world = ClutterWorld(seed=int(sim["sim_seed"]))
    try:
        objects = world.reset(scene=sim["sim_scene"], objects=sim["sim_objects"], count=int(sim["sim_count"]))
        depth, _ = world.render(INTRINSICS, T_world_camera)
        return depth, len(objects)
    finally:
        world.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "config" / "demo" / "clutter_table.db3")
    parser.add_argument("--frames", type=int, default=5, help="copies of the view (a static camera)")
    args = parser.parse_args(argv)
    from grasp6d_core.sensing.realsense_record import write_recording
    sim, T = demo_settings()
    depth, count = render_demo_depth(sim, T)
    n = write_recording(args.out, [depth] * args.frames, INTRINSICS, fps=15, depth_units=0.001)
    print(f"wrote {n} frames of {count} objects ({sim}) to {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
