"""The built interfaces over real rclpy + Fast DDS: services and images between separate nodes."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from grasp6d_core import GraspGroup, grasp_rotation
from grasp6d_ros.conversions import (grasp_group_to_msg, grasp_msgs_to_group, image_to_numpy, numpy_to_image,
                                     numpy_to_pointcloud2)
from grasp6d_ros.msg import Grasp6D, Grasp6DArray
from grasp6d_ros.srv import DetectGrasps, ExecuteGrasp
from ros_helpers import call_service, spinning, terminate, wait_for

pytestmark = pytest.mark.ros


def known_grasps() -> GraspGroup:
    rng = np.random.default_rng(42)
    n = 8
    return GraspGroup.from_components(scores=np.linspace(0.9, 0.2, n), widths=rng.uniform(0.01, 0.09, n),
                                      depths=rng.choice([0.01, 0.02, 0.03, 0.04], n),
                                      rotations=grasp_rotation(rng.normal(size=(n, 3)), rng.uniform(-3, 3, n)),
                                      translations=rng.uniform(-0.3, 0.3, (n, 3)), object_ids=np.arange(n) - 1)


def test_interfaces_have_the_documented_fields():
    assert Grasp6D.get_fields_and_field_types() == {
        "pose": "geometry_msgs/Pose", "width": "float", "depth": "float", "height": "float", "score": "float",
        "object_id": "int32"}
    assert Grasp6DArray.get_fields_and_field_types() == {
        "header": "std_msgs/Header", "grasps": "sequence<grasp6d_ros/Grasp6D>"}
    assert DetectGrasps.Request.get_fields_and_field_types() == {
        "max_grasps": "int32", "min_score": "float", "target_frame": "string", "cloud": "sensor_msgs/PointCloud2",
        "mask": "sensor_msgs/Image", "target_label": "int32", "camera_info": "sensor_msgs/CameraInfo",
        "roi_min": "geometry_msgs/Point", "roi_max": "geometry_msgs/Point", "target_object_id": "int32",
        "approach_axis": "geometry_msgs/Vector3", "max_approach_angle": "float"}
    # a default-constructed request asks for no target (docs/ros_app.md "Target objects")
    default = DetectGrasps.Request()
    assert (default.mask.width, default.target_label, default.target_object_id, default.max_approach_angle) == (0, 0, 0, 0.0)
    assert (default.roi_min.x, default.roi_max.z) == (0.0, 0.0)
    assert DetectGrasps.Response.get_fields_and_field_types() == {
        "success": "boolean", "message": "string", "grasps": "grasp6d_ros/Grasp6DArray", "detection_time": "float"}
    assert ExecuteGrasp.Request.get_fields_and_field_types() == {
        "grasp": "grasp6d_ros/Grasp6D", "header": "std_msgs/Header"}
    assert ExecuteGrasp.Response.get_fields_and_field_types() == {
        "success": "boolean", "stage": "string", "message": "string"}


class KnownGraspServer(Node):
    """Answers DetectGrasps with a fixed grasp set, honouring max_grasps / min_score / target_frame."""

    def __init__(self, context):
        super().__init__("known_grasp_server", context=context)
        self.seen_clouds: list[int] = []
        self.create_service(DetectGrasps, "detect_grasps", self.on_request)

    def on_request(self, request, response):
        self.seen_clouds.append(request.cloud.width * request.cloud.height)
        grasps = known_grasps()
        grasps = grasps[grasps.scores >= request.min_score]
        if request.max_grasps > 0:
            grasps = grasps.top_k(request.max_grasps)
        response.success = True
        response.message = f"{len(grasps)} grasps"
        response.grasps = grasp_group_to_msg(grasps, request.target_frame or request.cloud.header.frame_id)
        response.detection_time = 0.125
        return response


def test_detect_grasps_service_between_nodes():
    with spinning(KnownGraspServer, lambda ctx: Node("grasp_client", context=ctx)) as (server, client_node):
        client = client_node.create_client(DetectGrasps, "detect_grasps")
        request = DetectGrasps.Request(max_grasps=5, min_score=0.3, target_frame="base_link")
        request.cloud = numpy_to_pointcloud2(np.random.default_rng(0).normal(size=(321, 3)), frame_id="camera")
        response = call_service(client, request)
    expected = known_grasps()
    expected = expected[expected.scores >= 0.3].top_k(5)
    assert response.success and response.message == "5 grasps"
    assert response.grasps.header.frame_id == "base_link"
    assert abs(response.detection_time - 0.125) < 1e-7
    assert server.seen_clouds == [321]
    received = grasp_msgs_to_group(response.grasps.grasps)
    # float32 fields (width, depth, score) lose precision; poses are float64 in geometry_msgs.
    assert np.allclose(received.array, expected.array, atol=1e-6)
    assert received.object_ids.tolist() == expected.object_ids.tolist()


SERVER_SCRIPT = textwrap.dedent("""
    import sys, rclpy
    from rclpy.node import Node
    from grasp6d_ros.srv import ExecuteGrasp
    rclpy.init()
    node = Node("execute_server_process")
    def handle(request, response):
        response.success = request.grasp.width > 0.0
        response.stage = "lift" if response.success else "close"
        response.message = f"{request.header.frame_id}:{request.grasp.object_id}:{request.grasp.score:.3f}"
        return response
    node.create_service(ExecuteGrasp, "execute", handle)
    print("ready", flush=True)
    rclpy.spin(node)
""")


def test_execute_grasp_service_across_processes():
    """The server runs in another process: the request really crosses Fast DDS, not an in-process queue."""
    server = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ))
    try:
        assert server.stdout.readline().strip() == "ready"
        with spinning(lambda ctx: Node("execute_client", context=ctx)) as (client_node,):
            client = client_node.create_client(ExecuteGrasp, "execute")
            grasp = grasp_group_to_msg(known_grasps()[:1], "base_link").grasps[0]
            request = ExecuteGrasp.Request(grasp=grasp)
            request.header.frame_id = "base_link"
            ok = call_service(client, request, timeout=20)
            grasp.width = 0.0
            failed = call_service(client, ExecuteGrasp.Request(grasp=grasp), timeout=20)
    finally:
        terminate(server, timeout=5)
    assert ok.success and ok.stage == "lift" and ok.message == f"base_link:{grasp.object_id}:{grasp.score:.3f}"
    assert not failed.success and failed.stage == "close"


IMAGES = {
    "16UC1": np.random.default_rng(1).integers(0, 65535, (48, 64), dtype=np.uint16),
    "mono16": np.random.default_rng(2).integers(0, 65535, (48, 64), dtype=np.uint16),
    "32FC1": np.random.default_rng(3).uniform(0, 4, (48, 64)).astype(np.float32),
    "rgb8": np.random.default_rng(4).integers(0, 255, (48, 64, 3), dtype=np.uint8),
    "bgr8": np.random.default_rng(5).integers(0, 255, (48, 64, 3), dtype=np.uint8),
}


def test_images_round_trip_bit_exactly_over_dds():
    received: dict[str, np.ndarray] = {}
    lock = threading.Lock()
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)

    def on_image(msg: Image) -> None:
        with lock:
            received[msg.encoding] = image_to_numpy(msg)

    with spinning(lambda ctx: Node("image_pub", context=ctx), lambda ctx: Node("image_sub", context=ctx)) as (pub, sub):
        sub.create_subscription(Image, "images", on_image, qos)
        publisher = pub.create_publisher(Image, "images", qos)
        assert wait_for(lambda: publisher.get_subscription_count() > 0)
        for encoding, array in IMAGES.items():
            msg = numpy_to_image(array, encoding, frame_id="cam")
            # Re-send until it arrives: discovery may finish after the first publish.
            assert wait_for(lambda: publisher.publish(msg) or encoding in received, timeout=10, period=0.1), encoding
    for encoding, array in IMAGES.items():
        assert received[encoding].dtype == array.dtype
        assert np.array_equal(received[encoding], array), encoding
