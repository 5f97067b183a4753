"""The documented Python client (grasp6d_ros/detect_client.py) against a running detector_node over DDS."""

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter

from grasp6d_ros.conversions import numpy_to_pointcloud2
from grasp6d_ros.detect_client import detect_grasps
from grasp6d_ros.detector_node import DetectorNode
from ros_helpers import spinning


def test_client_example_gets_an_answer():
    server = lambda ctx: DetectorNode(context=ctx, parameter_overrides=[  # noqa: E731
        Parameter("detector", value="antipodal")])
    with spinning(server):
        rclpy.init()  # the default context, as a user's script has
        node = Node("user_node")
        try:
            # the example spins its own node, as a user's script does
            cloud = numpy_to_pointcloud2(np.zeros((3, 3)), frame_id="camera")
            response = detect_grasps(node, cloud=cloud, timeout=15)
            assert not response.success and "cloud too small: 3 valid points" in response.message
            response = detect_grasps(node, timeout=15)
            assert not response.success and response.message.startswith("no cloud yet")
        finally:
            node.destroy_node()
            rclpy.shutdown()
