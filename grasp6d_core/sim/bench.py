"""The VGN clutter-removal loop: per round fill the table, then perceive → detect → execute until the table is
clear, 2 consecutive failures, or 15 attempts. Reports grasp success rate and declutter rate."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.hand import PANDA
from grasp6d_core.pipeline import GraspPipeline, PipelineSettings
from grasp6d_core.sim.antipodal import antipodal_grasps, cloud_with_normals
from grasp6d_core.sim.hand import SimHand, execute_grasp
from grasp6d_core.sim.world import DEFAULT_CAMERA, DEFAULT_INTRINSICS, RING_CAMERAS, ClutterWorld

MAX_ATTEMPTS, MAX_CONSECUTIVE_FAILURES = 15, 2
TABLE_CLEARANCE = 0.004   # m: fused points higher than this above the table (z = 0) belong to objects

# A detector maps fused world-frame views [(points, camera pose 4x4)] to world-frame grasps, best first.
Detector = Callable[[list[tuple[np.ndarray, np.ndarray]]], GraspGroup]


@dataclass
class RoundLog:
    round: int
    objects: int
    removed: int = 0
    attempts: list[dict] = field(default_factory=list)


def antipodal_detector(seed: int = 0) -> Detector:
    rng = np.random.default_rng(seed)

    def detect(views):
        points, normals = cloud_with_normals([(pts, T[:3, 3]) for pts, T in views])
        return antipodal_grasps(points, normals, rng=rng)
    return detect


# sim-bench's policy: the simulated hand is a Franka hand, so its filter is on.
SIM_SETTINGS = PipelineSettings(hand_filter="panda")


def pipeline_detector(detector, settings: PipelineSettings = SIM_SETTINGS) -> Detector:
    """A learned model (a GraspDetector, made by the caller: the sim does not depend on the model package)
    behind the shared GraspPipeline, fed the default camera's view in its own frame (as it was trained); the
    hand filter checks against the fused views with the table excluded from what counts as an object, so both
    detectors are judged on what the hand can actually execute."""
    pipeline = GraspPipeline(detector, settings)

    def detect(views):
        points, T_world_camera = views[0]
        fused, _ = cloud_with_normals([(pts, T[:3, 3]) for pts, T in views])
        return pipeline.run(points, to_model=np.linalg.inv(T_world_camera), hand_scene=fused,
                            object_mask=fused[:, 2] > TABLE_CLEARANCE).grasps
    return detect


def grasp_matrix(grasps: GraspGroup, i: int = 0) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = grasps.rotations[i], grasps.translations[i]
    return T


def save_attempt_png(path: Path, world: ClutterWorld, grasp: GraspGroup, outcome) -> None:
    """Depth from the fixed camera with the executed grasp's closing line drawn on it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    depth, _ = world.render()
    T_cam_world = np.linalg.inv(DEFAULT_CAMERA)
    t, y = grasp.translations[0], grasp.rotations[0][:, 1]
    ends = np.stack([t - y * grasp.widths[0] / 2, t + y * grasp.widths[0] / 2])
    uv, _ = DEFAULT_INTRINSICS.project(ends @ T_cam_world[:3, :3].T + T_cam_world[:3, 3])
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(np.where(depth > 0, depth, np.nan), cmap="viridis")
    ax.plot(uv[:, 0], uv[:, 1], "r-" if not outcome.success else "g-", lw=3)
    ax.set_title(f"{outcome.stage}: {outcome.message}", fontsize=7)
    ax.axis("off")
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)


def run_round(world: ClutterWorld, hand: SimHand, detect: Detector, index: int, scene: str, objects: str,
              count: int, png_dir: Path | None = None) -> RoundLog:
    world.reset(scene, objects, count)
    log = RoundLog(index, len(world.objects))
    failures = 0
    while world.objects and len(log.attempts) < MAX_ATTEMPTS and failures < MAX_CONSECUTIVE_FAILURES:
        views = [(world.point_cloud(T_world_camera=T), T) for T in [DEFAULT_CAMERA] + RING_CAMERAS]
        grasps = detect(views)
        if len(grasps) == 0:
            log.attempts.append({"success": False, "stage": "detect", "message": "no grasp found"})
            break
        width = float(min(grasps.widths[0], PANDA.max_opening))
        outcome = execute_grasp(hand, grasp_matrix(grasps), width, float(grasps.depths[0]))
        log.attempts.append({"success": outcome.success, "stage": outcome.stage, "message": outcome.message,
                             "score": float(grasps.scores[0])})
        if png_dir is not None:
            save_attempt_png(png_dir / f"round{index:03d}_attempt{len(log.attempts):02d}.png", world, grasps, outcome)
        if outcome.success:
            world.remove_object(outcome.object_id)
            log.removed += 1
            failures = 0
        else:
            failures += 1
        world.settle(60)
        world.remove_outside()
    return log


def clutter_removal(detect: Detector, scene: str = "pile", objects: str = "seen", rounds: int = 1, seed: int = 0,
                    count: int = 5, png_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Run ``rounds`` rounds; returns success rate, declutter rate and per-round logs."""
    from tqdm import tqdm
    png = Path(png_dir) if png_dir else None
    if png:
        png.mkdir(parents=True, exist_ok=True)
    world = ClutterWorld(seed)
    hand = SimHand(world)
    try:
        logs = [run_round(world, hand, detect, r, scene, objects, count, png)
                for r in tqdm(range(rounds), disable=not progress, desc="rounds")]
    finally:
        hand.close()
        world.close()
    attempts = sum(len(l.attempts) for l in logs)
    successes = sum(sum(a["success"] for a in l.attempts) for l in logs)
    return {"scene": scene, "objects": objects, "rounds": rounds, "seed": seed,
            "success_rate": successes / attempts if attempts else 0.0,
            "declutter_rate": sum(l.removed for l in logs) / max(sum(l.objects for l in logs), 1),
            "attempts": attempts, "per_round": [asdict(l) for l in logs]}
