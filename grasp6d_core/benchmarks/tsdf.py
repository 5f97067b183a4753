"""TSDF fusion speed: integrate (RealSense 640×480, Azure Kinect 640×576), surface sampling, overhead over a
bare open3d VoxelBlockGrid on the same frames in the same run, peak memory."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from grasp6d_core.checks import require_at_least

HELP = "TSDF fusion speed: integrate ms per frame (RealSense / Kinect sizes), surface ms, overhead vs bare open3d"


@dataclass(frozen=True)
class TsdfBenchmark:
    frames: int = 30             # frames per camera (medians over these)
    voxel_size: float = 0.005    # m (TSDFConfig checks it)
    threads: int = 2
    device: str = "cpu"          # an open3d device, e.g. CPU:0 or CUDA:0 (TSDFConfig checks it)
    surface_repeats: int = 20
    progress: bool = True        # rendering progress bar on stderr

    def __post_init__(self) -> None:
        require_at_least(self, {"frames": 1, "threads": 1, "surface_repeats": 1})


SETTINGS = TsdfBenchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=TsdfBenchmark.frames, help="frames per camera (medians over these)")
    parser.add_argument("--voxel-size", type=float, default=TsdfBenchmark.voxel_size)
    parser.add_argument("--threads", type=int, default=TsdfBenchmark.threads)
    parser.add_argument("--device", default=TsdfBenchmark.device)
    parser.add_argument("--surface-repeats", type=int, default=TsdfBenchmark.surface_repeats)


def _views(intrinsics, n: int, progress: bool):
    from tqdm import tqdm

    from grasp6d_core.sensing.synthetic import TabletopScene, orbit_poses

    renderer = TabletopScene().renderer()
    poses = orbit_poses(n, radius=0.5, height=0.5, span_deg=120.0)  # a camera sweeping over the table
    return [(renderer.render(intrinsics, T)[0], T) for T in tqdm(poses, desc=f"render {intrinsics.width}x"
                                                                   f"{intrinsics.height}", disable=not progress)]


def _reference_grid(volume):
    """A bare VoxelBlockGrid with the same grid parameters (no workspace filter, no checks, no offset)."""
    import open3d as o3d
    import open3d.core as o3c

    c = volume.config
    return o3d.t.geometry.VoxelBlockGrid(("tsdf", "weight"), (o3c.float32, o3c.float32), ((1), (1)),
                                         c.voxel_size, c.block_resolution, c.initial_blocks, volume.device)


def _integrate_both(volume, reference, views, intrinsics) -> tuple[list[float], list[float]]:
    import time

    import numpy as np
    import open3d as o3d
    import open3d.core as o3c

    c = volume.config
    K = o3c.Tensor(intrinsics.K)
    ours, bare = [], []
    for depth, T in views:  # interleaved, so load changes on the machine hit both alike
        start = time.perf_counter()
        volume.integrate_depth(depth, intrinsics, T)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        image = o3d.t.geometry.Image(o3c.Tensor.from_numpy(depth)).to(volume.device)
        extrinsic = o3c.Tensor(np.linalg.inv(T))
        blocks = reference.compute_unique_block_coordinates(image, K, extrinsic, 1.0, c.max_depth, c.trunc_voxels)
        reference.integrate(blocks, image, K, extrinsic, 1.0, c.max_depth, c.trunc_voxels)
        bare.append(time.perf_counter() - start)
    return ours, bare


def run(settings: TsdfBenchmark) -> dict:
    import resource
    import time

    import numpy as np

    from grasp6d_core.camera import KINECT_NFOV, REALSENSE_640
    from grasp6d_core.sensing.tsdf import TSDFConfig, TSDFVolume

    progress = settings.progress
    config = TSDFConfig(voxel_size=settings.voxel_size, device=settings.device, threads=settings.threads)
    figures: dict = {}
    for name, intrinsics in (("realsense", REALSENSE_640), ("kinect", KINECT_NFOV)):
        views = _views(intrinsics, settings.frames, progress)
        volume = TSDFVolume(config)
        warm = TSDFVolume(config)  # first-call costs (allocation, thread pool) out of the medians
        warm.integrate_depth(views[0][0], intrinsics, views[0][1])
        ours, bare = _integrate_both(volume, _reference_grid(volume), views, intrinsics)
        figures[f"integrate_ms_{name}"] = round(1e3 * float(np.median(ours)), 3)
        figures[f"reference_integrate_ms_{name}"] = round(1e3 * float(np.median(bare)), 3)
        if name == "realsense":
            times = []
            for i in range(settings.surface_repeats):
                start = time.perf_counter()
                points, _ = volume.surface(n_points=20000, seed=i)
                times.append(time.perf_counter() - start)
            figures["surface_ms_20k"] = round(1e3 * float(np.median(times)), 3)
            figures["surface_points"] = int(len(points))
            figures["voxel_blocks"] = volume.n_blocks
    figures["reference_integrate_ms"] = figures["reference_integrate_ms_realsense"]
    figures["overhead_ratio"] = round(figures["integrate_ms_realsense"] / figures["reference_integrate_ms"], 3)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures.update(frames=settings.frames, voxel_size=settings.voxel_size, threads=settings.threads, device=settings.device)
    return figures
