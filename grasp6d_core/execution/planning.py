"""Grasp (GraspNet frame) -> end-effector waypoints in the robot base frame.

GraspNet frame: x = approach, y = closing, z = finger height; the grasp point is the centre between the
fingertips' closing line, and the fingers reach ``depth`` past it along x. Hand frame (Franka Panda, and most
parallel-jaw hands in ROS): z = approach, y = finger motion, x = y × z = −z_grasp. The hand *flange* sits
``tcp_offset`` behind the fingertip centre along the approach (default: the ``panda`` hand preset; the
field's common mistake, graspnet-baseline #19/#65, is to send the grasp frame to MoveIt unchanged).

A parallel-jaw grasp rotated by π about its approach is the same grasp; of the two we keep the hand orientation
closest to a reference ("comfortable", e.g. the Panda ready pose) so the last wrist joint does not wind up
(VGN resolves the symmetry the same way).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.hand import PANDA
from grasp6d_core.rotations import rotation_angle_between

# Rotation by pi about x: the finger-swapped twin of a grasp (GraspNet frame).
_FLIP_X = np.diag([1.0, -1.0, -1.0])
# Panda "ready" hand orientation in the base frame: hand z pointing down, hand x forward.
PANDA_READY_ROTATION = np.diag([1.0, -1.0, -1.0])
STAGE_POSES = ("pregrasp", "approach", "lift", "retreat")


@dataclass
class PlannerConfig:
    """Geometry of the pick. Distances in metres, angles in degrees."""

    tcp_offset: float = PANDA.tcp_offset  # hand flange -> fingertip centre along the approach
    pregrasp_distance: float = 0.08     # pre-grasp stands this far back along the approach
    lift_height: float = 0.10           # straight up (base +z) after closing
    retreat_distance: float = 0.05      # then back along the approach
    max_approach_tilt_deg: float = 90.0  # approach vs. base −z; larger (grasps from below) are not planned
    reference_rotation: np.ndarray = field(default_factory=lambda: PANDA_READY_ROTATION.copy())
    up: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))

    def validate(self) -> "PlannerConfig":
        checks = {"tcp_offset": 0.0 <= self.tcp_offset <= 0.5,
                  "pregrasp_distance": 0.0 < self.pregrasp_distance <= 0.5,
                  "lift_height": 0.0 <= self.lift_height <= 1.0,
                  "retreat_distance": 0.0 <= self.retreat_distance <= 0.5,
                  "max_approach_tilt_deg": 0.0 < self.max_approach_tilt_deg <= 180.0}
        bad = [f"{name}={getattr(self, name)}" for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"PlannerConfig out of range: {', '.join(bad)}")
        reference = np.asarray(self.reference_rotation, dtype=np.float64)
        if reference.shape != (3, 3) or not np.allclose(reference @ reference.T, np.eye(3), atol=1e-6):
            raise ValueError("PlannerConfig.reference_rotation must be a 3x3 rotation matrix")
        up = np.asarray(self.up, dtype=np.float64)
        if up.shape != (3,) or np.linalg.norm(up) < 1e-9:
            raise ValueError("PlannerConfig.up must be a non-zero 3-vector")
        self.reference_rotation, self.up = reference, up / np.linalg.norm(up)
        return self


@dataclass
class GraspPlan:
    """Waypoints of one grasp; every pose is a 4×4 hand-flange pose in the base frame."""

    rank: int                       # position of the grasp in the detector's ranking (0 = best)
    score: float
    width: float
    depth: float                    # how far the fingers reach past the grasp point
    grasp_pose: np.ndarray          # 4×4 GraspNet-frame pose actually used (after the symmetry choice)
    poses: dict[str, np.ndarray]    # pregrasp / approach / lift / retreat -> 4×4 hand pose
    flipped: bool                   # True when the π-rotated twin was chosen
    wrist_angle: float              # rad between the chosen hand orientation and the reference


def hand_rotation(grasp_rotation: np.ndarray) -> np.ndarray:
    """GraspNet rotation(s) (..., 3, 3) -> hand rotation(s): columns [−z_g, y_g, x_g] (hand z = approach)."""
    grasp_rotation = np.asarray(grasp_rotation, dtype=np.float64)
    x, y, z = grasp_rotation[..., :, 0], grasp_rotation[..., :, 1], grasp_rotation[..., :, 2]
    return np.stack([-z, y, x], axis=-1)


def choose_symmetric_variant(grasp_rotation: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, bool, float]:
    """Of a grasp and its π-about-approach twin, the one whose hand orientation is closest to ``reference``.

    Returns (GraspNet rotation to use, flipped?, angle to the reference in rad).
    """
    candidates = np.stack([grasp_rotation, grasp_rotation @ _FLIP_X])
    angles = rotation_angle_between(np.broadcast_to(reference, (2, 3, 3)), hand_rotation(candidates))
    best = int(np.argmin(angles))
    return candidates[best], best == 1, float(angles[best])


def plan_grasp(grasp_pose: np.ndarray, width: float, depth: float, config: PlannerConfig,
               score: float = 0.0, rank: int = 0) -> GraspPlan:
    """Waypoints for one grasp pose (4×4, GraspNet frame, base frame)."""
    grasp_pose = np.asarray(grasp_pose, dtype=np.float64)
    if grasp_pose.shape != (4, 4) or not np.all(np.isfinite(grasp_pose)):
        raise ValueError(f"grasp pose must be a finite 4x4 matrix, got shape {grasp_pose.shape}")
    rotation, flipped, wrist_angle = choose_symmetric_variant(grasp_pose[:3, :3], config.reference_rotation)
    approach = rotation[:, 0]
    hand = hand_rotation(rotation)
    # Fingertip centre = grasp point + depth along the approach; the flange is tcp_offset behind it.
    flange = grasp_pose[:3, 3] + (float(depth) - config.tcp_offset) * approach
    positions = {
        "pregrasp": flange - config.pregrasp_distance * approach,
        "approach": flange,
        "lift": flange + config.lift_height * config.up,
    }
    positions["retreat"] = positions["lift"] - config.retreat_distance * approach
    poses = {}
    for stage in STAGE_POSES:
        pose = np.eye(4)
        pose[:3, :3] = hand
        pose[:3, 3] = positions[stage]
        poses[stage] = pose
    used = grasp_pose.copy()
    used[:3, :3] = rotation
    return GraspPlan(rank=rank, score=float(score), width=float(width), depth=float(depth), grasp_pose=used, poses=poses,
                     flipped=flipped, wrist_angle=wrist_angle)


def plan_grasps(grasps: GraspGroup, config: PlannerConfig) -> tuple[list[GraspPlan], list[tuple[int, str]]]:
    """Plans for grasps already in the base frame, best score first.

    Grasps approaching more than ``max_approach_tilt_deg`` away from straight down (e.g. from under the
    table) are not planned; they come back in the second list as (rank, reason).
    """
    config.validate()
    ordered = grasps.sort_by_score()
    down = -config.up
    tilt = np.degrees(np.arccos(np.clip(ordered.approaches @ down, -1.0, 1.0))) if len(ordered) else np.zeros(0)
    plans, rejected = [], []
    poses = ordered.poses()
    for rank in range(len(ordered)):
        if tilt[rank] > config.max_approach_tilt_deg:
            rejected.append((rank, f"approach tilted {tilt[rank]:.0f} deg from straight down "
                                   f"(max_approach_tilt_deg={config.max_approach_tilt_deg:.0f})"))
            continue
        plans.append(plan_grasp(poses[rank], ordered.widths[rank], ordered.depths[rank], config,
                                score=ordered.scores[rank], rank=rank))
    return plans, rejected
