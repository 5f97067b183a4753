"""Grasps -> visualization_msgs/MarkerArray for RViz and Foxglove.

DELETEALL first (so markers of an earlier, longer result do not linger — VGN does the same), then per grasp a
two-finger gripper drawn as four CUBE boxes in the GraspNet frame (two fingers, palm, stem; the evaluator's
gripper: finger width 0.01 m, base depth 0.02 m, height from the grasp), coloured red -> green by score — or,
when the grasps carry object ids (detector_node's segmentation), one colour per object, grey for none — the
best one opaque and slightly thicker, and a TEXT marker "#rank score".
"""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from grasp6d_core.draw import BASE_DEPTH, FINGER_WIDTH, STEM_LENGTH, object_colours, score_colours  # noqa: F401 (re-exported)
from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import rotation_to_quaternion
from grasp6d_ros.conversions import make_header

NAMESPACE_GRIPPER = "grasps"
NAMESPACE_TEXT = "grasp_labels"
BOXES_PER_GRASP = 4


def gripper_boxes(width: float, depth: float, height: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, size) of the fingers, palm and stem in the grasp frame (x approach, y closing, z height)."""
    finger_len = depth + BASE_DEPTH
    half = width / 2.0 + FINGER_WIDTH / 2.0
    finger_x = (depth - BASE_DEPTH) / 2.0
    palm_x = -BASE_DEPTH - FINGER_WIDTH / 2.0
    return [
        (np.array([finger_x, -half, 0.0]), np.array([finger_len, FINGER_WIDTH, height])),
        (np.array([finger_x, half, 0.0]), np.array([finger_len, FINGER_WIDTH, height])),
        (np.array([palm_x, 0.0, 0.0]), np.array([FINGER_WIDTH, width + 2 * FINGER_WIDTH, height])),
        (np.array([palm_x - FINGER_WIDTH / 2 - STEM_LENGTH / 2, 0.0, 0.0]),
         np.array([STEM_LENGTH, FINGER_WIDTH, height])),
    ]


def _pose(position: np.ndarray, quaternion: np.ndarray) -> Pose:
    return Pose(position=Point(x=float(position[0]), y=float(position[1]), z=float(position[2])),
                orientation=Quaternion(x=float(quaternion[0]), y=float(quaternion[1]), z=float(quaternion[2]),
                                       w=float(quaternion[3])))


def grasp_markers(grasps: GraspGroup, frame_id: str, stamp=None, best_alpha: float = 1.0,
                  other_alpha: float = 0.55) -> MarkerArray:
    """MarkerArray for ``grasps`` (sorted here, best first) in ``frame_id``."""
    header = make_header(frame_id, stamp)
    out = MarkerArray()
    out.markers.append(Marker(header=header, action=Marker.DELETEALL))
    ordered = grasps.sort_by_score()
    if len(ordered) == 0:
        return out
    by_object = bool((ordered.object_ids >= 1).any())
    colours = object_colours(ordered.object_ids) if by_object else score_colours(ordered.scores)
    quaternions = ordered.quaternions()
    rotations, translations = ordered.rotations, ordered.translations
    marker_id = 0
    for rank in range(len(ordered)):
        best = rank == 0
        colour = ColorRGBA(r=float(colours[rank, 0]), g=float(colours[rank, 1]), b=float(colours[rank, 2]),
                           a=best_alpha if best else other_alpha)
        thicken = 1.5 if best else 1.0  # the best grasp stands out even among equally green ones
        height = float(ordered.heights[rank]) or 0.02
        for centre, size in gripper_boxes(float(ordered.widths[rank]), float(ordered.depths[rank]), height):
            position = translations[rank] + rotations[rank] @ centre
            scale = size * np.array([1.0, 1.0, thicken])
            out.markers.append(Marker(header=header, ns=NAMESPACE_GRIPPER, id=marker_id, type=Marker.CUBE,
                                      action=Marker.ADD, pose=_pose(position, quaternions[rank]),
                                      scale=Vector3(x=float(scale[0]), y=float(scale[1]), z=float(scale[2])),
                                      color=colour))
            marker_id += 1
        stem_end = translations[rank] + rotations[rank] @ np.array([-BASE_DEPTH - FINGER_WIDTH - STEM_LENGTH, 0, 0])
        text = Marker(header=header, ns=NAMESPACE_TEXT, id=rank, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD,
                      pose=_pose(stem_end, rotation_to_quaternion(np.eye(3))[0]),
                      scale=Vector3(x=0.0, y=0.0, z=0.012 if not best else 0.018),
                      color=ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0),
                      text=f"#{rank + 1} {float(ordered.scores[rank]):.2f}")
        out.markers.append(text)
    return out
