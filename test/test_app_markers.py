"""Grasp markers: DELETEALL first, four boxes + a label per grasp, red->green by score, best highlighted."""
import numpy as np
from scipy.spatial.transform import Rotation
from visualization_msgs.msg import Marker

from grasp6d_core.grasp import GraspGroup
from grasp6d_core.rotations import grasp_rotation
from grasp6d_ros.markers import gripper_boxes, grasp_markers


def _group():
    approaches = np.array([[0, 0, -1.0], [1.0, 0, 0], [0, 1.0, -1.0]])
    return GraspGroup.from_components(scores=[0.3, 0.9, 0.6], widths=[0.04, 0.06, 0.08], depths=[0.02, 0.03, 0.01],
                                      rotations=grasp_rotation(approaches, [0.0, 0.5, 1.0]),
                                      translations=[[0.1, 0, 0.5], [0, 0.1, 0.5], [0, 0, 0.6]])


def test_markers_layout_order_and_colours():
    markers = grasp_markers(_group(), "camera_color_optical_frame").markers
    assert markers[0].action == Marker.DELETEALL
    boxes = [m for m in markers if m.type == Marker.CUBE]
    texts = [m for m in markers if m.type == Marker.TEXT_VIEW_FACING]
    assert len(boxes) == 12 and len(texts) == 3
    assert [t.text for t in texts] == ["#1 0.90", "#2 0.60", "#3 0.30"]
    assert len({(m.ns, m.id) for m in markers[1:]}) == len(markers) - 1     # unique ids
    assert all(m.header.frame_id == "camera_color_optical_frame" for m in markers)
    best, worst = boxes[0].color, boxes[-1].color
    assert best.g == 1.0 and best.r == 0.0 and best.a == 1.0                 # best: green, opaque
    assert worst.r == 1.0 and worst.g == 0.0 and worst.a < 1.0               # worst: red, translucent


def test_finger_boxes_sit_at_the_opening_width():
    group = _group().sort_by_score()
    markers = [m for m in grasp_markers(group, "base").markers if m.type == Marker.CUBE]
    rotation, t, width = group.rotations[0], group.translations[0], group.widths[0]
    left = np.array([markers[0].pose.position.x, markers[0].pose.position.y, markers[0].pose.position.z])
    right = np.array([markers[1].pose.position.x, markers[1].pose.position.y, markers[1].pose.position.z])
    # finger centres are width + finger width apart along the closing axis (grasp y)
    np.testing.assert_allclose((right - left) @ rotation[:, 1], width + 0.01, atol=1e-6)
    q = markers[0].pose.orientation
    np.testing.assert_allclose(Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix(), rotation, atol=1e-6)
    # the fingers reach `depth` past the grasp point along the approach
    centre, size = gripper_boxes(width, group.depths[0], 0.02)[0]
    assert np.isclose(centre[0] + size[0] / 2, group.depths[0])


def test_empty_result_only_clears():
    markers = grasp_markers(GraspGroup(), "base").markers
    assert len(markers) == 1 and markers[0].action == Marker.DELETEALL


def test_grasps_with_object_ids_are_coloured_per_object():
    group = _group()
    group.array[:, 16] = [2, 2, -1]          # scores 0.3, 0.9, 0.6 -> ranks 3, 1, 2
    boxes = [m for m in grasp_markers(group, "base").markers if m.type == Marker.CUBE]
    rgb = [(round(b.color.r, 3), round(b.color.g, 3), round(b.color.b, 3)) for b in boxes[::4]]
    assert rgb[0] == rgb[2] != rgb[1]                                       # object 2 twice, one colour
    assert rgb[1] == (0.8, 0.8, 0.8)                                        # no object: grey
    group.array[:, 16] = [1, 2, 3]
    boxes = [m for m in grasp_markers(group, "base").markers if m.type == Marker.CUBE]
    assert len({(b.color.r, b.color.g, b.color.b) for b in boxes[::4]}) == 3
