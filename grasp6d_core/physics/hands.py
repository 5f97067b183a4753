"""Robot hands that are bigger than GraspNet's gripper model: a filter for the grasps one can really take.

GraspNet's gripper (physics.gripper) has thin fingers and a thin palm. The Franka (Panda) hand opens fully
before approaching, has thicker fingers and a wide body behind them; a grasp that clears GraspNet's gripper can
still hit the scene with it. The antipodal baseline, ``sim-bench`` and detector_node (``hand_filter: panda``)
use this filter so that every detector is judged on — and a robot is given — grasps its hand can execute.
"""
from __future__ import annotations

import numpy as np

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.hand import PANDA
from grasp6d_core.physics.gripper import GripperGeometry, collision_and_empty, points_in_gripper_frame

PANDA_FINGERS = GripperGeometry(height=0.03, finger_width=0.02, base_depth=0.02, approach_distance=0.05)


def panda_feasible(points: np.ndarray, grasps: GraspGroup, object_mask: np.ndarray | None = None,
                   open_width: float = PANDA.max_opening) -> np.ndarray:
    """(G,) bool: the Franka hand can take the grasp in this cloud. It opens fully (``open_width``) before
    approaching, its fingers are thicker than GraspNet's model, and its body behind the fingers is wide; any
    detector's grasps go through this robot-specific filter before the hand executes them. ``object_mask``:
    which points count as something to hold (default all)."""
    collision, empty = collision_and_empty(points, grasps.rotations, grasps.translations, open_width, grasps.depths,
                                           PANDA_FINGERS, object_mask=object_mask)
    keep = ~collision & ~empty
    keep[keep] = ~hand_body_hits(points, grasps[keep])
    return keep


# The Panda hand body behind the fingers (GraspNet's gripper model has only a thin base): 0.22 m across the
# closing axis, 0.07 m thick, starting 0.035 m behind the fingertip centre, plus its 5 cm approach path.
HAND_HALF_SPAN, HAND_HALF_THICKNESS, FINGER_LENGTH, HAND_LENGTH = 0.11, 0.035, 0.035, 0.07 + 0.05


def hand_body_hits(points: np.ndarray, grasps: GraspGroup, chunk: int = 64) -> np.ndarray:
    """True where cloud points lie inside the hand body's box (or its approach path) of a grasp."""
    hits = np.zeros(len(grasps), dtype=bool)
    for start in range(0, len(grasps), chunk):
        g = grasps[start:start + chunk]
        front = (g.depths - FINGER_LENGTH)[:, None]          # the body starts a finger length behind the tips
        local = points_in_gripper_frame(points, g.rotations, g.translations)
        inside = ((local[..., 0] < front) & (local[..., 0] > front - HAND_LENGTH)
                  & (np.abs(local[..., 1]) < HAND_HALF_SPAN) & (np.abs(local[..., 2]) < HAND_HALF_THICKNESS))
        hits[start:start + chunk] = inside.any(axis=1)
    return hits
