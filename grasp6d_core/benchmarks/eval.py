"""Seconds per image of the AP evaluator on a synthetic 10-object image with a 1024-grasp dump."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from grasp6d_core.checks import require_at_least

HELP = "AP evaluator speed: seconds per image (10 objects, 1024 grasps, table)"


@dataclass(frozen=True)
class EvalBenchmark:
    images: int = 5       # synthetic images timed
    grasps: int = 1024    # grasps per image

    def __post_init__(self) -> None:
        require_at_least(self, {"images": 1, "grasps": 1})


SETTINGS = EvalBenchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=EvalBenchmark.images)
    parser.add_argument("--grasps", type=int, default=EvalBenchmark.grasps)


def run(settings: EvalBenchmark) -> dict:
    import time

    import numpy as np
    import trimesh

    from grasp6d_core.evaluation.ap import evaluate_image
    from grasp6d_core.data.scene_io import MODEL_VOXEL, table_box_points
    from grasp6d_core.grasp import GraspGroup
    from grasp6d_core.physics import MeshSDF
    from grasp6d_core.rotations import grasp_rotation

    rng = np.random.default_rng(0)
    meshes = [trimesh.creation.box(extents=rng.uniform(0.03, 0.1, 3)) if i % 2 else
              trimesh.creation.cylinder(radius=rng.uniform(0.02, 0.04), height=rng.uniform(0.05, 0.12)) for i in range(10)]
    points = [trimesh.sample.sample_surface_even(m, 20000, seed=i)[0] for i, m in enumerate(meshes)]
    points = [np.unique(np.round(p / MODEL_VOXEL), axis=0) * MODEL_VOXEL for p in points]  # ~8 mm voxels
    surfaces = [MeshSDF(m) for m in meshes]
    poses = np.tile(np.eye(4), (10, 1, 1))
    poses[:, :2, 3] = rng.uniform(-0.15, 0.15, (10, 2))
    poses[:, 2, 3] = [m.extents[2] / 2 for m in meshes]
    table = table_box_points()
    times = []
    for _ in range(settings.images):
        # Half the grasps near object surfaces approaching from above, half anywhere: a detector-like mix.
        centres = poses[rng.integers(0, 10, settings.grasps), :3, 3] + rng.normal(0, 0.02, (settings.grasps, 3))
        approach = np.array([0.0, 0.0, -1.0]) + rng.normal(0, 0.4, (settings.grasps, 3))
        R = grasp_rotation(approach, rng.uniform(-np.pi, np.pi, settings.grasps))
        grasps = GraspGroup.from_components(rng.random(settings.grasps), rng.uniform(0.03, 0.1, settings.grasps),
                                            rng.choice([0.01, 0.02, 0.03, 0.04], settings.grasps), R, centres)
        start = time.perf_counter()
        evaluate_image(grasps, points, poses, surfaces, table)
        times.append(time.perf_counter() - start)
    return {"seconds_per_image_mean": float(np.mean(times)), "seconds_per_image_max": float(np.max(times)),
            "grasps_per_image": settings.grasps, "objects": 10, "model_points": int(sum(len(p) for p in points))}
