"""detector_node over real rclpy/DDS: malformed inputs get success=false with a precise message, concurrent
calls are all answered, and the node keeps answering afterwards."""
import threading

import numpy as np
from rclpy.node import Node
from rclpy.parameter import Parameter

from grasp6d_ros.conversions import numpy_to_pointcloud2
from grasp6d_ros.detector_node import DetectorNode
from ros_helpers import call_service, spinning

NO_NORMALS = "the antipodal detector needs a cloud with normal_x/normal_y/normal_z fields"


def _request(points=None, frame="camera", target="", max_grasps=0):
    from grasp6d_ros.srv import DetectGrasps
    request = DetectGrasps.Request(max_grasps=max_grasps, target_frame=target)
    if points is not None:
        request.cloud = numpy_to_pointcloud2(points, frame_id=frame)
    return request


def _nodes():
    from grasp6d_ros.srv import DetectGrasps
    # the antipodal baseline: configured at once, and it needs normals, which these clouds lack (a detector error)
    detector = lambda ctx: DetectorNode(context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("detector", value="antipodal"), Parameter("min_points", value=50)])
    client = lambda ctx: Node("detect_client", context=ctx)  # noqa: E731
    return detector, client, DetectGrasps


def test_detector_node_error_paths_and_concurrency():
    detector_factory, client_factory, DetectGrasps = _nodes()
    with spinning(detector_factory, client_factory) as (detector, client_node):
        client = client_node.create_client(DetectGrasps, "/detect_grasps")
        rng = np.random.default_rng(0)
        cloud = rng.uniform(-0.1, 0.1, (500, 3)).astype(np.float32) + [0, 0, 0.6]

        answer = call_service(client, _request())
        assert not answer.success and answer.message.startswith("no cloud yet") and "/surface" in answer.message

        nan_cloud = np.full((300, 3), np.nan, np.float32)
        answer = call_service(client, _request(nan_cloud))
        assert not answer.success and "cloud too small: 0 valid points of 300" in answer.message

        answer = call_service(client, _request(cloud[:10]))
        assert not answer.success and "10 valid points" in answer.message and "min_points=50" in answer.message

        answer = call_service(client, _request(cloud, frame="", target="panda_link0"))
        assert not answer.success and answer.message.startswith("unknown frame") and "panda_link0" in answer.message

        answer = call_service(client, _request(cloud, max_grasps=-3))
        assert not answer.success and "max_grasps must be >= 0" in answer.message

        # a valid cloud reaches the detector, which cannot use it -> its error as the answer, not a crash
        answer = call_service(client, _request(cloud))
        assert not answer.success and answer.message.startswith(NO_NORMALS) and answer.detection_time >= 0

        # an unknown hand filter is named in the answer, and the node answers normally once it is fixed
        detector.set_parameters([Parameter("hand_filter", value="robotiq")])
        answer = call_service(client, _request(cloud))
        assert not answer.success and "hand_filter='robotiq' is not one of '' | panda" in answer.message
        detector.set_parameters([Parameter("hand_filter", value=""), Parameter("scoring", value="vote")])
        answer = call_service(client, _request(cloud))
        assert not answer.success and "scoring='vote' is not one of network | consensus" in answer.message
        detector.set_parameters([Parameter("scoring", value="consensus")])
        answer = call_service(client, _request(cloud))    # a valid scoring: the request gets as far as the detector
        assert not answer.success and answer.message.startswith(NO_NORMALS)
        detector.set_parameters([Parameter("hand_filter", value="panda"), Parameter("use_workspace", value=True),
                                 Parameter("workspace", value=[1.0, 0.0, 0.0, 1.0, 0.0, 1.0])])
        answer = call_service(client, _request(cloud))
        assert not answer.success and answer.message.startswith("parameter workspace must be 6 finite numbers")
        detector.set_parameters([Parameter("use_workspace", value=False)])
        answer = call_service(client, _request(cloud))
        assert not answer.success and answer.message.startswith(NO_NORMALS)

        # ten clients at once: every one answered
        answers, lock = [], threading.Lock()

        def one(i):
            node_client = client_node.create_client(DetectGrasps, "/detect_grasps")
            result = call_service(node_client, _request(nan_cloud if i % 2 else cloud[:5]), timeout=20)
            with lock:
                answers.append(result)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(answers) == 10 and all(not a.success and "cloud too small" in a.message for a in answers)

        # still alive and answering afterwards
        answer = call_service(client, _request(nan_cloud))
        assert not answer.success and "cloud too small" in answer.message
        assert detector.count_publishers("/detector_node/markers") == 1
