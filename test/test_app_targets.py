"""An outside client restricts /detect_grasps to one of two boxes: by ROI, approach cone, hand, mask, object id.

Real rclpy over Fast DDS, the shipped network, an organized camera-frame cloud of two separated boxes."""
import copy
import re
from pathlib import Path

import numpy as np
import pytest
from geometry_msgs.msg import Point
from rclpy.node import Node
from rclpy.parameter import Parameter
from scipy.spatial import cKDTree

from grasp6d_ros.conversions import grasp_msgs_to_group, intrinsics_to_camera_info, numpy_to_image, numpy_to_pointcloud2
from grasp6d_ros.detector_node import DetectorNode
from ros_helpers import call_service, spinning
from target_scene import CAMERA_HEIGHT, INTRINSICS, box_roi, two_boxes

FRAME = "camera_color_optical_frame"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "ros_app.md"


def docs_requests(scope: dict) -> dict:
    """The request examples of docs/ros_app.md "Target objects", run as printed."""
    text = DOCS.read_text()
    section = text[text.index("## Target objects"):]
    exec(re.search(r"```python\n(.*?)```", section, re.S).group(1), scope)
    return scope["requests"]


@pytest.fixture(scope="module")
def scene():
    return two_boxes()


def _request(cloud, **fields):
    from grasp6d_ros.srv import DetectGrasps
    request = DetectGrasps.Request(max_grasps=20, cloud=cloud)
    for name, value in fields.items():
        setattr(request, name, value)
    return request


def _grasps(answer):
    assert answer.success, answer.message
    assert answer.grasps.header.frame_id == FRAME
    return grasp_msgs_to_group(answer.grasps.grasps)


def test_outside_client_gets_grasps_of_the_requested_target(scene):
    from grasp6d_ros.srv import DetectGrasps
    organized, labels = scene["organized"], scene["labels"]
    cloud = numpy_to_pointcloud2(organized, frame_id=FRAME)
    assert cloud.height == labels.shape[0] and cloud.width == labels.shape[1]
    valid = np.isfinite(organized.reshape(-1, 3)).all(axis=1)
    points, truth = organized.reshape(-1, 3)[valid], labels.reshape(-1)[valid]
    tree = cKDTree(points)
    server = lambda ctx: DetectorNode(context=ctx)  # noqa: E731
    with spinning(server, lambda ctx: Node("outside_client", context=ctx)) as (detector, client_node):
        client = client_node.create_client(DetectGrasps, "/detect_grasps")

        # no target fields: every grasp carries the segment it lies on
        everything = _grasps(call_service(client, _request(cloud), timeout=120, attempt_timeout=40))
        on = truth[tree.query(everything.translations)[1]]
        assert len(everything) and set(everything.object_ids[on > 0]) <= {1, 2} and (everything.object_ids[on > 0] > 0).all()
        # (on this scene the best grasps are mostly on the table's edges, which have no object: -1)
        assert (everything.object_ids[on == 0] == -1).all()

        docs = docs_requests({"cloud": cloud, "labels": labels,
                              "camera_info": intrinsics_to_camera_info(INTRINSICS, FRAME)})
        for request in docs.values():
            request.max_grasps = 20
        lo, hi = box_roi(1)
        docs_roi = docs["roi"]
        assert np.allclose([docs_roi.roi_min.x, docs_roi.roi_min.y, docs_roi.roi_min.z], lo, atol=1e-6)
        assert np.allclose([docs_roi.roi_max.x, docs_roi.roi_max.y, docs_roi.roi_max.z], hi, atol=1e-6)
        g = _grasps(call_service(client, docs_roi, timeout=120, attempt_timeout=40))
        assert len(g) and np.all((g.translations >= lo - 1e-6) & (g.translations <= hi + 1e-6))
        # grasps on the box carry its segment's id; only those at its foot, where the box meets the table plane
        # (within segmentation.plane_distance of it), count as table: -1
        contact = points[tree.query(g.translations)[1]]
        on = truth[tree.query(g.translations)[1]]
        ids = g.object_ids[on == 1]
        assert len(set(ids[ids >= 1])) == 1 and (ids >= 1).sum() > len(ids) / 2
        assert np.all(contact[(on == 1) & (g.object_ids == -1), 2] > CAMERA_HEIGHT - 0.0065)
        target = int(ids[ids >= 1][0])

        g = _grasps(call_service(client, docs["top_down"], timeout=120, attempt_timeout=40))
        assert len(g) and np.all(np.degrees(np.arccos(np.clip(g.approaches[:, 2], -1, 1))) <= 30.0 + 1e-3)

        organized_only = _request(cloud, mask=numpy_to_image(labels.astype(np.uint8), "mono8"), target_label=2)
        unorganized = copy.deepcopy(docs["mask"])
        unorganized.cloud = numpy_to_pointcloud2(points, frame_id=FRAME)
        # projected through camera_info (organized and not), or pixel i = point i of the organized cloud
        for request in (docs["mask"], unorganized, organized_only):
            g = _grasps(call_service(client, request, timeout=120, attempt_timeout=40))
            assert len(g) and np.all(truth[tree.query(g.translations)[1]] == 2)

        for request, wanted in ((_request(cloud, target_object_id=target), target), (docs["object"], 1)):
            g = _grasps(call_service(client, request, timeout=120, attempt_timeout=40))
            assert len(g) and np.all(g.object_ids == wanted)

        detector.set_parameters([Parameter("hand", value="robotiq_2f_85")])
        g = _grasps(call_service(client, _request(cloud), timeout=120, attempt_timeout=40))
        assert len(g) and g.widths.max() <= 0.085 + 1e-6

        # bad values: an answer naming the field, and the node keeps serving
        unorganized = numpy_to_pointcloud2(points, frame_id=FRAME)
        mask = numpy_to_image(labels.astype(np.uint8), "mono8")
        for fields, message in (
                ({"roi_min": Point(x=float("nan"))}, "roi_min must be finite"),
                ({"roi_min": Point(x=0.2), "roi_max": Point(x=0.1, y=1.0, z=1.0)}, "roi_min > roi_max on x"),
                ({"max_approach_angle": 0.5}, "approach_axis must be a finite non-zero vector"),
                ({"target_object_id": -3}, "object id must be >= 1"),
                ({"mask": numpy_to_image(np.zeros((4, 4, 3), np.uint8), "rgb8")}, "mask.encoding 'rgb8' is not a label encoding"),
                ({"mask": mask, "camera_info": intrinsics_to_camera_info(INTRINSICS.scaled(0.5), FRAME)},
                 "mask is 320x240 but camera_info is 160x120"),
                ({"mask": mask, "cloud": unorganized}, "send an organized cloud of the mask's size")):
            answer = call_service(client, _request(fields.pop("cloud", cloud), **fields), timeout=120, attempt_timeout=40)
            assert not answer.success and message in answer.message, answer.message
        detector.set_parameters([Parameter("segmentation_cluster_distance", value=0.0)])
        answer = call_service(client, _request(cloud), timeout=120, attempt_timeout=40)
        assert not answer.success and "parameter segmentation_cluster_distance must be > 0" in answer.message
        detector.set_parameters([Parameter("segment_objects", value=False)])
        answer = call_service(client, _request(cloud, target_object_id=1), timeout=120, attempt_timeout=40)
        assert not answer.success and "target_object_id needs segment_objects:=true" in answer.message
        detector.set_parameters([Parameter("hand", value="no_such_hand")])
        answer = call_service(client, _request(cloud), timeout=120, attempt_timeout=40)
        assert not answer.success and "parameter hand: hand 'no_such_hand' is not a preset" in answer.message
